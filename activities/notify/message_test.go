package notify

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func validMessage() Message {
	return Message{
		IdempotencyKey: "review-CR-7F3K9QXM/rapid-review/reminder-3",
		Kind:           KindReminder,
		CaseID:         "CR-7F3K9QXM",
		Recipient:      "police-north",
		Subject:        "CR-7F3K9QXM: agency chronology due in 3 working days",
		Body:           "Your agency chronology for case CR-7F3K9QXM is due.\nPlease upload it on the case page.",
		Due:            time.Date(2022, 9, 26, 22, 59, 59, 0, time.UTC), // 23:59:59 BST
		Link:           "https://casereview.example/cases/CR-7F3K9QXM",
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Message)
		wantErr string // empty: valid
	}{
		{"valid reminder", func(*Message) {}, ""},
		{"valid escalation", func(m *Message) { m.Kind = KindEscalation }, ""},
		{"http link", func(m *Message) { m.Link = "http://localhost:8080/cases/CR-1" }, ""},
		{"empty key", func(m *Message) { m.IdempotencyKey = "" }, "empty idempotency key"},
		{"blank key", func(m *Message) { m.IdempotencyKey = "  " }, "empty idempotency key"},
		{"key with newline", func(m *Message) { m.IdempotencyKey = "a\nb" }, "control characters"},
		{"unknown kind", func(m *Message) { m.Kind = "nag" }, `unknown kind "nag"`},
		{"empty kind", func(m *Message) { m.Kind = "" }, "unknown kind"},
		{"empty case", func(m *Message) { m.CaseID = "" }, "empty case ID"},
		{"case with space", func(m *Message) { m.CaseID = "CR 1" }, "case reference"},
		{"empty recipient", func(m *Message) { m.Recipient = "" }, "empty recipient"},
		{"empty subject", func(m *Message) { m.Subject = " " }, "empty subject"},
		{"long subject", func(m *Message) { m.Subject = strings.Repeat("x", 201) }, "keep it under 200"},
		{"header injection", func(m *Message) { m.Subject = "due\r\nBcc: someone@evil.example" }, "line break"},
		{"empty body", func(m *Message) { m.Body = "\n" }, "empty body"},
		{"zero due", func(m *Message) { m.Due = time.Time{} }, "zero due time"},
		{"relative link", func(m *Message) { m.Link = "/cases/CR-7F3K9QXM" }, "not an absolute http(s) URL"},
		{"mailto link", func(m *Message) { m.Link = "mailto:x@example.com" }, "not an absolute http(s) URL"},
		{"empty link", func(m *Message) { m.Link = "" }, "not an absolute http(s) URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := validMessage()
			tt.edit(&m)
			err := m.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want error containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Validate() = %q, want it to contain %q", err, tt.wantErr)
			}
			if !errors.Is(err, ErrInvalidMessage) || !errors.Is(err, ErrPermanent) {
				t.Errorf("Validate() = %v, want it to match ErrInvalidMessage and ErrPermanent", err)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	dob := time.Date(2014, 3, 2, 0, 0, 0, 0, time.UTC)
	deny := append([]string{"Jane Smith", "Smith", "Ed", "", "  "}, ForbiddenDates(dob)...)
	tests := []struct {
		name      string
		edit      func(*Message)
		wantField string // empty: allowed
	}{
		{"clean", func(*Message) {}, ""},
		{"name in body", func(m *Message) { m.Body += "\nRe: Jane Smith" }, "body"},
		{"name in upper case", func(m *Message) { m.Body = "JANE SMITH chronology" }, "body"},
		{"name split by extra spaces and a line break", func(m *Message) { m.Body = "about Jane \n  Smith." }, "body"},
		{"surname in subject", func(m *Message) { m.Subject = "Smith: chronology due" }, "subject"},
		{"short name as a word", func(m *Message) { m.Body = "Ed's chronology is due." }, "body"},
		{"short name inside other words is allowed", func(m *Message) { m.Body = "Escalated: the chronology is required and overdue." }, ""},
		{"surname inside a longer word is allowed", func(m *Message) { m.Body = "Blacksmiths' guild" }, ""},
		{"ISO date of birth", func(m *Message) { m.Body = "born 2014-03-02" }, "body"},
		{"UK date of birth", func(m *Message) { m.Body = "born 02/03/2014." }, "body"},
		{"long date of birth", func(m *Message) { m.Body = "born 2 March 2014" }, "body"},
		{"date of birth inside a longer number is allowed", func(m *Message) { m.Body = "ref 12014-03-021" }, ""},
		{"name in link", func(m *Message) { m.Link = "https://casereview.example/cases/CR-1?child=Jane%20Smith" }, "link"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := validMessage()
			tt.edit(&m)
			err := m.Check(deny)
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Check() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrForbiddenContent) || !errors.Is(err, ErrPermanent) {
				t.Fatalf("Check() = %v, want ErrForbiddenContent and ErrPermanent", err)
			}
			if !strings.Contains(err.Error(), tt.wantField+" of message") {
				t.Errorf("Check() = %q, want it to name the field %q", err, tt.wantField)
			}
			for _, entry := range deny {
				if strings.TrimSpace(entry) != "" && strings.Contains(strings.ToLower(err.Error()), strings.ToLower(entry)) {
					t.Errorf("Check() error %q repeats the forbidden text %q", err, entry)
				}
			}
		})
	}
}

func TestCheckValidatesFirst(t *testing.T) {
	m := validMessage()
	m.Kind = "unknown"
	if err := m.Check(nil); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("Check() = %v, want ErrInvalidMessage", err)
	}
}

func TestFormatDue(t *testing.T) {
	tests := []struct {
		due  time.Time
		want string
	}{
		{time.Date(2022, 9, 26, 22, 59, 59, 0, time.UTC), "Monday 26 September 2022 at 23:59 BST"},
		{time.Date(2022, 12, 23, 23, 59, 59, 0, time.UTC), "Friday 23 December 2022 at 23:59 GMT"},
	}
	for _, tt := range tests {
		if got := FormatDue(tt.due); got != tt.want {
			t.Errorf("FormatDue(%v) = %q, want %q", tt.due, got, tt.want)
		}
	}
}
