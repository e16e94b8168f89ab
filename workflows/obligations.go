package workflows

import (
	"fmt"
	"slices"
	"time"

	"casereview/calendar"
	"casereview/review"
)

// Obligation is one reminder or escalation a clock owes someone.
type Obligation struct {
	ID     string        `json:"id"`   // stable within the clock: "reminder-2026-03-04", "escalation-1"
	Kind   string        `json:"kind"` // "reminder" | "escalation"
	Clock  string        `json:"clock"`
	Key    string        `json:"key,omitempty"`
	On     calendar.Date `json:"on"`
	At     time.Time     `json:"at"`
	Notify string        `json:"notify"` // role to notify
}

// Progress is what a clock has already sent.
type Progress struct {
	RemindedOn []calendar.Date `json:"remindedOn,omitempty"`
	Escalated  int             `json:"escalated,omitempty"` // escalation steps sent, in order
}

// progressOf reads a clock's progress from the case's fold of the log.
func progressOf(k review.ClockState) Progress {
	return Progress{RemindedOn: k.RemindedOn, Escalated: len(k.EscalatedTo)}
}

// morning is 09:00 in London on d: reminders arrive at the start of a working day, not at midnight.
func morning(cal review.Calendar, d calendar.Date) time.Time {
	midnight := cal.DeadlineAt(d.AddDays(-1)).Add(time.Second)
	return midnight.Add(9 * time.Hour)
}

// pendingObligations returns the obligations of a deadline not yet sent, in time order. A reminder
// counts as sent when any reminder went out on or after its date, so that after an extension the
// reminders before the new due date are sent again, and a reminder missed while the system was down
// is not sent twice with a later one.
func pendingObligations(dl review.Deadline, p Progress, cal review.Calendar) []Obligation {
	var out []Obligation
	for _, d := range dl.Reminders {
		if slices.ContainsFunc(p.RemindedOn, func(sent calendar.Date) bool { return !sent.Before(d) }) {
			continue
		}
		out = append(out, Obligation{ID: "reminder-" + d.String(), Kind: "reminder", Clock: dl.Clock, Key: dl.Key, On: d, At: morning(cal, d), Notify: dl.Notify})
	}
	for i, e := range dl.Escalations {
		if i < p.Escalated {
			continue
		}
		// Keyed by the due date too: after an extension the escalations of the new date are new messages.
		out = append(out, Obligation{ID: fmt.Sprintf("escalation-%s-%d", dl.Due, i), Kind: "escalation", Clock: dl.Clock, Key: dl.Key, On: e.On, At: morning(cal, e.On), Notify: e.Notify})
	}
	slices.SortStableFunc(out, func(a, b Obligation) int { return a.At.Compare(b.At) })
	return out
}

// dueNow splits pending obligations into those due at now and the time of the next one (zero if none).
// Of several reminders already due, only the latest is sent: one reminder, not a burst of stale ones.
func dueNow(pending []Obligation, now time.Time) (due []Obligation, next time.Time) {
	var lastReminder = -1
	for i, o := range pending {
		if o.At.After(now) {
			if next.IsZero() || o.At.Before(next) {
				next = o.At
			}
			continue
		}
		if o.Kind == "reminder" {
			lastReminder = i
			continue
		}
		due = append(due, o)
	}
	if lastReminder >= 0 {
		due = append([]Obligation{pending[lastReminder]}, due...)
	}
	return due, next
}
