package review

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func without(steps []step, names ...string) []step {
	return slices.DeleteFunc(slices.Clone(steps), func(s step) bool { return slices.Contains(names, s.name) })
}

func replaced(steps []step, name string, with step) []step {
	out := slices.Clone(steps)
	out[slices.IndexFunc(out, func(s step) bool { return s.name == name })] = with
	return out
}

// TestInvariants shows each rule refusing a command and, once the case is put right, accepting it.
func TestInvariants(t *testing.T) {
	all := lcsprSteps()
	tests := []struct {
		name   string
		steps  []step
		before string
		fail   step
		rule   string
		kind   error
		fix    []string // names of steps (from steps) run after the failure
		extra  []step   // further steps run after the fixes
		pass   step
	}{
		{name: "rapid review closes only with every partner's sign-off", steps: all, before: "signoff-police",
			fail: step{"", "2022-09-23", SubmitRapidReview{By{bu}}}, rule: "rapid-review.signoffs-incomplete", kind: ErrRuleBroken,
			fix: []string{"signoff-police"}, pass: step{"", "2022-09-23", SubmitRapidReview{By{bu}}}},
		{name: "only a required partner signs off", steps: all, before: "signoff-la",
			fail: step{"", "2022-09-22", SignOffRapidReview{By{rev}}}, rule: "permission.role", kind: ErrForbidden,
			pass: step{"", "2022-09-22", SignOffRapidReview{By{la}}}},
		{name: "a partner signs once", steps: all, before: "signoff-icb",
			fail: step{"", "2022-09-22", SignOffRapidReview{By{la}}}, rule: "rapid-review.already-signed-off", kind: ErrRuleBroken,
			pass: step{"", "2022-09-22", SignOffRapidReview{By{icb}}}},
		{name: "a decision needs a rationale", steps: all, before: "decide",
			fail: step{"", "2022-10-03", RecordDecision{By: By{la}, Outcome: OutcomeLCSPR}}, rule: "decision.rationale", kind: ErrInvalidCommand,
			pass: stepNamed(t, all, "decide")},
		{name: "a stage closes only with its artefacts", steps: all, before: "entry-1",
			fail: step{"", "2022-10-14", CompleteStage{By{bu}}}, rule: "evidence.chronology-empty", kind: ErrRuleBroken,
			fix: []string{"entry-1"}, pass: step{"", "2022-10-14", CompleteStage{By{bu}}}},
		{name: "an agency lead answers only their own agency's requests", steps: all, before: "submit-r1",
			fail: step{"", "2022-10-12", SubmitToRequest{By: By{agHealth}, RequestID: "r1", Summary: "x"}}, rule: "request.other-agency", kind: ErrForbidden,
			pass: stepNamed(t, all, "submit-r1")},
		{name: "only a reviewer flags a missed opportunity", steps: all, before: "entry-1",
			fail: step{"", "2022-10-14", RecordChronologyEntry{By: By{agPolice}, Entry: ChronologyEntry{EntryID: "e9", Agency: "police-force",
				Date: InMonth(2021, time.June), Description: "d", Significance: SignificanceKey, MissedOpportunity: true, Rationale: "r"}}},
			rule: "chronology.missed-opportunity-reviewer-only", kind: ErrForbidden, pass: stepNamed(t, all, "entry-1")},
		{name: "a month-precision entry has no day", steps: all, before: "entry-1",
			fail: step{"", "2022-10-14", RecordChronologyEntry{By: By{agPolice}, Entry: ChronologyEntry{EntryID: "e9", Agency: "police-force",
				Date: EventDate{Year: 2021, Month: time.June, Day: 3, Precision: PrecisionMonth}, Description: "d", Significance: SignificanceKey}}},
			rule: "chronology.date", kind: ErrInvalidCommand, pass: stepNamed(t, all, "entry-1")},
		{name: "four questions: why needs a finding citing a factor", before: "draft",
			steps: replaced(all, "finding", step{"finding", "2022-10-18", RecordFinding{By: By{rev}, Finding: FindingRecorded{FindingID: "fd1", Statement: "s", InThisCase: "i"}}}),
			fail:  stepNamed(t, all, "draft"), rule: "report.four-questions-incomplete", kind: ErrRuleBroken,
			extra: []step{{"", "2022-10-21", RecordFinding{By: By{rev}, Finding: FindingRecorded{FindingID: "fd2", Statement: "s", InThisCase: "i", FactorIDs: []string{"f1"}}}}},
			pass:  stepNamed(t, all, "draft")},
		{name: "four questions: what should have happened needs an appraisal", steps: without(all, "appraisal"), before: "draft",
			fail: stepNamed(t, all, "draft"), rule: "report.four-questions-incomplete", kind: ErrRuleBroken,
			extra: []step{{"", "2022-10-21", RecordAppraisal{By: By{rev}, Appraisal: AppraisalRecorded{AppraisalID: "ap1", Text: "t"}}}},
			pass:  stepNamed(t, all, "draft")},
		{name: "four questions: prevention needs recommendations with owned actions", steps: without(all, "action-1", "action-2"), before: "draft",
			fail: stepNamed(t, all, "draft"), rule: "report.four-questions-incomplete", kind: ErrRuleBroken,
			extra: []step{stepNamed(t, all, "action-1")}, pass: stepNamed(t, all, "draft")},
		{name: "only a partner approves the report", steps: all, before: "approve-police",
			fail: step{"", "2022-10-25", ApproveReport{By{rev}}}, rule: "permission.role", kind: ErrForbidden,
			pass: stepNamed(t, all, "approve-police")},
		{name: "a partner approves as their own agency", steps: all, before: "approve-police",
			fail: step{"", "2022-10-25", ApproveReport{By{Actor{UserID: "u-x", Role: RolePartner, Agency: "fire-service"}}}}, rule: "report.approval-not-partner", kind: ErrForbidden,
			pass: stepNamed(t, all, "approve-police")},
		{name: "publication needs every partner's approval", steps: all, before: "approve-police",
			fail: step{"", "2022-10-26", SendPrePublicationNotice{By: By{bu}, Recipients: []string{"Panel"}}}, rule: "publication.approvals-incomplete", kind: ErrRuleBroken,
			fix: []string{"approve-police"}, pass: stepNamed(t, all, "notice")},
		{name: "publication waits the notice period in working days", steps: all, before: "publish",
			fail: step{"", "2022-11-03", PublishReport{By: By{bu}, Location: "l", PublicText: "t"}}, rule: "publication.notice-too-late", kind: ErrRuleBroken,
			pass: stepNamed(t, all, "publish")},
		{name: "publishing improvements only needs a justification", steps: all, before: "publish",
			fail: step{"", "2022-11-04", PublishReport{By: By{bu}, Location: "l", ImprovementsOnly: true, PublicText: "t"}}, rule: "publication.justification", kind: ErrInvalidCommand,
			pass: step{"", "2022-11-04", PublishReport{By: By{bu}, Location: "l", ImprovementsOnly: true, Justification: "j", PublicText: "t"}}},
		{name: "an action is verified only with evidence of impact", steps: all, before: "evidence-a1",
			fail: stepNamed(t, all, "verify-a1"), rule: "action.evidence-missing", kind: ErrRuleBroken,
			fix: []string{"evidence-a1"}, pass: stepNamed(t, all, "verify-a1")},
		{name: "an agency lead updates only their own agency's actions", steps: all, before: "progress-a1",
			fail: step{"", "2022-11-07", UpdateActionProgress{By: By{agPolice}, ActionID: "a1", Status: ActionInProgress}}, rule: "action.other-agency", kind: ErrForbidden,
			pass: stepNamed(t, all, "progress-a1")},
		{name: "a case closes only when every action is resolved", steps: all, before: "verify-a1",
			fail: stepNamed(t, all, "close"), rule: "case.actions-open", kind: ErrRuleBroken,
			fix: []string{"verify-a1", "not-implemented-a2"}, pass: stepNamed(t, all, "close")},
		{name: "a closed case only records access", steps: all, before: "audit-read",
			fail: step{"", "2022-11-09", DeferPublication{By: By{bu}, Reason: DeferInquest, ReviewDate: mustDate("2023-01-01")}}, rule: "case.closed", kind: ErrRuleBroken,
			pass: stepNamed(t, all, "audit-read")},
		{name: "an auditor changes nothing", steps: all, before: "close",
			fail: step{"", "2022-11-08", CloseCase{By: By{auditor}, Reason: "r"}}, rule: "permission.role", kind: ErrForbidden,
			pass: stepNamed(t, all, "close")},
		{name: "escalations go only to the clock's escalation roles", steps: all, before: "submit-r2",
			fail: step{"", "2022-10-13", RecordEscalation{By: By{system}, Clock: "agency-request", Key: "r2", To: RolePanel}}, rule: "clock.escalation-role", kind: ErrInvalidCommand,
			pass: step{"", "2022-10-13", RecordEscalation{By: By{system}, Clock: "agency-request", Key: "r2", To: RoleBusinessUnit}}},
		{name: "only the system records reminders", steps: all, before: "remind-r2",
			fail: step{"", "2022-10-13", RecordReminder{By: By{bu}, Clock: "agency-request", Key: "r2"}}, rule: "permission.role", kind: ErrForbidden,
			pass: stepNamed(t, all, "remind-r2")},
		{name: "a refused extension needs a reason", steps: all, before: "grant-extension",
			fail: step{"", "2022-10-10", DecideExtension{By: By{bu}, RequestID: "r2"}}, rule: "request.refusal-reason", kind: ErrInvalidCommand,
			pass: step{"", "2022-10-10", DecideExtension{By: By{bu}, RequestID: "r2", Reason: "the review timetable cannot move"}}},
		{name: "a deferral has a structured reason", steps: all, before: "publish",
			fail: step{"", "2022-11-04", DeferPublication{By: By{la}, Reason: DeferOther, ReviewDate: mustDate("2023-01-09")}}, rule: "publication.deferral-detail", kind: ErrInvalidCommand,
			pass: step{"", "2022-11-04", DeferPublication{By: By{la}, Reason: DeferCriminalProceedings, ReviewDate: mustDate("2023-01-09")}}},
		{name: "commands run only in their stages", steps: all, before: "send-sin",
			fail: stepNamed(t, all, "facts"), rule: "stage.command-not-allowed", kind: ErrRuleBroken,
			pass: stepNamed(t, all, "send-sin")},
	}
	rules := mustRules(t, "lcspr/wt2023")
	cal := weekdayCalendar{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := run(t, rules, cal, tt.steps, tt.before)
			rev := c.Revision
			_, err := c.Decide(tt.fail.cmd, noon(t, tt.fail.on), rules, cal)
			wantRule(t, err, tt.rule, tt.kind)
			if c.Revision != rev {
				t.Fatal("a refused command changed the case")
			}
			var more []step
			for _, name := range tt.fix {
				more = append(more, stepNamed(t, tt.steps, name))
			}
			more = append(more, tt.extra...)
			more = append(more, tt.pass)
			for _, s := range more {
				events, err := c.Decide(s.cmd, noon(t, s.on), rules, cal)
				if err != nil {
					t.Fatalf("%s: %v", s.cmd.CommandName(), err)
				}
				if err := c.Apply(events...); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestFourQuestionsOfAnEmptyCase(t *testing.T) {
	fq := (&Case{}).FourQuestions()
	if fq.Complete() {
		t.Fatal("an empty case answers the four questions")
	}
	for _, q := range fq.Questions() {
		if q.Complete || q.Missing == "" {
			t.Errorf("%s: %+v", q.Question, q)
		}
	}
	c, _ := run(t, mustRules(t, "lcspr/wt2023"), weekdayCalendar{}, lcsprSteps(), "draft")
	if fq := c.FourQuestions(); !fq.Complete() || fq.WhatHappened.Items != 4 {
		t.Errorf("four questions %+v", fq)
	}
}

func TestCareLeaverNeedsNoRapidReview(t *testing.T) {
	rules := mustRules(t, "lcspr/wt2023")
	cal := weekdayCalendar{}
	careLeaver := []step{
		{"notify", "2022-09-16", notify("lcspr/wt2023", NatureDeath, Child{Name: "Young person B", CareLeaver: true})},
		{"send-sin", "2022-09-20", SendNotification{By: By{bu}}},
	}
	c, _ := run(t, rules, cal, careLeaver, "")
	if c.Stage != "decision" {
		t.Fatalf("stage %s, want decision", c.Stage)
	}
	if slices.ContainsFunc(c.Clocks, func(k ClockState) bool { return k.Clock == "rapid-review" }) {
		t.Fatal("a rapid-review clock started for a care leaver's death")
	}
	_, err := c.Decide(RecordRapidReviewFacts{By: By{bu}, Facts: "f"}, noon(t, "2022-09-21"), rules, cal)
	wantRule(t, err, "rapid-review.not-required", ErrRuleBroken)
	if _, err := c.Decide(RecordDecision{By: By{la}, Outcome: OutcomeNoFurtherReview, Rationale: "r"}, noon(t, "2022-09-21"), rules, cal); err != nil {
		t.Fatal(err)
	}
	// A looked-after child's death goes to rapid review, with its clock.
	c, _ = run(t, rules, cal, lcsprSteps(), "facts")
	if c.Stage != "rapid-review" || !slices.ContainsFunc(c.Clocks, func(k ClockState) bool { return k.Clock == "rapid-review" }) {
		t.Fatalf("stage %s clocks %v", c.Stage, c.Clocks)
	}
}

// scrSteps is a legacy serious case review: no rapid review, the LSCB decides and signs.
func scrSteps() []step {
	lc := lcsprSteps()
	steps := []step{
		{"notify", "2022-09-16", notify("scr/wt2015", NatureSeriousHarm)},
		{"send-sin", "2022-09-20", SendNotification{By: By{bu}}},
		{"decide", "2022-10-03", RecordDecision{By: By{lscb}, Outcome: OutcomeSCR, Rationale: "criteria met"}},
	}
	i := slices.IndexFunc(lc, func(s step) bool { return s.name == "appoint" })
	for _, s := range lc[i:] {
		switch s.name {
		case "approve-icb", "approve-police":
			continue
		case "approve-la":
			s = step{"approve-lscb", s.on, ApproveReport{By{lscb}}}
		case "verify-a1", "not-implemented-a2":
			s.cmd = replaceActor(s.cmd, lscb)
		case "publish":
			s.on = "2022-11-02" // one calendar week after the notice
		}
		steps = append(steps, s)
	}
	return steps
}

func replaceActor(c Command, a Actor) Command {
	switch c := c.(type) {
	case VerifyAction:
		c.Actor = a
		return c
	case MarkActionNotImplemented:
		c.Actor = a
		return c
	}
	panic("replaceActor: unhandled")
}

func TestLegacySCR(t *testing.T) {
	rules := mustRules(t, "scr/wt2015")
	cal := weekdayCalendar{}
	c, events := run(t, rules, cal, scrSteps(), "")
	if c.Stage != "closed" {
		t.Fatalf("stage %s", c.Stage)
	}
	due := map[string]string{}
	for _, k := range c.Clocks {
		due[k.Clock+"/"+k.Key] = k.Due.String()
	}
	for clock, want := range map[string]string{"notification/": "2022-09-23", "decision/": "2022-10-16", "completion/": "2023-04-03"} {
		if due[clock] != want {
			t.Errorf("clock %s due %q, want %s", clock, due[clock], want)
		}
	}
	replayed, err := Replay(events)
	if err != nil {
		t.Fatal(err)
	}
	if asJSON(t, replayed) != asJSON(t, c) {
		t.Fatal("replay differs from the case built command by command")
	}

	// No rapid review under the legacy rules.
	c, _ = run(t, rules, cal, scrSteps(), "decide")
	_, err = c.Decide(RecordRapidReviewFacts{By: By{bu}, Facts: "f"}, noon(t, "2022-09-21"), rules, cal)
	wantRule(t, err, "permission.unknown-command", ErrForbidden)

	// Published one calendar week after the notice, not sooner.
	c, _ = run(t, rules, cal, scrSteps(), "publish")
	_, err = c.Decide(PublishReport{By: By{bu}, Location: "l", PublicText: "t"}, noon(t, "2022-11-01"), rules, cal)
	wantRule(t, err, "publication.notice-too-late", ErrRuleBroken)

	// A decision not to hold an SCR is reported to the national panel within 14 days, then closed.
	c, _ = run(t, rules, cal, scrSteps(), "decide")
	no := []step{
		{"decide-no", "2022-10-03", RecordDecision{By: By{lscb}, Outcome: OutcomeNoFurtherReview, Rationale: "criteria not met"}},
		{"report", "2022-10-10", ReportDecisionToPanel{By{bu}}},
		{"close", "2022-10-11", CloseCase{By: By{bu}, Reason: "no SCR"}},
	}
	for _, s := range no {
		events, err := c.Decide(s.cmd, noon(t, s.on), rules, cal)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if err := c.Apply(events...); err != nil {
			t.Fatal(err)
		}
		if s.name == "decide-no" {
			k := c.RunningClocks()[len(c.RunningClocks())-1]
			if k.Clock != "decision-report" || k.Due.String() != "2022-10-17" {
				t.Errorf("clock %s due %s, want decision-report due 2022-10-17", k.Clock, k.Due)
			}
		}
	}
	if c.Stage != "closed" || len(c.RunningClocks()) != 0 {
		t.Errorf("stage %s, running clocks %v", c.Stage, c.RunningClocks())
	}
}

// TestValuesChangeInRuleDataAlone changes [C] values in the rule data only and sees Decide follow.
func TestValuesChangeInRuleDataAlone(t *testing.T) {
	cal := weekdayCalendar{}
	data := mutated(t, func(m map[string]any) {
		p := m["parameters"].(map[string]any)
		p["prePublicationNotice"] = map[string]any{"n": 3, "unit": "working-days"}
		p["keepPublic"] = map[string]any{"n": 24, "unit": "months"}
		p["requiredPartners"] = []any{"local-authority"}
	})
	changed, err := ParseRuleSet(data)
	if err != nil {
		t.Fatal(err)
	}
	steps := without(lcsprSteps(), "signoff-icb", "signoff-police", "approve-icb", "approve-police")
	c, _ := run(t, changed, cal, steps, "publish")
	// Three working days after Wednesday 26 October is Monday 31 October.
	events, err := c.Decide(PublishReport{By: By{bu}, Location: "l", PublicText: "t"}, noon(t, "2022-10-31"), changed, cal)
	if err != nil {
		t.Fatal(err)
	}
	if got := events[0].(ReportPublished).KeepPublicUntil.String(); got != "2024-10-31" {
		t.Errorf("keep public until %s, want 2024-10-31", got)
	}
	// The embedded rules refuse the same day.
	c, _ = run(t, mustRules(t, "lcspr/wt2023"), cal, lcsprSteps(), "publish")
	_, err = c.Decide(PublishReport{By: By{bu}, Location: "l", PublicText: "t"}, noon(t, "2022-10-31"), mustRules(t, "lcspr/wt2023"), cal)
	wantRule(t, err, "publication.notice-too-late", ErrRuleBroken)
}

func TestAuditorMayOnlyRecordAccess(t *testing.T) {
	for _, f := range Frameworks() {
		for _, p := range mustRules(t, f).Permissions {
			if slices.Contains(p.Roles, RoleAuditor) != (p.Command == "RecordAccess") {
				t.Errorf("%s: auditor permission on %s", f, p.Command)
			}
		}
	}
}

func TestWT2018RunsTheSameProcess(t *testing.T) {
	steps := lcsprSteps()
	n := steps[0].cmd.(NotifyIncident)
	n.Framework = "lcspr/wt2018"
	steps[0].cmd = n
	c, _ := run(t, mustRules(t, "lcspr/wt2018"), weekdayCalendar{}, steps, "")
	if c.Stage != "closed" || c.RulesVersion != "2018.1" {
		t.Fatalf("stage %s version %s", c.Stage, c.RulesVersion)
	}
}

func TestDecideOnNewCase(t *testing.T) {
	rules := mustRules(t, "lcspr/wt2023")
	_, err := (&Case{}).Decide(SendNotification{By: By{bu}}, noon(t, "2022-09-16"), rules, weekdayCalendar{})
	wantRule(t, err, "case.not-notified", ErrRuleBroken)
	n := notify("lcspr/wt2023", NatureDeath, Child{Name: "a"}, Child{Name: "b"}, Child{Name: "c"}, Child{Name: "d"}, Child{Name: "e"})
	_, err = (&Case{}).Decide(n, noon(t, "2022-09-16"), rules, weekdayCalendar{})
	wantRule(t, err, "notification.children", ErrInvalidCommand)
	n = notify("lcspr/wt2023", NatureDeath)
	n.AwarenessDate = mustDate("2022-09-17")
	_, err = (&Case{}).Decide(n, noon(t, "2022-09-16"), rules, weekdayCalendar{})
	wantRule(t, err, "notification.awareness-date", ErrInvalidCommand)
	_, err = (&Case{}).Decide(SendNotification{}, noon(t, "2022-09-16"), rules, weekdayCalendar{})
	if !errors.Is(err, ErrInvalidCommand) {
		t.Errorf("command without actor: %v", err)
	}
}
