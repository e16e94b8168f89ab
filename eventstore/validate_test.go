package eventstore

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestValidateAppend(t *testing.T) {
	const id1, id2 = "3f2b8c1e-9d4a-4c6b-8e2f-1a2b3c4d5e6f", "7a1c2d3e-4f50-4a6b-9c7d-8e9f0a1b2c3d"
	ok := func() EventData { return EventData{ID: id1, Type: "CaseNotified", Data: json.RawMessage(`{"a":1}`)} }
	with := func(f func(*EventData)) []EventData { e := ok(); f(&e); return []EventData{e} }
	tests := []struct {
		name    string
		stream  string
		events  []EventData
		wantErr string // "" means valid; otherwise a word the message must contain
	}{
		{"valid", "case-1", []EventData{ok()}, ""},
		{"valid two with metadata", "case-1", []EventData{ok(), with(func(e *EventData) { e.ID = id2; e.Metadata = json.RawMessage(`{"actor":"x"}`) })[0]}, ""},
		{"valid data is a JSON value", "case-1", with(func(e *EventData) { e.Data = json.RawMessage(`"text"`) }), ""},
		{"valid at size limit", "case-1", with(func(e *EventData) {
			e.Data = json.RawMessage(`"` + strings.Repeat("x", MaxEventSize-2) + `"`)
		}), ""},
		{"valid longest stream name", strings.Repeat("s", MaxStreamNameLength), []EventData{ok()}, ""},
		{"empty stream", "", []EventData{ok()}, "empty"},
		{"long stream", strings.Repeat("s", MaxStreamNameLength+1), []EventData{ok()}, "at most"},
		{"control character in stream", "case\t1", []EventData{ok()}, "control"},
		{"DEL in stream", "case\x7f1", []EventData{ok()}, "control"},
		{"invalid UTF-8 in stream", "case\xff", []EventData{ok()}, "UTF-8"},
		{"system stream", "$all", []EventData{ok()}, "reserved"},
		{"no events", "case-1", nil, "no events"},
		{"ID not UUID", "case-1", with(func(e *EventData) { e.ID = "case-1-event-1" }), "UUID"},
		{"ID upper case", "case-1", with(func(e *EventData) { e.ID = strings.ToUpper(id1) }), "lowercase"},
		{"ID with braces", "case-1", with(func(e *EventData) { e.ID = "{" + id1[1:35] + "}" }), "UUID"},
		{"nil UUID", "case-1", with(func(e *EventData) { e.ID = "00000000-0000-0000-0000-000000000000" }), "nil UUID"},
		{"empty type", "case-1", with(func(e *EventData) { e.Type = "" }), "empty type"},
		{"type with newline", "case-1", with(func(e *EventData) { e.Type = "A\nB" }), "control"},
		{"no data", "case-1", with(func(e *EventData) { e.Data = nil }), "no data"},
		{"data not JSON", "case-1", with(func(e *EventData) { e.Data = json.RawMessage(`{a:1}`) }), "not valid JSON"},
		{"metadata not JSON", "case-1", with(func(e *EventData) { e.Metadata = json.RawMessage(`[`) }), "metadata"},
		{"over size limit", "case-1", with(func(e *EventData) {
			e.Data = json.RawMessage(`"` + strings.Repeat("x", MaxEventSize-2) + `"`)
			e.Metadata = json.RawMessage(`{}`)
		}), "at most"},
		{"duplicate IDs", "case-1", []EventData{ok(), ok()}, "repeats"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateAppend(tt.stream, tt.events)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidateAppend: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidEvent) {
				t.Fatalf("err = %v, want ErrInvalidEvent", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestIsUUID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"3f2b8c1e-9d4a-4c6b-8e2f-1a2b3c4d5e6f", true},
		{"00000000-0000-0000-0000-000000000001", true},
		{"00000000-0000-0000-0000-000000000000", false},
		{"3F2B8C1E-9D4A-4C6B-8E2F-1A2B3C4D5E6F", false},
		{"3f2b8c1e9d4a4c6b8e2f1a2b3c4d5e6f", false},
		{"3f2b8c1e-9d4a-4c6b-8e2f-1a2b3c4d5e6", false},
		{"3f2b8c1e-9d4a-4c6b-8e2f_1a2b3c4d5e6f", false},
		{"3f2b8c1g-9d4a-4c6b-8e2f-1a2b3c4d5e6f", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := IsUUID(tt.id); got != tt.want {
			t.Errorf("IsUUID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}
