package review

import (
	"encoding/json"
	"fmt"
	"time"
)

// Recorded is an event as the log holds it: encoded, with the time it was recorded and its metadata.
type Recorded struct {
	Type string `json:"type"`
	// SchemaVersion is the version stored beside the data, if the store keeps one; 0 means read it
	// from the data itself.
	SchemaVersion int             `json:"schemaVersion,omitempty"`
	Data          json.RawMessage `json:"data"`
	Recorded      time.Time       `json:"recorded"`
	Metadata      json.RawMessage `json:"metadata,omitempty"`
}

// Decode decodes the recorded event, upcasting older schema versions.
func (r Recorded) Decode() (Event, error) {
	if r.SchemaVersion != 0 {
		return DecodeEventVersion(r.Type, r.SchemaVersion, r.Data)
	}
	return DecodeEvent(r.Type, r.Data)
}

// CaseAsOf returns the case as it stood at asOf: only events recorded at or before that instant
// are folded, in log order, under the rule-set version the case recorded when it was notified.
// Auditors use it to see what the partnership knew and which deadlines applied at the time.
func CaseAsOf(records []Recorded, asOf time.Time) (*Case, error) {
	c := &Case{}
	for i, r := range records {
		if r.Recorded.After(asOf) {
			continue
		}
		e, err := r.Decode()
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		if err := c.Apply(e); err != nil {
			return nil, err
		}
	}
	if c.Revision == 0 {
		return nil, fmt.Errorf("%w: no events recorded at or before %s", ErrHistory, asOf.UTC().Format(time.RFC3339))
	}
	return c, nil
}
