package auth

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"
)

func TestRateLimiterTokenBucket(t *testing.T) {
	clock := newFakeClock()
	l := NewRateLimiter(0.5, 3, clock.Now) // three at once, then one every two seconds
	for i := range 3 {
		if ok, _ := l.Allow("10.0.0.1"); !ok {
			t.Fatalf("attempt %d within the burst refused", i+1)
		}
	}
	ok, wait := l.Allow("10.0.0.1")
	if ok || wait != 2*time.Second {
		t.Fatalf("fourth attempt = %v, wait %v; want refused, wait 2s", ok, wait)
	}
	if ok, _ := l.Allow("10.0.0.2"); !ok {
		t.Error("another key shares the first key's bucket")
	}
	clock.Advance(time.Second)
	if ok, wait := l.Allow("10.0.0.1"); ok || wait != time.Second {
		t.Errorf("after 1s = %v, wait %v; want refused, wait 1s", ok, wait)
	}
	clock.Advance(time.Second)
	if ok, _ := l.Allow("10.0.0.1"); !ok {
		t.Error("after 2s a token should have refilled")
	}
	clock.Advance(time.Hour)
	for i := range 3 {
		if ok, _ := l.Allow("10.0.0.1"); !ok {
			t.Errorf("after an hour, attempt %d refused: the bucket refills only to its burst, but to all of it", i+1)
		}
	}
	if ok, _ := l.Allow("10.0.0.1"); ok {
		t.Error("the bucket refilled beyond its burst")
	}
}

func TestSignInRateLimitedPerIPAndPerName(t *testing.T) {
	clock := newFakeClock()
	tests := []struct {
		name  string
		cfg   Config
		users []string // the user field of each attempt
		// the attempt (1-based) that must be refused
		refused int
	}{
		{"per IP across names", Config{IPLimiter: NewRateLimiter(0.1, 3, clock.Now)},
			[]string{"dev-auditor", "dev-reviewer", "dev-coordinator", "dev-practitioner"}, 4},
		{"per name", Config{NameLimiter: NewRateLimiter(0.1, 2, clock.Now)},
			[]string{"dev-auditor", "nobody", "dev-auditor", "dev-auditor"}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Now = clock.Now
			srv, client := devServer(t, tt.cfg, true)
			client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			client.Jar = nil // each attempt a fresh browser, as an attacker's would be
			for i, user := range tt.users {
				res, err := client.PostForm(srv.URL+"/signin", url.Values{"user": {user}})
				if err != nil {
					t.Fatal(err)
				}
				if i+1 < tt.refused {
					res.Body.Close()
					if res.StatusCode == http.StatusTooManyRequests {
						t.Fatalf("attempt %d refused early", i+1)
					}
					continue
				}
				if res.StatusCode != http.StatusTooManyRequests {
					t.Fatalf("attempt %d = %d, want 429", i+1, res.StatusCode)
				}
				secs, err := strconv.Atoi(res.Header.Get("Retry-After"))
				if err != nil || secs < 1 || secs > 10 {
					t.Errorf("Retry-After = %q, want whole seconds until the next token (1..10)", res.Header.Get("Retry-After"))
				}
				if p := decodeProblem(t, res); p.Type != ProblemRateLimited {
					t.Errorf("problem type = %q, want %q", p.Type, ProblemRateLimited)
				}
				res.Body.Close()
			}
		})
	}
}
