package review

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"casereview/calendar"
)

// weekdayCalendar counts Monday to Friday as working days and knows no holidays.
type weekdayCalendar struct{}

func (weekdayCalendar) AddWorkingDays(start calendar.Date, n int) calendar.Date {
	d := start
	for n > 0 {
		d = d.AddDays(1)
		if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday {
			n--
		}
	}
	return d
}

func (weekdayCalendar) WorkingDaysBetween(from, to calendar.Date) int {
	n := 0
	for d := from; d.Before(to); {
		d = d.AddDays(1)
		if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday {
			n++
		}
	}
	return n
}

func (weekdayCalendar) DeadlineAt(d calendar.Date) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 23, 59, 59, 0, time.UTC)
}

func (weekdayCalendar) Version() string { return "weekdays-only/test" }

func date(t testing.TB, s string) calendar.Date {
	t.Helper()
	d, err := calendar.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// noon returns midday UTC on a date: the same civil date in London in any season.
func noon(t testing.TB, s string) time.Time {
	return date(t, s).Time().Add(12 * time.Hour)
}

func mustRules(t testing.TB, framework string) *RuleSet {
	t.Helper()
	rs, err := Rules(framework)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func asJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wantRule checks that err is a RuleError with the given rule ID and kind.
func wantRule(t testing.TB, err error, rule string, kind error) {
	t.Helper()
	var re *RuleError
	if !errors.As(err, &re) {
		t.Fatalf("got error %v, want RuleError %s", err, rule)
	}
	if re.Rule != rule {
		t.Fatalf("got rule %q (%v), want %q", re.Rule, err, rule)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("error %v does not match %v", err, kind)
	}
}
