// Package notifytest runs a real SMTP server and a signature-checking webhook receiver for tests.
package notifytest

import (
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"casereview/activities/notify"
)

// Mail is one message an SMTP server accepted.
type Mail struct {
	From string
	To   []string
	Data string
}

// SMTPServer is an SMTP server on a loopback port that records every message it accepts.
type SMTPServer struct {
	Host string
	Port int

	mu   sync.Mutex
	mail []Mail
}

// StartSMTP starts a plain SMTP server (no TLS, no AUTH) that stops when the test ends.
func StartSMTP(t testing.TB) *SMTPServer {
	t.Helper()
	s := &SMTPServer{Host: "127.0.0.1"}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{server: s}, nil }))
	srv.Domain = "localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Port = l.Addr().(*net.TCPAddr).Port
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return s
}

// Config returns notifier settings that deliver to this server.
func (s *SMTPServer) Config() *notify.SMTPConfig {
	return &notify.SMTPConfig{Host: s.Host, Port: s.Port, StartTLS: notify.StartTLSNone, From: "casereview@partnership.example"}
}

// Mail returns the messages accepted so far.
func (s *SMTPServer) Mail() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mail...)
}

type session struct {
	server  *SMTPServer
	current Mail
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.current = Mail{From: from}
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.current.To = append(s.current.To, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.current.Data = string(b)
	s.server.mu.Lock()
	s.server.mail = append(s.server.mail, s.current)
	s.server.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.current = Mail{} }
func (s *session) Logout() error { return nil }

// Delivery is one webhook call the receiver accepted.
type Delivery struct {
	IdempotencyKey string
	Body           string
}

// Receiver is an httptest webhook endpoint that checks every signature.
type Receiver struct {
	URL    string
	Secret []byte

	mu       sync.Mutex
	accepted []Delivery
	rejected []error
}

// StartReceiver starts a receiver that accepts deliveries signed with secret.
func StartReceiver(t testing.TB, secret []byte) *Receiver {
	t.Helper()
	rc := &Receiver{Secret: secret}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err == nil {
			err = notify.VerifySignature(secret, r.Header.Get(notify.HeaderTimestamp), body, r.Header.Get(notify.HeaderSignature), time.Now(), notify.DefaultSignatureTolerance)
		}
		if err == nil && r.Header.Get(notify.HeaderIdempotencyKey) == "" {
			err = errors.New("no idempotency key")
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if err != nil {
			rc.rejected = append(rc.rejected, err)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		rc.accepted = append(rc.accepted, Delivery{IdempotencyKey: r.Header.Get(notify.HeaderIdempotencyKey), Body: string(body)})
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	rc.URL = srv.URL
	return rc
}

// Accepted returns the deliveries whose signatures verified.
func (rc *Receiver) Accepted() []Delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Delivery(nil), rc.accepted...)
}

// Rejected returns why deliveries were refused; a passing test expects none.
func (rc *Receiver) Rejected() []error {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]error(nil), rc.rejected...)
}

// Addr is host:port of the SMTP server.
func (s *SMTPServer) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }
