package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"casereview/calendar"
	"casereview/eventstore"
	"casereview/eventstore/embedded"
	"casereview/review"
	"casereview/workflows"
)

// logClock stamps the log's recorded times: the real time, unless a test has set a past instant
// to record a history that happened before the test ran.
type logClock struct {
	mu sync.Mutex
	at time.Time
}

func (c *logClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at.IsZero() {
		return time.Now()
	}
	return c.at
}

func (c *logClock) set(t time.Time) {
	c.mu.Lock()
	c.at = t
	c.mu.Unlock()
}

// startBrowserSystem starts the whole system, as startSystem does, with the log's clock in the
// test's hands.
func startBrowserSystem(t *testing.T) (*system, *logClock) {
	t.Helper()
	clock := &logClock{}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	return startSystemWith(t, log, embedded.WithClock(clock.now)), clock
}

// seedStep is one command of a recorded history, made at noon UTC on a date.
type seedStep struct {
	on  string
	cmd review.Command
}

// seedPublishedCase writes a whole review, from notification to publication and verified action,
// into the log on past dates: each command is decided by the domain exactly as the workflow would,
// and its events appended to the case's stream with the log's clock set to that day. No workflow
// runs for it; the projections read it like any other history.
func seedPublishedCase(t *testing.T, s *system, clock *logClock, id string) {
	t.Helper()
	defer clock.set(time.Time{})
	rules, err := review.Rules("lcspr/wt2023")
	if err != nil {
		t.Fatal(err)
	}
	cal, err := calendar.ForRegion(rules.CalendarRegion)
	if err != nil {
		t.Fatal(err)
	}
	date := func(s string) calendar.Date {
		d, err := calendar.ParseDate(s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	var (
		by       = func(a review.Actor) review.By { return review.By{Actor: a} }
		bu       = review.Actor{UserID: "dev-coordinator", Role: review.RoleBusinessUnit, Agency: "partnership"}
		la       = review.Actor{UserID: "dev-partner-la", Role: review.RolePartner, Agency: "local-authority"}
		icb      = review.Actor{UserID: "dev-partner-icb", Role: review.RolePartner, Agency: "icb"}
		police   = review.Actor{UserID: "dev-partner-police", Role: review.RolePartner, Agency: "police"}
		rev      = review.Actor{UserID: "dev-reviewer", Role: review.RoleReviewer, Agency: "independent"}
		agPolice = review.Actor{UserID: "dev-lead-police-north", Role: review.RoleAgencyLead, Agency: "police-north"}
		agHealth = review.Actor{UserID: "dev-lead-health-visiting", Role: review.RoleAgencyLead, Agency: "health-visiting"}
	)
	steps := []seedStep{
		{"2022-09-16", review.NotifyIncident{By: by(bu), CaseID: id, Notification: review.Notification{
			Framework: "lcspr/wt2023", Notifier: "dev-coordinator", NotifierAgency: "local-authority",
			AwarenessDate: date("2022-09-16"), IncidentDate: date("2022-09-15"), IncidentPlace: "Invented Street",
			Nature: review.NatureSeriousHarm, Outline: "Invented outline for a browser test.",
			Children: []review.Child{{Name: "Invented Child", DateOfBirth: date("2020-03-04"), Sex: "male", KnownToAgencies: true}},
		}}},
		{"2022-09-20", review.SendNotification{By: by(bu), Reference: "SIN-1"}},
		{"2022-09-21", review.RecordRapidReviewFacts{By: by(bu), Facts: "facts", AgenciesInvolved: []string{"police-north", "health-visiting"}}},
		{"2022-09-21", review.SummariseKeyPracticeEpisodes{By: by(bu), Summary: "summary"}},
		{"2022-09-21", review.ProposeDecision{By: by(bu), Outcome: review.OutcomeLCSPR, Rationale: "criteria met"}},
		{"2022-09-26", review.SignOffRapidReview{By: by(la)}},
		{"2022-09-26", review.SignOffRapidReview{By: by(icb)}},
		{"2022-09-26", review.SignOffRapidReview{By: by(police)}},
		{"2022-09-27", review.SubmitRapidReview{By: by(bu)}},
		{"2022-09-30", review.RecordPanelResponse{By: by(bu), Response: review.PanelAgrees}},
		{"2022-10-03", review.RecordDecision{By: by(la), Outcome: review.OutcomeLCSPR, Rationale: "learning for the partnership"}},
		{"2022-10-04", review.AppointReviewer{By: by(bu), ReviewerID: "dev-reviewer", Name: "Riya Reviewer", Lead: true, Independence: "no prior involvement"}},
		{"2022-10-05", review.AgreeTermsOfReference{By: by(la), Terms: review.TermsOfReferenceAgreed{Scope: "scope", Agencies: []string{"police-north", "health-visiting"}, KeyLinesOfEnquiry: []string{"information sharing"}, Method: "Learning Together"}}},
		{"2022-10-06", review.RequestFromAgency{By: by(bu), RequestID: "r1", Agency: "police-north", Kind: review.RequestChronology}},
		{"2022-10-06", review.RequestFromAgency{By: by(bu), RequestID: "r2", Agency: "health-visiting", Kind: review.RequestReport}},
		{"2022-10-14", review.SubmitToRequest{By: by(agPolice), RequestID: "r1", Summary: "chronology"}},
		{"2022-10-14", review.AcceptSubmission{By: by(rev), RequestID: "r1"}},
		{"2022-10-17", review.SubmitToRequest{By: by(agHealth), RequestID: "r2", Summary: "report"}},
		{"2022-10-17", review.AcceptSubmission{By: by(bu), RequestID: "r2"}},
		{"2022-10-18", review.RecordChronologyEntry{By: by(agPolice), Entry: review.ChronologyEntry{EntryID: "e1", Agency: "police-north", SourceRef: "POL-1", Date: review.OnDay(date("2021-05-14")), Description: "call-out to the home", Significance: review.SignificanceKey}}},
		{"2022-10-18", review.RecordChronologyEntry{By: by(agHealth), Entry: review.ChronologyEntry{EntryID: "e2", Agency: "health-visiting", Date: review.InMonth(2021, time.May), Description: "missed health visit", Significance: review.SignificanceKey}}},
		{"2022-10-18", review.RecordKeyPracticeEpisode{By: by(rev), Episode: review.KeyPracticeEpisodeRecorded{EpisodeID: "kpe1", Title: "May 2021", Description: "response to the call-out", Appraisal: review.AppraisalProblematic}}},
		{"2022-10-19", review.CompleteStage{By: by(bu)}},
		{"2022-10-20", review.FlagMissedOpportunity{By: by(rev), EntryID: "e2", Rationale: "no follow-up of a missed visit"}},
		{"2022-10-20", review.RecordContributoryFactor{By: by(rev), Factor: review.ContributoryFactorRecorded{FactorID: "f1", Category: review.FactorInterAgencyTeam, Text: "no shared picture"}}},
		{"2022-10-20", review.RecordFinding{By: by(rev), Finding: review.FindingRecorded{FindingID: "fd1", Statement: "statement", InThisCase: "how", FactorIDs: []string{"f1"}}}},
		{"2022-10-20", review.RecordAppraisal{By: by(rev), Appraisal: review.AppraisalRecorded{AppraisalID: "ap1", Text: "a strategy discussion should have been held"}}},
		{"2022-10-21", review.CompleteStage{By: by(bu)}},
		{"2022-10-24", review.RecordFamilyInvolvement{By: by(rev), Invited: true, Accepted: true, HowRecorded: "meeting notes"}},
		{"2022-10-24", review.CompleteStage{By: by(bu)}},
		{"2022-10-25", review.MakeRecommendation{By: by(rev), RecommendationID: "rec1", Text: "share call-outs", FindingIDs: []string{"fd1"}}},
		{"2022-10-25", review.CreateAction{By: by(bu), Action: review.ActionCreated{ActionID: "a1", RecommendationID: "rec1", Text: "notify health of call-outs", OwnerAgency: "health-visiting", OwnerPerson: "named nurse lead", DueDate: date("2022-12-16"), MeasureOfSuccess: "audit shows 90% of call-outs shared", PublicSummary: "Police tell health visitors about call-outs to homes with young children"}}},
		{"2022-10-26", review.SubmitDraft{By: by(rev), DraftVersion: "v1"}},
		{"2022-10-27", review.ApproveReport{By: by(la)}},
		{"2022-10-27", review.ApproveReport{By: by(icb)}},
		{"2022-10-27", review.ApproveReport{By: by(police)}},
		{"2022-10-28", review.SendPrePublicationNotice{By: by(bu), Recipients: []string{"Panel", "Secretary of State"}, PlannedPublication: date("2022-11-10")}},
		{"2022-11-10", review.PublishReport{By: by(bu), Location: "https://partnership.example/reviews/browser", PublicText: "Child J lived at home with two parents.\n\nAgencies did not share what they knew."}},
		{"2022-11-14", review.UpdateActionProgress{By: by(agHealth), ActionID: "a1", Status: review.ActionAwaitingEvidence, Note: "done"}},
		{"2022-11-15", review.RecordImpactEvidence{By: by(agHealth), ActionID: "a1", Evidence: "audit: 94% of call-outs shared"}},
	}
	c := review.NewCase(rules)
	stream := workflows.CaseStream(id)
	for i, st := range steps {
		at := date(st.on).Time().Add(12*time.Hour + time.Duration(i)*time.Minute)
		events, err := c.Decide(st.cmd, at, rules, cal)
		if err != nil {
			t.Fatalf("seed step %d (%s): %v", i, st.cmd.CommandName(), err)
		}
		if err := c.Apply(events...); err != nil {
			t.Fatalf("seed step %d (%s): apply: %v", i, st.cmd.CommandName(), err)
		}
		actor := review.ActorOf(st.cmd)
		meta, err := json.Marshal(eventstore.Metadata{Actor: actor.UserID, Role: actor.Role, CorrelationID: id, RuleSetVersion: rules.Version, CalendarVersion: cal.Version()})
		if err != nil {
			t.Fatal(err)
		}
		data := make([]eventstore.EventData, len(events))
		for j, e := range events {
			typ, body, err := review.EncodeEvent(e)
			if err != nil {
				t.Fatal(err)
			}
			data[j] = eventstore.EventData{ID: uuid.NewString(), Type: typ, Data: body, Metadata: meta}
		}
		clock.set(at)
		if _, err := s.store.Append(context.Background(), stream, eventstore.Any(), data...); err != nil {
			t.Fatalf("seed step %d: append: %v", i, err)
		}
	}
	eventually(t, "seeded case published in the register", func() error {
		if _, err := s.db.PublicReport(context.Background(), id); err != nil {
			return fmt.Errorf("register: %w", err)
		}
		return nil
	})
}
