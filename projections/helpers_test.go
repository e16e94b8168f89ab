package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"casereview/calendar"
	"casereview/eventstore"
	"casereview/eventstore/embedded"
	"casereview/eventstore/storetest"
	"casereview/review"
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
	system   = review.Actor{UserID: "casereview", Role: review.RoleSystem}
	auditor  = review.Actor{UserID: "u-aud", Role: review.RoleAuditor}
)

type step struct {
	name string // unique label, so a test can stop just before a step
	on   string // the day the command is made
	cmd  review.Command
}

func day(s string) calendar.Date {
	d, err := calendar.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// lcsprSteps is a whole England LCSPR, from notification to closure (review/case_test.go's script).
func lcsprSteps(caseID string) []step {
	by := func(a review.Actor) review.By { return review.By{Actor: a} }
	return []step{
		{"notify", "2022-09-16", review.NotifyIncident{By: by(bu), CaseID: caseID, Notification: review.Notification{
			Framework: "lcspr/wt2023", Notifier: "u-bu", NotifierAgency: "local-authority",
			AwarenessDate: day("2022-09-16"), IncidentDate: day("2022-09-15"), IncidentPlace: "home", Nature: review.NatureDeath,
			Children: []review.Child{{Name: "Child A", Sex: "female", LookedAfter: true, KnownToAgencies: true}}, Outline: "outline of the incident"}}},
		{"send-sin", "2022-09-20", review.SendNotification{By: by(bu), Reference: "SIN-1"}},
		{"facts", "2022-09-21", review.RecordRapidReviewFacts{By: by(bu), Facts: "facts", AgenciesInvolved: []string{"police-force", "health-trust"}}},
		{"episodes-summary", "2022-09-21", review.SummariseKeyPracticeEpisodes{By: by(bu), Summary: "summary"}},
		{"immediate", "2022-09-21", review.RecordImmediateActions{By: by(la), Actions: []string{"sibling safety plan"}}},
		{"propose", "2022-09-21", review.ProposeDecision{By: by(bu), Outcome: review.OutcomeLCSPR, Rationale: "reg 11 criteria met"}},
		{"signoff-la", "2022-09-22", review.SignOffRapidReview{By: by(la)}},
		{"signoff-icb", "2022-09-22", review.SignOffRapidReview{By: by(icb)}},
		{"signoff-police", "2022-09-22", review.SignOffRapidReview{By: by(police)}},
		{"submit-rr", "2022-09-23", review.SubmitRapidReview{By: by(bu)}},
		{"panel", "2022-09-30", review.RecordPanelResponse{By: by(panel), Response: review.PanelAgrees}},
		{"decide", "2022-10-03", review.RecordDecision{By: by(la), Outcome: review.OutcomeLCSPR, Rationale: "learning for the partnership"}},
		{"appoint", "2022-10-04", review.AppointReviewer{By: by(bu), ReviewerID: "rev-1", Name: "Reviewer One", Lead: true, Independence: "no prior involvement"}},
		{"terms", "2022-10-05", review.AgreeTermsOfReference{By: by(la), Terms: review.TermsOfReferenceAgreed{Scope: "scope", Agencies: []string{"police-force", "health-trust"},
			KeyLinesOfEnquiry: []string{"information sharing"}, Method: "Learning Together"}}},
		{"request-police", "2022-10-06", review.RequestFromAgency{By: by(bu), RequestID: "r1", Agency: "police-force", Kind: review.RequestChronology}},
		{"request-health", "2022-10-06", review.RequestFromAgency{By: by(bu), RequestID: "r2", Agency: "health-trust", Kind: review.RequestReport, DueDate: day("2022-10-28")}},
		{"ask-extension", "2022-10-10", review.RequestExtension{By: by(agHealth), RequestID: "r2", NewDue: day("2022-11-04"), Reason: "staff absence"}},
		{"grant-extension", "2022-10-10", review.DecideExtension{By: by(bu), RequestID: "r2", Grant: true}},
		{"submit-r1", "2022-10-12", review.SubmitToRequest{By: by(agPolice), RequestID: "r1", Summary: "chronology"}},
		{"return-r1", "2022-10-12", review.ReturnSubmission{By: by(rev), RequestID: "r1", Reason: "missing 2021"}},
		{"resubmit-r1", "2022-10-12", review.SubmitToRequest{By: by(agPolice), RequestID: "r1", Summary: "chronology with 2021"}},
		{"accept-r1", "2022-10-12", review.AcceptSubmission{By: by(rev), RequestID: "r1"}},
		{"remind-r2", "2022-10-13", review.RecordReminder{By: by(system), Clock: "agency-request", Key: "r2"}},
		{"submit-r2", "2022-10-14", review.SubmitToRequest{By: by(agHealth), RequestID: "r2", Summary: "report"}},
		{"accept-r2", "2022-10-14", review.AcceptSubmission{By: by(bu), RequestID: "r2"}},
		{"entry-1", "2022-10-14", review.RecordChronologyEntry{By: by(agPolice), Entry: review.ChronologyEntry{EntryID: "e1", Agency: "police-force", SourceRef: "POL-1",
			Date: review.OnDay(day("2021-05-14")), Description: "call-out to the home", ChildSeen: true, Significance: review.SignificanceKey}}},
		{"entry-2", "2022-10-14", review.RecordChronologyEntry{By: by(agHealth), Entry: review.ChronologyEntry{EntryID: "e2", Agency: "health-trust",
			Date: review.InMonth(2021, time.May), Description: "missed health visit", Significance: review.SignificanceBackground}}},
		{"entry-3", "2022-10-14", review.RecordChronologyEntry{By: by(agHealth), Entry: review.ChronologyEntry{EntryID: "e3", Agency: "health-trust", SourceRef: "POL-1",
			Date: review.InMonth(2021, time.May), Description: "told of police call-out", Significance: review.SignificanceKey}}},
		{"episode", "2022-10-17", review.RecordKeyPracticeEpisode{By: by(rev), Episode: review.KeyPracticeEpisodeRecorded{EpisodeID: "kpe1", Title: "May 2021",
			Description: "response to the call-out", Appraisal: review.AppraisalProblematic}}},
		{"entry-4", "2022-10-17", review.RecordChronologyEntry{By: by(rev), Entry: review.ChronologyEntry{EntryID: "e4", Agency: "police-force", SourceRef: "POL-2",
			Date: review.Around(2020, 0), Description: "neighbour concern", Significance: review.SignificanceKey, EpisodeID: "kpe1",
			MissedOpportunity: true, Rationale: "no referral made"}}},
		{"close-evidence", "2022-10-17", review.CompleteStage{By: by(bu)}},
		{"flag", "2022-10-18", review.FlagMissedOpportunity{By: by(rev), EntryID: "e2", Rationale: "no follow-up of a missed visit"}},
		{"factor", "2022-10-18", review.RecordContributoryFactor{By: by(rev), Factor: review.ContributoryFactorRecorded{FactorID: "f1", Category: review.FactorInterAgencyTeam, Text: "no shared picture"}}},
		{"finding", "2022-10-18", review.RecordFinding{By: by(rev), Finding: review.FindingRecorded{FindingID: "fd1", Statement: "statement", InThisCase: "how", FactorIDs: []string{"f1"}}}},
		{"appraisal", "2022-10-18", review.RecordAppraisal{By: by(rev), Appraisal: review.AppraisalRecorded{AppraisalID: "ap1", Text: "a strategy discussion should have been held"}}},
		{"close-learning", "2022-10-19", review.CompleteStage{By: by(bu)}},
		{"family", "2022-10-20", review.RecordFamilyInvolvement{By: by(rev), Invited: true, Accepted: true, HowRecorded: "meeting notes"}},
		{"close-family", "2022-10-20", review.CompleteStage{By: by(bu)}},
		{"recommend", "2022-10-21", review.MakeRecommendation{By: by(rev), RecommendationID: "rec1", Text: "share call-outs", FindingIDs: []string{"fd1"}}},
		{"action-1", "2022-10-21", review.CreateAction{By: by(bu), Action: review.ActionCreated{ActionID: "a1", RecommendationID: "rec1", Text: "notify health of call-outs",
			OwnerAgency: "health-trust", OwnerPerson: "named nurse lead", DueDate: day("2023-06-30"), MeasureOfSuccess: "audit shows 90% shared",
			PublicSummary: "health visitors are told of police call-outs"}}},
		{"action-2", "2022-10-21", review.CreateAction{By: by(bu), Action: review.ActionCreated{ActionID: "a2", RecommendationID: "rec1", Text: "training",
			OwnerAgency: "police-force", OwnerPerson: "training lead", DueDate: day("2023-03-31"), MeasureOfSuccess: "attendance"}}},
		{"draft", "2022-10-24", review.SubmitDraft{By: by(rev), DraftVersion: "v1"}},
		{"approve-la", "2022-10-25", review.ApproveReport{By: by(la)}},
		{"approve-icb", "2022-10-25", review.ApproveReport{By: by(icb)}},
		{"approve-police", "2022-10-25", review.ApproveReport{By: by(police)}},
		{"notice", "2022-10-26", review.SendPrePublicationNotice{By: by(bu), Recipients: []string{"Panel", "Secretary of State", "Ofsted"}}},
		{"publish", "2022-11-04", review.PublishReport{By: by(bu), Location: "https://example.org/report", PublicText: "The redacted report."}},
		{"progress-a1", "2022-11-07", review.UpdateActionProgress{By: by(agHealth), ActionID: "a1", Status: review.ActionAwaitingEvidence, Note: "done"}},
		{"evidence-a1", "2022-11-07", review.RecordImpactEvidence{By: by(agHealth), ActionID: "a1", Evidence: "audit: 94% shared"}},
		{"verify-a1", "2022-11-07", review.VerifyAction{By: by(la), ActionID: "a1"}},
		{"not-implemented-a2", "2022-11-07", review.MarkActionNotImplemented{By: by(la), ActionID: "a2", Reason: "superseded by national training"}},
		{"close", "2022-11-08", review.CloseCase{By: by(bu), Reason: "all actions resolved"}},
		{"audit-read", "2022-11-09", review.RecordAccess{By: by(auditor), Reader: auditor, What: "whole case", Purpose: "annual audit"}},
	}
}

// scriptedCase decides a case's commands one by one, as the workflow would, and appends each
// command's events to the case's stream.
type scriptedCase struct {
	id    string
	steps []step
	next  int
	c     *review.Case
	rules *review.RuleSet
	cal   *calendar.Calendar
}

func newScriptedCase(t testing.TB, id string) *scriptedCase {
	t.Helper()
	rules, err := review.Rules("lcspr/wt2023")
	if err != nil {
		t.Fatal(err)
	}
	cal, err := calendar.ForRegion(rules.CalendarRegion)
	if err != nil {
		t.Fatal(err)
	}
	return &scriptedCase{id: id, steps: lcsprSteps(id), c: review.NewCase(rules), rules: rules, cal: cal}
}

// until appends the steps before the one named stop ("" runs them all) and returns the position
// of the last event appended.
func (s *scriptedCase) until(t testing.TB, store eventstore.Store, stop string) uint64 {
	t.Helper()
	var last uint64
	for s.next < len(s.steps) {
		st := s.steps[s.next]
		if st.name == stop {
			return last
		}
		s.next++
		now := day(st.on).Time().Add(12 * time.Hour)
		events, err := s.c.Decide(st.cmd, now, s.rules, s.cal)
		if err != nil {
			t.Fatalf("case %s step %s: %v", s.id, st.name, err)
		}
		if err := s.c.Apply(events...); err != nil {
			t.Fatalf("case %s step %s: apply: %v", s.id, st.name, err)
		}
		data := make([]eventstore.EventData, len(events))
		for i, e := range events {
			typ, body, err := review.EncodeEvent(e)
			if err != nil {
				t.Fatal(err)
			}
			data[i] = eventstore.EventData{ID: storetest.NewID(), Type: typ, Data: body,
				Metadata: json.RawMessage(`{"actor":"workflow","role":"system","schemaVersion":1}`)}
		}
		res, err := store.Append(context.Background(), "case-"+s.id, eventstore.Any(), data...)
		if err != nil {
			t.Fatalf("case %s step %s: append: %v", s.id, st.name, err)
		}
		last = res.Position
	}
	if stop != "" {
		t.Fatalf("no step %q", stop)
	}
	return last
}

func openStore(t testing.TB, dir string) *embedded.Store {
	t.Helper()
	s, err := embedded.Open(filepath.Join(dir, "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openDB(t testing.TB, path string) *DB {
	t.Helper()
	d, err := OpenWith(path, Options{ContiguousPositions: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// follow runs the projections in the background until the test ends.
func follow(t testing.TB, d *DB, store eventstore.Store) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, store, zerolog.Nop()) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// caughtUp waits until the read models have applied position.
func caughtUp(t testing.TB, d *DB, position uint64) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		wake, head := d.Wait(position)
		if head >= position {
			return
		}
		select {
		case <-wake:
		case <-deadline:
			t.Fatalf("read models at %d, want %d", head, position)
		}
	}
}

// dump returns every row of every model table and the checkpoints, as text, table by table.
func dump(t testing.TB, d *DB) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	tables := []string{"checkpoints"}
	for _, m := range models {
		tables = append(tables, m.table)
	}
	for _, table := range tables {
		rows, err := d.db.Query(`SELECT * FROM ` + table + ` ORDER BY 1, 2`)
		if err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for i, v := range vals {
				fmt.Fprintf(&b, "%s=%v|", cols[i], v)
			}
			out[table] = append(out[table], b.String())
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func sameDump(t testing.TB, got, want map[string][]string) {
	t.Helper()
	for table, rows := range want {
		if len(rows) == 0 && table != "checkpoints" {
			t.Errorf("table %s is empty: the comparison would prove nothing", table)
		}
		g := got[table]
		if len(g) != len(rows) {
			t.Errorf("table %s: %d rows, want %d", table, len(g), len(rows))
			continue
		}
		for i := range rows {
			if g[i] != rows[i] {
				t.Errorf("table %s row %d:\n got %s\nwant %s", table, i, g[i], rows[i])
			}
		}
	}
}

func countChanges(t testing.TB, d *DB) int {
	t.Helper()
	var n int
	if err := d.db.QueryRow(`SELECT count(*) FROM changes`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func readAll(t testing.TB, store eventstore.Store) []eventstore.RecordedEvent {
	t.Helper()
	var all []eventstore.RecordedEvent
	if err := store.ReadAll(context.Background(), 0, func(e eventstore.RecordedEvent) error {
		all = append(all, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return all
}

func wantNotFound(t testing.TB, what string, err error) {
	t.Helper()
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("%s: got %v, want ErrNotFound", what, err)
	}
}

func changesOf(t testing.TB, d *DB) []Change {
	t.Helper()
	var out []Change
	if _, err := d.ChangesSince(context.Background(), 0, func(c Change) error {
		out = append(out, c)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}
