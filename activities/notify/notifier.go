package notify

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// Channels, as in Receipt.Channel.
const (
	ChannelEmail   = "email"
	ChannelWebhook = "webhook"
)

// ErrUnknownRecipient is returned by Deliver for a recipient that has no
// entry in the contacts. It matches ErrPermanent too.
var ErrUnknownRecipient = errors.New("unknown recipient")

// Config holds what a Notifier needs. Contacts and Ledger are required;
// SMTP is required when any contact has an e-mail address.
type Config struct {
	Contacts   Contacts
	Ledger     Ledger
	SMTP       *SMTPConfig
	HTTPClient *http.Client // nil: a client with a 15 s timeout; redirects are never followed
	Retry      RetryPolicy  // webhook retries within one Deliver call

	// Tests replace these; nil means the real clock, a context-aware sleep
	// and "equal jitter" (a random delay between d/2 and d).
	Now    func() time.Time
	Sleep  func(ctx context.Context, d time.Duration) error
	Jitter func(d time.Duration) time.Duration
}

// Notifier delivers messages to every channel of their recipient. It is
// safe for concurrent use.
type Notifier struct {
	contacts Contacts
	ledger   Ledger
	smtp     *SMTPConfig
	http     *http.Client
	retry    RetryPolicy
	now      func() time.Time
	sleep    func(ctx context.Context, d time.Duration) error
	jitter   func(d time.Duration) time.Duration
}

// New checks cfg and returns a Notifier.
func New(cfg Config) (*Notifier, error) {
	if err := cfg.Contacts.Validate(); err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	if cfg.Ledger == nil {
		return nil, errors.New("notify: no ledger: use OpenSQLiteLedger, or a MemoryLedger in tests")
	}
	if cfg.SMTP != nil {
		if err := cfg.SMTP.validate(); err != nil {
			return nil, fmt.Errorf("notify: %w", err)
		}
	} else {
		for _, key := range sortedKeys(cfg.Contacts) {
			if len(cfg.Contacts[key].Email) > 0 {
				return nil, fmt.Errorf("notify: recipient %q has e-mail addresses but no SMTP server is configured", key)
			}
		}
	}
	// A private copy, so that a caller editing its map later cannot race
	// with deliveries in flight.
	contacts := make(Contacts, len(cfg.Contacts))
	for k, c := range cfg.Contacts {
		contacts[k] = c
	}
	n := &Notifier{
		contacts: contacts,
		ledger:   cfg.Ledger,
		smtp:     cfg.SMTP,
		retry:    cfg.Retry.withDefaults(),
		now:      cfg.Now,
		sleep:    cfg.Sleep,
		jitter:   cfg.Jitter,
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	c := *client
	// Go's client turns a redirected POST into a GET; better to fail and
	// have the URL fixed than to lose the body.
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	n.http = &c
	if n.now == nil {
		n.now = time.Now
	}
	if n.sleep == nil {
		n.sleep = sleepContext
	}
	if n.jitter == nil {
		n.jitter = equalJitter
	}
	return n, nil
}

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func equalJitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// Failure is one destination that Deliver could not reach.
type Failure struct {
	Channel string
	Address string
	Err     error
}

// DeliveryError reports the destinations that failed in one Deliver call.
// It matches ErrPermanent only when every failure is permanent: while any
// destination might yet succeed, the activity should retry (destinations
// already reached are skipped through the ledger).
type DeliveryError struct {
	Key      string
	Failures []Failure
}

func (e *DeliveryError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "notify %s: failed deliveries: %d", e.Key, len(e.Failures))
	for _, f := range e.Failures {
		fmt.Fprintf(&b, "; %s %s: %v", f.Channel, f.Address, f.Err)
	}
	return b.String()
}

// Permanent reports whether every failure is permanent.
func (e *DeliveryError) Permanent() bool {
	for _, f := range e.Failures {
		if !errors.Is(f.Err, ErrPermanent) {
			return false
		}
	}
	return true
}

// Unwrap returns the failures that decide what the caller should do: all
// of them when all are permanent, otherwise only the transient ones, so
// that errors.Is(err, ErrPermanent) is false while a retry may help.
func (e *DeliveryError) Unwrap() []error {
	permanent := e.Permanent()
	var errs []error
	for _, f := range e.Failures {
		if permanent || !errors.Is(f.Err, ErrPermanent) {
			errs = append(errs, f.Err)
		}
	}
	return errs
}

// Deliver sends msg to every channel of its recipient: each e-mail
// address in its own SMTP transaction, then the webhook. forbidden is the
// deny-list for Message.Check; a message that fails it is sent nowhere.
//
// Destinations the ledger has already seen for msg.IdempotencyKey are not
// sent again: their receipts come back with Duplicate set. The receipts of
// the destinations reached are returned even when others failed; the
// error is then a *DeliveryError, matching ErrPermanent only if no retry
// can help.
func (n *Notifier) Deliver(ctx context.Context, msg Message, forbidden []string) ([]Receipt, error) {
	if err := msg.Check(forbidden); err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	contact, ok := n.contacts[msg.Recipient]
	if !ok {
		return nil, fmt.Errorf("notify %s: %w: %w: %q is not in the contacts file: add it, or fix the recipient",
			msg.IdempotencyKey, ErrPermanent, ErrUnknownRecipient, msg.Recipient)
	}
	var receipts []Receipt
	derr := &DeliveryError{Key: msg.IdempotencyKey}
	deliver := func(channel, address string, send func() error) {
		r, err := n.deliverOnce(ctx, msg.IdempotencyKey, channel, address, send)
		if err != nil {
			derr.Failures = append(derr.Failures, Failure{Channel: channel, Address: address, Err: err})
			return
		}
		receipts = append(receipts, r)
	}
	for _, addr := range contact.Email {
		deliver(ChannelEmail, addr, func() error {
			return sendEmail(ctx, n.smtp, addr, msg, n.now())
		})
	}
	if ep := contact.Webhook; ep != nil {
		deliver(ChannelWebhook, redactURL(ep.URL), func() error {
			return n.postWebhook(ctx, ep, msg)
		})
	}
	if len(derr.Failures) > 0 {
		return receipts, derr
	}
	return receipts, nil
}

func (n *Notifier) deliverOnce(ctx context.Context, key, channel, address string, send func() error) (Receipt, error) {
	ledgerChannel := channel + ":" + address
	seen, err := n.ledger.Seen(ctx, key, ledgerChannel)
	if err != nil {
		return Receipt{}, err
	}
	if seen {
		return Receipt{Key: key, Channel: channel, Address: address, Duplicate: true}, nil
	}
	if err := send(); err != nil {
		return Receipt{}, err
	}
	r := Receipt{Key: key, Channel: channel, Address: address, DeliveredAt: n.now()}
	if err := n.ledger.Mark(ctx, key, ledgerChannel, r); err != nil {
		// The message went out. Failing makes the activity retry and send
		// again, which receivers can drop by Message-ID or Idempotency-Key;
		// succeeding would hide a broken ledger.
		return Receipt{}, fmt.Errorf("delivered but not recorded: %w", err)
	}
	return r, nil
}
