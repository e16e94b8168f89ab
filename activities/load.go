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

// LoadInput names the stream to load.
type LoadInput struct {
	Stream string `json:"stream"`
}

// StoredEvent is one event as loaded for folding.
type StoredEvent struct {
	Type          string          `json:"type"`
	SchemaVersion int             `json:"schemaVersion,omitempty"`
	Data          json.RawMessage `json:"data"`
}

// LoadResult is a stream's events and its last revision (-1 for an empty stream).
type LoadResult struct {
	Revision int64         `json:"revision"`
	Stored   []StoredEvent `json:"events"`
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
	events, err := a.Store.ReadStream(ctx, in.Stream, eventstore.Forwards, 0, 0)
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return LoadResult{Revision: -1}, nil
	}
	if err != nil {
		return LoadResult{}, fmt.Errorf("load %s: %w", in.Stream, err)
	}
	res := LoadResult{Revision: int64(events[len(events)-1].Revision)}
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
