// Package notify delivers case-review reminders and escalations to agencies by e-mail and signed webhook, at most once per idempotency key.
package notify

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Message kinds.
const (
	KindReminder   = "reminder"
	KindEscalation = "escalation"
)

// maxSubjectLen keeps subjects short enough to read on a phone lock screen
// and to fit one header line without folding.
const maxSubjectLen = 200

var (
	// ErrPermanent marks a failure that retrying cannot fix: bad input,
	// an unknown recipient, a receiver that rejected the request. The
	// calling activity should make such errors non-retryable.
	ErrPermanent = errors.New("permanent delivery failure")

	// ErrInvalidMessage is returned by Validate for a malformed message.
	ErrInvalidMessage = errors.New("invalid message")

	// ErrForbiddenContent is returned by Check when a message carries text
	// from the caller's deny-list (names, dates of birth).
	ErrForbiddenContent = errors.New("message contains forbidden personal data")
)

// Message is one reminder or escalation. It carries only the case
// reference, what is due, by whom, the deadline and a link: never personal
// details about the child or family.
type Message struct {
	IdempotencyKey string    // stable across retries, e.g. workflowID/clockID/reminder-3
	Kind           string    // KindReminder or KindEscalation
	CaseID         string    // case reference, e.g. "CR-7F3K9QXM"
	Recipient      string    // a contact key: an agency id ("police-north") or a role ("partnership-manager")
	Subject        string    // short; no personal data
	Body           string    // plain text; no personal data
	Due            time.Time // the deadline concerned
	Link           string    // absolute URL of the case page
}

// Receipt records one delivery to one address of one channel.
type Receipt struct {
	Key         string    // the message's idempotency key
	Channel     string    // ChannelEmail or ChannelWebhook
	Address     string    // the e-mail address or webhook URL
	DeliveredAt time.Time // zero when Duplicate: the first delivery's time is in the ledger
	Duplicate   bool      // true when an earlier attempt already delivered it
}

// Validate reports whether m is well formed. Its errors match both
// ErrInvalidMessage and ErrPermanent.
func (m Message) Validate() error {
	if strings.TrimSpace(m.IdempotencyKey) == "" {
		return invalidf("empty idempotency key: set it to something stable across retries, e.g. workflowID/clockID/reminder-3")
	}
	if hasControl(m.IdempotencyKey) {
		return invalidf("idempotency key contains control characters")
	}
	switch m.Kind {
	case KindReminder, KindEscalation:
	default:
		return invalidf("unknown kind %q: want %q or %q", m.Kind, KindReminder, KindEscalation)
	}
	if m.CaseID == "" {
		return invalidf("empty case ID")
	}
	for _, r := range m.CaseID {
		if !(r == '-' || r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r))) {
			return invalidf("case ID %q: want a case reference of ASCII letters, digits and hyphens, e.g. CR-7F3K9QXM", m.CaseID)
		}
	}
	if strings.TrimSpace(m.Recipient) == "" {
		return invalidf("empty recipient: set it to a contact key such as an agency id or a role")
	}
	if strings.TrimSpace(m.Subject) == "" {
		return invalidf("empty subject")
	}
	if len(m.Subject) > maxSubjectLen {
		return invalidf("subject is %d bytes long: keep it under %d", len(m.Subject), maxSubjectLen)
	}
	// A line break in the subject would let text inject e-mail headers.
	if hasControl(m.Subject) {
		return invalidf("subject contains a line break or other control character")
	}
	if strings.TrimSpace(m.Body) == "" {
		return invalidf("empty body")
	}
	if m.Due.IsZero() {
		return invalidf("zero due time: set the deadline the message concerns")
	}
	u, err := url.Parse(m.Link)
	if err != nil || !u.IsAbs() || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return invalidf("link %q is not an absolute http(s) URL: give the full case page address, e.g. https://casereview.example/cases/CR-7F3K9QXM", m.Link)
	}
	return nil
}

// Check validates m and then rejects it if its subject, body or link
// contains any entry of forbidden: the names and dates of birth of the
// children and family, so that a bug upstream can never send them out.
//
// Matching ignores case and treats runs of white space as one space. An
// entry matches only where it is not part of a longer word or number, so
// that a child called "Ed" does not block every message saying
// "escalated". Empty entries are ignored. The error names the field and
// the entry's index in forbidden, never the entry itself, so it is safe to
// log.
func (m Message) Check(forbidden []string) error {
	if err := m.Validate(); err != nil {
		return err
	}
	fields := []struct{ name, text string }{
		{"subject", m.Subject},
		{"body", m.Body},
		{"link", m.Link},
	}
	// A name percent-encoded into the link must be caught too.
	if decoded, err := url.QueryUnescape(m.Link); err == nil && decoded != m.Link {
		fields = append(fields, struct{ name, text string }{"link", decoded})
	}
	for _, f := range fields {
		text := normalize(f.text)
		for i, entry := range forbidden {
			needle := normalize(entry)
			if needle == "" {
				continue
			}
			if containsToken(text, needle) {
				return fmt.Errorf("%w: %w: %s of message %s contains deny-list entry #%d",
					ErrPermanent, ErrForbiddenContent, f.name, m.IdempotencyKey, i)
			}
		}
	}
	return nil
}

// ForbiddenDates returns the usual ways of writing d, for a deny-list:
// a date of birth written upstream in any of these forms is caught.
func ForbiddenDates(d time.Time) []string {
	return []string{
		d.Format("2006-01-02"),
		d.Format("02/01/2006"),
		d.Format("2/1/2006"),
		d.Format("02-01-2006"),
		d.Format("02.01.2006"),
		d.Format("2 January 2006"),
		d.Format("02 January 2006"),
		d.Format("2 Jan 2006"),
		d.Format("January 2, 2006"),
		d.Format("Jan 2, 2006"),
		d.Format("20060102"),
	}
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %w: %s", ErrPermanent, ErrInvalidMessage, fmt.Sprintf(format, args...))
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

// normalize lower-cases s and collapses white space so that "Jane  SMITH"
// matches "jane smith".
func normalize(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(s)), " ")
}

// containsToken reports whether needle occurs in text with no letter or
// digit immediately before or after it.
func containsToken(text, needle string) bool {
	for start := 0; start <= len(text)-len(needle); {
		i := strings.Index(text[start:], needle)
		if i < 0 {
			return false
		}
		i += start
		end := i + len(needle)
		before, _ := utf8.DecodeLastRuneInString(text[:i])
		after, _ := utf8.DecodeRuneInString(text[end:])
		if !isWordRune(before) && !isWordRune(after) {
			return true
		}
		_, size := utf8.DecodeRuneInString(text[i:])
		start = i + size
	}
	return false
}

func isWordRune(r rune) bool {
	return r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r))
}
