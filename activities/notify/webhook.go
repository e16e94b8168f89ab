package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Webhook request headers.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderTimestamp      = "X-Casereview-Timestamp"
	HeaderSignature      = "X-Casereview-Signature"
)

// DefaultSignatureTolerance is how far a webhook timestamp may be from the
// receiver's clock before VerifySignature rejects it as a replay.
const DefaultSignatureTolerance = 5 * time.Minute

var (
	// ErrInvalidSignature is returned by VerifySignature for a signature
	// that is missing, malformed or does not match.
	ErrInvalidSignature = errors.New("invalid webhook signature")
	// ErrStaleTimestamp is returned by VerifySignature for a timestamp
	// outside the tolerance: a replayed or badly delayed request.
	ErrStaleTimestamp = errors.New("stale webhook timestamp")
)

// WebhookPayload is the JSON body of a webhook request.
type WebhookPayload struct {
	ID        string    `json:"id"` // the idempotency key
	Kind      string    `json:"kind"`
	CaseID    string    `json:"caseId"`
	Recipient string    `json:"recipient"`
	Subject   string    `json:"subject"`
	Due       time.Time `json:"due"`
	Link      string    `json:"link"`
}

// RetryPolicy bounds the retries of one webhook request within one
// Deliver call. Zero fields take the defaults shown.
type RetryPolicy struct {
	MaxAttempts int           // 5
	MaxElapsed  time.Duration // 1 minute: the activity's own retries take over after that
	BaseDelay   time.Duration // 500 ms, doubled after each attempt
	MaxDelay    time.Duration // 15 s
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 5
	}
	if p.MaxElapsed <= 0 {
		p.MaxElapsed = time.Minute
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 500 * time.Millisecond
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 15 * time.Second
	}
	return p
}

// backoff is the delay before attempt+1, before jitter.
func (p RetryPolicy) backoff(attempt int) time.Duration {
	d := p.BaseDelay
	for i := 1; i < attempt && d < p.MaxDelay; i++ {
		d *= 2
	}
	return min(d, p.MaxDelay)
}

// Sign returns the X-Casereview-Signature value for body sent at
// timestamp (unix seconds): "v1=" and the hex HMAC-SHA256 of
// "<timestamp>.<body>".
func Sign(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// VerifySignature checks a webhook request as a receiver should: the
// timestamp (the X-Casereview-Timestamp header) must be within tolerance
// of now, and signature (the X-Casereview-Signature header) must hold a
// v1 HMAC of "<timestamp>.<body>" under secret. Several comma-separated
// signatures are accepted, so that a secret can be rotated. A tolerance of
// zero or less means DefaultSignatureTolerance.
func VerifySignature(secret []byte, timestamp string, body []byte, signature string, now time.Time, tolerance time.Duration) error {
	if len(secret) == 0 {
		return fmt.Errorf("%w: empty secret", ErrInvalidSignature)
	}
	if tolerance <= 0 {
		tolerance = DefaultSignatureTolerance
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q is not unix seconds", ErrInvalidSignature, timestamp)
	}
	if age := now.Sub(time.Unix(ts, 0)); age > tolerance || age < -tolerance {
		return fmt.Errorf("%w: timestamp is %s from now, tolerance %s", ErrStaleTimestamp, age.Round(time.Second), tolerance)
	}
	want, _ := hex.DecodeString(strings.TrimPrefix(Sign(secret, timestamp, body), "v1="))
	found := false
	for part := range strings.SplitSeq(signature, ",") {
		hexSig, ok := strings.CutPrefix(strings.TrimSpace(part), "v1=")
		if !ok {
			continue
		}
		found = true
		got, err := hex.DecodeString(hexSig)
		if err != nil {
			continue
		}
		if hmac.Equal(got, want) {
			return nil
		}
	}
	if !found {
		return fmt.Errorf("%w: no v1= signature in %q", ErrInvalidSignature, truncate(signature, 80))
	}
	return fmt.Errorf("%w: signature does not match", ErrInvalidSignature)
}

// HTTPStatusError is a webhook response outside 2xx.
type HTTPStatusError struct {
	URL        string // without query, which may carry tokens
	StatusCode int
	RetryAfter time.Duration // from the Retry-After header; zero if absent
}

func (e *HTTPStatusError) Error() string {
	s := fmt.Sprintf("webhook %s: HTTP %d %s", e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.StatusCode >= 300 && e.StatusCode < 400 {
		s += " (redirects are not followed: configure the final URL)"
	}
	return s
}

func retryableStatus(code int) bool {
	return code >= 500 || code == http.StatusRequestTimeout || code == http.StatusTooManyRequests
}

// postWebhook sends msg to ep, retrying transient failures within policy.
func (n *Notifier) postWebhook(ctx context.Context, ep *WebhookEndpoint, msg Message) error {
	body, err := json.Marshal(WebhookPayload{
		ID:        msg.IdempotencyKey,
		Kind:      msg.Kind,
		CaseID:    msg.CaseID,
		Recipient: msg.Recipient,
		Subject:   msg.Subject,
		Due:       msg.Due.UTC(),
		Link:      msg.Link,
	})
	if err != nil {
		return fmt.Errorf("%w: encode webhook payload: %w", ErrPermanent, err)
	}
	p := n.retry
	start := n.now()
	for attempt := 1; ; attempt++ {
		lastErr := n.postOnce(ctx, ep, msg.IdempotencyKey, body)
		if lastErr == nil {
			return nil
		}
		var wait time.Duration
		var se *HTTPStatusError
		switch {
		case ctx.Err() != nil:
			return fmt.Errorf("webhook %s: %w", redactURL(ep.URL), ctx.Err())
		case errors.As(lastErr, &se):
			if !retryableStatus(se.StatusCode) {
				return fmt.Errorf("%w: %w", ErrPermanent, lastErr)
			}
			wait = se.RetryAfter
		}
		if attempt >= p.MaxAttempts {
			return fmt.Errorf("webhook: gave up after %d attempts: %w", attempt, lastErr)
		}
		delay := max(n.jitter(p.backoff(attempt)), wait)
		if elapsed := n.now().Sub(start); elapsed+delay > p.MaxElapsed {
			return fmt.Errorf("webhook: gave up after %d attempts: next try in %s would pass the %s budget: %w",
				attempt, delay, p.MaxElapsed, lastErr)
		}
		if err := n.sleep(ctx, delay); err != nil {
			return fmt.Errorf("webhook: waiting to retry: %w (last error: %v)", err, lastErr)
		}
	}
}

// postOnce makes one signed request. The timestamp is taken afresh for
// each attempt so that a late retry is not rejected as stale.
func (n *Notifier) postOnce(ctx context.Context, ep *WebhookEndpoint, key string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: webhook request: %w", ErrPermanent, err)
	}
	ts := strconv.FormatInt(n.now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "casereview-notify/1")
	req.Header.Set(HeaderIdempotencyKey, key)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(ep.Secret, ts, body))
	resp, err := n.http.Do(req)
	if err != nil {
		// Error strings from net/http quote the full URL; keep the query out.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("webhook %s: %w", redactURL(ep.URL), err)
	}
	// Drain a little so the connection can be reused; the body itself is
	// never reported, since a receiver might echo the payload.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	return &HTTPStatusError{
		URL:        redactURL(ep.URL),
		StatusCode: resp.StatusCode,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), n.now()),
	}
}

// parseRetryAfter reads either form of Retry-After: delay-seconds or an
// HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(min(secs, int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// redactURL drops the query and fragment, which may carry access tokens.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
