package server

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"casereview/access"
	"casereview/eventstore"
	"casereview/review"
)

// accessIDSpace namespaces the name-based UUIDs of access events.
var accessIDSpace = uuid.MustParse("0b6f4c4e-5a3e-4d1f-8f8e-6c9d7a2b1e53")

// AccessStream is the stream of who read a case: apart from the case's own stream, whose single
// writer is the case workflow, so that recording reads never races a decision.
func AccessStream(caseID string) string { return "access-" + caseID }

// AccessFlusher returns the function that writes a batch of read records to the log, one append
// per case, with event IDs derived from the records' IDs so a retried flush records nothing twice.
func AccessFlusher(store eventstore.Store) func(context.Context, []access.Record) error {
	return func(ctx context.Context, records []access.Record) error {
		byCase := map[string][]eventstore.EventData{}
		var order []string
		for _, rec := range records {
			ev := review.AccessRecorded{
				Header:  review.Header{At: rec.At.UTC(), By: review.Actor{UserID: rec.UserID, Role: rec.Role, Agency: rec.Agency}},
				Reader:  review.Actor{UserID: rec.UserID, Role: rec.Role, Agency: rec.Agency},
				What:    rec.What,
				Purpose: rec.Why,
			}
			typ, data, err := review.EncodeEvent(ev)
			if err != nil {
				return err
			}
			meta, _ := json.Marshal(eventstore.Metadata{Actor: rec.UserID, Role: rec.Role})
			if _, ok := byCase[rec.CaseID]; !ok {
				order = append(order, rec.CaseID)
			}
			byCase[rec.CaseID] = append(byCase[rec.CaseID], eventstore.EventData{
				ID: uuid.NewSHA1(accessIDSpace, []byte(rec.ID)).String(), Type: typ, Data: data, Metadata: meta,
			})
		}
		for _, caseID := range order {
			if _, err := store.Append(ctx, AccessStream(caseID), eventstore.Any(), byCase[caseID]...); err != nil {
				return fmt.Errorf("record reads of %s: %w", caseID, err)
			}
		}
		return nil
	}
}
