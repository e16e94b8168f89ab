package workflows_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"casereview/activities"
	"casereview/activities/notify"
	"casereview/activities/notify/notifytest"
	"casereview/calendar"
	"casereview/eventstore"
	"casereview/eventstore/embedded"
	"casereview/review"
	"casereview/worker"
	"casereview/worker/payloadcrypt"
	"casereview/workflows"
)

var (
	bu       = review.Actor{UserID: "u-bu", Role: review.RoleBusinessUnit, Agency: "partnership"}
	la       = review.Actor{UserID: "u-la", Role: review.RolePartner, Agency: "local-authority"}
	icb      = review.Actor{UserID: "u-icb", Role: review.RolePartner, Agency: "icb"}
	police   = review.Actor{UserID: "u-pol", Role: review.RolePartner, Agency: "police"}
	rev      = review.Actor{UserID: "u-rev", Role: review.RoleReviewer, Agency: "independent"}
	agPolice = review.Actor{UserID: "u-ap", Role: review.RoleAgencyLead, Agency: "police-force"}
	agHealth = review.Actor{UserID: "u-ah", Role: review.RoleAgencyLead, Agency: "health-trust"}
	panel    = review.Actor{UserID: "u-panel", Role: review.RolePanel}
)

func day(t testing.TB, s string) calendar.Date {
	t.Helper()
	d, err := calendar.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// noon is midday UTC on a date: the same civil date in London in any season.
func noon(t testing.TB, s string) time.Time { return day(t, s).Time().Add(12 * time.Hour) }

// walkStep is one command made on a day, and what the test expects of it.
type walkStep struct {
	name string
	at   time.Time
	cmd  review.Command
	// refused names the error type the case must answer with; empty means it must succeed.
	refused string
}

// rig is a time-skipping test environment with a real event store, SMTP server and webhook receiver.
type rig struct {
	env     *testsuite.TestWorkflowEnvironment
	store   eventstore.Store
	smtp    *notifytest.SMTPServer
	webhook *notifytest.Receiver
}

func newRig(t *testing.T) *rig {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	env := suite.NewTestWorkflowEnvironment()
	kr, err := payloadcrypt.GenerateKeyring()
	if err != nil {
		t.Fatal(err)
	}
	env.SetDataConverter(payloadcrypt.DataConverter(kr))
	store, err := embedded.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	smtp := notifytest.StartSMTP(t)
	hook := notifytest.StartReceiver(t, []byte("webhook-secret-for-tests"))
	contacts := notify.Contacts{
		"business-unit":        {Email: []string{"bu@partnership.example"}, Webhook: &notify.WebhookEndpoint{URL: hook.URL, Secret: hook.Secret}},
		"safeguarding-partner": {Email: []string{"partners@partnership.example"}},
		"police-force":         {Email: []string{"safeguarding@police.example"}},
		"health-trust":         {Email: []string{"safeguarding@health.example"}, Webhook: &notify.WebhookEndpoint{URL: hook.URL, Secret: hook.Secret}},
	}
	n, err := notify.New(notify.Config{Contacts: contacts, Ledger: &notify.MemoryLedger{}, SMTP: smtp.Config()})
	if err != nil {
		t.Fatal(err)
	}
	worker.Register(env, &activities.Activities{Store: store, Notifier: n, BaseURL: "https://casereview.example"})
	return &rig{env: env, store: store, smtp: smtp, webhook: hook}
}

// run starts the case at start and makes each step at its time; it fails the test when a step's
// outcome differs from what it expects, or when the case does not run to completion.
func (r *rig) run(t *testing.T, start time.Time, in workflows.ReviewInput, steps []walkStep) {
	t.Helper()
	r.schedule(t, start, in, steps)
	r.env.ExecuteWorkflow(workflows.Review, in)
	if !r.env.IsWorkflowCompleted() {
		t.Fatal("the case workflow did not complete")
	}
	if err := r.env.GetWorkflowError(); err != nil {
		t.Fatalf("case workflow failed: %v", err)
	}
}

// schedule sets the start time of the case and registers each step as a command made at its time;
// the caller executes the workflow.
func (r *rig) schedule(t *testing.T, start time.Time, in workflows.ReviewInput, steps []walkStep) {
	t.Helper()
	r.env.SetStartTime(start)
	r.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: workflows.ReviewWorkflowID(in.CaseID), TaskQueue: workflows.TaskQueue})
	var prev time.Time
	for _, s := range steps {
		// Steps run in the order listed: callbacks due at the same instant have no order of their own.
		if !s.at.After(prev) {
			s.at = prev.Add(time.Minute)
		}
		prev = s.at
		payload, err := json.Marshal(s.cmd)
		if err != nil {
			t.Fatal(err)
		}
		req := workflows.CommandRequest{Name: s.cmd.CommandName(), Actor: review.ActorOf(s.cmd), Payload: payload}
		r.env.RegisterDelayedCallback(func() {
			r.env.UpdateWorkflow(workflows.CommandUpdate, s.name, &testsuite.TestUpdateCallback{
				OnAccept: func() {},
				OnReject: func(err error) { checkRefusal(t, s, err) },
				OnComplete: func(_ any, err error) {
					if err != nil || s.refused != "" {
						checkRefusal(t, s, err)
					}
				},
			}, req)
		}, s.at.Sub(start))
	}
}

func checkRefusal(t *testing.T, s walkStep, err error) {
	t.Helper()
	var appErr *temporal.ApplicationError
	switch {
	case s.refused == "" && err != nil:
		t.Errorf("step %s refused: %v", s.name, err)
	case s.refused != "" && err == nil:
		t.Errorf("step %s succeeded; want refusal %s", s.name, s.refused)
	case s.refused != "" && (!errors.As(err, &appErr) || appErr.Type() != s.refused):
		t.Errorf("step %s: error %v, want type %s", s.name, err, s.refused)
	}
}

func (r *rig) events(t *testing.T, caseID string) []eventstore.RecordedEvent {
	t.Helper()
	events, err := r.store.ReadStream(context.Background(), workflows.CaseStream(caseID), eventstore.Forwards, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// sent counts recorded reminders or escalations of a clock, by recipient role.
func sent(t *testing.T, events []eventstore.RecordedEvent, typ, clock, key string) []string {
	t.Helper()
	var to []string
	for _, e := range events {
		if e.Type != typ {
			continue
		}
		var v struct{ Clock, Key, To string }
		if err := json.Unmarshal(e.Data, &v); err != nil {
			t.Fatal(err)
		}
		if v.Clock == clock && v.Key == key {
			to = append(to, v.To)
		}
	}
	return to
}

func types(events []eventstore.RecordedEvent) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.Type)
	}
	return out
}

func mailTo(mail []notifytest.Mail, addr string) []notifytest.Mail {
	var out []notifytest.Mail
	for _, m := range mail {
		if slices.Contains(m.To, addr) {
			out = append(out, m)
		}
	}
	return out
}

func notifyCmd(t *testing.T, caseID, framework, awareness string) review.NotifyIncident {
	return review.NotifyIncident{By: review.By{Actor: bu}, CaseID: caseID, Notification: review.Notification{
		Framework: framework, Notifier: "u-bu", NotifierAgency: "local-authority",
		AwarenessDate: day(t, awareness), IncidentDate: day(t, awareness).AddDays(-1), IncidentPlace: "14 Larch Close, Northtown",
		Nature: review.NatureSeriousHarm, Outline: "invented outline",
		Children: []review.Child{{Name: "Jayden Marsh", DateOfBirth: day(t, "2020-03-04"), Sex: "male", KnownToAgencies: true}},
	}}
}

// TestLCSPRWalk runs a whole England LCSPR from notification to closure: one agency late and
// escalated, one granted an extension, a deferral, and a publication blocked by the redaction check
// and then fixed.
func TestLCSPRWalk(t *testing.T) {
	r := newRig(t)
	const id = "CR-WALK0001"
	start := day(t, "2022-09-16").Time().Add(11 * time.Hour)
	by := func(a review.Actor) review.By { return review.By{Actor: a} }
	entry := func(a review.Actor, id, agency, ref string, d review.EventDate, text string) review.Command {
		return review.RecordChronologyEntry{By: by(a), Entry: review.ChronologyEntry{EntryID: id, Agency: agency, SourceRef: ref, Date: d, Description: text, Significance: review.SignificanceKey}}
	}
	steps := []walkStep{
		// The SIN goes on day 4, after the notification clock's first reminder (21 September).
		{name: "send-sin", at: noon(t, "2022-09-22"), cmd: review.SendNotification{By: by(bu), Reference: "SIN-1"}},
		{name: "facts", at: noon(t, "2022-09-23"), cmd: review.RecordRapidReviewFacts{By: by(bu), Facts: "facts", AgenciesInvolved: []string{"police-force", "health-trust"}}},
		{name: "episodes", at: noon(t, "2022-09-23"), cmd: review.SummariseKeyPracticeEpisodes{By: by(bu), Summary: "summary"}},
		{name: "propose", at: noon(t, "2022-09-23"), cmd: review.ProposeDecision{By: by(bu), Outcome: review.OutcomeLCSPR, Rationale: "reg 11 criteria met"}},
		{name: "submit-too-early", at: noon(t, "2022-09-23").Add(time.Minute), cmd: review.SubmitRapidReview{By: by(bu)}, refused: workflows.ErrTypeRule},
		{name: "signoff-by-reviewer", at: noon(t, "2022-09-23").Add(2 * time.Minute), cmd: review.SignOffRapidReview{By: by(rev)}, refused: workflows.ErrTypeForbidden},
		{name: "signoff-la", at: noon(t, "2022-09-26"), cmd: review.SignOffRapidReview{By: by(la)}},
		{name: "signoff-icb", at: noon(t, "2022-09-26"), cmd: review.SignOffRapidReview{By: by(icb)}},
		{name: "signoff-police", at: noon(t, "2022-09-26"), cmd: review.SignOffRapidReview{By: by(police)}},
		{name: "submit-rr", at: noon(t, "2022-09-27"), cmd: review.SubmitRapidReview{By: by(bu)}},
		{name: "panel", at: noon(t, "2022-09-30"), cmd: review.RecordPanelResponse{By: by(panel), Response: review.PanelAgrees}},
		{name: "decide", at: noon(t, "2022-10-03"), cmd: review.RecordDecision{By: by(la), Outcome: review.OutcomeLCSPR, Rationale: "learning for the partnership"}},
		{name: "appoint", at: noon(t, "2022-10-04"), cmd: review.AppointReviewer{By: by(bu), ReviewerID: "rev-1", Name: "Reviewer One", Lead: true, Independence: "no prior involvement"}},
		{name: "terms", at: noon(t, "2022-10-05"), cmd: review.AgreeTermsOfReference{By: by(la), Terms: review.TermsOfReferenceAgreed{Scope: "scope", Agencies: []string{"police-force", "health-trust"}, KeyLinesOfEnquiry: []string{"information sharing"}, Method: "Learning Together"}}},
		// Police: due 20 October by the rule set's 10 working days, answered late on 28 October.
		{name: "request-police", at: noon(t, "2022-10-06"), cmd: review.RequestFromAgency{By: by(bu), RequestID: "r1", Agency: "police-force", Kind: review.RequestChronology}},
		// Health: due 28 October, extended to 4 November.
		{name: "request-health", at: noon(t, "2022-10-06"), cmd: review.RequestFromAgency{By: by(bu), RequestID: "r2", Agency: "health-trust", Kind: review.RequestReport, DueDate: day(t, "2022-10-28")}},
		{name: "ask-extension", at: noon(t, "2022-10-10"), cmd: review.RequestExtension{By: by(agHealth), RequestID: "r2", NewDue: day(t, "2022-11-04"), Reason: "staff absence"}},
		{name: "grant-extension", at: noon(t, "2022-10-10").Add(time.Hour), cmd: review.DecideExtension{By: by(bu), RequestID: "r2", Grant: true}},
		{name: "submit-r1", at: noon(t, "2022-10-28"), cmd: review.SubmitToRequest{By: by(agPolice), RequestID: "r1", Summary: "chronology"}},
		{name: "accept-r1", at: noon(t, "2022-10-28").Add(time.Hour), cmd: review.AcceptSubmission{By: by(rev), RequestID: "r1"}},
		{name: "submit-r2", at: noon(t, "2022-11-03"), cmd: review.SubmitToRequest{By: by(agHealth), RequestID: "r2", Summary: "report"}},
		{name: "accept-r2", at: noon(t, "2022-11-03").Add(time.Hour), cmd: review.AcceptSubmission{By: by(bu), RequestID: "r2"}},
		{name: "entry-1", at: noon(t, "2022-11-03").Add(2 * time.Hour), cmd: entry(agPolice, "e1", "police-force", "POL-1", review.OnDay(day(t, "2021-05-14")), "call-out to the home")},
		{name: "entry-2", at: noon(t, "2022-11-03").Add(2 * time.Hour), cmd: entry(agHealth, "e2", "health-trust", "", review.InMonth(2021, time.May), "missed health visit")},
		{name: "episode", at: noon(t, "2022-11-03").Add(3 * time.Hour), cmd: review.RecordKeyPracticeEpisode{By: by(rev), Episode: review.KeyPracticeEpisodeRecorded{EpisodeID: "kpe1", Title: "May 2021", Description: "response to the call-out", Appraisal: review.AppraisalProblematic}}},
		{name: "close-evidence", at: noon(t, "2022-11-03").Add(4 * time.Hour), cmd: review.CompleteStage{By: by(bu)}},
		{name: "flag", at: noon(t, "2022-11-04"), cmd: review.FlagMissedOpportunity{By: by(rev), EntryID: "e2", Rationale: "no follow-up of a missed visit"}},
		{name: "factor", at: noon(t, "2022-11-04"), cmd: review.RecordContributoryFactor{By: by(rev), Factor: review.ContributoryFactorRecorded{FactorID: "f1", Category: review.FactorInterAgencyTeam, Text: "no shared picture"}}},
		{name: "finding", at: noon(t, "2022-11-04"), cmd: review.RecordFinding{By: by(rev), Finding: review.FindingRecorded{FindingID: "fd1", Statement: "statement", InThisCase: "how", FactorIDs: []string{"f1"}}}},
		{name: "appraisal", at: noon(t, "2022-11-04"), cmd: review.RecordAppraisal{By: by(rev), Appraisal: review.AppraisalRecorded{AppraisalID: "ap1", Text: "a strategy discussion should have been held"}}},
		{name: "close-learning", at: noon(t, "2022-11-04").Add(time.Hour), cmd: review.CompleteStage{By: by(bu)}},
		{name: "family", at: noon(t, "2022-11-07"), cmd: review.RecordFamilyInvolvement{By: by(rev), Invited: true, Accepted: true, HowRecorded: "meeting notes"}},
		{name: "close-family", at: noon(t, "2022-11-07").Add(time.Hour), cmd: review.CompleteStage{By: by(bu)}},
		{name: "recommend", at: noon(t, "2022-11-08"), cmd: review.MakeRecommendation{By: by(rev), RecommendationID: "rec1", Text: "share call-outs", FindingIDs: []string{"fd1"}}},
		{name: "action-1", at: noon(t, "2022-11-08"), cmd: review.CreateAction{By: by(bu), Action: review.ActionCreated{ActionID: "a1", RecommendationID: "rec1", Text: "notify health of call-outs", OwnerAgency: "health-trust", OwnerPerson: "named nurse lead", DueDate: day(t, "2022-12-16"), MeasureOfSuccess: "audit shows 90% shared"}}},
		{name: "draft", at: noon(t, "2022-11-09"), cmd: review.SubmitDraft{By: by(rev), DraftVersion: "v1"}},
		{name: "approve-la", at: noon(t, "2022-11-10"), cmd: review.ApproveReport{By: by(la)}},
		{name: "approve-icb", at: noon(t, "2022-11-10"), cmd: review.ApproveReport{By: by(icb)}},
		{name: "approve-police", at: noon(t, "2022-11-10"), cmd: review.ApproveReport{By: by(police)}},
		{name: "notice", at: noon(t, "2022-11-11"), cmd: review.SendPrePublicationNotice{By: by(bu), Recipients: []string{"Panel", "Secretary of State", "Ofsted"}, PlannedPublication: day(t, "2022-11-25")}},
		{name: "defer", at: noon(t, "2022-11-14"), cmd: review.DeferPublication{By: by(bu), Reason: review.DeferInquest, ReviewDate: day(t, "2022-12-05")}},
		{name: "publish-unredacted", at: noon(t, "2022-12-06"), cmd: review.PublishReport{By: by(bu), Location: "https://partnership.example/reviews/walk", PublicText: "Jayden was seen at home on 4 March 2020 by the health visitor."}, refused: workflows.ErrTypeRedaction},
		{name: "publish", at: noon(t, "2022-12-06").Add(time.Hour), cmd: review.PublishReport{By: by(bu), Location: "https://partnership.example/reviews/walk", PublicText: "Child J was seen at home by the health visitor."}},
		{name: "progress-a1", at: noon(t, "2022-12-07"), cmd: review.UpdateActionProgress{By: by(agHealth), ActionID: "a1", Status: review.ActionAwaitingEvidence, Note: "done"}},
		{name: "verify-without-evidence", at: noon(t, "2022-12-07").Add(time.Minute), cmd: review.VerifyAction{By: by(la), ActionID: "a1"}, refused: workflows.ErrTypeRule},
		{name: "evidence-naming-the-family", at: noon(t, "2022-12-07").Add(30 * time.Minute), cmd: review.RecordImpactEvidence{By: by(agHealth), ActionID: "a1", Evidence: "audit shows the Marsh family now seen weekly"}, refused: workflows.ErrTypeRedaction},
		{name: "evidence-a1", at: noon(t, "2022-12-07").Add(time.Hour), cmd: review.RecordImpactEvidence{By: by(agHealth), ActionID: "a1", Evidence: "audit: 94% shared"}},
		{name: "verify-a1", at: noon(t, "2022-12-08"), cmd: review.VerifyAction{By: by(la), ActionID: "a1"}},
		{name: "close", at: noon(t, "2022-12-09"), cmd: review.CloseCase{By: by(bu), Reason: "all actions resolved"}},
	}
	r.run(t, start, workflows.ReviewInput{CaseID: id, Notify: notifyCmd(t, id, "lcspr/wt2023", "2022-09-16"), CorrelationID: id}, steps)

	events := r.events(t, id)
	if got := types(events); got[0] != review.EventCaseNotified || got[len(got)-1] != review.EventCaseClosed {
		t.Fatalf("stream runs %v", got)
	}
	if got := sent(t, events, review.EventReminderSent, "notification", ""); len(got) != 1 {
		t.Errorf("notification reminders %v, want one (21 September) before the SIN on the 22nd", got)
	}
	if got := sent(t, events, review.EventReminderSent, "agency-request", "r1"); len(got) != 2 {
		t.Errorf("police reminders %v, want two (3 and 1 working days before 20 October)", got)
	}
	if got := sent(t, events, review.EventEscalationSent, "agency-request", "r1"); !slices.Equal(got, []string{review.RoleBusinessUnit, review.RolePartner}) {
		t.Errorf("police escalations %v, want business unit then partners", got)
	}
	if got := sent(t, events, review.EventEscalationSent, "agency-request", "r2"); len(got) != 0 {
		t.Errorf("health escalated %v despite its extension", got)
	}
	// Reminders follow the extended due date (4 November): 1 and 3 November, none for 28 October.
	if got := sent(t, events, review.EventReminderSent, "agency-request", "r2"); len(got) != 2 {
		t.Errorf("health reminders %v, want two (3 and 1 working days before the extended due date)", got)
	}
	for _, want := range []string{review.EventClockExtended, review.EventPublicationDeferred, review.EventReportPublished} {
		if !slices.Contains(types(events), want) {
			t.Errorf("no %s recorded", want)
		}
	}
	for _, e := range events {
		if e.Type == review.EventReportPublished && strings.Contains(string(e.Data), "Jayden") {
			t.Error("the unredacted text was published")
		}
	}
	if n := strings.Count(strings.Join(types(events), " "), review.EventReportPublished); n != 1 {
		t.Errorf("%d publications recorded", n)
	}

	mail := r.smtp.Mail()
	if got := mailTo(mail, "safeguarding@police.example"); len(got) != 2 {
		t.Errorf("police received %d e-mails, want 2 reminders", len(got))
	}
	if got := mailTo(mail, "partners@partnership.example"); len(got) != 1 {
		t.Errorf("partners received %d e-mails, want the second escalation", len(got))
	}
	if got := mailTo(mail, "bu@partnership.example"); len(got) < 3 {
		t.Errorf("business unit received %d e-mails, want the SIN reminder, the first escalation and the deferral review", len(got))
	}
	for _, m := range mail {
		for _, secret := range []string{"Jayden", "Marsh", "Larch", "2020-03-04"} {
			if strings.Contains(m.Data, secret) {
				t.Errorf("an e-mail to %v contains %q", m.To, secret)
			}
		}
	}
	if len(r.webhook.Accepted()) == 0 || len(r.webhook.Rejected()) != 0 {
		t.Errorf("webhooks: %d accepted, rejected %v", len(r.webhook.Accepted()), r.webhook.Rejected())
	}
	if _, err := eventstore.Verify(context.Background(), r.store, r.store.ChainScope()); err != nil {
		t.Errorf("chain: %v", err)
	}
}

// testWriter sends log lines to the test's log, shown only when it fails.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
