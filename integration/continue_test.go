package integration

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"casereview/calendar"
	"casereview/eventstore"
	"casereview/review"
	"casereview/workflows"
)

// TestContinueAsNewKeepsTheCase makes a case's history outgrow a small limit so the workflow
// continues as new several times, and checks the case goes on from the log as if nothing happened.
func TestContinueAsNewKeepsTheCase(t *testing.T) {
	s := startSystem(t)
	ctx := context.Background()
	cases := workflows.Cases{Client: s.client}
	bu := review.Actor{UserID: "u-bu", Role: review.RoleBusinessUnit, Agency: "partnership"}
	partners := []review.Actor{
		{UserID: "u-la", Role: review.RolePartner, Agency: "local-authority"},
		{UserID: "u-icb", Role: review.RolePartner, Agency: "icb"},
		{UserID: "u-pol", Role: review.RolePartner, Agency: "police"},
	}
	const id = "CR-CAN00001"
	today := calendar.DateOf(time.Now().In(time.UTC)).AddDays(-1)
	in := workflows.ReviewInput{CaseID: id, CorrelationID: id, HistoryLimit: 40, Notify: review.NotifyIncident{
		By: review.By{Actor: bu}, CaseID: id, Notification: review.Notification{
			Framework: "lcspr/wt2023", AwarenessDate: today, IncidentDate: today, Nature: review.NatureSeriousHarm, Outline: "invented",
		}}}
	if err := cases.StartCase(ctx, in); err != nil {
		t.Fatal(err)
	}
	by := func(a review.Actor) review.By { return review.By{Actor: a} }
	steps := []review.Command{
		review.SendNotification{By: by(bu), Reference: "SIN-1"},
		review.RecordRapidReviewFacts{By: by(bu), Facts: "facts", AgenciesInvolved: []string{"police-north"}},
		review.SummariseKeyPracticeEpisodes{By: by(bu), Summary: "summary"},
		review.ProposeDecision{By: by(bu), Outcome: review.OutcomeLCSPR, Rationale: "criteria met"},
		review.SignOffRapidReview{By: by(partners[0])},
		review.SignOffRapidReview{By: by(partners[1])},
		review.SignOffRapidReview{By: by(partners[2])},
		review.SubmitRapidReview{By: by(bu)},
		review.RecordPanelResponse{By: by(bu), Response: review.PanelAgrees},
		review.RecordDecision{By: by(partners[0]), Outcome: review.OutcomeLCSPR, Rationale: "learning"},
		review.AppointReviewer{By: by(bu), ReviewerID: "rev-1", Name: "Reviewer One", Lead: true, Independence: "none"},
		review.AgreeTermsOfReference{By: by(partners[0]), Terms: review.TermsOfReferenceAgreed{Scope: "scope", Agencies: []string{"police-north"}, KeyLinesOfEnquiry: []string{"sharing"}, Method: "Learning Together"}},
	}
	for _, cmd := range steps {
		payload, _ := json.Marshal(cmd)
		if _, err := cases.Command(ctx, id, workflows.CommandRequest{Name: cmd.CommandName(), Actor: review.ActorOf(cmd), Payload: payload}); err != nil {
			t.Fatalf("%s: %v", cmd.CommandName(), err)
		}
	}
	// The case continued as new: its current run is not its first.
	eventually(t, "the case continued as new", func() error {
		d, err := s.client.DescribeWorkflowExecution(ctx, workflows.ReviewWorkflowID(id), "")
		if err != nil {
			return err
		}
		if d.WorkflowExecutionInfo.GetFirstRunId() == d.WorkflowExecutionInfo.GetExecution().GetRunId() {
			return errString("still in its first run")
		}
		return nil
	})
	eventually(t, "the new run answers its status", func() error {
		st, err := cases.Status(ctx, id)
		if err != nil {
			return err
		}
		if st.Stage != "evidence" {
			t.Fatalf("after continuing as new the case is at %q, want evidence", st.Stage)
		}
		return nil
	})
	// A command after the handover is decided on the state folded from the log.
	payload, _ := json.Marshal(review.RequestFromAgency{By: by(bu), RequestID: "r1", Agency: "police-north", Kind: review.RequestChronology})
	res, err := cases.Command(ctx, id, workflows.CommandRequest{Name: "RequestFromAgency", Actor: bu, Payload: payload})
	if err != nil {
		t.Fatal(err)
	}
	events, err := s.store.ReadStream(ctx, workflows.CaseStream(id), eventstore.Forwards, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, e := range events {
		if e.Revision != uint64(i) || seen[e.ID] {
			t.Fatalf("event %d: revision %d, id %s seen before %v", i, e.Revision, e.ID, seen[e.ID])
		}
		seen[e.ID] = true
	}
	if int64(len(events)-1) != res.Revision {
		t.Fatalf("stream has %d events, the command reported revision %d", len(events), res.Revision)
	}
	// The child following the request was started by the new run.
	eventually(t, "agency request child running", func() error {
		_, err := s.client.DescribeWorkflowExecution(ctx, workflows.ChildWorkflowID(id, "request", "r1"), "")
		return err
	})
}

type errString string

func (e errString) Error() string { return string(e) }
