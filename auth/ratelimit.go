package auth

import (
	"math"
	"sync"
	"time"
)

// RateLimiter is a set of token buckets, one per key (a client IP or a user name). Each bucket holds
// up to Burst tokens and refills at Rate tokens a second; an attempt takes one token.
type RateLimiter struct {
	rate  float64
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// maxBuckets bounds memory under an attack from many addresses; beyond it, full buckets are
// forgotten first, since forgetting them loses nothing.
const maxBuckets = 100_000

// NewRateLimiter returns a limiter allowing burst attempts at once and rate attempts a second after.
// now is the clock; time.Now when nil.
func NewRateLimiter(rate float64, burst int, now func() time.Time) *RateLimiter {
	if now == nil {
		now = time.Now
	}
	return &RateLimiter{rate: rate, burst: float64(burst), now: now, buckets: make(map[string]*bucket)}
}

// Allow takes a token from key's bucket. When the bucket is empty it returns false and how long until
// a token will be there.
func (l *RateLimiter) Allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			l.sweep(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	l.refill(b, now)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	if l.rate <= 0 {
		return false, time.Hour
	}
	wait := time.Duration(math.Ceil((1 - b.tokens) / l.rate * float64(time.Second)))
	return false, wait
}

func (l *RateLimiter) refill(b *bucket, now time.Time) {
	if elapsed := now.Sub(b.at).Seconds(); elapsed > 0 {
		b.tokens = math.Min(l.burst, b.tokens+elapsed*l.rate)
		b.at = now
	}
}

func (l *RateLimiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		l.refill(b, now)
		if b.tokens >= l.burst {
			delete(l.buckets, k)
		}
	}
	// Still full of active attackers: start again rather than grow without bound.
	if len(l.buckets) >= maxBuckets {
		clear(l.buckets)
	}
}
