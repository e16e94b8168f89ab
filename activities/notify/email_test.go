package notify

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// recordedMail is one message accepted by the test SMTP server.
type recordedMail struct {
	From     string
	To       []string
	Data     []byte
	TLS      bool
	AuthUser string
}

type smtpServerOptions struct {
	tls      bool   // offer STARTTLS with a self-signed certificate
	user     string // require AUTH PLAIN with user and pass when set
	pass     string
	rcptCode int // reply to RCPT TO with this code instead of accepting
}

// testSMTPServer is a real SMTP server on a loopback port that records
// the messages it accepts.
type testSMTPServer struct {
	Host  string
	Port  int
	Roots *x509.CertPool // trusts the server's self-signed certificate

	mu   sync.Mutex
	mail []recordedMail
}

func (s *testSMTPServer) Mail() []recordedMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recordedMail(nil), s.mail...)
}

func startSMTPServer(t *testing.T, opts smtpServerOptions) *testSMTPServer {
	t.Helper()
	ts := &testSMTPServer{Host: "127.0.0.1"}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &testSession{server: ts, conn: c, opts: opts}, nil
	}))
	srv.Domain = "localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.AllowInsecureAuth = !opts.tls
	if opts.tls {
		cert, roots := selfSignedCert(t)
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		ts.Roots = roots
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.Port = l.Addr().(*net.TCPAddr).Port
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return ts
}

type testSession struct {
	server   *testSMTPServer
	conn     *smtp.Conn
	opts     smtpServerOptions
	authUser string
	current  recordedMail
}

func (s *testSession) AuthMechanisms() []string {
	if s.opts.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *testSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != s.opts.user || pass != s.opts.pass {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Invalid credentials"}
		}
		s.authUser = user
		return nil
	}), nil
}

func (s *testSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.opts.user != "" && s.authUser == "" {
		return smtp.ErrAuthRequired
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.current = recordedMail{From: from, TLS: isTLS, AuthUser: s.authUser}
	return nil
}

func (s *testSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.opts.rcptCode != 0 {
		return &smtp.SMTPError{Code: s.opts.rcptCode, Message: "mailbox unavailable"}
	}
	s.current.To = append(s.current.To, to)
	return nil
}

func (s *testSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.current.Data = data
	s.server.mu.Lock()
	s.server.mail = append(s.server.mail, s.current)
	s.server.mu.Unlock()
	return nil
}

func (s *testSession) Reset()        { s.current = recordedMail{} }
func (s *testSession) Logout() error { return nil }

// selfSignedCert makes a certificate for 127.0.0.1 and localhost and a
// pool that trusts it.
func selfSignedCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "casereview test SMTP"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, roots
}

func smtpConfigFor(s *testSMTPServer, mode StartTLSMode) *SMTPConfig {
	cfg := &SMTPConfig{
		Host:     s.Host,
		Port:     s.Port,
		StartTLS: mode,
		From:     "casereview@partnership.example",
		Timeout:  5 * time.Second,
	}
	if s.Roots != nil {
		cfg.TLSConfig = &tls.Config{RootCAs: s.Roots}
	}
	return cfg
}

func TestSendEmailStartTLSAndAuth(t *testing.T) {
	srv := startSMTPServer(t, smtpServerOptions{tls: true, user: "relay", pass: "pw"})
	cfg := smtpConfigFor(srv, StartTLSRequired)
	cfg.Username, cfg.Password = "relay", "pw"
	msg := validMessage()
	now := time.Date(2022, 9, 21, 9, 0, 0, 0, time.UTC)
	if err := sendEmail(context.Background(), cfg, "safeguarding@police.example", msg, now); err != nil {
		t.Fatalf("sendEmail: %v", err)
	}
	got := srv.Mail()
	if len(got) != 1 {
		t.Fatalf("server recorded %d messages, want 1", len(got))
	}
	rec := got[0]
	if !rec.TLS || rec.AuthUser != "relay" {
		t.Errorf("TLS = %v, auth user = %q; want an encrypted, authenticated session", rec.TLS, rec.AuthUser)
	}
	if rec.From != cfg.From || len(rec.To) != 1 || rec.To[0] != "safeguarding@police.example" {
		t.Errorf("envelope = %s -> %v", rec.From, rec.To)
	}
	m, err := mail.ReadMessage(bytes.NewReader(rec.Data))
	if err != nil {
		t.Fatalf("parse message: %v", err)
	}
	wantHeaders := map[string]string{
		"From":                      `"casereview" <casereview@partnership.example>`,
		"To":                        "<safeguarding@police.example>",
		"Subject":                   msg.Subject,
		"Message-Id":                messageID(msg.IdempotencyKey, cfg.From),
		"Date":                      "Wed, 21 Sep 2022 09:00:00 +0000",
		"Content-Type":              "text/plain; charset=utf-8",
		"Content-Transfer-Encoding": "quoted-printable",
		"Auto-Submitted":            "auto-generated",
	}
	for k, want := range wantHeaders {
		if got := m.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if id := m.Header.Get("Message-Id"); !strings.HasSuffix(id, "@partnership.example>") || strings.Contains(id, "/") {
		t.Errorf("Message-ID %q: want a hash at the sender's domain", id)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Your agency chronology for case CR-7F3K9QXM is due.\r\nPlease upload it on the case page.",
		"Case: CR-7F3K9QXM",
		"Due: Monday 26 September 2022 at 23:59 BST (UK time)",
		"Open the case: https://casereview.example/cases/CR-7F3K9QXM",
		"automated reminder",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
}

func TestMessageIDStable(t *testing.T) {
	a := messageID("wf/clock/reminder-1", "x@p.example")
	if a != messageID("wf/clock/reminder-1", "x@p.example") {
		t.Error("Message-ID differs for the same key")
	}
	if a == messageID("wf/clock/reminder-2", "x@p.example") {
		t.Error("Message-ID equal for different keys")
	}
}

func TestSendEmailModes(t *testing.T) {
	tests := []struct {
		name          string
		server        smtpServerOptions
		mode          StartTLSMode
		untrusted     bool // leave the test CA out of the client's roots
		user, pass    string
		wantPermanent bool // else: want success
		wantErr       string
		wantTLS       bool
	}{
		{name: "opportunistic upgrades when offered", server: smtpServerOptions{tls: true}, mode: StartTLSOpportunistic, wantTLS: true},
		{name: "opportunistic sends in clear when not offered", server: smtpServerOptions{}, mode: StartTLSOpportunistic},
		{name: "none does not upgrade", server: smtpServerOptions{tls: true}, mode: StartTLSNone},
		{name: "none with auth to localhost", server: smtpServerOptions{user: "u", pass: "p"}, mode: StartTLSNone, user: "u", pass: "p"},
		{name: "required but not offered", server: smtpServerOptions{}, mode: StartTLSRequired, wantPermanent: true, wantErr: "does not offer STARTTLS"},
		{name: "untrusted certificate", server: smtpServerOptions{tls: true}, mode: StartTLSRequired, untrusted: true, wantPermanent: true, wantErr: "certificate"},
		{name: "wrong password", server: smtpServerOptions{tls: true, user: "u", pass: "p"}, mode: StartTLSRequired, user: "u", pass: "wrong", wantPermanent: true, wantErr: "535"},
		{name: "recipient refused", server: smtpServerOptions{tls: true, rcptCode: 550}, mode: StartTLSRequired, wantPermanent: true, wantErr: "RCPT TO"},
		{name: "recipient deferred", server: smtpServerOptions{tls: true, rcptCode: 451}, mode: StartTLSRequired, wantErr: "451"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startSMTPServer(t, tt.server)
			cfg := smtpConfigFor(srv, tt.mode)
			cfg.Username, cfg.Password = tt.user, tt.pass
			if tt.untrusted {
				cfg.TLSConfig = nil
			}
			err := sendEmail(context.Background(), cfg, "a@agency.example", validMessage(), time.Now())
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("sendEmail: %v", err)
				}
				got := srv.Mail()
				if len(got) != 1 || got[0].TLS != tt.wantTLS {
					t.Fatalf("recorded %+v, want one message with TLS=%v", got, tt.wantTLS)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("sendEmail = %v, want an error containing %q", err, tt.wantErr)
			}
			if errors.Is(err, ErrPermanent) != tt.wantPermanent {
				t.Errorf("errors.Is(%v, ErrPermanent) = %v, want %v", err, !tt.wantPermanent, tt.wantPermanent)
			}
			if n := len(srv.Mail()); n != 0 {
				t.Errorf("server recorded %d messages, want 0", n)
			}
		})
	}
}

func TestSendEmailHonoursContext(t *testing.T) {
	// A server that accepts the connection and never greets.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	cfg := &SMTPConfig{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, From: "x@p.example"}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = sendEmail(ctx, cfg, "a@agency.example", validMessage(), time.Now())
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrPermanent) {
		t.Fatalf("sendEmail = %v, want a transient context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("sendEmail took %s after a 200ms deadline", elapsed)
	}
}

func TestSendEmailConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cfg := &SMTPConfig{Host: "127.0.0.1", Port: port, From: "x@p.example", Timeout: time.Second}
	err = sendEmail(context.Background(), cfg, "a@agency.example", validMessage(), time.Now())
	if err == nil || errors.Is(err, ErrPermanent) || !strings.Contains(err.Error(), "connect to 127.0.0.1:"+strconv.Itoa(port)) {
		t.Fatalf("sendEmail = %v, want a transient connect error", err)
	}
}

func TestSMTPConfigValidate(t *testing.T) {
	base := SMTPConfig{Host: "smtp.example", Port: 587, From: "casereview@p.example"}
	tests := []struct {
		name    string
		edit    func(*SMTPConfig)
		wantErr string
	}{
		{"valid", func(*SMTPConfig) {}, ""},
		{"no host", func(c *SMTPConfig) { c.Host = "" }, "empty host"},
		{"bad port", func(c *SMTPConfig) { c.Port = 0 }, "port 0"},
		{"bad mode", func(c *SMTPConfig) { c.StartTLS = "always" }, `starttls "always"`},
		{"bad from", func(c *SMTPConfig) { c.From = "Case Review <x@p.example>" }, "not a bare e-mail address"},
		{"user without password", func(c *SMTPConfig) { c.Username = "u" }, "without a password"},
		{"password without user", func(c *SMTPConfig) { c.Password = "p" }, "without a username"},
		{"auth in clear to a remote host", func(c *SMTPConfig) { c.Username, c.Password, c.StartTLS = "u", "p", StartTLSNone }, "refusing AUTH without TLS"},
		{"auth in clear to localhost", func(c *SMTPConfig) { c.Host, c.Username, c.Password, c.StartTLS = "localhost", "u", "p", StartTLSNone }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			tt.edit(&c)
			err := c.validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("validate() = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("validate() = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
