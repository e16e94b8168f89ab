package review

import (
	"encoding/json"
	"flag"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

func TestEventDate(t *testing.T) {
	tests := []struct {
		d    EventDate
		text string
		ok   bool
	}{
		{OnDay(mustDate("2003-05-14")), "14 May 2003", true},
		{InMonth(2003, time.May), "May 2003", true},
		{Around(2003, 0), "c. 2003", true},
		{Around(2003, time.May), "c. May 2003", true},
		{EventDate{Year: 2003, Month: 2, Day: 30, Precision: PrecisionDay}, "", false},
		{EventDate{Year: 2003, Month: 5, Day: 1, Precision: PrecisionMonth}, "", false},
		{EventDate{Year: 2003, Precision: PrecisionMonth}, "", false},
		{EventDate{Year: 2003, Month: 13, Precision: PrecisionApproximate}, "", false},
		{EventDate{Year: 2003, Month: 5, Precision: "week"}, "", false},
		{EventDate{Year: 1800, Precision: PrecisionApproximate}, "", false},
	}
	for _, tt := range tests {
		err := tt.d.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("%+v: Validate() = %v, want ok=%v", tt.d, err, tt.ok)
		}
		if tt.ok && tt.d.String() != tt.text {
			t.Errorf("%+v: String() = %q, want %q", tt.d, tt.d.String(), tt.text)
		}
	}
	// Ordering: approximate year, then its month-level dates, with a month before its days.
	ordered := []EventDate{Around(2003, 0), Around(2003, time.May), InMonth(2003, time.May), OnDay(mustDate("2003-05-01")), OnDay(mustDate("2003-05-14")), InMonth(2003, time.June)}
	shuffled := []EventDate{ordered[4], ordered[2], ordered[5], ordered[0], ordered[3], ordered[1]}
	slices.SortFunc(shuffled, EventDate.Compare)
	if !slices.Equal(shuffled, ordered) {
		t.Errorf("sorted %v\nwant %v", shuffled, ordered)
	}
}

func TestChronologyMergesAndKeepsPrecision(t *testing.T) {
	c, _ := run(t, mustRules(t, "lcspr/wt2023"), weekdayCalendar{}, lcsprSteps(), "close-evidence")
	rows := c.Chronology()
	var got []string
	for _, r := range rows {
		got = append(got, r.DateText+" | "+strings.Join(r.Agencies, "+")+" | "+strings.Join(r.EntryIDs, ","))
	}
	want := []string{
		"c. 2020 | police-force | e4",
		"May 2021 | health-trust | e2",
		"14 May 2021 | health-trust+police-force | e3,e1", // same source record POL-1: one row, the day kept
	}
	if !slices.Equal(got, want) {
		t.Fatalf("chronology\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r := rows[2]; !r.ChildSeen || r.Significance != SignificanceKey || len(r.Descriptions) != 2 {
		t.Errorf("merged row %+v", r)
	}
	mo := c.MissedOpportunities()
	if len(mo) != 1 || mo[0].EntryIDs[0] != "e4" || mo[0].Rationale != "no referral made" {
		t.Errorf("missed opportunities %+v", mo)
	}
}

func loadFixture(t testing.TB) []Recorded {
	t.Helper()
	b, err := os.ReadFile("testdata/scr-edlington-style.json")
	if err != nil {
		t.Fatal(err)
	}
	var recs []Recorded
	if err := json.Unmarshal(b, &recs); err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestHistoricSCR replays an invented legacy SCR shaped like Edlington's: nine agencies,
// chronologies from 1995 to 2009 in mixed precision, and exactly 31 missed opportunities.
func TestHistoricSCR(t *testing.T) {
	recs := loadFixture(t)
	c, err := CaseAsOf(recs, recs[len(recs)-1].Recorded)
	if err != nil {
		t.Fatal(err)
	}
	if c.Framework != "scr/wt2015" || c.Stage != "practitioner-learning" {
		t.Fatalf("framework %s stage %s", c.Framework, c.Stage)
	}
	rows := c.Chronology()
	agencies := map[string]bool{}
	precisions := map[Precision]int{}
	for i, r := range rows {
		for _, a := range r.Agencies {
			agencies[a] = true
		}
		precisions[r.Date.Precision]++
		if r.Date.Year < 1995 || r.Date.Year > 2009 {
			t.Errorf("row %d dated %s, outside 1995-2009", i, r.DateText)
		}
		if i > 0 && rows[i-1].Date.Compare(r.Date) > 0 {
			t.Errorf("row %d (%s) sorts before row %d (%s)", i, r.DateText, i-1, rows[i-1].DateText)
		}
		if r.Date.Precision == PrecisionMonth && strings.ContainsAny(r.DateText[:2], "0123456789") {
			t.Errorf("month-precision row shows a day: %s", r.DateText)
		}
	}
	if len(agencies) != 9 {
		t.Errorf("%d agencies, want 9", len(agencies))
	}
	if len(rows) != 44 || len(c.Entries) != 46 {
		t.Errorf("%d rows from %d entries, want 44 from 46 (two records held by two agencies)", len(rows), len(c.Entries))
	}
	for _, p := range []Precision{PrecisionDay, PrecisionMonth, PrecisionApproximate} {
		if precisions[p] == 0 {
			t.Errorf("no %s-precision rows", p)
		}
	}
	mo := c.MissedOpportunities()
	if len(mo) != 31 {
		t.Fatalf("%d missed opportunities, want 31", len(mo))
	}
	for _, m := range mo {
		if m.Rationale == "" {
			t.Errorf("missed opportunity %v has no rationale", m.EntryIDs)
		}
	}
	merged := mo[slices.IndexFunc(mo, func(m MissedOpportunity) bool { return len(m.Agencies) == 2 })]
	if merged.DateText != "5 August 2003" || !slices.Equal(merged.Agencies, []string{"police", "youth-offending-service"}) ||
		!strings.Contains(merged.Rationale, " / ") {
		t.Errorf("merged missed opportunity %+v", merged)
	}

	golden := "testdata/scr-edlington-style.chronology.golden.json"
	got := asJSON(t, map[string]any{"chronology": rows, "missedOpportunities": mo}) + "\n"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestHistoricSCR -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("merged chronology differs from %s", golden)
	}
}
