package notify

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// stack is a Notifier wired to a real SMTP server and a webhook receiver.
type stack struct {
	smtp    *testSMTPServer
	hook    *webhookReceiver
	clock   *fakeClock
	contact Contact
	cfg     Config
}

func newStack(t *testing.T, ledger Ledger, script ...reply) *stack {
	t.Helper()
	s := &stack{smtp: startSMTPServer(t, smtpServerOptions{tls: true, user: "relay", pass: "pw"}), clock: newFakeClock()}
	s.hook = startWebhookReceiver(t, []byte("hook-secret"), s.clock, script...)
	smtpCfg := smtpConfigFor(s.smtp, StartTLSRequired)
	smtpCfg.Username, smtpCfg.Password = "relay", "pw"
	s.contact = Contact{
		Email:   []string{"safeguarding@police.example", "duty@police.example"},
		Webhook: &WebhookEndpoint{URL: s.hook.URL, Secret: s.hook.secret},
	}
	s.cfg = Config{
		Contacts: Contacts{"police-north": s.contact},
		Ledger:   ledger,
		SMTP:     smtpCfg,
		Retry:    RetryPolicy{MaxAttempts: 3, BaseDelay: time.Second},
		Now:      s.clock.Now,
		Sleep:    s.clock.Sleep,
		Jitter:   func(d time.Duration) time.Duration { return d },
	}
	return s
}

func (s *stack) notifier(t *testing.T) *Notifier {
	t.Helper()
	n, err := New(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDeliverIsIdempotent(t *testing.T) {
	ledgers := []struct {
		name string
		open func(t *testing.T) (Ledger, func() Ledger) // the ledger, and how to get it again after a restart
	}{
		{"memory", func(*testing.T) (Ledger, func() Ledger) {
			l := &MemoryLedger{}
			return l, func() Ledger { return l }
		}},
		{"sqlite", func(t *testing.T) (Ledger, func() Ledger) {
			path := filepath.Join(t.TempDir(), "ledger.db")
			open := func() Ledger {
				l, err := OpenSQLiteLedger(context.Background(), path)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { l.Close() })
				return l
			}
			return open(), open
		}},
	}
	for _, lf := range ledgers {
		t.Run(lf.name, func(t *testing.T) {
			ctx := context.Background()
			ledger, reopen := lf.open(t)
			s := newStack(t, ledger)
			msg := validMessage()

			first, err := s.notifier(t).Deliver(ctx, msg, []string{"Jane Smith"})
			if err != nil {
				t.Fatalf("first Deliver: %v", err)
			}
			if len(first) != 3 {
				t.Fatalf("first Deliver: %d receipts, want 3 (two e-mails, one webhook): %+v", len(first), first)
			}
			for _, r := range first {
				if r.Duplicate || r.Key != msg.IdempotencyKey || !r.DeliveredAt.Equal(s.clock.Now()) {
					t.Errorf("first receipt %+v: want a fresh delivery at %v", r, s.clock.Now())
				}
			}

			// A retried activity, perhaps in a restarted worker.
			s.cfg.Ledger = reopen()
			second, err := s.notifier(t).Deliver(ctx, msg, []string{"Jane Smith"})
			if err != nil {
				t.Fatalf("second Deliver: %v", err)
			}
			if len(second) != 3 {
				t.Fatalf("second Deliver: %d receipts, want 3", len(second))
			}
			for i, r := range second {
				if !r.Duplicate || r.Channel != first[i].Channel || r.Address != first[i].Address {
					t.Errorf("second receipt %+v: want a duplicate of %+v", r, first[i])
				}
			}
			if got := s.smtp.Mail(); len(got) != 2 {
				t.Errorf("SMTP server received %d messages, want 2 (one per address)", len(got))
			}
			if got := s.hook.Attempts(); got != 1 {
				t.Errorf("webhook receiver saw %d requests, want 1", got)
			}

			// Another message to the same recipient still goes out.
			next := msg
			next.IdempotencyKey += "-next"
			third, err := s.notifier(t).Deliver(ctx, next, nil)
			if err != nil || len(third) != 3 || third[0].Duplicate {
				t.Fatalf("Deliver of a new key = %+v, %v; want 3 fresh receipts", third, err)
			}
		})
	}
}

func TestDeliverRefusesForbiddenContent(t *testing.T) {
	s := newStack(t, &MemoryLedger{})
	msg := validMessage()
	msg.Body = "Chronology for Jane Smith (born 02/03/2014) is due."
	dob := time.Date(2014, 3, 2, 0, 0, 0, 0, time.UTC)
	receipts, err := s.notifier(t).Deliver(context.Background(), msg, append([]string{"Jane Smith"}, ForbiddenDates(dob)...))
	if !errors.Is(err, ErrForbiddenContent) || !errors.Is(err, ErrPermanent) {
		t.Fatalf("Deliver = %v, want ErrForbiddenContent and ErrPermanent", err)
	}
	if strings.Contains(err.Error(), "Jane") || strings.Contains(err.Error(), "2014") {
		t.Errorf("error %q repeats the personal data", err)
	}
	if len(receipts) != 0 || len(s.smtp.Mail()) != 0 || s.hook.Attempts() != 0 {
		t.Errorf("something was sent: receipts %v, %d e-mails, %d webhook requests", receipts, len(s.smtp.Mail()), s.hook.Attempts())
	}
}

func TestDeliverUnknownRecipient(t *testing.T) {
	s := newStack(t, &MemoryLedger{})
	msg := validMessage()
	msg.Recipient = "probation-east"
	_, err := s.notifier(t).Deliver(context.Background(), msg, nil)
	if !errors.Is(err, ErrUnknownRecipient) || !errors.Is(err, ErrPermanent) || !strings.Contains(err.Error(), "probation-east") {
		t.Fatalf("Deliver = %v, want a permanent ErrUnknownRecipient naming the recipient", err)
	}
}

func TestDeliverPartialFailure(t *testing.T) {
	// The e-mail server is down (transient) while the webhook rejects the
	// request (permanent): the activity should retry, for the e-mails.
	s := newStack(t, &MemoryLedger{}, reply{status: 400})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.cfg.SMTP.Port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	receipts, err := s.notifier(t).Deliver(context.Background(), validMessage(), nil)
	if len(receipts) != 0 {
		t.Errorf("receipts = %+v, want none", receipts)
	}
	var derr *DeliveryError
	if !errors.As(err, &derr) || len(derr.Failures) != 3 {
		t.Fatalf("Deliver = %v, want a *DeliveryError with 3 failures", err)
	}
	if errors.Is(err, ErrPermanent) || derr.Permanent() {
		t.Errorf("mixed failures reported as permanent: %v", err)
	}

	// With the e-mail channel gone, only the permanent failure is left.
	s.cfg.Contacts = Contacts{"police-north": {Webhook: s.contact.Webhook}}
	_, err = s.notifier(t).Deliver(context.Background(), validMessage(), nil)
	if !errors.Is(err, ErrPermanent) || !errors.As(err, &derr) || !derr.Permanent() {
		t.Errorf("Deliver = %v, want a permanent *DeliveryError", err)
	}
}

func TestDeliverPartialSuccessThenRetry(t *testing.T) {
	// The webhook fails past the retry budget on the first call; the
	// second call must send only the webhook.
	s := newStack(t, &MemoryLedger{}, reply{status: 503}, reply{status: 503}, reply{status: 503}, reply{status: 200})
	msg := validMessage()
	receipts, err := s.notifier(t).Deliver(context.Background(), msg, nil)
	if err == nil || errors.Is(err, ErrPermanent) {
		t.Fatalf("first Deliver = %v, want a transient error", err)
	}
	if len(receipts) != 2 || receipts[0].Channel != ChannelEmail || receipts[1].Channel != ChannelEmail {
		t.Fatalf("first Deliver receipts = %+v, want the two e-mails", receipts)
	}
	receipts, err = s.notifier(t).Deliver(context.Background(), msg, nil)
	if err != nil {
		t.Fatalf("second Deliver: %v", err)
	}
	dups := 0
	for _, r := range receipts {
		if r.Duplicate {
			dups++
		}
	}
	if len(receipts) != 3 || dups != 2 || receipts[2].Channel != ChannelWebhook || receipts[2].Duplicate {
		t.Errorf("second Deliver receipts = %+v, want two duplicate e-mails and a fresh webhook", receipts)
	}
	if len(s.smtp.Mail()) != 2 || len(s.hook.Delivered()) != 1 {
		t.Errorf("sent %d e-mails and %d webhooks, want 2 and 1", len(s.smtp.Mail()), len(s.hook.Delivered()))
	}
}

// failingLedger fails every call, to check that a broken ledger stops
// delivery rather than risking repeats.
type failingLedger struct{ err error }

func (l failingLedger) Seen(context.Context, string, string) (bool, error)  { return false, l.err }
func (l failingLedger) Mark(context.Context, string, string, Receipt) error { return l.err }

func TestDeliverLedgerFailure(t *testing.T) {
	broken := errors.New("disk full")
	s := newStack(t, failingLedger{broken})
	_, err := s.notifier(t).Deliver(context.Background(), validMessage(), nil)
	if !errors.Is(err, broken) || errors.Is(err, ErrPermanent) {
		t.Fatalf("Deliver = %v, want a transient error wrapping the ledger's", err)
	}
	if len(s.smtp.Mail()) != 0 || s.hook.Attempts() != 0 {
		t.Errorf("sent despite an unreadable ledger")
	}
}

func TestNewErrors(t *testing.T) {
	good := Contacts{"police-north": {Email: []string{"a@police.example"}}}
	smtpCfg := &SMTPConfig{Host: "smtp.example", Port: 587, From: "casereview@p.example"}
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"no contacts", Config{Ledger: &MemoryLedger{}, SMTP: smtpCfg}, "no recipients"},
		{"no ledger", Config{Contacts: good, SMTP: smtpCfg}, "no ledger"},
		{"e-mail without SMTP", Config{Contacts: good, Ledger: &MemoryLedger{}}, `"police-north" has e-mail addresses but no SMTP server`},
		{"bad SMTP", Config{Contacts: good, Ledger: &MemoryLedger{}, SMTP: &SMTPConfig{Host: "smtp.example", From: "x@p.example"}}, "port 0"},
		{"bad contact", Config{Contacts: Contacts{"a": {}}, Ledger: &MemoryLedger{}, SMTP: smtpCfg}, "no channel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
	if _, err := New(Config{Contacts: good, Ledger: &MemoryLedger{}, SMTP: smtpCfg}); err != nil {
		t.Fatalf("New with a good config = %v", err)
	}
}
