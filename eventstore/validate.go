package eventstore

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// ValidateAppend checks a stream name and the events of one append against the rules every Store
// enforces, so that the embedded store and EventStoreDB reject exactly the same input. The error
// wraps ErrInvalidEvent and says what is wrong and how to fix it; it never quotes event data, which
// may hold personal data.
func ValidateAppend(stream string, events []EventData) error {
	if err := ValidateStreamName(stream); err != nil {
		return err
	}
	if len(events) == 0 {
		return fmt.Errorf("%w: no events to append: pass at least one event", ErrInvalidEvent)
	}
	seen := make(map[string]int, len(events))
	for i, e := range events {
		if err := validateEvent(e); err != nil {
			return fmt.Errorf("event %d: %w", i, err)
		}
		if j, ok := seen[e.ID]; ok {
			return fmt.Errorf("%w: event %d repeats the ID %s of event %d in the same append: give every event its own ID", ErrInvalidEvent, i, e.ID, j)
		}
		seen[e.ID] = i
	}
	return nil
}

// ValidateStreamName checks a stream name; the error wraps ErrInvalidEvent.
func ValidateStreamName(stream string) error {
	switch {
	case stream == "":
		return fmt.Errorf("%w: stream name is empty: name the stream, e.g. \"case-<id>\"", ErrInvalidEvent)
	case len(stream) > MaxStreamNameLength:
		return fmt.Errorf("%w: stream name is %d bytes long: use at most %d", ErrInvalidEvent, len(stream), MaxStreamNameLength)
	case !utf8.ValidString(stream):
		return fmt.Errorf("%w: stream name is not valid UTF-8: use a UTF-8 name", ErrInvalidEvent)
	case stream[0] == '$':
		return fmt.Errorf("%w: stream name starts with \"$\", which is reserved for system streams: choose a name without a leading \"$\"", ErrInvalidEvent)
	}
	if i := controlCharIndex(stream); i >= 0 {
		return fmt.Errorf("%w: stream name has a control character at byte %d: remove it", ErrInvalidEvent, i)
	}
	return nil
}

func validateEvent(e EventData) error {
	if !IsUUID(e.ID) {
		return fmt.Errorf("%w: event ID %q is not a UUID: use the lowercase canonical form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, not the nil UUID", ErrInvalidEvent, e.ID)
	}
	if e.Type == "" {
		return fmt.Errorf("%w: event %s has an empty type: set a stable type name such as \"CaseNotified\"", ErrInvalidEvent, e.ID)
	}
	if i := controlCharIndex(e.Type); i >= 0 || !utf8.ValidString(e.Type) {
		return fmt.Errorf("%w: event %s has a type with a control character or invalid UTF-8: use a plain name such as \"CaseNotified\"", ErrInvalidEvent, e.ID)
	}
	if len(e.Data) == 0 {
		return fmt.Errorf("%w: event %s has no data: pass a JSON object, at least {}", ErrInvalidEvent, e.ID)
	}
	if !json.Valid(e.Data) {
		return fmt.Errorf("%w: event %s data is not valid JSON: marshal the event with encoding/json", ErrInvalidEvent, e.ID)
	}
	if len(e.Metadata) > 0 && !json.Valid(e.Metadata) {
		return fmt.Errorf("%w: event %s metadata is not valid JSON: marshal it with encoding/json or leave it empty", ErrInvalidEvent, e.ID)
	}
	if n := len(e.Data) + len(e.Metadata); n > MaxEventSize {
		return fmt.Errorf("%w: event %s carries %d bytes of data and metadata: keep it to at most %d, e.g. by storing large documents elsewhere and recording a reference", ErrInvalidEvent, e.ID, n, MaxEventSize)
	}
	return nil
}

// IsUUID reports whether id is a UUID in lowercase canonical form and not the nil UUID. Only one
// spelling is accepted because EventStoreDB hands IDs back in this form: an ID written in another
// spelling would not compare equal when read back, and retries would stop being idempotent.
func IsUUID(id string) bool {
	if len(id) != 36 {
		return false
	}
	nonZero := false
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
			continue
		}
		switch {
		case c >= '1' && c <= '9', c >= 'a' && c <= 'f':
			nonZero = true
		case c == '0':
		default:
			return false
		}
	}
	return nonZero
}

func controlCharIndex(s string) int {
	for i, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return i
		}
	}
	return -1
}
