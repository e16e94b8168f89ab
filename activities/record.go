// Package activities holds the Temporal activities through which workflows touch the world: the event log, notifications, reports.
package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"casereview/eventstore"
)

// eventIDSpace namespaces the name-based UUIDs of recorded events.
var eventIDSpace = uuid.MustParse("6f1d8f0e-3c55-4a0b-9d7e-2b8f3c1a9e41")

// Activities carries the dependencies of every activity.
type Activities struct {
	Store    eventstore.Store
	Notifier Deliverer       // nil: notifications are written to the log only
	BaseURL  string          // where people open the pages, for links in messages
	Log      *zerolog.Logger // nil: silent
}

// NewEvent is one event a workflow asks to record.
type NewEvent struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// RecordInput asks for events to be appended to a stream.
type RecordInput struct {
	Stream string `json:"stream"`
	// ExpectedRevision is the stream's last revision, or -1 when the stream must not exist yet.
	ExpectedRevision int64               `json:"expectedRevision"`
	Events           []NewEvent          `json:"events"`
	Metadata         eventstore.Metadata `json:"metadata"`
}

// RecordResult says where the events landed.
type RecordResult struct {
	NextRevision int64  `json:"nextRevision"`
	Position     uint64 `json:"position"`
}

// ErrConflict is the non-retryable error type returned when the stream moved under the workflow.
const ErrConflict = "RecordConflict"

// Record appends events with IDs derived from the workflow, run and activity IDs and each event's
// index, so a retried activity lands on the same IDs and the store's idempotency makes the retry a
// no-op. The run ID is part of the key because activity IDs restart after continue-as-new.
func (a *Activities) Record(ctx context.Context, in RecordInput) (RecordResult, error) {
	info := activity.GetInfo(ctx)
	key := info.WorkflowExecution.ID + "/" + info.WorkflowExecution.RunID + "/" + info.ActivityID
	return a.record(ctx, key, in)
}

func (a *Activities) record(ctx context.Context, key string, in RecordInput) (RecordResult, error) {
	if len(in.Events) == 0 {
		return RecordResult{}, temporal.NewNonRetryableApplicationError("record: no events", "InvalidRecord", nil)
	}
	meta, err := json.Marshal(in.Metadata)
	if err != nil {
		return RecordResult{}, fmt.Errorf("record: metadata: %w", err)
	}
	events := make([]eventstore.EventData, len(in.Events))
	for i, e := range in.Events {
		events[i] = eventstore.EventData{
			ID:       EventID(key, i),
			Type:     e.Type,
			Data:     e.Data,
			Metadata: meta,
		}
	}
	expected := eventstore.NoStream()
	if in.ExpectedRevision >= 0 {
		expected = eventstore.Exact(uint64(in.ExpectedRevision))
	}
	res, err := a.Store.Append(ctx, in.Stream, expected, events...)
	switch {
	case errors.Is(err, eventstore.ErrWrongExpectedRevision):
		// Someone else wrote to the case: retrying blindly would record a decision taken on stale
		// state, so the workflow must reload and decide again.
		return RecordResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("record to %s: stream moved past expected revision %d", in.Stream, in.ExpectedRevision), ErrConflict, err)
	case errors.Is(err, eventstore.ErrInvalidEvent), errors.Is(err, eventstore.ErrDuplicateEventID):
		return RecordResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("record to %s: %v", in.Stream, err), "InvalidRecord", err)
	case err != nil:
		return RecordResult{}, fmt.Errorf("record to %s: %w", in.Stream, err)
	}
	return RecordResult{NextRevision: int64(res.NextRevision), Position: res.Position}, nil
}

// EventID derives the ID of the index-th event recorded under key.
func EventID(key string, index int) string {
	return uuid.NewSHA1(eventIDSpace, fmt.Appendf(nil, "%s/%d", key, index)).String()
}
