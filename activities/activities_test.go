package activities

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"casereview/activities/notify"
	"casereview/activities/report"
	"casereview/eventstore"
	"casereview/eventstore/embedded"
	"casereview/review"
)

func openStore(t *testing.T) eventstore.Store {
	t.Helper()
	s, err := embedded.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestRecordIsIdempotentAndRefusesStaleState(t *testing.T) {
	ctx := context.Background()
	a := &Activities{Store: openStore(t)}
	in := RecordInput{Stream: "case-CR-1", ExpectedRevision: -1, Events: []NewEvent{
		{Type: "StageCompleted", Data: []byte(`{"n":1}`)}, {Type: "StageCompleted", Data: []byte(`{"n":2}`)},
	}}
	first, err := a.record(ctx, "wf/run/7", in)
	if err != nil {
		t.Fatal(err)
	}
	// The same activity retried after its result was lost: same IDs, same place, nothing duplicated.
	again, err := a.record(ctx, "wf/run/7", in)
	if err != nil || again != first {
		t.Fatalf("retry: %+v %v, want %+v", again, err, first)
	}
	events, err := a.Store.ReadStream(ctx, "case-CR-1", eventstore.Forwards, 0, 0)
	if err != nil || len(events) != 2 {
		t.Fatalf("stream holds %d events (%v), want 2", len(events), err)
	}
	if events[0].ID != EventID("wf/run/7", 0) || events[1].ID != EventID("wf/run/7", 1) {
		t.Errorf("event IDs %s %s are not derived from the activity", events[0].ID, events[1].ID)
	}
	// Another decision taken on the state before those events conflicts and must not be retried.
	_, err = a.record(ctx, "wf/run/9", RecordInput{Stream: "case-CR-1", ExpectedRevision: 0, Events: []NewEvent{{Type: "StageCompleted", Data: []byte(`{}`)}}})
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != ErrConflict || !appErr.NonRetryable() {
		t.Fatalf("stale append: %v, want a non-retryable %s", err, ErrConflict)
	}
	// Bad input is refused for good.
	_, err = a.record(ctx, "wf/run/10", RecordInput{Stream: "case-CR-1", ExpectedRevision: 1, Events: []NewEvent{{Type: "X", Data: []byte(`{not json`)}}})
	if !errors.As(err, &appErr) || !appErr.NonRetryable() {
		t.Fatalf("invalid event: %v", err)
	}
}

func TestLoadFoldsWhatRecordWrote(t *testing.T) {
	ctx := context.Background()
	a := &Activities{Store: openStore(t)}
	empty, err := a.Load(ctx, LoadInput{Stream: "case-none"})
	if err != nil || empty.Revision != -1 || len(empty.Stored) != 0 {
		t.Fatalf("empty stream: %+v %v", empty, err)
	}
	rules, err := review.Rules("lcspr/wt2023")
	if err != nil {
		t.Fatal(err)
	}
	n := review.CaseNotified{CaseID: "CR-1", Notification: review.Notification{Framework: "lcspr/wt2023", RulesVersion: rules.Version, Nature: review.NatureDeath, Outline: "x"}}
	n.AwarenessDate.Year, n.AwarenessDate.Month, n.AwarenessDate.Day = 2024, time.March, 1
	typ, data, err := review.EncodeEvent(n)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.record(ctx, "k", RecordInput{Stream: "case-CR-1", ExpectedRevision: -1, Events: []NewEvent{{Type: typ, Data: data}}}); err != nil {
		t.Fatal(err)
	}
	res, err := a.Load(ctx, LoadInput{Stream: "case-CR-1"})
	if err != nil || res.Revision != 0 {
		t.Fatalf("load: %+v %v", res, err)
	}
	evs, err := res.Events()
	if err != nil {
		t.Fatal(err)
	}
	c, err := review.Replay(evs)
	if err != nil || c.ID != "CR-1" || c.Framework != "lcspr/wt2023" {
		t.Fatalf("folded %+v %v", c, err)
	}
}

type recordingDeliverer struct {
	got []notify.Message
	err error
}

func (d *recordingDeliverer) Deliver(_ context.Context, m notify.Message, forbidden []string) ([]notify.Receipt, error) {
	if err := m.Check(forbidden); err != nil {
		return nil, err
	}
	d.got = append(d.got, m)
	return []notify.Receipt{{Key: m.IdempotencyKey, Channel: notify.ChannelEmail}}, d.err
}

func TestNotifyAddressesAgencyAndRole(t *testing.T) {
	ctx := context.Background()
	d := &recordingDeliverer{}
	a := &Activities{Notifier: d, BaseURL: "https://casereview.example"}
	in := NotifyInput{Key: "k1", Kind: "reminder", CaseID: "CR-1", Role: "agency-lead", Agency: "police-north",
		Subject: "CR-1 reminder: chronology due", Body: "Case CR-1: chronology due.", Due: time.Now(), Forbidden: []string{"Jayden"}}
	res, err := a.Notify(ctx, in)
	if err != nil || res.Recipient != "police-north" || len(d.got) != 1 || d.got[0].Link != "https://casereview.example/cases/CR-1" {
		t.Fatalf("agency reminder: %+v %v %+v", res, err, d.got)
	}
	in.Role, in.Agency, in.Kind = "business-unit", "", "escalation"
	if res, err := a.Notify(ctx, in); err != nil || res.Recipient != "business-unit" || d.got[1].Kind != notify.KindEscalation {
		t.Fatalf("escalation: %+v %v", res, err)
	}
	// A message that would carry a child's name is not sent; the failure is reported, not retried forever.
	in.Body = "Jayden's chronology is due"
	res, err = a.Notify(ctx, in)
	if err != nil || res.Failure == "" || len(d.got) != 2 {
		t.Fatalf("forbidden content: %+v %v", res, err)
	}
	// A passing fault is returned so that Temporal retries.
	d.err = errors.New("connection reset")
	in.Body = "Case CR-1: chronology due."
	if _, err := a.Notify(ctx, in); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("transient: %v", err)
	}
}

func TestCheckRedactionListsPassages(t *testing.T) {
	a := &Activities{}
	ids := []report.Identifier{{Kind: report.KindChildNamePart, Value: "Jayden"}}
	res, err := a.CheckRedaction(context.Background(), RedactionInput{Text: "Seen by the GP.\nJayden was quiet.", Identifiers: ids})
	if err != nil || len(res.Offences) != 1 || res.Offences[0].Line != 2 || !strings.Contains(res.Offences[0].Passage, "Jayden was quiet") {
		t.Fatalf("offences %+v %v", res, err)
	}
	res, err = a.CheckRedaction(context.Background(), RedactionInput{Text: "Child J was seen by the GP.", Identifiers: ids})
	if err != nil || len(res.Offences) != 0 {
		t.Fatalf("redacted text: %+v %v", res, err)
	}
}

func TestLoadPages(t *testing.T) {
	ctx := context.Background()
	a := &Activities{Store: openStore(t)}
	var evs []NewEvent
	for i := range 7 {
		evs = append(evs, NewEvent{Type: "StageCompleted", Data: []byte(`{"n":` + string(rune('0'+i)) + `}`)})
	}
	if _, err := a.record(ctx, "k", RecordInput{Stream: "case-CR-P", ExpectedRevision: -1, Events: evs}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for from := uint64(0); ; {
		res, err := a.Load(ctx, LoadInput{Stream: "case-CR-P", From: from, Max: 3})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range res.Stored {
			got = append(got, string(s.Data))
		}
		if !res.More {
			if res.Revision != 6 {
				t.Fatalf("last page ends at revision %d, want 6", res.Revision)
			}
			break
		}
		if len(res.Stored) != 3 {
			t.Fatalf("a page of %d, want 3", len(res.Stored))
		}
		from = uint64(res.Revision) + 1
	}
	if len(got) != 7 || got[0] != `{"n":0}` || got[6] != `{"n":6}` {
		t.Fatalf("pages gave %v", got)
	}
}
