package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"casereview/eventstore"
	"casereview/review"
)

// LoadInput names the stream to load, and the page: events from revision From, at most Max (0: a
// default page). Pages keep each activity result well under Temporal's payload limit however long
// a case's history grows.
type LoadInput struct {
	Stream string `json:"stream"`
	From   uint64 `json:"from,omitempty"`
	Max    int    `json:"max,omitempty"`
}

// LoadPage is the default number of events one Load returns.
const LoadPage = 500

// StoredEvent is one event as loaded for folding.
type StoredEvent struct {
	Type          string          `json:"type"`
	SchemaVersion int             `json:"schemaVersion,omitempty"`
	Data          json.RawMessage `json:"data"`
}

// LoadResult is a page of a stream's events, the revision of the last one (-1 for an empty
// stream), and whether more follow.
type LoadResult struct {
	Revision int64         `json:"revision"`
	Stored   []StoredEvent `json:"events"`
	More     bool          `json:"more,omitempty"`
}

// Events decodes the loaded events, upcasting old schema versions.
func (r LoadResult) Events() ([]review.Event, error) {
	out := make([]review.Event, len(r.Stored))
	for i, s := range r.Stored {
		var err error
		if s.SchemaVersion > 0 {
			out[i], err = review.DecodeEventVersion(s.Type, s.SchemaVersion, s.Data)
		} else {
			out[i], err = review.DecodeEvent(s.Type, s.Data)
		}
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
	}
	return out, nil
}

// Load reads a whole stream so that a workflow can fold its state from the log: after
// continue-as-new, and after a conflict shows its state is stale.
func (a *Activities) Load(ctx context.Context, in LoadInput) (LoadResult, error) {
	max := in.Max
	if max <= 0 {
		max = LoadPage
	}
	events, err := a.Store.ReadStream(ctx, in.Stream, eventstore.Forwards, in.From, max+1)
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return LoadResult{Revision: -1}, nil
	}
	if err != nil {
		return LoadResult{}, fmt.Errorf("load %s: %w", in.Stream, err)
	}
	if len(events) == 0 {
		return LoadResult{Revision: int64(in.From) - 1}, nil
	}
	more := len(events) > max
	if more {
		events = events[:max]
	}
	res := LoadResult{Revision: int64(events[len(events)-1].Revision), More: more}
	for _, e := range events {
		var meta eventstore.Metadata
		if len(e.Metadata) > 0 {
			if err := json.Unmarshal(e.Metadata, &meta); err != nil {
				return LoadResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("load %s: metadata at revision %d: %v", in.Stream, e.Revision, err), "History", err)
			}
		}
		res.Stored = append(res.Stored, StoredEvent{Type: e.Type, SchemaVersion: meta.SchemaVersion, Data: e.Data})
	}
	return res, nil
}
