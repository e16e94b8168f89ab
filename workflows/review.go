// Package workflows holds the deterministic Temporal workflows that move each case through its stages.
package workflows

import (
	"encoding/json"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"casereview/activities"
	"casereview/eventstore"
	"casereview/review"
)

// TaskQueue is the queue every casereview worker polls.
const TaskQueue = "casereview"

// ReviewWorkflowID is the workflow ID of a case. It carries only the case ID, never personal data.
func ReviewWorkflowID(caseID string) string { return "case:" + caseID }

// CaseStream is the event stream of a case.
func CaseStream(caseID string) string { return "case-" + caseID }

// Search attributes: process state only, never anything about the people in a case.
var (
	StageKey        = temporal.NewSearchAttributeKeyKeyword("CaseStage")
	FrameworkKey    = temporal.NewSearchAttributeKeyKeyword("CaseFramework")
	NextDeadlineKey = temporal.NewSearchAttributeKeyTime("CaseNextDeadline")
	OverdueKey      = temporal.NewSearchAttributeKeyBool("CaseOverdue")
)

// StatusQuery is the query name answering a case's process state.
const StatusQuery = "status"

// Actor is who asked for a step.
type Actor struct {
	UserID string `json:"userId"`
	Role   string `json:"role"`
	Agency string `json:"agency,omitempty"`
}

// ReviewInput starts a case.
type ReviewInput struct {
	CaseID        string              `json:"caseId"`
	Notification  review.Notification `json:"notification"`
	Actor         Actor               `json:"actor"`
	CorrelationID string              `json:"correlationId"`
}

// ReviewStatus is the answer to StatusQuery.
type ReviewStatus struct {
	CaseID    string `json:"caseId"`
	Framework string `json:"framework"`
	Stage     string `json:"stage"`
	Revision  int64  `json:"revision"` // last revision of the case stream, -1 before the first event
}

// Review runs one case from notification to closure.
func Review(ctx workflow.Context, in ReviewInput) error {
	st := ReviewStatus{CaseID: in.CaseID, Framework: in.Notification.Framework, Stage: "notified", Revision: -1}
	if err := workflow.SetQueryHandler(ctx, StatusQuery, func() (ReviewStatus, error) { return st, nil }); err != nil {
		return err
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
	})
	meta := eventstore.Metadata{
		Actor:         in.Actor.UserID,
		Role:          in.Actor.Role,
		CorrelationID: in.CorrelationID,
	}
	notified := review.CaseNotified{CaseID: in.CaseID, Notification: in.Notification}
	if _, err := record(ctx, &st, meta, notified); err != nil {
		return err
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx,
		StageKey.ValueSet(st.Stage),
		FrameworkKey.ValueSet(st.Framework),
		OverdueKey.ValueSet(false),
	); err != nil {
		return err
	}
	// The case stays open until the lifecycle closes it; nothing polls while it waits.
	return workflow.Await(ctx, func() bool { return st.Stage == "closed" })
}

// record appends events to the case stream at the revision the workflow last saw.
func record(ctx workflow.Context, st *ReviewStatus, meta eventstore.Metadata, events ...review.Event) (activities.RecordResult, error) {
	in := activities.RecordInput{Stream: CaseStream(st.CaseID), ExpectedRevision: st.Revision, Metadata: meta}
	for _, e := range events {
		typ, data, err := review.EncodeEvent(e)
		if err != nil {
			return activities.RecordResult{}, err
		}
		in.Events = append(in.Events, activities.NewEvent{Type: typ, Data: json.RawMessage(data)})
	}
	var a *activities.Activities
	var res activities.RecordResult
	if err := workflow.ExecuteActivity(ctx, a.Record, in).Get(ctx, &res); err != nil {
		return res, fmt.Errorf("record %d events: %w", len(events), err)
	}
	st.Revision = res.NextRevision
	return res, nil
}
