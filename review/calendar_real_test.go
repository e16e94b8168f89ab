package review

import (
	"slices"
	"testing"
	"time"

	"casereview/calendar"
)

// TestClocksRealCalendar computes clocks with the embedded bank-holiday calendars.
func TestClocksRealCalendar(t *testing.T) {
	tests := []struct {
		name, framework, clock, start, due string
	}{
		{"SIN across the State Funeral", "lcspr/wt2023", "notification", "2022-09-16", "2022-09-26"},
		{"rapid review from the SIN", "lcspr/wt2023", "rapid-review", "2022-09-26", "2022-10-17"},
		{"SIN under WT2018", "lcspr/wt2018", "notification", "2022-09-16", "2022-09-26"},
		{"request across Christmas (England)", "lcspr/wt2023", "agency-request", "2022-12-16", "2023-01-04"},
		{"SIN across the Coronation", "lcspr/wt2023", "notification", "2023-05-05", "2023-05-15"},
		{"legacy SCR across Easter 2009", "scr/wt2015", "notification", "2009-04-06", "2009-04-15"},
		{"SAR request across the Diamond Jubilee", "sar/care-act-2014", "agency-request", "2012-05-31", "2012-06-18"},
		{"DHR request across VE Day 2020", "dhr/2016", "agency-request", "2020-05-01", "2020-05-18"},
		{"Wales notice before Christmas", "susr/wales-2024", "welsh-government", "2022-12-16", "2022-12-23"},
		{"Scotland request across Christmas and 2 January", "learning-review/scotland-2021", "agency-request", "2022-12-16", "2023-01-05"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := mustRules(t, tt.framework)
			cal, err := calendar.ForRegion(rs.CalendarRegion)
			if err != nil {
				t.Fatal(err)
			}
			d, err := rs.Due(tt.clock, date(t, tt.start), cal)
			if err != nil {
				t.Fatal(err)
			}
			if d.Due.String() != tt.due {
				t.Errorf("due %s, want %s", d.Due, tt.due)
			}
			if d.CalendarVersion != cal.Version() || d.CalendarVersion == "" {
				t.Errorf("calendar version %q, want %q", d.CalendarVersion, cal.Version())
			}
		})
	}
}

func TestDueRealCalendarRemindersAndInstant(t *testing.T) {
	rs := mustRules(t, "lcspr/wt2023")
	cal, err := calendar.ForRegion(rs.CalendarRegion)
	if err != nil {
		t.Fatal(err)
	}
	d, err := rs.Due("notification", date(t, "2022-09-16"), cal)
	if err != nil {
		t.Fatal(err)
	}
	var rem []string
	for _, r := range d.Reminders {
		rem = append(rem, r.String())
	}
	if !slices.Equal(rem, []string{"2022-09-22", "2022-09-23"}) {
		t.Errorf("reminders %v", rem)
	}
	if d.Escalations[0].On.String() != "2022-09-27" {
		t.Errorf("escalation %v", d.Escalations)
	}
	if want := time.Date(2022, 9, 26, 22, 59, 59, 0, time.UTC); !d.DueAt.Equal(want) {
		t.Errorf("due at %v, want %v (23:59:59 BST)", d.DueAt, want)
	}
}

func TestEveryRuleSetRegionHasACalendar(t *testing.T) {
	for _, f := range Frameworks() {
		if _, err := calendar.ForRegion(mustRules(t, f).CalendarRegion); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestWholeLCSPRRealCalendar(t *testing.T) {
	rules := mustRules(t, "lcspr/wt2023")
	cal, err := calendar.ForRegion(rules.CalendarRegion)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := run(t, rules, cal, lcsprSteps(), "facts")
	// Aware Friday 16 September 2022; Monday 19th was the State Funeral.
	if k := c.Clocks[0]; k.Clock != "notification" || k.Due.String() != "2022-09-26" || !k.Stopped {
		t.Errorf("notification clock %+v", k)
	}
	// The SIN went on Tuesday 20th: 15 working days is Tuesday 11 October.
	if k := c.Clocks[1]; k.Clock != "rapid-review" || k.Due.String() != "2022-10-11" || k.CalendarVersion != cal.Version() {
		t.Errorf("rapid-review clock %+v", k)
	}
}
