// Package caselog folds a case from the event log as it stood at any moment, for auditors and pages.
package caselog

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"casereview/eventstore"
	"casereview/review"
	"casereview/workflows"
)

// AsOf reads a case's stream and folds the events recorded at or before at, under the rule-set
// version the case recorded. A case the log does not hold is eventstore.ErrStreamNotFound; a
// moment before the case was notified is review.ErrHistory.
func AsOf(ctx context.Context, store eventstore.Store, caseID string, at time.Time) (*review.Case, error) {
	events, err := store.ReadStream(ctx, workflows.CaseStream(caseID), eventstore.Forwards, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("read case %s: %w", caseID, err)
	}
	records := make([]review.Recorded, len(events))
	for i, e := range events {
		var meta eventstore.Metadata
		if len(e.Metadata) > 0 {
			if err := json.Unmarshal(e.Metadata, &meta); err != nil {
				return nil, fmt.Errorf("case %s, event at position %d: metadata: %w", caseID, e.Position, err)
			}
		}
		records[i] = review.Recorded{Type: e.Type, SchemaVersion: meta.SchemaVersion, Data: e.Data, Recorded: e.Recorded, Metadata: e.Metadata}
	}
	return review.CaseAsOf(records, at)
}
