package review

import (
	"fmt"
	"time"

	"casereview/calendar"
)

// Calendar is the working-day calendar a rule set's clocks are counted in (calendar.Calendar satisfies it).
type Calendar interface {
	// AddWorkingDays returns the nth working day after start (day 0 is start itself).
	AddWorkingDays(start calendar.Date, n int) calendar.Date
	WorkingDaysBetween(from, to calendar.Date) int
	// DeadlineAt returns the end of day d, 23:59:59 Europe/London.
	DeadlineAt(d calendar.Date) time.Time
	Version() string
}

// Escalation is one dated escalation of an overdue clock.
type Escalation struct {
	On     calendar.Date `json:"on"`
	Notify string        `json:"notify"`
}

// Deadline is a computed clock: when it falls due, when to remind and escalate, and which
// rule-set and calendar versions computed it, so that an auditor can recompute it.
type Deadline struct {
	Clock           string          `json:"clock"`
	Key             string          `json:"key,omitempty"`
	Title           string          `json:"title"`
	Kind            string          `json:"kind"`
	Notify          string          `json:"notify"`
	Start           calendar.Date   `json:"start"`
	Due             calendar.Date   `json:"due"`
	DueAt           time.Time       `json:"dueAt"`
	Reminders       []calendar.Date `json:"reminders,omitempty"`
	Escalations     []Escalation    `json:"escalations,omitempty"`
	RulesVersion    string          `json:"rulesVersion"`
	CalendarVersion string          `json:"calendarVersion"`
}

// Due computes a clock's deadline from its start date.
func (rs *RuleSet) Due(clockID string, start calendar.Date, cal Calendar) (Deadline, error) {
	c, ok := rs.Clock(clockID)
	if !ok {
		var ids []string
		for _, c := range rs.Clocks {
			ids = append(ids, c.ID)
		}
		return Deadline{}, fmt.Errorf("%s %s has no clock %q; valid clocks: %v", rs.Framework, rs.Version, clockID, ids)
	}
	if start.IsZero() {
		return Deadline{}, fmt.Errorf("clock %s: start date missing", clockID)
	}
	return rs.deadline(c, start, addDuration(start, c.Duration, cal), cal), nil
}

// deadline fills in a deadline for a given due date: reminders and escalations are counted from it.
func (rs *RuleSet) deadline(c Clock, start, due calendar.Date, cal Calendar) Deadline {
	d := Deadline{
		Clock:           c.ID,
		Title:           c.Title,
		Kind:            c.Kind,
		Notify:          c.Notify,
		Start:           start,
		Due:             due,
		DueAt:           cal.DeadlineAt(due),
		RulesVersion:    rs.Version,
		CalendarVersion: cal.Version(),
	}
	for _, n := range c.Reminders {
		r := workingDaysBefore(due, n, cal)
		if r.Before(start) {
			continue // a reminder before the clock started would never be sent
		}
		d.Reminders = append(d.Reminders, r)
	}
	for _, e := range c.Escalations {
		d.Escalations = append(d.Escalations, Escalation{On: cal.AddWorkingDays(due, e.After), Notify: e.Notify})
	}
	return d
}

func addDuration(start calendar.Date, d Duration, cal Calendar) calendar.Date {
	switch d.Unit {
	case UnitWorkingDays:
		return cal.AddWorkingDays(start, d.N)
	case UnitCalendarDays:
		return start.AddDays(d.N)
	}
	return addMonths(start, d.N)
}

// addMonths moves d by n months, clamping to the end of a shorter month (31 August + 6 months is
// 28 or 29 February), as a person counting months would.
func addMonths(d calendar.Date, n int) calendar.Date {
	first := time.Date(d.Year, d.Month+time.Month(n), 1, 0, 0, 0, 0, time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return calendar.Date{Year: first.Year(), Month: first.Month(), Day: min(d.Day, last)}
}

// workingDaysBefore returns the nth working day before due, asking the calendar only forward questions.
func workingDaysBefore(due calendar.Date, n int, cal Calendar) calendar.Date {
	d := due
	for i := 0; i < n; {
		d = d.AddDays(-1)
		if cal.AddWorkingDays(d.AddDays(-1), 1) == d {
			i++
		}
	}
	return d
}

// londonDate returns the civil date of t in the United Kingdom: GMT in winter, BST (UTC+1) from
// 01:00 UTC on the last Sunday of March to 01:00 UTC on the last Sunday of October. Computed here
// rather than from the host's zone database so that deciding is the same on every machine.
func londonDate(t time.Time) calendar.Date {
	u := t.UTC()
	y := u.Year()
	if !u.Before(lastSunday(y, time.March)) && u.Before(lastSunday(y, time.October)) {
		u = u.Add(time.Hour)
	}
	return calendar.DateOf(u)
}

func lastSunday(year int, month time.Month) time.Time {
	d := time.Date(year, month+1, 0, 1, 0, 0, 0, time.UTC)
	return d.AddDate(0, 0, -int(d.Weekday()))
}
