package review

import (
	"errors"

	"casereview/calendar"
	"slices"
	"testing"
	"time"
)

var (
	bu       = Actor{UserID: "u-bu", Role: RoleBusinessUnit, Agency: "partnership"}
	la       = Actor{UserID: "u-la", Role: RolePartner, Agency: "local-authority"}
	icb      = Actor{UserID: "u-icb", Role: RolePartner, Agency: "icb"}
	police   = Actor{UserID: "u-pol", Role: RolePartner, Agency: "police"}
	lscb     = Actor{UserID: "u-lscb", Role: RolePartner, Agency: "lscb"}
	rev      = Actor{UserID: "u-rev", Role: RoleReviewer, Agency: "independent"}
	agPolice = Actor{UserID: "u-ap", Role: RoleAgencyLead, Agency: "police-force"}
	agHealth = Actor{UserID: "u-ah", Role: RoleAgencyLead, Agency: "health-trust"}
	panel    = Actor{UserID: "u-panel", Role: RolePanel}
	system   = Actor{UserID: "casereview", Role: RoleSystem}
	auditor  = Actor{UserID: "u-aud", Role: RoleAuditor}
)

type step struct {
	name string // unique label, so a test can stop just before a step
	on   string // the day the command is made
	cmd  Command
}

func notify(framework string, nature Nature, children ...Child) NotifyIncident {
	if children == nil {
		children = []Child{{Name: "Child A", Sex: "female", LookedAfter: true, KnownToAgencies: true}}
	}
	return NotifyIncident{By: By{bu}, CaseID: "case-1", Notification: Notification{
		Framework: framework, Notifier: "u-bu", NotifierAgency: "local-authority",
		AwarenessDate: calendar16, IncidentDate: calendar15, IncidentPlace: "home", Nature: nature,
		Children: children, Outline: "outline of the incident"}}
}

var (
	calendar16 = mustDate("2022-09-16")
	calendar15 = mustDate("2022-09-15")
)

// lcsprSteps is a whole England LCSPR, from notification to closure.
func lcsprSteps() []step {
	return []step{
		{"notify", "2022-09-16", notify("lcspr/wt2023", NatureDeath)},
		{"send-sin", "2022-09-20", SendNotification{By: By{bu}, Reference: "SIN-1"}},
		{"facts", "2022-09-21", RecordRapidReviewFacts{By: By{bu}, Facts: "facts", AgenciesInvolved: []string{"police-force", "health-trust"}}},
		{"episodes-summary", "2022-09-21", SummariseKeyPracticeEpisodes{By: By{bu}, Summary: "summary"}},
		{"immediate", "2022-09-21", RecordImmediateActions{By: By{la}, Actions: []string{"sibling safety plan"}}},
		{"propose", "2022-09-21", ProposeDecision{By: By{bu}, Outcome: OutcomeLCSPR, Rationale: "reg 11 criteria met"}},
		{"signoff-la", "2022-09-22", SignOffRapidReview{By{la}}},
		{"signoff-icb", "2022-09-22", SignOffRapidReview{By{icb}}},
		{"signoff-police", "2022-09-22", SignOffRapidReview{By{police}}},
		{"submit-rr", "2022-09-23", SubmitRapidReview{By{bu}}},
		{"panel", "2022-09-30", RecordPanelResponse{By: By{panel}, Response: PanelAgrees}},
		{"decide", "2022-10-03", RecordDecision{By: By{la}, Outcome: OutcomeLCSPR, Rationale: "learning for the partnership"}},
		{"appoint", "2022-10-04", AppointReviewer{By: By{bu}, ReviewerID: "rev-1", Name: "Reviewer One", Lead: true, Independence: "no prior involvement"}},
		{"terms", "2022-10-05", AgreeTermsOfReference{By: By{la}, Terms: TermsOfReferenceAgreed{Scope: "scope", Agencies: []string{"police-force", "health-trust"},
			KeyLinesOfEnquiry: []string{"information sharing"}, Method: "Learning Together"}}},
		{"request-police", "2022-10-06", RequestFromAgency{By: By{bu}, RequestID: "r1", Agency: "police-force", Kind: RequestChronology}},
		{"request-health", "2022-10-06", RequestFromAgency{By: By{bu}, RequestID: "r2", Agency: "health-trust", Kind: RequestReport, DueDate: mustDate("2022-10-28")}},
		{"ask-extension", "2022-10-10", RequestExtension{By: By{agHealth}, RequestID: "r2", NewDue: mustDate("2022-11-04"), Reason: "staff absence"}},
		{"grant-extension", "2022-10-10", DecideExtension{By: By{bu}, RequestID: "r2", Grant: true}},
		{"submit-r1", "2022-10-12", SubmitToRequest{By: By{agPolice}, RequestID: "r1", Summary: "chronology"}},
		{"return-r1", "2022-10-12", ReturnSubmission{By: By{rev}, RequestID: "r1", Reason: "missing 2021"}},
		{"resubmit-r1", "2022-10-12", SubmitToRequest{By: By{agPolice}, RequestID: "r1", Summary: "chronology with 2021"}},
		{"accept-r1", "2022-10-12", AcceptSubmission{By: By{rev}, RequestID: "r1"}},
		{"remind-r2", "2022-10-13", RecordReminder{By: By{system}, Clock: "agency-request", Key: "r2"}},
		{"submit-r2", "2022-10-14", SubmitToRequest{By: By{agHealth}, RequestID: "r2", Summary: "report"}},
		{"accept-r2", "2022-10-14", AcceptSubmission{By: By{bu}, RequestID: "r2"}},
		{"entry-1", "2022-10-14", RecordChronologyEntry{By: By{agPolice}, Entry: ChronologyEntry{EntryID: "e1", Agency: "police-force", SourceRef: "POL-1",
			Date: OnDay(mustDate("2021-05-14")), Description: "call-out to the home", ChildSeen: true, Significance: SignificanceKey}}},
		{"entry-2", "2022-10-14", RecordChronologyEntry{By: By{agHealth}, Entry: ChronologyEntry{EntryID: "e2", Agency: "health-trust",
			Date: InMonth(2021, time.May), Description: "missed health visit", Significance: SignificanceBackground}}},
		{"entry-3", "2022-10-14", RecordChronologyEntry{By: By{agHealth}, Entry: ChronologyEntry{EntryID: "e3", Agency: "health-trust", SourceRef: "POL-1",
			Date: InMonth(2021, time.May), Description: "told of police call-out", Significance: SignificanceKey}}},
		{"episode", "2022-10-17", RecordKeyPracticeEpisode{By: By{rev}, Episode: KeyPracticeEpisodeRecorded{EpisodeID: "kpe1", Title: "May 2021",
			Description: "response to the call-out", Appraisal: AppraisalProblematic}}},
		{"entry-4", "2022-10-17", RecordChronologyEntry{By: By{rev}, Entry: ChronologyEntry{EntryID: "e4", Agency: "police-force", SourceRef: "POL-2",
			Date: Around(2020, 0), Description: "neighbour concern", Significance: SignificanceKey, EpisodeID: "kpe1",
			MissedOpportunity: true, Rationale: "no referral made"}}},
		{"close-evidence", "2022-10-17", CompleteStage{By{bu}}},
		{"flag", "2022-10-18", FlagMissedOpportunity{By: By{rev}, EntryID: "e2", Rationale: "no follow-up of a missed visit"}},
		{"factor", "2022-10-18", RecordContributoryFactor{By: By{rev}, Factor: ContributoryFactorRecorded{FactorID: "f1", Category: FactorInterAgencyTeam, Text: "no shared picture"}}},
		{"finding", "2022-10-18", RecordFinding{By: By{rev}, Finding: FindingRecorded{FindingID: "fd1", Statement: "statement", InThisCase: "how", FactorIDs: []string{"f1"}}}},
		{"appraisal", "2022-10-18", RecordAppraisal{By: By{rev}, Appraisal: AppraisalRecorded{AppraisalID: "ap1", Text: "a strategy discussion should have been held"}}},
		{"close-learning", "2022-10-19", CompleteStage{By{bu}}},
		{"family", "2022-10-20", RecordFamilyInvolvement{By: By{rev}, Invited: true, Accepted: true, HowRecorded: "meeting notes"}},
		{"close-family", "2022-10-20", CompleteStage{By{bu}}},
		{"recommend", "2022-10-21", MakeRecommendation{By: By{rev}, RecommendationID: "rec1", Text: "share call-outs", FindingIDs: []string{"fd1"}}},
		{"action-1", "2022-10-21", CreateAction{By: By{bu}, Action: ActionCreated{ActionID: "a1", RecommendationID: "rec1", Text: "notify health of call-outs",
			OwnerAgency: "health-trust", OwnerPerson: "named nurse lead", DueDate: mustDate("2023-06-30"), MeasureOfSuccess: "audit shows 90% shared"}}},
		{"action-2", "2022-10-21", CreateAction{By: By{bu}, Action: ActionCreated{ActionID: "a2", RecommendationID: "rec1", Text: "training",
			OwnerAgency: "police-force", OwnerPerson: "training lead", DueDate: mustDate("2023-03-31"), MeasureOfSuccess: "attendance"}}},
		{"draft", "2022-10-24", SubmitDraft{By: By{rev}, DraftVersion: "v1"}},
		{"approve-la", "2022-10-25", ApproveReport{By{la}}},
		{"approve-icb", "2022-10-25", ApproveReport{By{icb}}},
		{"approve-police", "2022-10-25", ApproveReport{By{police}}},
		{"notice", "2022-10-26", SendPrePublicationNotice{By: By{bu}, Recipients: []string{"Panel", "Secretary of State", "Ofsted"}}},
		{"publish", "2022-11-04", PublishReport{By: By{bu}, Location: "https://example.org/report", PublicText: "The redacted report."}},
		{"progress-a1", "2022-11-07", UpdateActionProgress{By: By{agHealth}, ActionID: "a1", Status: ActionAwaitingEvidence, Note: "done"}},
		{"evidence-a1", "2022-11-07", RecordImpactEvidence{By: By{agHealth}, ActionID: "a1", Evidence: "audit: 94% shared"}},
		{"verify-a1", "2022-11-07", VerifyAction{By{la}, "a1"}},
		{"not-implemented-a2", "2022-11-07", MarkActionNotImplemented{By: By{la}, ActionID: "a2", Reason: "superseded by national training"}},
		{"close", "2022-11-08", CloseCase{By: By{bu}, Reason: "all actions resolved"}},
		{"audit-read", "2022-11-09", RecordAccess{By: By{auditor}, Reader: auditor, What: "whole case", Purpose: "annual audit"}},
	}
}

func mustDate(s string) calendar.Date {
	d, err := calendar.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// run decides and applies steps in order until the step named stop (exclusive; "" runs all),
// returning the case and every event recorded.
func run(t testing.TB, rules *RuleSet, cal Calendar, steps []step, stop string) (*Case, []Event) {
	t.Helper()
	c := NewCase(rules)
	var all []Event
	for _, s := range steps {
		if s.name == stop {
			return c, all
		}
		events, err := c.Decide(s.cmd, noon(t, s.on), rules, cal)
		if err != nil {
			t.Fatalf("step %s: %v", s.name, err)
		}
		if err := c.Apply(events...); err != nil {
			t.Fatalf("step %s: apply: %v", s.name, err)
		}
		all = append(all, events...)
	}
	if stop != "" {
		t.Fatalf("no step %q", stop)
	}
	return c, all
}

func stepNamed(t testing.TB, steps []step, name string) step {
	t.Helper()
	for _, s := range steps {
		if s.name == name {
			return s
		}
	}
	t.Fatalf("no step %q", name)
	return step{}
}

func TestWholeLCSPR(t *testing.T) {
	rules := mustRules(t, "lcspr/wt2023")
	c, events := run(t, rules, weekdayCalendar{}, lcsprSteps(), "")
	if c.Stage != "closed" || c.Closed == nil {
		t.Fatalf("stage %s, closed %v", c.Stage, c.Closed)
	}
	var stages []string
	for _, v := range c.History {
		stages = append(stages, v.Stage)
	}
	want := []string{"notification", "rapid-review", "panel-response", "decision", "appointment", "terms-of-reference", "evidence",
		"practitioner-learning", "family-involvement", "report", "sign-off", "pre-publication", "action-plan", "closed"}
	if !slices.Equal(stages, want) {
		t.Fatalf("stages %v\nwant %v", stages, want)
	}
	clocks := map[string]string{}
	for _, k := range c.Clocks {
		clocks[k.Clock+"/"+k.Key] = k.Due.String()
		if !k.Stopped && k.Clock != "panel-response" {
			t.Errorf("clock %s/%s still running", k.Clock, k.Key)
		}
		if k.RulesVersion != "2024.1" || k.CalendarVersion != "weekdays-only/test" {
			t.Errorf("clock %s versions %s/%s", k.Clock, k.RulesVersion, k.CalendarVersion)
		}
	}
	wantClocks := map[string]string{
		"notification/":     "2022-09-23",
		"rapid-review/":     "2022-10-11",
		"panel-response/":   "2022-10-03",
		"publication/":      "2023-04-03",
		"agency-request/r1": "2022-10-20",
		"agency-request/r2": "2022-11-04", // extended from 2022-10-28
		"action/a1":         "2023-06-30",
		"action/a2":         "2023-03-31",
	}
	if asJSON(t, clocks) != asJSON(t, wantClocks) {
		t.Errorf("clocks %v\nwant %v", clocks, wantClocks)
	}
	if r := c.request("r1"); r.Due.String() != "2022-10-20" || r.Status != RequestAccepted || r.Submissions != 2 {
		t.Errorf("request r1 %+v", r)
	}
	if k := c.Clocks[slices.IndexFunc(c.Clocks, func(k ClockState) bool { return k.Key == "r2" })]; len(k.RemindedOn) != 1 {
		t.Errorf("r2 reminders %v", k.RemindedOn)
	}
	if c.Publication.KeepPublicUntil.String() != "2023-11-04" {
		t.Errorf("keep public until %s", c.Publication.KeepPublicUntil)
	}
	if len(c.Accesses) != 1 {
		t.Errorf("accesses %d", len(c.Accesses))
	}
	// Replaying the recorded events gives the same case as applying each command's events in turn.
	replayed, err := Replay(events)
	if err != nil {
		t.Fatal(err)
	}
	if asJSON(t, replayed) != asJSON(t, c) {
		t.Fatal("replay differs from the case built command by command")
	}
}

func TestReplayIsDeterministic(t *testing.T) {
	_, events := run(t, mustRules(t, "lcspr/wt2023"), weekdayCalendar{}, lcsprSteps(), "")
	first, err := Replay(events)
	if err != nil {
		t.Fatal(err)
	}
	want := asJSON(t, first) + asJSON(t, first.Chronology()) + asJSON(t, first.MissedOpportunities()) + asJSON(t, first.FourQuestions())
	for i := range 20 {
		// Decode from the log form each time, as a projection would.
		var decoded []Event
		for _, e := range events {
			typ, data, err := EncodeEvent(e)
			if err != nil {
				t.Fatal(err)
			}
			d, err := DecodeEvent(typ, data)
			if err != nil {
				t.Fatal(err)
			}
			decoded = append(decoded, d)
		}
		c, err := Replay(decoded)
		if err != nil {
			t.Fatal(err)
		}
		if got := asJSON(t, c) + asJSON(t, c.Chronology()) + asJSON(t, c.MissedOpportunities()) + asJSON(t, c.FourQuestions()); got != want {
			t.Fatalf("replay %d differs", i)
		}
	}
}

func TestReplayRejectsBadHistory(t *testing.T) {
	if _, err := Replay([]Event{CaseClosed{Reason: "x"}}); !errors.Is(err, ErrHistory) {
		t.Errorf("history without CaseNotified: %v", err)
	}
	_, events := run(t, mustRules(t, "lcspr/wt2023"), weekdayCalendar{}, lcsprSteps(), "send-sin")
	if _, err := Replay(append(events, events[0])); !errors.Is(err, ErrHistory) {
		t.Errorf("second CaseNotified: %v", err)
	}
	if _, err := Replay(append(events, AgencySubmissionAccepted{RequestID: "nope"})); !errors.Is(err, ErrHistory) {
		t.Errorf("unknown request: %v", err)
	}
	bad := events[0].(CaseNotified)
	bad.Framework = "nowhere/1"
	if _, err := Replay([]Event{bad}); !errors.Is(err, ErrHistory) || !errors.Is(err, ErrUnknownRules) {
		t.Errorf("unknown framework: %v", err)
	}
}
