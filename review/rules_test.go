package review

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestFrameworks(t *testing.T) {
	want := []string{"dhr/2016", "lcspr/wt2018", "lcspr/wt2023", "learning-review/scotland-2021", "sar/care-act-2014", "scr/wt2015", "susr/wales-2024"}
	if got := Frameworks(); !slices.Equal(got, want) {
		t.Fatalf("Frameworks() = %v, want %v", got, want)
	}
	for _, f := range want {
		rs := mustRules(t, f)
		if rs.Framework != f || rs.Version == "" || rs.CalendarRegion == "" {
			t.Errorf("%s: framework %q version %q region %q", f, rs.Framework, rs.Version, rs.CalendarRegion)
		}
	}
	if got := mustRules(t, "learning-review/scotland-2021").CalendarRegion; got != "scotland" {
		t.Errorf("Scotland's calendar region = %q", got)
	}
}

func TestRulesUnknownListsValid(t *testing.T) {
	_, err := Rules("lcspr/wt2099")
	if !errors.Is(err, ErrUnknownRules) {
		t.Fatalf("err = %v, want ErrUnknownRules", err)
	}
	for _, f := range Frameworks() {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not list %s", err, f)
		}
	}
}

func TestRulesVersion(t *testing.T) {
	cur := mustRules(t, "lcspr/wt2023")
	if cur.Version != "2024.1" {
		t.Fatalf("current lcspr/wt2023 version = %s, want 2024.1", cur.Version)
	}
	old, err := RulesVersion("lcspr/wt2023", "2023.1")
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := old.Clock("agency-request"); c.Duration.N != 15 {
		t.Errorf("2023.1 agency-request clock = %v, want 15 working days", c.Duration)
	}
	for _, f := range Frameworks() {
		if _, err := RulesVersion(f, mustRules(t, f).Version); err != nil {
			t.Errorf("current version of %s not loadable: %v", f, err)
		}
	}
	_, err = RulesVersion("lcspr/wt2023", "1999.9")
	if !errors.Is(err, ErrUnknownRules) || !strings.Contains(err.Error(), "2023.1, 2024.1") {
		t.Errorf("err = %v, want ErrUnknownRules listing versions", err)
	}
}

// mutated returns the current lcspr/wt2023 rule-set JSON after change has edited its decoded form.
func mutated(t *testing.T, change func(m map[string]any)) []byte {
	t.Helper()
	b, err := json.Marshal(mustRules(t, "lcspr/wt2023"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	change(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestParseRuleSetValidation(t *testing.T) {
	first := func(m map[string]any, key string) map[string]any { return m[key].([]any)[0].(map[string]any) }
	tests := []struct {
		name   string
		change func(m map[string]any)
		want   string
	}{
		{"valid as embedded", func(map[string]any) {}, ""},
		{"unknown stage in transition", func(m map[string]any) { first(m, "transitions")["to"] = "limbo" }, `unknown stage "limbo"`},
		{"clock on unknown event", func(m map[string]any) { first(m, "clocks")["start"] = map[string]any{"event": "IncidentHappened"} }, `unknown event "IncidentHappened"`},
		{"unknown command", func(m map[string]any) { first(m, "permissions")["command"] = "FileReport" }, `unknown command "FileReport"`},
		{"unknown role", func(m map[string]any) { first(m, "permissions")["roles"] = []any{"mayor"} }, `unknown role "mayor"`},
		{"bad unit", func(m map[string]any) { first(m, "clocks")["duration"] = map[string]any{"n": 5, "unit": "fortnights"} }, `unit "fortnights"`},
		{"unknown artefact", func(m map[string]any) { first(m, "stages")["requires"] = []any{"crystal-ball"} }, `unknown artefact "crystal-ball"`},
		{"unknown condition", func(m map[string]any) { first(m, "transitions")["if"] = "full-moon" }, `unknown condition "full-moon"`},
		{"bad clock kind", func(m map[string]any) { first(m, "clocks")["kind"] = "soft" }, `kind: "soft"`},
		{"no partners", func(m map[string]any) { m["parameters"].(map[string]any)["requiredPartners"] = []any{} }, "requiredPartners: none"},
		{"missing version", func(m map[string]any) { delete(m, "version") }, "version: missing"},
		{"unknown field", func(m map[string]any) { m["colour"] = "blue" }, `unknown field "colour"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRuleSet(mutated(t, tt.change))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestWriteProcessMap(t *testing.T) {
	var buf bytes.Buffer
	if err := mustRules(t, "lcspr/wt2023").WriteProcessMap(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"lcspr/wt2023: Rapid Review and Local Child Safeguarding Practice Review",
		"Rule-set version 2024.1",
		"  1. Serious incident notification [notification]  owner: safeguarding partner (local authority, ICB, police)",
		"  2. Rapid review [rapid-review]  owner: partnership business unit",
		"on NotificationSent unless care-leaver-death -> 2. rapid-review",
		"before it closes: record the facts and agency involvement",
		"[notification]: 5 working days from CaseNotified until NotificationSent; hard deadline",
		"[rapid-review]: 15 working days from NotificationSent unless care-leaver-death until RapidReviewSubmitted",
		"[panel-response]: 10 calendar days from RapidReviewSubmitted until PanelResponded; expected by (not a deadline)",
		"[publication]: 6 months from ReviewDecided (lcspr) until ReportPublished",
		"reminders: 2, 1 working days before due",
		"escalation: 1 working day after due -> safeguarding partner",
		"SignOffRapidReview: safeguarding partner (local authority, ICB, police); in rapid-review",
		"pre-publication notice: 7 working days before publication",
		"required partners for sign-off: local-authority, icb, police",
		"keep public: at least 12 months",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("process map lacks %q", want)
		}
	}
	for _, f := range Frameworks() {
		buf.Reset()
		if err := mustRules(t, f).WriteProcessMap(&buf); err != nil || buf.Len() < 500 {
			t.Errorf("%s: process map of %d bytes, err %v", f, buf.Len(), err)
		}
	}
}

func TestRulesVersionInForce(t *testing.T) {
	tests := []struct{ framework, on, want string }{
		{"lcspr/wt2023", "2022-09-16", "2023.1"}, // before any version: the first
		{"lcspr/wt2023", "2024-01-10", "2023.1"},
		{"lcspr/wt2023", "2024-12-01", "2024.1"},
		{"lcspr/wt2023", "2026-01-01", "2024.1"},
		{"nowhere/1", "2026-01-01", ""},
	}
	for _, tt := range tests {
		if got := rulesVersionInForce(tt.framework, date(t, tt.on)); got != tt.want {
			t.Errorf("rulesVersionInForce(%s, %s) = %q, want %q", tt.framework, tt.on, got, tt.want)
		}
	}
	// A notification recorded without a version folds under the rules in force on its awareness date.
	c, err := Replay([]Event{CaseNotified{CaseID: "c", Notification: Notification{Framework: "lcspr/wt2023", AwarenessDate: date(t, "2025-03-03")}}})
	if err != nil {
		t.Fatal(err)
	}
	if c.RulesVersion != "2024.1" {
		t.Errorf("rules version %s, want 2024.1", c.RulesVersion)
	}
}
