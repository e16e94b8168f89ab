package review

import (
	"slices"
	"testing"
	"time"

	"casereview/calendar"
)

// TestClocksEveryRuleSet computes every clock of every rule set from Friday 2022-09-16 with the
// weekday-only calendar; the table must name every clock, so a new clock cannot go untested.
func TestClocksEveryRuleSet(t *testing.T) {
	const start = "2022-09-16"
	due := map[string]string{ // framework/clock -> due date
		"lcspr/wt2023/notification":   "2022-09-23",
		"lcspr/wt2023/rapid-review":   "2022-10-07",
		"lcspr/wt2023/panel-response": "2022-09-26",
		"lcspr/wt2023/publication":    "2023-03-16",
		"lcspr/wt2023/agency-request": "2022-09-30",
		"lcspr/wt2023/action":         "2022-12-16",

		"lcspr/wt2018/notification":   "2022-09-23",
		"lcspr/wt2018/rapid-review":   "2022-10-07",
		"lcspr/wt2018/panel-response": "2022-09-26",
		"lcspr/wt2018/publication":    "2023-03-16",
		"lcspr/wt2018/agency-request": "2022-09-30",
		"lcspr/wt2018/action":         "2022-12-16",

		"scr/wt2015/notification":    "2022-09-23",
		"scr/wt2015/decision":        "2022-10-16",
		"scr/wt2015/decision-report": "2022-09-30",
		"scr/wt2015/completion":      "2023-03-16",
		"scr/wt2015/agency-request":  "2022-09-30",
		"scr/wt2015/action":          "2022-12-16",

		"sar/care-act-2014/completion":     "2023-03-16",
		"sar/care-act-2014/agency-request": "2022-09-30",
		"sar/care-act-2014/action":         "2022-12-16",

		"dhr/2016/decision":       "2022-10-16",
		"dhr/2016/completion":     "2023-03-16",
		"dhr/2016/agency-request": "2022-09-30",
		"dhr/2016/action":         "2022-12-16",

		"susr/wales-2024/welsh-government": "2022-09-23",
		"susr/wales-2024/agency-request":   "2022-09-30",
		"susr/wales-2024/action":           "2022-12-16",

		"learning-review/scotland-2021/decision-notice": "2022-09-23",
		"learning-review/scotland-2021/outcome-notice":  "2022-09-23",
		"learning-review/scotland-2021/agency-request":  "2022-09-30",
		"learning-review/scotland-2021/action":          "2022-12-16",
	}
	seen := map[string]bool{}
	cal := weekdayCalendar{}
	for _, f := range Frameworks() {
		rs := mustRules(t, f)
		for _, c := range rs.Clocks {
			key := f + "/" + c.ID
			seen[key] = true
			t.Run(key, func(t *testing.T) {
				want, ok := due[key]
				if !ok {
					t.Fatalf("no expected due date for clock %s", key)
				}
				d, err := rs.Due(c.ID, date(t, start), cal)
				if err != nil {
					t.Fatal(err)
				}
				if d.Due.String() != want {
					t.Errorf("due %s, want %s", d.Due, want)
				}
				if d.RulesVersion != rs.Version || d.CalendarVersion != cal.Version() {
					t.Errorf("versions %q/%q, want %q/%q", d.RulesVersion, d.CalendarVersion, rs.Version, cal.Version())
				}
				if !d.DueAt.Equal(cal.DeadlineAt(d.Due)) {
					t.Errorf("due at %v, want the calendar's end of day", d.DueAt)
				}
				if len(d.Escalations) != len(c.Escalations) {
					t.Errorf("%d escalations, want %d", len(d.Escalations), len(c.Escalations))
				}
				for _, r := range d.Reminders {
					if !r.Before(d.Due) || r.Before(d.Start) {
						t.Errorf("reminder %s is outside %s..%s", r, d.Start, d.Due)
					}
				}
			})
		}
	}
	for key := range due {
		if !seen[key] {
			t.Errorf("table names clock %s, which no rule set has", key)
		}
	}
}

func TestDueRemindersAndEscalations(t *testing.T) {
	rs := mustRules(t, "lcspr/wt2023")
	d, err := rs.Due("notification", date(t, "2022-09-16"), weekdayCalendar{})
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{d.Reminders[0].String(), d.Reminders[1].String()}; !slices.Equal(got, []string{"2022-09-21", "2022-09-22"}) {
		t.Errorf("reminders %v, want 2022-09-21 and 2022-09-22", got)
	}
	if len(d.Escalations) != 1 || d.Escalations[0].On.String() != "2022-09-26" || d.Escalations[0].Notify != RolePartner {
		t.Errorf("escalations %+v, want 2022-09-26 to the partners", d.Escalations)
	}
	// Reminders are counted back over the weekend: two working days before Monday is Thursday.
	d, err = rs.Due("notification", date(t, "2022-09-19"), weekdayCalendar{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Due.String() != "2022-09-26" || d.Reminders[0].String() != "2022-09-22" || d.Reminders[1].String() != "2022-09-23" {
		t.Errorf("due %s reminders %v", d.Due, d.Reminders)
	}
	if _, err := rs.Due("nonsense", date(t, "2022-09-19"), weekdayCalendar{}); err == nil {
		t.Error("unknown clock accepted")
	}
	if _, err := rs.Due("notification", calendar.Date{}, weekdayCalendar{}); err == nil {
		t.Error("zero start accepted")
	}
}

func TestAddMonthsClamps(t *testing.T) {
	tests := []struct {
		start string
		n     int
		want  string
	}{
		{"2023-08-31", 6, "2024-02-29"},
		{"2022-08-31", 6, "2023-02-28"},
		{"2022-01-15", 12, "2023-01-15"},
		{"2022-11-30", 3, "2023-02-28"},
	}
	for _, tt := range tests {
		if got := addMonths(date(t, tt.start), tt.n).String(); got != tt.want {
			t.Errorf("addMonths(%s, %d) = %s, want %s", tt.start, tt.n, got, tt.want)
		}
	}
}

func TestLondonDate(t *testing.T) {
	tests := []struct {
		at   time.Time
		want string
	}{
		{time.Date(2024, 7, 1, 23, 30, 0, 0, time.UTC), "2024-07-02"},   // BST
		{time.Date(2024, 1, 1, 23, 30, 0, 0, time.UTC), "2024-01-01"},   // GMT
		{time.Date(2024, 3, 31, 0, 59, 0, 0, time.UTC), "2024-03-31"},   // just before BST starts
		{time.Date(2024, 3, 30, 23, 30, 0, 0, time.UTC), "2024-03-30"},  // GMT still
		{time.Date(2024, 10, 26, 23, 30, 0, 0, time.UTC), "2024-10-27"}, // BST, last night of it
		{time.Date(2024, 10, 27, 23, 30, 0, 0, time.UTC), "2024-10-27"}, // GMT again
	}
	for _, tt := range tests {
		if got := londonDate(tt.at).String(); got != tt.want {
			t.Errorf("londonDate(%v) = %s, want %s", tt.at, got, tt.want)
		}
	}
}
