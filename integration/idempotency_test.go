package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"casereview/eventstore"
	"casereview/review"
	"casereview/workflows"
)

// TestCommandRetriedWithIdempotencyKey sends the same command twice with one Idempotency-Key, as a
// client does when the first answer was lost: it is performed once and both answers agree.
func TestCommandRetriedWithIdempotencyKey(t *testing.T) {
	s := startSystem(t)
	ctx := context.Background()
	coordinator := s.as(t, "dev-coordinator")
	day := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	var created struct{ ID string }
	if code, err := coordinator.Post(ctx, "/api/v1/cases", []byte(`{"framework":"lcspr/wt2023","awarenessDate":"`+day+`","incidentDate":"`+day+`","nature":"death","outline":"Invented."}`), &created); err != nil || code != http.StatusCreated {
		t.Fatalf("notify: %d %v", code, err)
	}
	send := func(key string) workflows.CommandResult {
		t.Helper()
		resp, err := coordinator.SendWith(ctx, http.MethodPost, "/api/v1/cases/"+created.ID+"/commands/SendNotification", []byte(`{"reference":"SIN-1"}`), http.Header{"Idempotency-Key": {key}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var res workflows.CommandResult
		if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("SendNotification: %d %v", resp.StatusCode, err)
		}
		return res
	}
	first := send("sin-attempt-1")
	again := send("sin-attempt-1")
	if again.Revision != first.Revision || again.Position != first.Position {
		t.Fatalf("retry answered %+v, first %+v", again, first)
	}
	events, err := s.store.ReadStream(ctx, workflows.CaseStream(created.ID), eventstore.Forwards, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range events {
		if e.Type == review.EventNotificationSent {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d NotificationSent events after a retried command, want 1", n)
	}
}
