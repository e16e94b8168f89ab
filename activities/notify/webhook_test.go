package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock stands in for time.Now and sleeping, so retry tests run in
// microseconds and can check each wait.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2022, 9, 21, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.sleeps = append(c.sleeps, d)
	return nil
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// reply is one scripted webhook response.
type reply struct {
	status     int
	retryAfter string
}

// webhookReceiver is an httptest server that checks every request's
// signature with VerifySignature and answers from a script (the last
// reply repeats).
type webhookReceiver struct {
	t      *testing.T
	secret []byte
	clock  *fakeClock
	URL    string

	mu         sync.Mutex
	script     []reply
	attempts   int
	delivered  []WebhookPayload    // bodies answered with 2xx
	byKey      map[string]struct{} // idempotency keys answered with 2xx
	badSigs    int
	lastHeader http.Header
}

func startWebhookReceiver(t *testing.T, secret []byte, clock *fakeClock, script ...reply) *webhookReceiver {
	t.Helper()
	r := &webhookReceiver{t: t, secret: secret, clock: clock, script: script, byKey: map[string]struct{}{}}
	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(srv.Close)
	r.URL = srv.URL + "/hooks/casereview"
	return r
}

func (r *webhookReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts++
	r.lastHeader = req.Header.Clone()
	if err := VerifySignature(r.secret, req.Header.Get(HeaderTimestamp), body, req.Header.Get(HeaderSignature), r.clock.Now(), time.Minute); err != nil {
		r.badSigs++
		r.t.Errorf("receiver: attempt %d: %v", r.attempts, err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
		r.t.Errorf("receiver: got %s with Content-Type %q", req.Method, req.Header.Get("Content-Type"))
	}
	rep := reply{status: http.StatusOK}
	if len(r.script) > 0 {
		rep = r.script[0]
		if len(r.script) > 1 {
			r.script = r.script[1:]
		}
	}
	if rep.retryAfter != "" {
		w.Header().Set("Retry-After", rep.retryAfter)
	}
	if rep.status >= 200 && rep.status < 300 {
		var p WebhookPayload
		if err := json.Unmarshal(body, &p); err != nil {
			r.t.Errorf("receiver: payload: %v", err)
		}
		if p.ID != req.Header.Get(HeaderIdempotencyKey) {
			r.t.Errorf("receiver: payload id %q != Idempotency-Key %q", p.ID, req.Header.Get(HeaderIdempotencyKey))
		}
		// A real receiver drops a repeated key; this one counts it.
		r.delivered = append(r.delivered, p)
		r.byKey[p.ID] = struct{}{}
	}
	w.WriteHeader(rep.status)
}

func (r *webhookReceiver) Attempts() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.attempts
}

func (r *webhookReceiver) Delivered() []WebhookPayload {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]WebhookPayload(nil), r.delivered...)
}

// webhookNotifier returns a Notifier whose only contact, "police-north",
// has the receiver's webhook.
func webhookNotifier(t *testing.T, rcv *webhookReceiver, retry RetryPolicy) *Notifier {
	t.Helper()
	n, err := New(Config{
		Contacts: Contacts{"police-north": {Webhook: &WebhookEndpoint{URL: rcv.URL, Secret: rcv.secret}}},
		Ledger:   &MemoryLedger{},
		Retry:    retry,
		Now:      rcv.clock.Now,
		Sleep:    rcv.clock.Sleep,
		Jitter:   func(d time.Duration) time.Duration { return d },
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestWebhookRetries(t *testing.T) {
	policy := RetryPolicy{MaxAttempts: 4, MaxElapsed: time.Minute, BaseDelay: time.Second, MaxDelay: 10 * time.Second}
	httpDate := func(c *fakeClock, d time.Duration) string { return c.Now().Add(d).Format(http.TimeFormat) }
	tests := []struct {
		name          string
		script        func(c *fakeClock) []reply
		wantErr       string // empty: success
		wantPermanent bool
		wantAttempts  int
		wantSleeps    []time.Duration
	}{
		{
			name:         "first try",
			script:       func(*fakeClock) []reply { return []reply{{status: 204}} },
			wantAttempts: 1,
		},
		{
			name:         "503 twice then success",
			script:       func(*fakeClock) []reply { return []reply{{status: 503}, {status: 503}, {status: 200}} },
			wantAttempts: 3,
			wantSleeps:   []time.Duration{time.Second, 2 * time.Second},
		},
		{
			name:         "408 and 500 are retried",
			script:       func(*fakeClock) []reply { return []reply{{status: 408}, {status: 500}, {status: 202}} },
			wantAttempts: 3,
			wantSleeps:   []time.Duration{time.Second, 2 * time.Second},
		},
		{
			name:          "400 is permanent",
			script:        func(*fakeClock) []reply { return []reply{{status: 400}} },
			wantErr:       "HTTP 400",
			wantPermanent: true,
			wantAttempts:  1,
		},
		{
			name:          "404 is permanent",
			script:        func(*fakeClock) []reply { return []reply{{status: 404}} },
			wantErr:       "HTTP 404",
			wantPermanent: true,
			wantAttempts:  1,
		},
		{
			name:          "redirect is permanent",
			script:        func(*fakeClock) []reply { return []reply{{status: 308}} },
			wantErr:       "redirects are not followed",
			wantPermanent: true,
			wantAttempts:  1,
		},
		{
			name:         "Retry-After seconds longer than the backoff is honoured",
			script:       func(*fakeClock) []reply { return []reply{{status: 429, retryAfter: "7"}, {status: 200}} },
			wantAttempts: 2,
			wantSleeps:   []time.Duration{7 * time.Second},
		},
		{
			name: "Retry-After date is honoured",
			script: func(c *fakeClock) []reply {
				return []reply{{status: 503, retryAfter: httpDate(c, 12*time.Second)}, {status: 200}}
			},
			wantAttempts: 2,
			wantSleeps:   []time.Duration{12 * time.Second},
		},
		{
			name:         "Retry-After shorter than the backoff keeps the backoff",
			script:       func(*fakeClock) []reply { return []reply{{status: 503}, {status: 429, retryAfter: "1"}, {status: 200}} },
			wantAttempts: 3,
			wantSleeps:   []time.Duration{time.Second, 2 * time.Second},
		},
		{
			name:         "gives up after MaxAttempts, transient",
			script:       func(*fakeClock) []reply { return []reply{{status: 502}} },
			wantErr:      "gave up after 4 attempts",
			wantAttempts: 4,
			wantSleeps:   []time.Duration{time.Second, 2 * time.Second, 4 * time.Second},
		},
		{
			name:         "Retry-After beyond the time budget stops early, transient",
			script:       func(*fakeClock) []reply { return []reply{{status: 503, retryAfter: "3600"}} },
			wantErr:      "would pass the 1m0s budget",
			wantAttempts: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			rcv := startWebhookReceiver(t, []byte("hook-secret"), clock, tt.script(clock)...)
			n := webhookNotifier(t, rcv, policy)
			msg := validMessage()
			receipts, err := n.Deliver(context.Background(), msg, nil)
			if got := rcv.Attempts(); got != tt.wantAttempts {
				t.Errorf("receiver saw %d attempts, want %d", got, tt.wantAttempts)
			}
			if got := clock.Sleeps(); !equalDurations(got, tt.wantSleeps) {
				t.Errorf("slept %v, want %v", got, tt.wantSleeps)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Deliver: %v", err)
				}
				if len(receipts) != 1 || receipts[0].Channel != ChannelWebhook || receipts[0].Duplicate {
					t.Errorf("receipts = %+v, want one webhook receipt", receipts)
				}
				got := rcv.Delivered()
				if len(got) != 1 {
					t.Fatalf("receiver recorded %d deliveries, want 1", len(got))
				}
				want := WebhookPayload{ID: msg.IdempotencyKey, Kind: msg.Kind, CaseID: msg.CaseID, Recipient: msg.Recipient,
					Subject: msg.Subject, Due: msg.Due.UTC(), Link: msg.Link}
				if got[0] != want {
					t.Errorf("payload = %+v, want %+v", got[0], want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Deliver = %v, want an error containing %q", err, tt.wantErr)
			}
			if errors.Is(err, ErrPermanent) != tt.wantPermanent {
				t.Errorf("errors.Is(ErrPermanent) = %v, want %v (err: %v)", !tt.wantPermanent, tt.wantPermanent, err)
			}
			var derr *DeliveryError
			if !errors.As(err, &derr) || len(derr.Failures) != 1 || derr.Failures[0].Channel != ChannelWebhook {
				t.Errorf("Deliver error %v: want a *DeliveryError with one webhook failure", err)
			}
			if len(rcv.Delivered()) != 0 {
				t.Errorf("receiver recorded a delivery despite the error")
			}
		})
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestWebhookHeaders(t *testing.T) {
	clock := newFakeClock()
	rcv := startWebhookReceiver(t, []byte("k"), clock)
	n := webhookNotifier(t, rcv, RetryPolicy{})
	msg := validMessage()
	if _, err := n.Deliver(context.Background(), msg, nil); err != nil {
		t.Fatal(err)
	}
	rcv.mu.Lock()
	h := rcv.lastHeader
	rcv.mu.Unlock()
	if h.Get(HeaderIdempotencyKey) != msg.IdempotencyKey {
		t.Errorf("Idempotency-Key = %q", h.Get(HeaderIdempotencyKey))
	}
	if h.Get(HeaderTimestamp) != strconv.FormatInt(clock.Now().Unix(), 10) {
		t.Errorf("timestamp = %q, want %d", h.Get(HeaderTimestamp), clock.Now().Unix())
	}
	if !strings.HasPrefix(h.Get(HeaderSignature), "v1=") || len(h.Get(HeaderSignature)) != 3+64 {
		t.Errorf("signature = %q, want v1=<64 hex>", h.Get(HeaderSignature))
	}
}

func TestWebhookCancelledWhileWaiting(t *testing.T) {
	clock := newFakeClock()
	rcv := startWebhookReceiver(t, []byte("k"), clock, reply{status: 503})
	ctx, cancel := context.WithCancel(context.Background())
	n, err := New(Config{
		Contacts: Contacts{"police-north": {Webhook: &WebhookEndpoint{URL: rcv.URL, Secret: rcv.secret}}},
		Ledger:   &MemoryLedger{},
		Now:      clock.Now,
		Sleep: func(ctx context.Context, d time.Duration) error {
			cancel()
			<-ctx.Done()
			return ctx.Err()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = n.Deliver(ctx, validMessage(), nil)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrPermanent) {
		t.Fatalf("Deliver = %v, want a transient context.Canceled", err)
	}
	if rcv.Attempts() != 1 {
		t.Errorf("attempts = %d, want 1", rcv.Attempts())
	}
}

func TestWebhookNetworkErrorIsTransient(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/hook?token=hidden"
	srv.Close()
	clock := newFakeClock()
	n, err := New(Config{
		Contacts: Contacts{"police-north": {Webhook: &WebhookEndpoint{URL: url, Secret: []byte("k")}}},
		Ledger:   &MemoryLedger{},
		Retry:    RetryPolicy{MaxAttempts: 3, BaseDelay: time.Second},
		Now:      clock.Now,
		Sleep:    clock.Sleep,
		Jitter:   func(d time.Duration) time.Duration { return d },
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = n.Deliver(context.Background(), validMessage(), nil)
	if err == nil || errors.Is(err, ErrPermanent) || !strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Fatalf("Deliver = %v, want a transient error after 3 attempts", err)
	}
	if strings.Contains(err.Error(), "hidden") {
		t.Errorf("error %q leaks the URL's query", err)
	}
}

func TestVerifySignature(t *testing.T) {
	secret := []byte("shared-secret")
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"id":"k","kind":"reminder"}`)
	ts := strconv.FormatInt(now.Unix(), 10)
	good := Sign(secret, ts, body)
	tests := []struct {
		name      string
		secret    []byte
		timestamp string
		body      []byte
		signature string
		want      error // nil: valid
	}{
		{"valid", secret, ts, body, good, nil},
		{"rotation: second signature matches", secret, ts, body, Sign([]byte("old"), ts, body) + ", " + good, nil},
		{"within tolerance", secret, strconv.FormatInt(now.Unix()-299, 10), body,
			Sign(secret, strconv.FormatInt(now.Unix()-299, 10), body), nil},
		{"tampered body", secret, ts, []byte(`{"id":"k","kind":"escalation"}`), good, ErrInvalidSignature},
		{"wrong secret", []byte("other"), ts, body, good, ErrInvalidSignature},
		{"timestamp changed", secret, strconv.FormatInt(now.Unix()-1, 10), body, good, ErrInvalidSignature},
		{"stale", secret, strconv.FormatInt(now.Unix()-301, 10), body,
			Sign(secret, strconv.FormatInt(now.Unix()-301, 10), body), ErrStaleTimestamp},
		{"from the future", secret, strconv.FormatInt(now.Unix()+301, 10), body,
			Sign(secret, strconv.FormatInt(now.Unix()+301, 10), body), ErrStaleTimestamp},
		{"timestamp not a number", secret, "yesterday", body, good, ErrInvalidSignature},
		{"no v1 prefix", secret, ts, body, strings.TrimPrefix(good, "v1="), ErrInvalidSignature},
		{"not hex", secret, ts, body, "v1=zz", ErrInvalidSignature},
		{"empty signature", secret, ts, body, "", ErrInvalidSignature},
		{"empty secret", nil, ts, body, good, ErrInvalidSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifySignature(tt.secret, tt.timestamp, tt.body, tt.signature, now, 5*time.Minute)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("VerifySignature = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("VerifySignature = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2022, 9, 21, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"5", 5 * time.Second},
		{"-3", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestBackoffAndJitter(t *testing.T) {
	p := RetryPolicy{BaseDelay: time.Second, MaxDelay: 5 * time.Second}.withDefaults()
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i, w := range want {
		if got := p.backoff(i + 1); got != w {
			t.Errorf("backoff(%d) = %s, want %s", i+1, got, w)
		}
	}
	for range 1000 {
		if d := equalJitter(4 * time.Second); d < 2*time.Second || d > 4*time.Second {
			t.Fatalf("equalJitter(4s) = %s, want within [2s, 4s]", d)
		}
	}
}
