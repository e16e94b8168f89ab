package notify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // deadlines are shown in Europe/London even where the host has no zoneinfo
)

// StartTLSMode says whether the SMTP session must be encrypted.
type StartTLSMode string

// StartTLS modes.
const (
	// StartTLSRequired refuses to send unless the server offers STARTTLS
	// and the handshake verifies. It is the default.
	StartTLSRequired StartTLSMode = "required"
	// StartTLSOpportunistic upgrades when the server offers STARTTLS and
	// sends in clear otherwise.
	StartTLSOpportunistic StartTLSMode = "opportunistic"
	// StartTLSNone never upgrades: for a relay on the same host.
	StartTLSNone StartTLSMode = "none"
)

// defaultSMTPTimeout bounds one e-mail when the caller's context has no
// earlier deadline, so a silent server cannot hold an activity forever.
const defaultSMTPTimeout = 30 * time.Second

// SMTPConfig says how to reach the mail server.
type SMTPConfig struct {
	Host      string
	Port      int
	StartTLS  StartTLSMode // empty means StartTLSRequired
	Username  string       // AUTH PLAIN when set
	Password  string
	From      string        // bare envelope and header sender, e.g. casereview@partnership.example
	FromName  string        // display name; "casereview" when empty
	HelloName string        // name sent in EHLO; "localhost" when empty
	TLSConfig *tls.Config   // nil: system roots, server name Host
	Timeout   time.Duration // bounds one e-mail, within the caller's ctx; 30 s when zero
}

var london = mustLoadLocation("Europe/London")

func mustLoadLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err) // time/tzdata is linked in, so this cannot happen
	}
	return loc
}

func (c *SMTPConfig) validate() error {
	if c.Host == "" {
		return errors.New("smtp: empty host")
	}
	if c.Port < 1 || c.Port > 65535 {
		return fmt.Errorf("smtp: port %d out of range 1-65535 (587 for submission with STARTTLS)", c.Port)
	}
	switch c.StartTLS {
	case "", StartTLSRequired, StartTLSOpportunistic, StartTLSNone:
	default:
		return fmt.Errorf("smtp: starttls %q: want %q, %q or %q", c.StartTLS, StartTLSRequired, StartTLSOpportunistic, StartTLSNone)
	}
	if a, err := mail.ParseAddress(c.From); err != nil || a.Address != c.From {
		return fmt.Errorf("smtp: from %q is not a bare e-mail address like casereview@partnership.example", c.From)
	}
	if c.Username != "" && c.Password == "" {
		return errors.New("smtp: username set without a password")
	}
	if c.Username == "" && c.Password != "" {
		return errors.New("smtp: password set without a username")
	}
	if c.Username != "" && c.StartTLS == StartTLSNone && !isLoopback(c.Host) {
		return fmt.Errorf("smtp: refusing AUTH without TLS to %s: use starttls %q or a relay on localhost", c.Host, StartTLSRequired)
	}
	if c.Timeout < 0 {
		return errors.New("smtp: negative timeout")
	}
	return nil
}

// messageID derives the Message-ID from the idempotency key, so that a
// message sent twice (a crash between sending and recording it) carries
// the same ID and mail systems can drop the copy. The key is hashed
// because it may hold characters not allowed in a Message-ID.
func messageID(key, from string) string {
	sum := sha256.Sum256([]byte(key))
	domain := from[strings.LastIndexByte(from, '@')+1:]
	return "<" + hex.EncodeToString(sum[:16]) + ".casereview@" + domain + ">"
}

// FormatDue writes a deadline as people in the UK read it, e.g.
// "Monday 26 September 2022 at 23:59 BST".
func FormatDue(t time.Time) string {
	return t.In(london).Format("Monday 2 January 2006 at 15:04 MST")
}

// composeEmail returns the RFC 5322 message for msg to the address to.
func composeEmail(cfg *SMTPConfig, to string, msg Message, now time.Time) ([]byte, error) {
	fromName := cfg.FromName
	if fromName == "" {
		fromName = "casereview"
	}
	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", (&mail.Address{Name: fromName, Address: cfg.From}).String())
	header("To", (&mail.Address{Address: to}).String())
	header("Subject", mime.QEncoding.Encode("utf-8", msg.Subject))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", messageID(msg.IdempotencyKey, cfg.From))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	// Keep out-of-office and other robots from replying to a robot.
	header("Auto-Submitted", "auto-generated")
	header("X-Auto-Response-Suppress", "All")
	b.WriteString("\r\n")

	qp := quotedprintable.NewWriter(&b)
	fmt.Fprintf(qp, "%s\n\nCase: %s\nDue: %s (UK time)\nOpen the case: %s\n\n"+
		"This is an automated %s from casereview. It contains no personal details: sign in to see the case.\n",
		strings.TrimRight(msg.Body, "\r\n"), msg.CaseID, FormatDue(msg.Due), msg.Link, msg.Kind)
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// sendEmail sends msg to one address in its own SMTP transaction, so that
// one refused address does not hold back the others.
func sendEmail(ctx context.Context, cfg *SMTPConfig, to string, msg Message, now time.Time) error {
	data, err := composeEmail(cfg, to, msg, now)
	if err != nil {
		return fmt.Errorf("compose: %w", err)
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = defaultSMTPTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return smtpError(ctx, "connect to "+addr, err)
	}
	defer conn.Close()
	// net/smtp knows no context: once ctx is done, a deadline in the past
	// fails the blocked read or write, and ctx.Err() then says why.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	c, err := smtp.NewClient(conn, cfg.Host)
	if err != nil {
		return smtpError(ctx, "greeting", err)
	}
	defer c.Close()
	hello := cfg.HelloName
	if hello == "" {
		hello = "localhost"
	}
	if err := c.Hello(hello); err != nil {
		return smtpError(ctx, "EHLO", err)
	}

	mode := cfg.StartTLS
	if mode == "" {
		mode = StartTLSRequired
	}
	if offered, _ := c.Extension("STARTTLS"); mode != StartTLSNone && offered {
		tc := &tls.Config{}
		if cfg.TLSConfig != nil {
			tc = cfg.TLSConfig.Clone()
		}
		if tc.ServerName == "" {
			tc.ServerName = cfg.Host
		}
		if err := c.StartTLS(tc); err != nil {
			return smtpError(ctx, "STARTTLS", err)
		}
	} else if mode == StartTLSRequired {
		return fmt.Errorf("%w: %s does not offer STARTTLS and starttls is %q: enable TLS on the server or relax the setting", ErrPermanent, addr, StartTLSRequired)
	}

	if cfg.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", cfg.Username, cfg.Password, cfg.Host)); err != nil {
			var nerr net.Error
			if !errors.As(err, &nerr) && ctx.Err() == nil {
				var tp *textproto.Error
				if !errors.As(err, &tp) || tp.Code >= 500 {
					// Refused credentials, or net/smtp refusing to send
					// them in clear: retrying will not help.
					return fmt.Errorf("%w: smtp AUTH: %w", ErrPermanent, err)
				}
			}
			return smtpError(ctx, "AUTH", err)
		}
	}
	if err := c.Mail(cfg.From); err != nil {
		return smtpError(ctx, "MAIL FROM", err)
	}
	if err := c.Rcpt(to); err != nil {
		return smtpError(ctx, "RCPT TO", err)
	}
	w, err := c.Data()
	if err != nil {
		return smtpError(ctx, "DATA", err)
	}
	if _, err := w.Write(data); err != nil {
		return smtpError(ctx, "DATA", err)
	}
	if err := w.Close(); err != nil {
		return smtpError(ctx, "end of DATA", err)
	}
	// The server has accepted the message; a failed QUIT changes nothing.
	_ = c.Quit()
	return nil
}

// smtpError wraps err from step, marking as permanent what a retry
// cannot fix: 5xx replies and certificates that do not verify.
func smtpError(ctx context.Context, step string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("smtp %s: %w (%v)", step, ctx.Err(), err)
	}
	var tp *textproto.Error
	if errors.As(err, &tp) && tp.Code >= 500 {
		return fmt.Errorf("%w: smtp %s: %w", ErrPermanent, step, err)
	}
	var (
		verr  *tls.CertificateVerificationError
		uaerr x509.UnknownAuthorityError
		herr  x509.HostnameError
		cerr  x509.CertificateInvalidError
	)
	if errors.As(err, &verr) || errors.As(err, &uaerr) || errors.As(err, &herr) || errors.As(err, &cerr) {
		return fmt.Errorf("%w: smtp %s: server certificate: %w", ErrPermanent, step, err)
	}
	return fmt.Errorf("smtp %s: %w", step, err)
}
