package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"casereview/activities/notify"
)

// notifyFlags configure where reminders and escalations go.
type notifyFlags struct {
	contacts, smtpHost, smtpStartTLS, smtpUser, smtpPassword, smtpFrom, ledger, baseURL string
	smtpPort                                                                            int
}

func addNotifyFlags(fs *flag.FlagSet, defaultLedger string) *notifyFlags {
	var f notifyFlags
	fs.StringVar(&f.contacts, "contacts", "", "JSON file of contacts per agency and role (e-mail addresses, webhooks); empty: reminders are only logged")
	fs.StringVar(&f.smtpHost, "smtp-host", "", "SMTP server host for e-mail reminders")
	fs.IntVar(&f.smtpPort, "smtp-port", 587, "SMTP server port")
	fs.StringVar(&f.smtpStartTLS, "smtp-starttls", "required", "STARTTLS: required, opportunistic or none")
	fs.StringVar(&f.smtpUser, "smtp-username", "", "SMTP AUTH PLAIN user name")
	fs.StringVar(&f.smtpPassword, "smtp-password", "", "SMTP AUTH PLAIN password (prefer the environment variable)")
	fs.StringVar(&f.smtpFrom, "smtp-from", "", "sender address of e-mail reminders")
	fs.StringVar(&f.ledger, "notify-ledger", defaultLedger, "SQLite file recording deliveries, so a retry never sends twice")
	fs.StringVar(&f.baseURL, "base-url", "http://127.0.0.1:8080", "where people open casereview, for links in messages")
	return &f
}

// notifier builds the deliverer, or nil when no contacts are configured (dev: log only).
func (f *notifyFlags) notifier(ctx context.Context, st *stack) (*notify.Notifier, error) {
	if f.contacts == "" {
		return nil, nil
	}
	contacts, err := notify.LoadContacts(f.contacts)
	if err != nil {
		return nil, err
	}
	ledger, err := notify.OpenSQLiteLedger(ctx, f.ledger)
	if err != nil {
		return nil, err
	}
	st.onStop(func() { ledger.Close() })
	cfg := notify.Config{Contacts: contacts, Ledger: ledger}
	if f.smtpHost != "" {
		mode := notify.StartTLSMode(strings.ToLower(f.smtpStartTLS))
		switch mode {
		case notify.StartTLSRequired, notify.StartTLSOpportunistic, notify.StartTLSNone:
		default:
			return nil, fmt.Errorf("%w: --smtp-starttls %q: want required, opportunistic or none", errUsage, f.smtpStartTLS)
		}
		if f.smtpFrom == "" {
			return nil, fmt.Errorf("%w: --smtp-from is required with --smtp-host", errUsage)
		}
		cfg.SMTP = &notify.SMTPConfig{Host: f.smtpHost, Port: f.smtpPort, StartTLS: mode, Username: f.smtpUser, Password: f.smtpPassword, From: f.smtpFrom}
	}
	return notify.New(cfg)
}
