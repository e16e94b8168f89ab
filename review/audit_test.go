package review

import (
	"encoding/json"
	"errors"
	"go/build"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"casereview/calendar"
)

func TestCaseAsOf(t *testing.T) {
	recs := loadFixture(t)
	// As of the moment the decision was recorded, the case was waiting on a reviewer.
	i := slices.IndexFunc(recs, func(r Recorded) bool { return r.Type == EventReviewDecided })
	c, err := CaseAsOf(recs, recs[i].Recorded)
	if err != nil {
		t.Fatal(err)
	}
	if c.Stage != "appointment" || c.Revision != i+1 || len(c.Entries) != 0 {
		t.Fatalf("as of the decision: stage %s revision %d entries %d", c.Stage, c.Revision, len(c.Entries))
	}
	// A second earlier, the decision had not been recorded.
	c, err = CaseAsOf(recs, recs[i].Recorded.Add(-time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if c.Stage != "decision" || c.Decision != nil {
		t.Fatalf("before the decision: stage %s decision %v", c.Stage, c.Decision)
	}
	// The recorded deadline says which rules and calendar computed it; an auditor can recompute it.
	k := c.Clocks[0]
	if k.RulesVersion != "2015.1" || k.CalendarVersion == "" {
		t.Fatalf("clock versions %q %q", k.RulesVersion, k.CalendarVersion)
	}
	rs, err := RulesVersion(c.Framework, k.RulesVersion)
	if err != nil {
		t.Fatal(err)
	}
	cal, err := calendar.ForRegion(rs.CalendarRegion)
	if err != nil {
		t.Fatal(err)
	}
	again, err := rs.Due(k.Clock, k.Start, cal)
	if err != nil {
		t.Fatal(err)
	}
	if again.Due != k.Due || !slices.Equal(again.Reminders, k.Reminders) || !again.DueAt.Equal(k.DueAt) {
		t.Errorf("recomputed %s %v %v, recorded %s %v %v", again.Due, again.Reminders, again.DueAt, k.Due, k.Reminders, k.DueAt)
	}
	if _, err := CaseAsOf(recs, recs[0].Recorded.Add(-time.Hour)); !errors.Is(err, ErrHistory) {
		t.Errorf("before the first event: %v", err)
	}
}

// TestCaseAsOfOlderRules replays a case recorded under lcspr/wt2023 2023.1 (15 working days for an
// agency request) after 2024.1 (10 days) became current: the case keeps the rules it was run under.
func TestCaseAsOfOlderRules(t *testing.T) {
	old, err := RulesVersion("lcspr/wt2023", "2023.1")
	if err != nil {
		t.Fatal(err)
	}
	_, events := run(t, old, weekdayCalendar{}, lcsprSteps(), "request-health")
	var recs []Recorded
	for i, e := range events {
		typ, data, err := EncodeEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, Recorded{Type: typ, Data: data, Recorded: time.Date(2022, 10, 6, 12, 0, i, 0, time.UTC)})
	}
	c, err := CaseAsOf(recs, recs[len(recs)-1].Recorded)
	if err != nil {
		t.Fatal(err)
	}
	if c.RulesVersion != "2023.1" || c.Rules().Version != "2023.1" {
		t.Fatalf("rules version %s", c.RulesVersion)
	}
	// Thursday 6 October plus 15 working days is Thursday 27 October.
	if r := c.request("r1"); r.Due.String() != "2022-10-27" {
		t.Errorf("request due %s, want 2022-10-27 under 2023.1", r.Due)
	}
	// Decoding with the schema version kept beside the data works too.
	for i := range recs {
		recs[i].SchemaVersion = SchemaVersion(recs[i].Type)
	}
	if c2, err := CaseAsOf(recs, recs[len(recs)-1].Recorded); err != nil || asJSON(t, c2) != asJSON(t, c) {
		t.Errorf("with stored schema versions: %v", err)
	}
}

func TestCaseSerialisesToJSON(t *testing.T) {
	c, _ := run(t, mustRules(t, "lcspr/wt2023"), weekdayCalendar{}, lcsprSteps(), "")
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back Case
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if asJSON(t, &back) != asJSON(t, c) {
		t.Error("a case does not survive a JSON round trip")
	}
	// A case read back from JSON can still be decided on and folded into.
	events, err := back.Decide(RecordAccess{By: By{auditor}, Reader: auditor, What: "report", Purpose: "check"}, noon(t, "2022-11-10"), mustRules(t, "lcspr/wt2023"), weekdayCalendar{})
	if err != nil {
		t.Fatal(err)
	}
	if err := back.Apply(events...); err != nil || len(back.Accesses) != 2 {
		t.Fatalf("apply after JSON: %v, %d accesses", err, len(back.Accesses))
	}
}

// TestPureImports keeps the domain free of I/O: it may use the standard library (minus the OS and
// the network) and the calendar, nothing else.
func TestPureImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	banned := []string{"os", "os/exec", "net", "net/http", "syscall", "io/ioutil", "unsafe", "math/rand"}
	for _, imp := range pkg.Imports {
		if slices.Contains(banned, imp) || strings.HasPrefix(imp, "net/") {
			t.Errorf("review imports %s", imp)
		}
		if strings.Contains(strings.Split(imp, "/")[0], ".") || (strings.HasPrefix(imp, "casereview/") && imp != "casereview/calendar") {
			t.Errorf("review imports non-standard package %s", imp)
		}
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep != "casereview/review" && dep != "casereview/calendar" {
			t.Errorf("review depends on %s", dep)
		}
	}
}

func BenchmarkReplayHistoricSCR(b *testing.B) {
	var events []Event
	for _, r := range loadFixture(b) {
		e, err := r.Decode()
		if err != nil {
			b.Fatal(err)
		}
		events = append(events, e)
	}
	for b.Loop() {
		c, err := Replay(events)
		if err != nil {
			b.Fatal(err)
		}
		if len(c.MissedOpportunities()) != 31 {
			b.Fatal("wrong count")
		}
	}
}
