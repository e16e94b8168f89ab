package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"casereview/calendar"
	"casereview/review"
	"casereview/workflows"
)

// demoCaseID is the first demo case; the IDs are fixed so that starting with --demo again adds nothing.
const demoCaseID = "CR-DEMO0001"

// Demo actors: the dev sign-in users, as the rule sets know them.
var (
	demoBU       = review.Actor{UserID: "dev-coordinator", Role: review.RoleBusinessUnit, Agency: "partnership"}
	demoLA       = review.Actor{UserID: "dev-partner-la", Role: review.RolePartner, Agency: "local-authority"}
	demoICB      = review.Actor{UserID: "dev-partner-icb", Role: review.RolePartner, Agency: "icb"}
	demoPolice   = review.Actor{UserID: "dev-partner-police", Role: review.RolePartner, Agency: "police"}
	demoReviewer = review.Actor{UserID: "dev-reviewer", Role: review.RoleReviewer, Agency: "independent"}
	demoHealth   = review.Actor{UserID: "dev-lead-health-visiting", Role: review.RoleAgencyLead, Agency: "health-visiting"}
)

// demoCase is one fictional case and the commands that bring it to the stage it shows.
type demoCase struct {
	id, framework, outline string
	awarenessAgo           int // working days before today
	steps                  []review.Command
}

// demoCases are fictional (invented names only), at different stages, with clocks that run out soon
// so that reminders and escalations can be watched as they happen.
func demoCases(cal *calendar.Calendar, today calendar.Date) []demoCase {
	by := func(a review.Actor) review.By { return review.By{Actor: a} }
	soon := cal.AddWorkingDays(today, 1)
	return []demoCase{
		{id: demoCaseID, framework: "lcspr/wt2023", awarenessAgo: 3,
			outline: "Fictional: a toddler known to health visiting admitted to hospital with unexplained injuries. The serious incident notification is due within days."},
		{id: "CR-DEMO0002", framework: "lcspr/wt2023", awarenessAgo: 4,
			outline: "Fictional: an infant, known to police and health visiting, seriously harmed. The review is gathering agency evidence.",
			steps: []review.Command{
				review.SendNotification{By: by(demoBU), Reference: "SIN-DEMO-2"},
				review.RecordRapidReviewFacts{By: by(demoBU), Facts: "Invented facts for the demonstration.", AgenciesInvolved: []string{"police-north", "health-visiting"}},
				review.SummariseKeyPracticeEpisodes{By: by(demoBU), Summary: "Two home visits and one police call-out (invented)."},
				review.ProposeDecision{By: by(demoBU), Outcome: review.OutcomeLCSPR, Rationale: "Regulation 11 criteria met (demonstration)."},
				review.SignOffRapidReview{By: by(demoLA)},
				review.SignOffRapidReview{By: by(demoICB)},
				review.SignOffRapidReview{By: by(demoPolice)},
				review.SubmitRapidReview{By: by(demoBU)},
				review.RecordPanelResponse{By: by(demoBU), Response: review.PanelAgrees},
				review.RecordDecision{By: by(demoLA), Outcome: review.OutcomeLCSPR, Rationale: "Learning for the whole partnership (demonstration)."},
				review.AppointReviewer{By: by(demoBU), ReviewerID: "dev-reviewer", Name: "Riya Reviewer", Lead: true, Independence: "no prior involvement with the family or agencies"},
				review.AgreeTermsOfReference{By: by(demoLA), Terms: review.TermsOfReferenceAgreed{Scope: "The 18 months before the incident", Agencies: []string{"police-north", "health-visiting"}, KeyLinesOfEnquiry: []string{"information sharing between police and health"}, Method: "Learning Together"}},
				// Due on the next working day: the "one working day before" reminder is due now.
				review.RequestFromAgency{By: by(demoBU), RequestID: "R1", Agency: "police-north", Kind: review.RequestChronology, DueDate: soon},
				review.RequestFromAgency{By: by(demoBU), RequestID: "R2", Agency: "health-visiting", Kind: review.RequestChronology, DueDate: cal.AddWorkingDays(today, 10)},
				review.SubmitToRequest{By: by(demoHealth), RequestID: "R2", Summary: "Health visiting chronology (invented)."},
			}},
		{id: "CR-DEMO0003", framework: "lcspr/wt2023", awarenessAgo: 12,
			outline: "Fictional: a teenager's serious injury; the rapid review found good practice and no further review was needed.",
			steps: []review.Command{
				review.SendNotification{By: by(demoBU), Reference: "SIN-DEMO-3"},
				review.RecordRapidReviewFacts{By: by(demoBU), Facts: "Invented facts.", AgenciesInvolved: []string{"health-visiting"}},
				review.SummariseKeyPracticeEpisodes{By: by(demoBU), Summary: "Prompt, joined-up response (invented)."},
				review.ProposeDecision{By: by(demoBU), Outcome: review.OutcomeNoFurtherReview, Rationale: "Learning already shared (demonstration)."},
				review.SignOffRapidReview{By: by(demoLA)},
				review.SignOffRapidReview{By: by(demoICB)},
				review.SignOffRapidReview{By: by(demoPolice)},
				review.SubmitRapidReview{By: by(demoBU)},
				review.RecordPanelResponse{By: by(demoBU), Response: review.PanelAgrees},
				review.RecordDecision{By: by(demoLA), Outcome: review.OutcomeNoFurtherReview, Rationale: "Lessons shared through the partnership's learning bulletin (demonstration)."},
				review.CloseCase{By: by(demoBU), Reason: "No further review: learning shared (demonstration)."},
			}},
	}
}

// seedDemo starts the demo cases and brings each to its stage. A case that exists already is left
// as it is, so starting with --demo again changes nothing.
func seedDemo(ctx context.Context, c client.Client, now time.Time) error {
	cal, err := calendar.ForRegion("england-and-wales")
	if err != nil {
		return err
	}
	today := calendar.DateOf(now.In(londonTZ()))
	cases := workflows.Cases{Client: c}
	for _, dc := range demoCases(cal, today) {
		awareness := cal.AddWorkingDays(today, -dc.awarenessAgo)
		in := workflows.ReviewInput{
			CaseID: dc.id,
			Notify: review.NotifyIncident{By: review.By{Actor: demoBU}, CaseID: dc.id, Notification: review.Notification{
				Framework: dc.framework, NotifierAgency: "local-authority", AwarenessDate: awareness, IncidentDate: awareness.AddDays(-1),
				Nature: review.NatureSeriousHarm, Outline: dc.outline,
				Children: []review.Child{{Name: "Demo Child " + dc.id[len(dc.id)-1:], Sex: "not recorded", KnownToAgencies: true}},
			}},
			CorrelationID: dc.id,
		}
		err := cases.StartCase(ctx, in)
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &started) {
			continue
		}
		if err != nil {
			return err
		}
		for _, cmd := range dc.steps {
			payload, err := json.Marshal(cmd)
			if err != nil {
				return err
			}
			req := workflows.CommandRequest{Name: cmd.CommandName(), Actor: review.ActorOf(cmd), Payload: payload, CorrelationID: dc.id}
			if _, err := cases.Command(ctx, dc.id, req); err != nil {
				return fmt.Errorf("demo case %s: %s: %w", dc.id, cmd.CommandName(), err)
			}
		}
	}
	return nil
}
