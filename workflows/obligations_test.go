package workflows

import (
	"testing"
	"time"

	"casereview/calendar"
	"casereview/review"
)

func d(s string) calendar.Date {
	v, err := calendar.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return v
}

func TestPendingObligationsAndDueNow(t *testing.T) {
	cal, err := calendar.ForRegion("england-and-wales")
	if err != nil {
		t.Fatal(err)
	}
	dl := review.Deadline{Clock: "agency-request", Key: "r1", Notify: "agency-lead", Due: d("2022-10-20"),
		Reminders:   []calendar.Date{d("2022-10-17"), d("2022-10-19")},
		Escalations: []review.Escalation{{On: d("2022-10-21"), Notify: "business-unit"}, {On: d("2022-10-27"), Notify: "safeguarding-partner"}}}
	at := func(s string, hour int) time.Time { return morning(cal, d(s)).Add(time.Duration(hour-9) * time.Hour) }
	tests := []struct {
		name     string
		progress Progress
		now      time.Time
		due      []string // obligation IDs due now, in order
		next     time.Time
	}{
		{"before anything", Progress{}, at("2022-10-14", 12), nil, at("2022-10-17", 9)},
		{"first reminder at 09:00 London", Progress{}, at("2022-10-17", 9), []string{"reminder-2022-10-17"}, at("2022-10-19", 9)},
		{"first reminder sent", Progress{RemindedOn: []calendar.Date{d("2022-10-17")}}, at("2022-10-17", 10), nil, at("2022-10-19", 9)},
		// Down over both reminder days: one reminder, the latest, not a burst.
		{"missed reminders collapse", Progress{}, at("2022-10-19", 15), []string{"reminder-2022-10-19"}, at("2022-10-21", 9)},
		{"escalations in order", Progress{RemindedOn: []calendar.Date{d("2022-10-19")}}, at("2022-10-28", 9), []string{"escalation-2022-10-20-0", "escalation-2022-10-20-1"}, time.Time{}},
		{"first escalation sent", Progress{RemindedOn: []calendar.Date{d("2022-10-19")}, Escalated: 1}, at("2022-10-24", 9), nil, at("2022-10-27", 9)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			due, next := dueNow(pendingObligations(dl, tc.progress, cal), tc.now)
			var ids []string
			for _, o := range due {
				ids = append(ids, o.ID)
			}
			if len(ids) != len(tc.due) || (len(ids) > 0 && ids[0] != tc.due[0]) || (len(ids) > 1 && ids[1] != tc.due[1]) {
				t.Errorf("due %v, want %v", ids, tc.due)
			}
			if !next.Equal(tc.next) {
				t.Errorf("next %v, want %v", next, tc.next)
			}
		})
	}
	// After an extension, reminders before the new due date are owed again and escalations are new.
	ext := dl
	ext.Due = d("2022-11-04")
	ext.Reminders = []calendar.Date{d("2022-11-01"), d("2022-11-03")}
	ext.Escalations = []review.Escalation{{On: d("2022-11-07"), Notify: "business-unit"}}
	pending := pendingObligations(ext, Progress{RemindedOn: []calendar.Date{d("2022-10-17")}}, cal)
	if len(pending) != 3 || pending[0].ID != "reminder-2022-11-01" || pending[2].ID != "escalation-2022-11-04-0" {
		t.Fatalf("after extension: %+v", pending)
	}
}

func TestMorningIsNineInLondon(t *testing.T) {
	cal, err := calendar.ForRegion("england-and-wales")
	if err != nil {
		t.Fatal(err)
	}
	london, _ := time.LoadLocation("Europe/London")
	for _, day := range []string{"2022-01-10", "2022-07-11", "2022-03-28", "2022-10-31"} {
		got := morning(cal, d(day)).In(london)
		if got.Hour() != 9 || got.Minute() != 0 || calendar.DateOf(got) != d(day) {
			t.Errorf("%s: %v", day, got)
		}
	}
}
