package workflows_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"casereview/eventstore"
	"casereview/review"
	"casereview/workflows"
)

// lscb is the chair of the Local Safeguarding Children Board, the one partner of a legacy SCR.
var lscb = review.Actor{UserID: "u-lscb", Role: review.RolePartner, Agency: "lscb"}

func by(a review.Actor) review.By { return review.By{Actor: a} }

// decided returns the outcome of the ReviewDecided event in a stream, or "" if there is none.
func decided(t *testing.T, events []eventstore.RecordedEvent) string {
	t.Helper()
	for _, e := range events {
		if e.Type != review.EventReviewDecided {
			continue
		}
		var v struct{ Outcome string }
		if err := json.Unmarshal(e.Data, &v); err != nil {
			t.Fatal(err)
		}
		return v.Outcome
	}
	return ""
}

// checkNoPersonalData fails the test when a message sent contains anything identifying the child.
func checkNoPersonalData(t *testing.T, r *rig) {
	t.Helper()
	for _, m := range r.smtp.Mail() {
		for _, secret := range []string{"Jayden", "Marsh", "Larch", "2020-03-04"} {
			if strings.Contains(m.Data, secret) {
				t.Errorf("an e-mail to %v contains %q", m.To, secret)
			}
		}
	}
}

// TestLegacySCRWalk runs a Serious Case Review under Working Together 2015 from notification to
// closure: the notification to Ofsted is late (two reminders, then escalation to the LSCB chair),
// one agency is reminded once before it submits, and publication waits a calendar week after the
// pre-publication notice.
func TestLegacySCRWalk(t *testing.T) {
	r := newRig(t)
	const id = "CR-SCR00001"
	start := day(t, "2022-09-16").Time().Add(11 * time.Hour)
	steps := []walkStep{
		// Monday 19 September 2022 was a bank holiday: the 5 working days run to the 26th, with
		// reminders on the 22nd and 23rd and the escalation on the 27th.
		{name: "send-sin-late", at: noon(t, "2022-09-30"), cmd: review.SendNotification{By: by(bu), Reference: "SIN-7"}},
		{name: "rapid-review-not-in-scr", at: noon(t, "2022-09-30").Add(time.Hour), cmd: review.RecordRapidReviewFacts{By: by(bu), Facts: "facts"}, refused: workflows.ErrTypeForbidden},
		{name: "decide-by-reviewer", at: noon(t, "2022-10-03"), cmd: review.RecordDecision{By: by(rev), Outcome: review.OutcomeSCR, Rationale: "criteria met"}, refused: workflows.ErrTypeForbidden},
		{name: "decide", at: noon(t, "2022-10-03").Add(time.Hour), cmd: review.RecordDecision{By: by(lscb), Outcome: review.OutcomeSCR, Rationale: "criteria met"}},
		{name: "appoint", at: noon(t, "2022-10-04"), cmd: review.AppointReviewer{By: by(bu), ReviewerID: "rev-1", Name: "Reviewer One", Lead: true, Independence: "no prior involvement"}},
		{name: "terms", at: noon(t, "2022-10-05"), cmd: review.AgreeTermsOfReference{By: by(lscb), Terms: review.TermsOfReferenceAgreed{Scope: "scope", Agencies: []string{"police-force"}, KeyLinesOfEnquiry: []string{"information sharing"}, Method: "Learning Together"}}},
		// Due 20 October (10 working days); reminders 3 and 1 working days before: 17 and 19 October.
		{name: "request-police", at: noon(t, "2022-10-06"), cmd: review.RequestFromAgency{By: by(bu), RequestID: "r1", Agency: "police-force", Kind: review.RequestChronology}},
		{name: "submit-r1", at: noon(t, "2022-10-18"), cmd: review.SubmitToRequest{By: by(agPolice), RequestID: "r1", Summary: "chronology"}},
		{name: "accept-r1", at: noon(t, "2022-10-18").Add(time.Hour), cmd: review.AcceptSubmission{By: by(rev), RequestID: "r1"}},
		{name: "entry-1", at: noon(t, "2022-10-19"), cmd: review.RecordChronologyEntry{By: by(agPolice), Entry: review.ChronologyEntry{EntryID: "e1", Agency: "police-force", SourceRef: "POL-1", Date: review.OnDay(day(t, "2021-05-14")), Description: "call-out to the home", Significance: review.SignificanceKey}}},
		{name: "episode", at: noon(t, "2022-10-19").Add(time.Hour), cmd: review.RecordKeyPracticeEpisode{By: by(rev), Episode: review.KeyPracticeEpisodeRecorded{EpisodeID: "kpe1", Title: "May 2021", Description: "response to the call-out", Appraisal: review.AppraisalProblematic}}},
		{name: "close-evidence", at: noon(t, "2022-10-20"), cmd: review.CompleteStage{By: by(bu)}},
		{name: "factor", at: noon(t, "2022-10-21"), cmd: review.RecordContributoryFactor{By: by(rev), Factor: review.ContributoryFactorRecorded{FactorID: "f1", Category: review.FactorInterAgencyTeam, Text: "no shared picture"}}},
		{name: "finding", at: noon(t, "2022-10-21"), cmd: review.RecordFinding{By: by(rev), Finding: review.FindingRecorded{FindingID: "fd1", Statement: "statement", InThisCase: "how", FactorIDs: []string{"f1"}}}},
		{name: "appraisal", at: noon(t, "2022-10-21"), cmd: review.RecordAppraisal{By: by(rev), Appraisal: review.AppraisalRecorded{AppraisalID: "ap1", Text: "a strategy discussion should have been held"}}},
		{name: "close-learning", at: noon(t, "2022-10-24"), cmd: review.CompleteStage{By: by(bu)}},
		{name: "family", at: noon(t, "2022-10-25"), cmd: review.RecordFamilyInvolvement{By: by(rev), Invited: true, Accepted: false, HowRecorded: "letter; the family declined"}},
		{name: "close-family", at: noon(t, "2022-10-25").Add(time.Hour), cmd: review.CompleteStage{By: by(bu)}},
		{name: "recommend", at: noon(t, "2022-10-26"), cmd: review.MakeRecommendation{By: by(rev), RecommendationID: "rec1", Text: "share call-outs", FindingIDs: []string{"fd1"}}},
		{name: "action-1", at: noon(t, "2022-10-26"), cmd: review.CreateAction{By: by(bu), Action: review.ActionCreated{ActionID: "a1", RecommendationID: "rec1", Text: "notify health of call-outs", OwnerAgency: "police-force", OwnerPerson: "named lead", DueDate: day(t, "2023-01-31"), MeasureOfSuccess: "audit shows 90% shared"}}},
		{name: "draft", at: noon(t, "2022-10-27"), cmd: review.SubmitDraft{By: by(rev), DraftVersion: "v1"}},
		{name: "approve-by-la", at: noon(t, "2022-10-28"), cmd: review.ApproveReport{By: by(la)}, refused: workflows.ErrTypeForbidden},
		{name: "notice-without-lscb", at: noon(t, "2022-10-28").Add(time.Hour), cmd: review.SendPrePublicationNotice{By: by(bu), Recipients: []string{"Ofsted", "national panel"}}, refused: workflows.ErrTypeRule},
		{name: "approve-lscb", at: noon(t, "2022-10-31"), cmd: review.ApproveReport{By: by(lscb)}},
		{name: "notice", at: noon(t, "2022-11-01"), cmd: review.SendPrePublicationNotice{By: by(bu), Recipients: []string{"Ofsted", "national panel"}}},
		{name: "publish-too-soon", at: noon(t, "2022-11-07"), cmd: review.PublishReport{By: by(bu), Location: "https://partnership.example/reviews/scr", PublicText: "Child J was known to agencies."}, refused: workflows.ErrTypeRule},
		{name: "publish", at: noon(t, "2022-11-08"), cmd: review.PublishReport{By: by(bu), Location: "https://partnership.example/reviews/scr", PublicText: "Child J was known to agencies."}},
		{name: "progress-a1", at: noon(t, "2022-11-09"), cmd: review.UpdateActionProgress{By: by(agPolice), ActionID: "a1", Status: review.ActionAwaitingEvidence, Note: "done"}},
		{name: "evidence-a1", at: noon(t, "2022-11-09").Add(time.Hour), cmd: review.RecordImpactEvidence{By: by(agPolice), ActionID: "a1", Evidence: "audit: 92% shared"}},
		{name: "verify-a1", at: noon(t, "2022-11-10"), cmd: review.VerifyAction{By: by(lscb), ActionID: "a1"}},
		{name: "close", at: noon(t, "2022-11-11"), cmd: review.CloseCase{By: by(lscb), Reason: "all actions resolved"}},
	}
	r.run(t, start, workflows.ReviewInput{CaseID: id, Notify: notifyCmd(t, id, "scr/wt2015", "2022-09-16"), CorrelationID: id}, steps)

	events := r.events(t, id)
	if got := types(events); got[0] != review.EventCaseNotified || got[len(got)-1] != review.EventCaseClosed {
		t.Fatalf("stream runs %v", got)
	}
	if got := decided(t, events); got != review.OutcomeSCR {
		t.Errorf("decision %q, want scr", got)
	}
	if got := sent(t, events, review.EventReminderSent, "notification", ""); len(got) != 2 {
		t.Errorf("notification reminders %v, want two (2 and 1 working days before 26 September)", got)
	}
	if got := sent(t, events, review.EventEscalationSent, "notification", ""); !slices.Equal(got, []string{review.RolePartner}) {
		t.Errorf("notification escalations %v, want the LSCB chair once", got)
	}
	if got := sent(t, events, review.EventReminderSent, "agency-request", "r1"); len(got) != 1 {
		t.Errorf("police reminders %v, want one (17 October) before it submitted on the 18th", got)
	}
	if got := sent(t, events, review.EventEscalationSent, "agency-request", "r1"); len(got) != 0 {
		t.Errorf("police escalated %v though it submitted on time", got)
	}
	for _, refused := range []string{review.EventRapidReviewFactsRecorded, review.EventDecisionReportedToPanel} {
		if slices.Contains(types(events), refused) {
			t.Errorf("%s recorded in a legacy SCR", refused)
		}
	}
	for _, want := range []string{review.EventPrePublicationNoticeSent, review.EventReportPublished, review.EventActionVerified} {
		if n := strings.Count(" "+strings.Join(types(events), " ")+" ", " "+want+" "); n != 1 {
			t.Errorf("%d %s recorded, want 1", n, want)
		}
	}

	mail := r.smtp.Mail()
	if got := mailTo(mail, "bu@partnership.example"); len(got) != 2 {
		t.Errorf("business unit received %d e-mails, want the two notification reminders", len(got))
	}
	if got := mailTo(mail, "partners@partnership.example"); len(got) != 1 {
		t.Errorf("the LSCB chair received %d e-mails, want the notification escalation", len(got))
	}
	if got := mailTo(mail, "safeguarding@police.example"); len(got) != 1 {
		t.Errorf("police received %d e-mails, want one reminder", len(got))
	}
	// The business unit also has a webhook: both reminders arrived there too, signed.
	if len(r.webhook.Accepted()) != 2 || len(r.webhook.Rejected()) != 0 {
		t.Errorf("webhooks: %d accepted, rejected %v; want the two reminders", len(r.webhook.Accepted()), r.webhook.Rejected())
	}
	checkNoPersonalData(t, r)
}

// rapidReviewSteps runs an LCSPR's rapid review to the Panel's agreement, on time: no reminder is due.
func rapidReviewSteps(t *testing.T, proposed string) []walkStep {
	return []walkStep{
		{name: "send-sin", at: noon(t, "2022-09-20"), cmd: review.SendNotification{By: by(bu), Reference: "SIN-2"}},
		{name: "facts", at: noon(t, "2022-09-21"), cmd: review.RecordRapidReviewFacts{By: by(bu), Facts: "facts", AgenciesInvolved: []string{"police-force", "health-trust"}}},
		{name: "episodes", at: noon(t, "2022-09-21"), cmd: review.SummariseKeyPracticeEpisodes{By: by(bu), Summary: "summary"}},
		{name: "propose", at: noon(t, "2022-09-21"), cmd: review.ProposeDecision{By: by(bu), Outcome: proposed, Rationale: "rationale"}},
		{name: "signoff-la", at: noon(t, "2022-09-22"), cmd: review.SignOffRapidReview{By: by(la)}},
		{name: "signoff-icb", at: noon(t, "2022-09-22"), cmd: review.SignOffRapidReview{By: by(icb)}},
		{name: "signoff-police", at: noon(t, "2022-09-22"), cmd: review.SignOffRapidReview{By: by(police)}},
		{name: "submit-rr", at: noon(t, "2022-09-23"), cmd: review.SubmitRapidReview{By: by(bu)}},
		{name: "panel", at: noon(t, "2022-09-30"), cmd: review.RecordPanelResponse{By: by(panel), Response: review.PanelAgrees}},
	}
}

// TestLCSPRNoFurtherReviewWalk decides after the rapid review that no further review is needed.
// Under Working Together 2023 the rapid review has already gone to the Panel, so there is no
// separate report of the decision; the case is closed from stage no-further-review and the
// workflow ends.
func TestLCSPRNoFurtherReviewWalk(t *testing.T) {
	r := newRig(t)
	const id = "CR-NFR00001"
	start := day(t, "2022-09-16").Time().Add(11 * time.Hour)
	steps := append(rapidReviewSteps(t, review.OutcomeNoFurtherReview),
		walkStep{name: "decide", at: noon(t, "2022-10-03"), cmd: review.RecordDecision{By: by(la), Outcome: review.OutcomeNoFurtherReview, Rationale: "learning already captured"}},
		walkStep{name: "report-not-in-lcspr", at: noon(t, "2022-10-04"), cmd: review.ReportDecisionToPanel{By: by(bu)}, refused: workflows.ErrTypeForbidden},
		walkStep{name: "appoint-after-no", at: noon(t, "2022-10-04").Add(time.Hour), cmd: review.AppointReviewer{By: by(bu), ReviewerID: "rev-1", Name: "Reviewer One", Independence: "none"}, refused: workflows.ErrTypeRule},
		walkStep{name: "close-without-reason", at: noon(t, "2022-10-05"), cmd: review.CloseCase{By: by(bu)}, refused: workflows.ErrTypeInvalid},
		walkStep{name: "close", at: noon(t, "2022-10-05").Add(time.Hour), cmd: review.CloseCase{By: by(bu), Reason: "no further review"}},
	)
	r.run(t, start, workflows.ReviewInput{CaseID: id, Notify: notifyCmd(t, id, "lcspr/wt2023", "2022-09-16"), CorrelationID: id}, steps)

	events := r.events(t, id)
	got := types(events)
	if got[len(got)-1] != review.EventCaseClosed {
		t.Fatalf("stream ends with %s, want %s: %v", got[len(got)-1], review.EventCaseClosed, got)
	}
	if o := decided(t, events); o != review.OutcomeNoFurtherReview {
		t.Errorf("decision %q, want no-further-review", o)
	}
	for _, never := range []string{review.EventDecisionReportedToPanel, review.EventReviewerAppointed, review.EventReminderSent, review.EventEscalationSent} {
		if slices.Contains(got, never) {
			t.Errorf("%s recorded: %v", never, got)
		}
	}
	// Every clock started was stopped: nothing is left for the workflow to wait for.
	started, stopped := strings.Count(strings.Join(got, " "), review.EventClockStarted), strings.Count(strings.Join(got, " "), review.EventClockStopped)
	if started == 0 || started != stopped {
		t.Errorf("%d clocks started, %d stopped: %v", started, stopped, got)
	}
	if mail := r.smtp.Mail(); len(mail) != 0 {
		t.Errorf("%d e-mails sent for a case that met every deadline", len(mail))
	}
}

// TestLCSPRNationalReviewWalk decides that the national Panel reviews the case: the case then
// waits in stage national-review, with no clock running, until the Panel's review ends. The test
// looks at it a month later and cancels it.
func TestLCSPRNationalReviewWalk(t *testing.T) {
	r := newRig(t)
	const id = "CR-NAT00001"
	start := day(t, "2022-09-16").Time().Add(11 * time.Hour)
	steps := append(rapidReviewSteps(t, review.OutcomeNationalReview),
		walkStep{name: "decide", at: noon(t, "2022-10-03"), cmd: review.RecordDecision{By: by(la), Outcome: review.OutcomeNationalReview, Rationale: "the Panel will review"}},
		walkStep{name: "appoint-local-reviewer", at: noon(t, "2022-10-04"), cmd: review.AppointReviewer{By: by(bu), ReviewerID: "rev-1", Name: "Reviewer One", Independence: "none"}, refused: workflows.ErrTypeRule},
	)
	in := workflows.ReviewInput{CaseID: id, Notify: notifyCmd(t, id, "lcspr/wt2023", "2022-09-16"), CorrelationID: id}
	r.schedule(t, start, in, steps)
	var st workflows.ReviewStatus
	var queried bool
	r.env.RegisterDelayedCallback(func() {
		v, err := r.env.QueryWorkflow(workflows.StatusQuery)
		if err != nil {
			t.Errorf("status query: %v", err)
		} else if err := v.Get(&st); err != nil {
			t.Errorf("decode status: %v", err)
		}
		queried = true
		r.env.CancelWorkflow()
	}, noon(t, "2022-11-04").Sub(start))
	r.env.ExecuteWorkflow(workflows.Review, in)

	if !queried {
		t.Fatal("the workflow ended before it was looked at a month after the decision")
	}
	if st.Stage != "national-review" || st.Closed || len(st.Clocks) != 0 || !st.NextWake.IsZero() {
		t.Errorf("status a month after the decision = %+v; want stage national-review, open, no clock, nothing to wake for", st)
	}
	if !r.env.IsWorkflowCompleted() {
		t.Fatal("the workflow did not end when cancelled")
	}
	if err := r.env.GetWorkflowError(); !temporal.IsCanceledError(err) {
		t.Errorf("workflow error %v, want cancelled", err)
	}
	events := r.events(t, id)
	got := types(events)
	if o := decided(t, events); o != review.OutcomeNationalReview {
		t.Errorf("decision %q, want national-review", o)
	}
	if got[len(got)-1] != review.EventReviewDecided {
		t.Errorf("stream ends with %s, want the decision: %v", got[len(got)-1], got)
	}
	if slices.Contains(got, review.EventCaseClosed) {
		t.Errorf("case closed: %v", got)
	}
	if mail := r.smtp.Mail(); len(mail) != 0 {
		t.Errorf("%d e-mails sent while the case waited on the Panel", len(mail))
	}
}

// TestCommandAsTheCaseOpens sends commands the moment the case starts, while its notification is
// still being recorded: they wait for the case instead of being refused as unknown, and are then
// judged by the rules like any other.
func TestCommandAsTheCaseOpens(t *testing.T) {
	r := newRig(t)
	const id = "CR-OPEN0001"
	start := day(t, "2022-09-16").Time().Add(11 * time.Hour)
	in := workflows.ReviewInput{CaseID: id, Notify: notifyCmd(t, id, "lcspr/wt2023", "2022-09-16"), CorrelationID: id}
	r.schedule(t, start, in, []walkStep{
		{name: "sin-at-once", at: start, cmd: review.SendNotification{By: by(bu), Reference: "SIN-3"}},
	})
	r.schedule(t, start, in, []walkStep{
		{name: "submit-at-once", at: start, cmd: review.SubmitRapidReview{By: by(bu)}, refused: workflows.ErrTypeRule},
	})
	var st workflows.ReviewStatus
	r.env.RegisterDelayedCallback(func() {
		v, err := r.env.QueryWorkflow(workflows.StatusQuery)
		if err != nil {
			t.Fatalf("status query: %v", err)
		}
		if err := v.Get(&st); err != nil {
			t.Fatalf("decode status: %v", err)
		}
		r.env.CancelWorkflow()
	}, time.Hour)
	r.env.ExecuteWorkflow(workflows.Review, in)

	if st.Stage != "rapid-review" {
		t.Errorf("stage %q an hour after the case opened, want rapid-review", st.Stage)
	}
	got := types(r.events(t, id))
	want := []string{review.EventCaseNotified, review.EventClockStarted, review.EventNotificationSent, review.EventClockStopped, review.EventClockStarted}
	if !slices.Equal(got, want) {
		t.Errorf("stream %v, want %v", got, want)
	}
}
