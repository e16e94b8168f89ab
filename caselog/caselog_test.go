package caselog

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"casereview/calendar"
	"casereview/eventstore"
	"casereview/eventstore/embedded"
	"casereview/review"
	"casereview/workflows"
)

func TestAsOfFoldsOnlyWhatWasRecordedByThen(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2022, 9, 16, 12, 0, 0, 0, time.UTC)
	store, err := embedded.Open(filepath.Join(t.TempDir(), "events.db"), embedded.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rules, err := review.Rules("lcspr/wt2023")
	if err != nil {
		t.Fatal(err)
	}
	cal, err := calendar.ForRegion(rules.CalendarRegion)
	if err != nil {
		t.Fatal(err)
	}
	bu := review.Actor{UserID: "u-bu", Role: review.RoleBusinessUnit}
	c := review.NewCase(rules)
	revision := int64(-1)
	decide := func(cmd review.Command) {
		t.Helper()
		events, err := c.Decide(cmd, now, rules, cal)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Apply(events...); err != nil {
			t.Fatal(err)
		}
		var data []eventstore.EventData
		for _, e := range events {
			typ, body, err := review.EncodeEvent(e)
			if err != nil {
				t.Fatal(err)
			}
			data = append(data, eventstore.EventData{ID: uuid.NewString(), Type: typ, Data: body})
		}
		expected := eventstore.NoStream()
		if revision >= 0 {
			expected = eventstore.Exact(uint64(revision))
		}
		res, err := store.Append(ctx, workflows.CaseStream("CR-1"), expected, data...)
		if err != nil {
			t.Fatal(err)
		}
		revision = int64(res.NextRevision)
	}
	notifiedAt := now
	decide(review.NotifyIncident{By: review.By{Actor: bu}, CaseID: "CR-1", Notification: review.Notification{
		Framework: "lcspr/wt2023", AwarenessDate: calendar.DateOf(now), Nature: review.NatureDeath, Outline: "invented"}})
	now = now.Add(72 * time.Hour)
	sentAt := now
	decide(review.SendNotification{By: review.By{Actor: bu}, Reference: "SIN-1"})

	tests := []struct {
		at    time.Time
		stage string
		err   error
	}{
		{notifiedAt.Add(-time.Hour), "", review.ErrHistory},
		{notifiedAt, "notification", nil},
		{sentAt.Add(-time.Second), "notification", nil},
		{sentAt.Add(time.Hour), "rapid-review", nil},
	}
	for _, tc := range tests {
		got, err := AsOf(ctx, store, "CR-1", tc.at)
		if !errors.Is(err, tc.err) || (err == nil && got.Stage != tc.stage) {
			t.Errorf("as of %s: %v, %v; want stage %q, error %v", tc.at, stageOf(got), err, tc.stage, tc.err)
		}
	}
	if _, err := AsOf(ctx, store, "CR-NONE", sentAt); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("unknown case: %v", err)
	}
}

func stageOf(c *review.Case) string {
	if c == nil {
		return "<none>"
	}
	return c.Stage
}
