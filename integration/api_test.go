package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"casereview/calendar"
	"casereview/eventstore"
	"casereview/projections"
	"casereview/review"
	"casereview/server"
	"casereview/server/apiclient"
	"casereview/workflows"
)

// problemBody is the part of an RFC 9457 problem document the tests look at.
type problemBody struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Rule   string `json:"rule"`
	Errors []struct {
		Field  string `json:"field"`
		Detail string `json:"detail"`
	} `json:"errors"`
}

func (p problemBody) fields() []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

// commandBody is the JSON a client sends for a command: the command's own fields, without the
// actor, which is whoever is signed in.
func commandBody(t *testing.T, cmd review.Command) []byte {
	t.Helper()
	raw, err := json.Marshal(cmd)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "actor")
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// send posts a command as c and returns the status and the raw answer.
func send(t *testing.T, c *apiclient.Client, caseID, name string, body []byte) (int, []byte) {
	t.Helper()
	resp, err := c.Send(context.Background(), http.MethodPost, "/api/v1/cases/"+caseID+"/commands/"+name, body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// do sends cmd as c and fails the test unless the case records it.
func do(t *testing.T, c *apiclient.Client, caseID string, cmd review.Command) workflows.CommandResult {
	t.Helper()
	status, body := send(t, c, caseID, cmd.CommandName(), commandBody(t, cmd))
	if status != http.StatusOK {
		t.Fatalf("%s: status %d: %s", cmd.CommandName(), status, body)
	}
	var res workflows.CommandResult
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatalf("%s: decode result: %v", cmd.CommandName(), err)
	}
	if res.Revision <= 0 || len(res.Events) == 0 {
		t.Fatalf("%s: result %+v records nothing", cmd.CommandName(), res)
	}
	return res
}

// refused sends a command as c and returns the problem it must be answered with.
func refused(t *testing.T, c *apiclient.Client, caseID, name string, body []byte, status int) problemBody {
	t.Helper()
	got, raw := send(t, c, caseID, name, body)
	if got != status {
		t.Fatalf("%s: status %d, want %d: %s", name, got, status, raw)
	}
	var p problemBody
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatalf("%s: the %d answer is not a problem document: %v: %s", name, got, err, raw)
	}
	if p.Status != status || p.Title == "" {
		t.Fatalf("%s: problem %+v", name, p)
	}
	return p
}

// get reads path as c into out and returns the status.
func get(t *testing.T, c *apiclient.Client, path string, out any) int {
	t.Helper()
	status, err := c.Get(context.Background(), path, out)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return status
}

// waitFor polls path as c until check accepts what it reads: the read models follow the log.
func waitFor[T any](t *testing.T, c *apiclient.Client, path string, check func(T) error) T {
	t.Helper()
	var v T
	eventually(t, "GET "+path, func() error {
		var fresh T
		if status := get(t, c, path, &fresh); status != http.StatusOK {
			return fmt.Errorf("status %d", status)
		}
		v = fresh
		return check(v)
	})
	return v
}

func stageIs(stage string) func(projections.CaseDetail) error {
	return func(d projections.CaseDetail) error {
		if d.Stage != stage || d.Summary.Stage != stage {
			return fmt.Errorf("stage %q (board %q), want %q", d.Stage, d.Summary.Stage, stage)
		}
		return nil
	}
}

type boardPage struct {
	Position   uint64                 `json:"position"`
	Cases      []projections.BoardRow `json:"cases"`
	NextCursor string                 `json:"nextCursor"`
}

type inboxPage struct {
	Agency     string                  `json:"agency"`
	Items      []projections.InboxItem `json:"items"`
	NextCursor string                  `json:"nextCursor"`
}

type auditPage struct {
	Entries []projections.AuditEntry `json:"entries"`
	After   string                   `json:"nextAfter"`
}

// notifyCase notifies an invented incident of yesterday as c and returns the case ID.
func notifyCase(t *testing.T, c *apiclient.Client) string {
	t.Helper()
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	var created server.CreatedCase
	status, err := c.Post(context.Background(), "/api/v1/cases", []byte(`{"framework":"lcspr/wt2023","awarenessDate":"`+yesterday+
		`","incidentDate":"`+yesterday+`","nature":"serious-harm","outline":"Invented test case."}`), &created)
	if err != nil || status != http.StatusCreated || created.ID == "" {
		t.Fatalf("notify: status %d, %+v, %v", status, created, err)
	}
	return created.ID
}

func today() calendar.Date { return calendar.DateOf(time.Now().In(mustLondon())) }

func mustLondon() *time.Location {
	l, err := time.LoadLocation("Europe/London")
	if err != nil {
		panic(err)
	}
	return l
}

// TestAPIWholeCase drives an England LCSPR through the HTTP API as the people who do each step,
// from notification to the pre-publication notice, checking the read models, caching, paging,
// problem documents, agency scoping and access records along the way. The real clock runs, so the
// seven working days of notice cannot pass: publication must be refused.
func TestAPIWholeCase(t *testing.T) {
	s := startSystem(t)
	ctx := context.Background()
	coordinator := s.as(t, "dev-coordinator")
	la := s.as(t, "dev-partner-la")
	icb := s.as(t, "dev-partner-icb")
	police := s.as(t, "dev-partner-police")
	reviewer := s.as(t, "dev-reviewer")
	leadPolice := s.as(t, "dev-lead-police-north")
	leadHealth := s.as(t, "dev-lead-health-visiting")
	auditor := s.as(t, "dev-auditor")

	// The public register is empty and open to anyone.
	resp, err := http.Get(s.http.URL + "/api/v1/register")
	if err != nil {
		t.Fatal(err)
	}
	var register struct {
		Reviews []projections.RegisterEntry `json:"reviews"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&register); err != nil || resp.StatusCode != http.StatusOK || len(register.Reviews) != 0 {
		t.Fatalf("anonymous GET /api/v1/register: %d %+v %v", resp.StatusCode, register, err)
	}
	resp.Body.Close()

	id := notifyCase(t, coordinator)
	path := "/api/v1/cases/" + id
	waitFor(t, coordinator, path, stageIs("notification"))

	// Anonymous: 401 with a problem document.
	resp, err = http.Get(s.http.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	var anon problemBody
	json.NewDecoder(resp.Body).Decode(&anon)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || anon.Status != http.StatusUnauthorized || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("anonymous GET case: %d %+v", resp.StatusCode, anon)
	}

	// Problem bodies for bad commands, before anything is recorded.
	p := refused(t, coordinator, id, "SendNotification", []byte(`{"reference":"SIN-1","childName":"x"}`), http.StatusBadRequest)
	if !slices.Contains(p.fields(), "childName") || !strings.Contains(p.Detail, "childName") {
		t.Errorf("unknown field: problem %+v does not name childName", p)
	}
	p = refused(t, coordinator, id, "SendNotification", []byte(`{"reference":7}`), http.StatusBadRequest)
	if !slices.Contains(p.fields(), "reference") {
		t.Errorf("wrong type: problem %+v does not name reference", p)
	}
	refused(t, coordinator, id, "LaunchRockets", []byte(`{}`), http.StatusNotFound)
	refused(t, coordinator, id, "SendNotification", []byte(`{"reference":`), http.StatusBadRequest)
	p = refused(t, coordinator, "CR-NOSUCHXX", "SendNotification", []byte(`{"reference":"x"}`), http.StatusNotFound)
	if !strings.Contains(p.Detail, "CR-NOSUCHXX") {
		t.Errorf("unknown case: %+v", p)
	}

	// The actor of each command is whoever is signed in; bodies carry only the command's fields.
	do(t, coordinator, id, review.SendNotification{Reference: "SIN-1"})
	do(t, coordinator, id, review.RecordRapidReviewFacts{Facts: "facts", AgenciesInvolved: []string{"police-north", "health-visiting"}})
	do(t, coordinator, id, review.SummariseKeyPracticeEpisodes{Summary: "summary"})
	do(t, coordinator, id, review.ProposeDecision{Outcome: review.OutcomeLCSPR, Rationale: "criteria met"})
	// A rule broken: the rapid review cannot be submitted before the partners sign it off.
	p = refused(t, coordinator, id, "SubmitRapidReview", []byte(`{}`), http.StatusUnprocessableEntity)
	if p.Rule != "rapid-review.signoffs-incomplete" {
		t.Errorf("early submission: rule %q, want rapid-review.signoffs-incomplete: %+v", p.Rule, p)
	}
	// The reviewer may not sign off: refused at the door, 403.
	p = refused(t, reviewer, id, "SignOffRapidReview", nil, http.StatusForbidden)
	if !strings.Contains(p.Detail, "reviewer") {
		t.Errorf("reviewer sign-off: %+v", p)
	}
	do(t, la, id, review.SignOffRapidReview{})
	do(t, icb, id, review.SignOffRapidReview{})
	do(t, police, id, review.SignOffRapidReview{})
	if p := refused(t, police, id, "SignOffRapidReview", nil, http.StatusUnprocessableEntity); p.Rule != "rapid-review.already-signed-off" {
		t.Errorf("second sign-off: rule %q", p.Rule)
	}
	do(t, coordinator, id, review.SubmitRapidReview{})
	waitFor(t, coordinator, path, stageIs("panel-response"))
	do(t, coordinator, id, review.RecordPanelResponse{Response: review.PanelAgrees})
	do(t, la, id, review.RecordDecision{Outcome: review.OutcomeLCSPR, Rationale: "learning for the partnership"})
	do(t, coordinator, id, review.AppointReviewer{ReviewerID: "dev-reviewer", Name: "Riya Reviewer", Lead: true, Independence: "no prior involvement"})
	do(t, la, id, review.AgreeTermsOfReference{Terms: review.TermsOfReferenceAgreed{Scope: "scope", Agencies: []string{"police-north", "health-visiting"},
		KeyLinesOfEnquiry: []string{"information sharing"}, Method: "Learning Together"}})
	waitFor(t, coordinator, path, stageIs("evidence"))
	do(t, coordinator, id, review.RequestFromAgency{RequestID: "r1", Agency: "police-north", Kind: review.RequestChronology})
	do(t, coordinator, id, review.RequestFromAgency{RequestID: "r2", Agency: "health-visiting", Kind: review.RequestReport, DueDate: today().AddDays(28)})

	// Each agency's inbox holds its own request only.
	for _, tc := range []struct {
		lead           *apiclient.Client
		agency, wantID string
	}{{leadPolice, "police-north", "r1"}, {leadHealth, "health-visiting", "r2"}} {
		inbox := waitFor(t, tc.lead, "/api/v1/inbox", func(in inboxPage) error {
			if len(in.Items) == 0 {
				return fmt.Errorf("inbox of %s is empty", tc.agency)
			}
			return nil
		})
		if inbox.Agency != tc.agency || len(inbox.Items) != 1 || inbox.Items[0].ID != tc.wantID || inbox.Items[0].CaseID != id || inbox.Items[0].Agency != tc.agency {
			t.Errorf("inbox of %s = %+v, want only request %s", tc.agency, inbox, tc.wantID)
		}
	}
	// An agency lead sees the case, with their own request and not the other agency's.
	var seen projections.CaseDetail
	if status := get(t, leadPolice, path, &seen); status != http.StatusOK {
		t.Fatalf("police-north lead reads the case: %d", status)
	}
	if len(seen.Requests) != 1 || seen.Requests[0].ID != "r1" || seen.Requests[0].Agency != "police-north" {
		t.Errorf("police-north lead sees requests %+v, want r1 only", seen.Requests)
	}
	// The coordinator sees both.
	if status := get(t, coordinator, path, &seen); status != http.StatusOK || len(seen.Requests) != 2 {
		t.Errorf("coordinator sees %d requests (status %d), want 2", len(seen.Requests), status)
	}

	// An agency lead may not answer for another agency: the case refuses it.
	p = refused(t, leadHealth, id, "SubmitToRequest", commandBody(t, review.SubmitToRequest{RequestID: "r1", Summary: "not ours"}), http.StatusForbidden)
	if p.Rule == "" {
		t.Errorf("cross-agency submission: problem %+v names no rule", p)
	}
	do(t, leadPolice, id, review.SubmitToRequest{RequestID: "r1", Summary: "chronology"})
	do(t, leadHealth, id, review.SubmitToRequest{RequestID: "r2", Summary: "report"})
	do(t, reviewer, id, review.AcceptSubmission{RequestID: "r1"})
	do(t, coordinator, id, review.AcceptSubmission{RequestID: "r2"})
	do(t, leadPolice, id, review.RecordChronologyEntry{Entry: review.ChronologyEntry{EntryID: "e1", Agency: "police-north", SourceRef: "POL-1",
		Date: review.OnDay(calendar.Date{Year: 2021, Month: time.May, Day: 14}), Description: "call-out to the home", Significance: review.SignificanceKey}})
	do(t, leadHealth, id, review.RecordChronologyEntry{Entry: review.ChronologyEntry{EntryID: "e2", Agency: "health-visiting",
		Date: review.InMonth(2021, time.May), Description: "missed health visit", Significance: review.SignificanceKey}})
	chron := waitFor(t, reviewer, path+"/chronology", func(c projections.ChronologyView) error {
		if len(c.Entries) < 2 {
			return fmt.Errorf("%d chronology entries", len(c.Entries))
		}
		return nil
	})
	if chron.CaseID != id {
		t.Errorf("chronology of %q", chron.CaseID)
	}
	do(t, reviewer, id, review.RecordKeyPracticeEpisode{Episode: review.KeyPracticeEpisodeRecorded{EpisodeID: "kpe1", Title: "May 2021",
		Description: "response to the call-out", Appraisal: review.AppraisalProblematic}})
	do(t, coordinator, id, review.CompleteStage{})
	do(t, reviewer, id, review.FlagMissedOpportunity{EntryID: "e2", Rationale: "no follow-up of a missed visit"})
	do(t, reviewer, id, review.RecordContributoryFactor{Factor: review.ContributoryFactorRecorded{FactorID: "f1", Category: review.FactorInterAgencyTeam, Text: "no shared picture"}})
	do(t, reviewer, id, review.RecordFinding{Finding: review.FindingRecorded{FindingID: "fd1", Statement: "statement", InThisCase: "how", FactorIDs: []string{"f1"}}})
	do(t, reviewer, id, review.RecordAppraisal{Appraisal: review.AppraisalRecorded{AppraisalID: "ap1", Text: "a strategy discussion should have been held"}})
	do(t, coordinator, id, review.CompleteStage{})
	do(t, reviewer, id, review.RecordFamilyInvolvement{Invited: true, Accepted: true, HowRecorded: "meeting notes"})
	do(t, coordinator, id, review.CompleteStage{})
	waitFor(t, coordinator, path, stageIs("report"))
	do(t, reviewer, id, review.MakeRecommendation{RecommendationID: "rec1", Text: "share call-outs", FindingIDs: []string{"fd1"}})
	do(t, coordinator, id, review.CreateAction{Action: review.ActionCreated{ActionID: "a1", RecommendationID: "rec1", Text: "notify health of call-outs",
		OwnerAgency: "health-visiting", OwnerPerson: "named nurse lead", DueDate: today().AddDays(60), MeasureOfSuccess: "audit shows 90% shared"}})
	do(t, reviewer, id, review.SubmitDraft{DraftVersion: "v1"})
	waitFor(t, coordinator, path, stageIs("sign-off"))
	// The reviewer drafts but may not approve.
	refused(t, reviewer, id, "ApproveReport", nil, http.StatusForbidden)
	do(t, la, id, review.ApproveReport{})
	do(t, icb, id, review.ApproveReport{})
	do(t, police, id, review.ApproveReport{})
	res := do(t, coordinator, id, review.SendPrePublicationNotice{Recipients: []string{"Panel", "Secretary of State", "Ofsted"}})
	if res.Stage != "pre-publication" || !slices.Contains(res.Events, review.EventPrePublicationNoticeSent) {
		t.Errorf("notice: result %+v", res)
	}
	// Seven working days of notice cannot pass on the real clock.
	p = refused(t, coordinator, id, "PublishReport", commandBody(t, review.PublishReport{Location: "https://partnership.example/reviews/1",
		PublicText: "Child J was seen at home by the health visitor."}), http.StatusUnprocessableEntity)
	if p.Rule != "publication.notice-too-late" {
		t.Errorf("early publication: rule %q, want publication.notice-too-late: %+v", p.Rule, p)
	}

	// The read models, through the API.
	detail := waitFor(t, coordinator, path, stageIs("pre-publication"))
	if len(detail.SignOffs.RapidReviewSignedBy) != 3 || len(detail.SignOffs.ReportApprovedBy) != 3 {
		t.Errorf("sign-offs %+v", detail.SignOffs)
	}
	for _, stage := range []string{"notification", "rapid-review", "panel-response", "decision", "evidence", "practitioner-learning", "family-involvement", "report", "sign-off", "pre-publication"} {
		if !slices.ContainsFunc(detail.History, func(v review.StageVisit) bool { return v.Stage == stage }) {
			t.Errorf("stage history %+v lacks %s", detail.History, stage)
		}
	}
	board := waitFor(t, coordinator, "/api/v1/cases", func(b boardPage) error {
		for _, row := range b.Cases {
			if row.CaseID == id && row.Stage == "pre-publication" {
				return nil
			}
		}
		return fmt.Errorf("board %+v", b.Cases)
	})
	if board.Position == 0 {
		t.Errorf("board position 0")
	}
	chron = waitFor(t, coordinator, path+"/chronology", func(c projections.ChronologyView) error {
		if len(c.MissedOpportunities) != 1 {
			return fmt.Errorf("%d missed opportunities", len(c.MissedOpportunities))
		}
		return nil
	})
	if len(chron.Entries) != 2 || !slices.Contains(chron.MissedOpportunities[0].EntryIDs, "e2") {
		t.Errorf("chronology %+v", chron)
	}
	var analysis projections.Analysis
	if status := get(t, reviewer, path+"/analysis", &analysis); status != http.StatusOK {
		t.Fatalf("analysis: %d", status)
	}
	if len(analysis.Episodes) != 1 || len(analysis.Factors) != 1 || len(analysis.Findings) != 1 || len(analysis.Recommendations) != 1 ||
		analysis.FamilyInvolvement == nil || !analysis.FourQuestions.Prevention.Complete {
		t.Errorf("analysis %+v", analysis)
	}
	var plan []projections.ActionPlanItem
	if status := get(t, coordinator, path+"/action-plan", &plan); status != http.StatusOK || len(plan) != 1 || plan[0].ActionID != "a1" || plan[0].OwnerAgency != "health-visiting" {
		t.Errorf("action plan: %d %+v", status, plan)
	}
	// The action waits on health visiting, not on police north.
	waitFor(t, leadHealth, "/api/v1/inbox", func(in inboxPage) error {
		for _, it := range in.Items {
			if it.Kind == projections.InboxAction && it.ID == "a1" {
				return nil
			}
		}
		return fmt.Errorf("health-visiting inbox %+v lacks action a1", in.Items)
	})
	var policeInbox inboxPage
	get(t, leadPolice, "/api/v1/inbox", &policeInbox)
	for _, it := range policeInbox.Items {
		if it.Agency != "police-north" {
			t.Errorf("police-north inbox holds %+v", it)
		}
	}

	// The audit trail: every event of the case with its actor, paged by position.
	var trail auditPage
	if status := get(t, auditor, path+"/audit?limit=1000", &trail); status != http.StatusOK {
		t.Fatalf("audit trail: %d", status)
	}
	events, err := s.store.ReadStream(ctx, workflows.CaseStream(id), eventstore.Forwards, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	caseEntries := 0
	for _, e := range trail.Entries {
		if e.Stream == workflows.CaseStream(id) {
			caseEntries++
		}
		if e.CaseID != id {
			t.Errorf("audit entry of case %q in the trail of %s", e.CaseID, id)
		}
	}
	if caseEntries != len(events) {
		t.Errorf("audit trail holds %d events of the case stream, the store %d", caseEntries, len(events))
	}
	if !slices.ContainsFunc(trail.Entries, func(e projections.AuditEntry) bool {
		return e.Actor == "dev-partner-la" && e.Type == review.EventRapidReviewSignedOff
	}) {
		t.Errorf("the trail does not show dev-partner-la's sign-off")
	}
	var first, second auditPage
	get(t, auditor, path+"/audit?limit=3", &first)
	if len(first.Entries) != 3 || first.After != strconv.FormatUint(first.Entries[2].Position, 10) {
		t.Fatalf("first audit page %+v", first)
	}
	get(t, auditor, path+"/audit?limit=3&after="+first.After, &second)
	if len(second.Entries) != 3 || second.Entries[0].Position <= first.Entries[2].Position || second.Entries[0] != trail.Entries[3] {
		t.Errorf("second audit page %+v does not follow the first %+v", second.Entries, first.Entries)
	}

	// ETags: the same representation is not sent twice.
	for _, route := range []string{path, path + "/chronology", path + "/analysis", path + "/action-plan", "/api/v1/cases", path + "/audit"} {
		etagRoundTrip(t, coordinator, route)
	}

	// Access records: reading the case as the LA partner is recorded in the case's access stream.
	if status := get(t, la, path+"?purpose=panel+preparation", &seen); status != http.StatusOK {
		t.Fatalf("LA partner reads the case: %d", status)
	}
	eventually(t, "the LA partner's read is recorded", func() error {
		events, err := s.store.ReadStream(ctx, server.AccessStream(id), eventstore.Forwards, 0, 0)
		if err != nil {
			return err
		}
		for _, e := range events {
			var rec review.AccessRecorded
			if e.Type != review.EventAccessRecorded || json.Unmarshal(e.Data, &rec) != nil {
				continue
			}
			if rec.Reader.UserID == "dev-partner-la" && rec.Purpose == "panel preparation" && rec.What == "case detail" {
				return nil
			}
		}
		return fmt.Errorf("%d access events, none for dev-partner-la's read", len(events))
	})
}

// etagRoundTrip reads route twice, the second time with the first answer's ETag: 304, no body. A
// representation may change in between (the board carries the read models' position, which any
// event moves, such as the batched access records of earlier reads); then the server must answer 200
// with the new ETag, and the test tries again.
func etagRoundTrip(t *testing.T, c *apiclient.Client, route string) {
	t.Helper()
	fetch := func(ifNoneMatch string) (int, string, int) {
		req, _ := http.NewRequest(http.MethodGet, c.BaseURL+route, nil)
		if ifNoneMatch != "" {
			req.Header.Set("If-None-Match", ifNoneMatch)
		}
		resp, err := c.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("ETag"), len(body)
	}
	for attempt := 0; ; attempt++ {
		status, tag, _ := fetch("")
		if status != http.StatusOK || !strings.HasPrefix(tag, `"`) {
			t.Fatalf("GET %s: %d, ETag %q", route, status, tag)
		}
		status, again, n := fetch(tag)
		if status == http.StatusOK && again != tag && attempt < 20 {
			time.Sleep(100 * time.Millisecond) // changed meanwhile: the new tag is right to send
			continue
		}
		if status != http.StatusNotModified || n != 0 || again != tag {
			t.Errorf("GET %s with If-None-Match %s: %d, %d bytes, ETag %q", route, tag, status, n, again)
		}
		break
	}
	if status, _, _ := fetch(`"stale"`); status != http.StatusOK {
		t.Errorf("GET %s with a stale ETag: %d, want 200", route, status)
	}
}

// TestAPIAgencyLeadScope checks that an agency lead sees their own agency's work only: the
// requests of a case they take part in, never another agency's, and no trace of a case their agency
// is not in. It also pages the board.
func TestAPIAgencyLeadScope(t *testing.T) {
	s := startSystem(t)
	coordinator := s.as(t, "dev-coordinator")
	la := s.as(t, "dev-partner-la")
	icb := s.as(t, "dev-partner-icb")
	police := s.as(t, "dev-partner-police")
	leadPolice := s.as(t, "dev-lead-police-north")

	shared := notifyCase(t, coordinator)
	other := notifyCase(t, coordinator)
	toEvidence(t, shared, coordinator, la, icb, police, []string{"police-north", "health-visiting"})
	do(t, coordinator, shared, review.RequestFromAgency{RequestID: "r1", Agency: "police-north", Kind: review.RequestChronology})
	do(t, coordinator, shared, review.RequestFromAgency{RequestID: "r2", Agency: "health-visiting", Kind: review.RequestReport})

	inbox := waitFor(t, leadPolice, "/api/v1/inbox", func(in inboxPage) error {
		if len(in.Items) == 0 {
			return fmt.Errorf("empty")
		}
		return nil
	})
	if len(inbox.Items) != 1 || inbox.Items[0].ID != "r1" || inbox.Items[0].Agency != "police-north" {
		t.Errorf("police-north inbox %+v", inbox.Items)
	}
	d := waitFor(t, leadPolice, "/api/v1/cases/"+shared, func(d projections.CaseDetail) error {
		if len(d.Requests) == 0 {
			return fmt.Errorf("no requests yet")
		}
		return nil
	})
	if len(d.Requests) != 1 || d.Requests[0].ID != "r1" {
		t.Errorf("police-north lead sees requests %+v, want r1 only", d.Requests)
	}
	for _, sub := range []string{"", "/chronology", "/analysis", "/action-plan", "/status"} {
		var p problemBody
		if status := get(t, leadPolice, "/api/v1/cases/"+other+sub, &p); status != http.StatusForbidden || p.Status != http.StatusForbidden {
			t.Errorf("police-north lead reads %s%s of a case it is not in: %d %+v", other, sub, status, p)
		}
	}
	var board boardPage
	if status := get(t, leadPolice, "/api/v1/cases", &board); status != http.StatusOK {
		t.Fatalf("board: %d", status)
	}
	if len(board.Cases) != 1 || board.Cases[0].CaseID != shared {
		t.Errorf("police-north board %+v, want only %s", board.Cases, shared)
	}

	// Paging the coordinator's board of two cases one at a time.
	var page1, page2 boardPage
	get(t, coordinator, "/api/v1/cases?limit=1", &page1)
	if len(page1.Cases) != 1 || page1.NextCursor == "" {
		t.Fatalf("first page %+v", page1)
	}
	get(t, coordinator, "/api/v1/cases?limit=1&cursor="+page1.NextCursor, &page2)
	if len(page2.Cases) != 1 || page2.NextCursor != "" || page2.Cases[0].CaseID == page1.Cases[0].CaseID {
		t.Errorf("second page %+v after %+v", page2, page1)
	}
	for _, q := range []struct{ query, field string }{{"limit=0", "limit"}, {"limit=x", "limit"}, {"limit=501", "limit"}, {"cursor=-1", "cursor"}} {
		var p problemBody
		if status := get(t, coordinator, "/api/v1/cases?"+q.query, &p); status != http.StatusBadRequest || !slices.Contains(p.fields(), q.field) {
			t.Errorf("GET /api/v1/cases?%s: %d %+v, want 400 naming %s", q.query, status, p, q.field)
		}
	}
}

// toEvidence takes a notified case to the evidence stage with agencies involved.
func toEvidence(t *testing.T, id string, coordinator, la, icb, police *apiclient.Client, agencies []string) {
	t.Helper()
	do(t, coordinator, id, review.SendNotification{Reference: "SIN-" + id})
	do(t, coordinator, id, review.RecordRapidReviewFacts{Facts: "facts", AgenciesInvolved: agencies})
	do(t, coordinator, id, review.SummariseKeyPracticeEpisodes{Summary: "summary"})
	do(t, coordinator, id, review.ProposeDecision{Outcome: review.OutcomeLCSPR, Rationale: "criteria met"})
	do(t, la, id, review.SignOffRapidReview{})
	do(t, icb, id, review.SignOffRapidReview{})
	do(t, police, id, review.SignOffRapidReview{})
	do(t, coordinator, id, review.SubmitRapidReview{})
	do(t, coordinator, id, review.RecordPanelResponse{Response: review.PanelAgrees})
	do(t, la, id, review.RecordDecision{Outcome: review.OutcomeLCSPR, Rationale: "learning"})
	do(t, coordinator, id, review.AppointReviewer{ReviewerID: "dev-reviewer", Name: "Riya Reviewer", Lead: true, Independence: "none"})
	do(t, la, id, review.AgreeTermsOfReference{Terms: review.TermsOfReferenceAgreed{Scope: "scope", Agencies: agencies,
		KeyLinesOfEnquiry: []string{"information sharing"}, Method: "Learning Together"}})
}

// devRoles are the dev users, one per role (two agency leads), in the order the matrix lists them.
var devRoles = []string{"dev-coordinator", "dev-partner-la", "dev-partner-icb", "dev-partner-police", "dev-reviewer",
	"dev-lead-police-north", "dev-lead-health-visiting", "dev-practitioner", "dev-auditor"}

// TestAPIRBACMatrix asks every route of the OpenAPI document as every dev user and as nobody, on a
// case in rapid review with police-north involved (so health visiting is not), and checks the status.
func TestAPIRBACMatrix(t *testing.T) {
	s := startSystem(t)
	clients := map[string]*apiclient.Client{}
	for _, u := range devRoles {
		clients[u] = s.as(t, u)
	}
	id := notifyCase(t, clients["dev-coordinator"])
	do(t, clients["dev-coordinator"], id, review.SendNotification{Reference: "SIN-M"})
	do(t, clients["dev-coordinator"], id, review.RecordRapidReviewFacts{Facts: "facts", AgenciesInvolved: []string{"police-north"}})
	waitFor(t, clients["dev-coordinator"], "/api/v1/cases/"+id, func(d projections.CaseDetail) error {
		if !slices.Contains(d.Parties.AgenciesInvolved, "police-north") {
			return fmt.Errorf("agencies %v", d.Parties.AgenciesInvolved)
		}
		return nil
	})

	var caseReaders = []string{"dev-coordinator", "dev-partner-la", "dev-partner-icb", "dev-partner-police", "dev-reviewer", "dev-lead-police-north", "dev-auditor"}
	var auditReaders = []string{"dev-coordinator", "dev-partner-la", "dev-partner-icb", "dev-partner-police", "dev-auditor"}
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	publish := commandBody(t, review.PublishReport{Location: "https://partnership.example/r", PublicText: "Child J."})
	type route struct {
		method, path string // as the OpenAPI document writes them
		target       string // the request path
		body         []byte
		public       bool
		ok           int      // the status of a user who may
		may          []string // who may; nil with public means everyone
		// other overrides the status of users in may with a status of their own, for routes where
		// the front door lets a role through and the case itself refuses.
		other map[string]int
	}
	routes := []route{
		{method: "POST", path: "/api/v1/cases", body: []byte(`{"framework":"lcspr/wt2023","awarenessDate":"` + yesterday + `","incidentDate":"` + yesterday + `","nature":"death","outline":"Invented."}`),
			ok: 201, may: []string{"dev-coordinator"}},
		{method: "GET", path: "/api/v1/cases", ok: 200, may: devRoles},
		{method: "GET", path: "/api/v1/cases/{id}", ok: 200, may: caseReaders},
		{method: "GET", path: "/api/v1/cases/{id}/chronology", ok: 200, may: caseReaders},
		// The Learning Together analysis is the partnership's and the reviewers', not one agency's.
		{method: "GET", path: "/api/v1/cases/{id}/analysis", ok: 200, may: caseReaders, other: map[string]int{"dev-lead-police-north": http.StatusForbidden}},
		{method: "GET", path: "/api/v1/cases/{id}/action-plan", ok: 200, may: caseReaders},
		{method: "GET", path: "/api/v1/cases/{id}/status", ok: 200, may: caseReaders},
		{method: "GET", path: "/api/v1/cases/{id}/audit", ok: 200, may: auditReaders},
		{method: "GET", path: "/api/v1/cases/{id}/as-of", ok: 200, may: auditReaders},
		// The front door lets the partnership publish; the rule set lets only the business unit,
		// and not in rapid review.
		{method: "POST", path: "/api/v1/cases/{id}/commands/{name}", target: "/api/v1/cases/" + id + "/commands/PublishReport", body: publish,
			ok: 422, may: []string{"dev-coordinator", "dev-partner-la", "dev-partner-icb", "dev-partner-police"},
			other: map[string]int{"dev-partner-la": 403, "dev-partner-icb": 403, "dev-partner-police": 403}},
		{method: "GET", path: "/api/v1/inbox", ok: 200, may: []string{"dev-lead-police-north", "dev-lead-health-visiting"}},
		{method: "GET", path: "/api/v1/audit/log", ok: 200, may: auditReaders},
		{method: "POST", path: "/api/v1/audit/verify", ok: 200, may: []string{"dev-auditor"}},
		{method: "GET", path: "/api/v1/live", ok: 101, may: devRoles},
		{method: "GET", path: "/api/v1/register", ok: 200, public: true},
		{method: "GET", path: "/api/v1/register/{id}", ok: 404, public: true},
		{method: "GET", path: "/api/v1/openapi.json", ok: 200, public: true},
		{method: "POST", path: "/api/v1/tokens", body: []byte(`{"name":"matrix","user":{"id":"svc-matrix","name":"Matrix","role":"auditor"},"lifetimeDays":1}`),
			ok: 201, may: []string{"dev-coordinator"}},
		{method: "GET", path: "/api/v1/tokens", ok: 200, may: []string{"dev-coordinator"}},
		{method: "DELETE", path: "/api/v1/tokens/{id}", target: "/api/v1/tokens/tok-unknown", ok: 404, may: []string{"dev-coordinator"}},
	}

	// The table covers the document exactly: a new route must be added here with its expectations.
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	if status := get(t, clients["dev-auditor"], "/api/v1/openapi.json", &doc); status != http.StatusOK {
		t.Fatalf("openapi.json: %d", status)
	}
	var documented, tabled []string
	for p, item := range doc.Paths {
		for m := range item {
			documented = append(documented, strings.ToUpper(m)+" "+p)
		}
	}
	for _, r := range routes {
		tabled = append(tabled, r.method+" "+r.path)
	}
	slices.Sort(documented)
	slices.Sort(tabled)
	if !slices.Equal(documented, tabled) {
		t.Fatalf("the matrix covers %v\nthe document lists %v", tabled, documented)
	}

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	anonymous := &apiclient.Client{BaseURL: s.http.URL, HTTP: &http.Client{Jar: jar}}
	for _, r := range routes {
		target := r.target
		if target == "" {
			target = strings.ReplaceAll(r.path, "{id}", id)
		}
		for _, u := range append([]string{"anonymous"}, devRoles...) {
			want := http.StatusForbidden
			switch {
			case r.public:
				want = r.ok
			case u == "anonymous":
				want = http.StatusUnauthorized
			case slices.Contains(r.may, u):
				want = r.ok
				if o, ok := r.other[u]; ok {
					want = o
				}
			}
			c := clients[u]
			if u == "anonymous" {
				c = anonymous
			}
			t.Run(r.method+" "+r.path+" as "+u, func(t *testing.T) {
				got := statusOf(t, s, c, r.method, target, r.body)
				if got != want {
					t.Errorf("%s %s as %s: %d, want %d", r.method, target, u, got, want)
				}
			})
		}
	}

	// The auditor reads everything and changes nothing: every command is refused at the door.
	var names []string
	for _, p := range doc.Paths["/api/v1/cases/{id}/commands/{name}"]["post"]["parameters"].([]any) {
		if p := p.(map[string]any); p["name"] == "name" {
			for _, n := range p["schema"].(map[string]any)["enum"].([]any) {
				names = append(names, n.(string))
			}
		}
	}
	if len(names) < 30 {
		t.Fatalf("only %d command names in the document", len(names))
	}
	for _, name := range names {
		if p := refused(t, clients["dev-auditor"], id, name, []byte(`{}`), http.StatusForbidden); !strings.Contains(p.Detail, "auditor") {
			t.Errorf("auditor %s: %+v", name, p)
		}
	}
	events, err := s.store.ReadStream(context.Background(), workflows.CaseStream(id), eventstore.Forwards, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if e.Type != review.EventCaseNotified && e.Type != review.EventClockStarted && e.Type != review.EventClockStopped &&
			e.Type != review.EventNotificationSent && e.Type != review.EventRapidReviewFactsRecorded {
			t.Errorf("the matrix changed the case: %s recorded", e.Type)
		}
	}
}

// statusOf makes one request as c and returns its status; the live route is a websocket handshake.
func statusOf(t *testing.T, s *system, c *apiclient.Client, method, target string, body []byte) int {
	t.Helper()
	if target == "/api/v1/live" {
		ws, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s.http.URL, "http")+target, c.Header())
		if err == nil {
			ws.Close()
		}
		if resp == nil {
			t.Fatalf("live handshake: %v", err)
		}
		return resp.StatusCode
	}
	resp, err := c.Send(context.Background(), method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("%s %s: %d answered with %q, not a problem document", method, target, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return resp.StatusCode
}
