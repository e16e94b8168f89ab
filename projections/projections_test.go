package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"casereview/eventstore"
	"casereview/eventstore/storetest"
	"casereview/review"
)

func TestReadModelsFollowAScriptedCase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store := openStore(t, dir)
	d := openDB(t, filepath.Join(dir, "read.db"))
	follow(t, d, store)
	cr := newScriptedCase(t, "CR-1")

	// Part way through the evidence stage: requests sent, one extended, none answered.
	caughtUp(t, d, cr.until(t, store, "submit-r1"))
	board, err := d.Board(ctx, day("2022-10-11"))
	if err != nil {
		t.Fatal(err)
	}
	if len(board) != 1 {
		t.Fatalf("board has %d rows, want 1", len(board))
	}
	b := board[0]
	if b.CaseID != "CR-1" || b.Stage != "evidence" || b.Outcome != review.OutcomeLCSPR || b.Title == "" || b.NextDeadline == nil {
		t.Fatalf("board row %+v", b)
	}
	// The soonest running clock is the police's request, due 20 October: 7 working days on from 11 October.
	if n := b.NextDeadline; n.Clock != "agency-request" || n.Key != "r1" || n.Due != day("2022-10-20") || b.WorkingDaysLeft != 7 || b.RAG != RAGGreen {
		t.Errorf("board next deadline %+v, %d working days left, rag %q", *n, b.WorkingDaysLeft, b.RAG)
	}

	detail, err := d.CaseDetail(ctx, "CR-1", day("2022-10-11"))
	if err != nil {
		t.Fatal(err)
	}
	var stages []string
	for _, v := range detail.History {
		stages = append(stages, v.Stage)
	}
	if want := []string{"notification", "rapid-review", "panel-response", "decision", "appointment", "terms-of-reference", "evidence"}; !slices.Equal(stages, want) {
		t.Errorf("stage history %v, want %v", stages, want)
	}
	if len(detail.Requests) != 2 || detail.Requests[1].Due != day("2022-11-04") || detail.Requests[1].Extensions != 1 {
		t.Errorf("requests %+v", detail.Requests)
	}
	if !slices.Equal(detail.SignOffs.RapidReviewSignedBy, []string{"local-authority", "icb", "police"}) || len(detail.SignOffs.RapidReviewAwaiting) != 0 {
		t.Errorf("sign-offs %+v", detail.SignOffs)
	}
	if detail.Decisions.Decision == nil || detail.Decisions.PanelResponse != review.PanelAgrees || len(detail.Parties.Reviewers) != 1 {
		t.Errorf("decisions %+v parties %+v", detail.Decisions, detail.Parties)
	}
	if len(detail.WaitingRequests) != 2 {
		t.Errorf("waiting requests %+v", detail.WaitingRequests)
	}

	inbox, err := d.Inbox(ctx, "health-trust", day("2022-11-02"))
	if err != nil {
		t.Fatal(err)
	}
	if len(inbox) != 1 || inbox[0].ID != "r2" || inbox[0].Kind != InboxRequest || inbox[0].Due != day("2022-11-04") || inbox[0].RAG != RAGAmber || inbox[0].WorkingDaysLeft != 2 {
		t.Errorf("health inbox %+v", inbox)
	}

	// Through to the report's approval: evidence accepted, chronology, analysis, actions.
	caughtUp(t, d, cr.until(t, store, "notice"))
	chron, err := d.Chronology(ctx, "CR-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(chron.Entries) != 3 || len(chron.MissedOpportunities) != 2 {
		t.Fatalf("chronology %d entries, %d missed opportunities; want 3 and 2", len(chron.Entries), len(chron.MissedOpportunities))
	}
	merged := slices.IndexFunc(chron.Entries, func(e review.TimelineEntry) bool { return e.SourceRef == "POL-1" })
	if merged < 0 || !slices.Equal(chron.Entries[merged].Agencies, []string{"health-trust", "police-force"}) || len(chron.Entries[merged].EntryIDs) != 2 {
		t.Errorf("chronology entries %+v: want POL-1 merged from both agencies", chron.Entries)
	}
	analysis, err := d.Analysis(ctx, "CR-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(analysis.Episodes) != 1 || len(analysis.Factors) != 1 || len(analysis.Findings) != 1 || len(analysis.Recommendations) != 1 ||
		analysis.FamilyInvolvement == nil || !analysis.FourQuestions.Complete() {
		t.Errorf("analysis %+v", analysis)
	}
	inbox, err = d.Inbox(ctx, "health-trust", day("2022-11-02"))
	if err != nil {
		t.Fatal(err)
	}
	if len(inbox) != 1 || inbox[0].Kind != InboxAction || inbox[0].ID != "a1" || inbox[0].RAG != RAGGreen {
		t.Errorf("health inbox after submission %+v", inbox)
	}
	plan, err := d.ActionPlan(ctx, "CR-1", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan) != 2 || plan[0].OwnerPerson != "named nurse lead" || plan[0].RecommendationText != "share call-outs" {
		t.Errorf("internal action plan %+v", plan)
	}
	_, err = d.ActionPlan(ctx, "CR-1", true)
	wantNotFound(t, "public action plan before publication", err)
	if reg, err := d.Register(ctx); err != nil || len(reg) != 0 {
		t.Errorf("register before publication: %v %v", reg, err)
	}

	// Published, actions resolved, closed and read by an auditor.
	last := cr.until(t, store, "")
	caughtUp(t, d, last)
	reg, err := d.Register(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(reg) != 1 || reg[0].CaseID != "CR-1" || reg[0].Location != "https://example.org/report" || reg[0].KeepPublicUntil.IsZero() {
		t.Fatalf("register %+v", reg)
	}
	public, err := d.PublicReport(ctx, "CR-1")
	if err != nil {
		t.Fatal(err)
	}
	if public.Text != "The redacted report." || len(public.Actions) != 2 || public.Actions[0].PublicSummary != "health visitors are told of police call-outs" ||
		public.Actions[0].OwnerPerson != "" || public.Actions[0].Text != "" || public.Actions[0].Status != review.ActionStatusVerified {
		t.Errorf("public report %+v", public)
	}
	if inbox, err := d.Inbox(ctx, "health-trust", day("2022-11-09")); err != nil || len(inbox) != 0 {
		t.Errorf("inbox of a closed case: %+v %v", inbox, err)
	}
	sum, err := d.GetCase(ctx, "CR-1")
	if err != nil || sum.Stage != "closed" || sum.AwarenessDate != "2022-09-16" || sum.Position == 0 {
		t.Errorf("GetCase %+v %v", sum, err)
	}
	if list, err := d.ListCases(ctx); err != nil || len(list) != 1 {
		t.Errorf("ListCases %+v %v", list, err)
	}

	trail, err := d.AuditTrail(ctx, "CR-1", 0, MaxAuditPage)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(trail)) != last {
		t.Fatalf("audit trail has %d entries, want %d", len(trail), last)
	}
	if trail[0].Type != review.EventCaseNotified || trail[0].Actor != "u-bu" || trail[0].Role != review.RoleBusinessUnit {
		t.Errorf("first audit entry %+v", trail[0])
	}
	page, err := d.AuditTrail(ctx, "CR-1", trail[9].Position, 5)
	if err != nil || len(page) != 5 || page[0].Position != trail[10].Position {
		t.Errorf("audit page after %d: %+v %v", trail[9].Position, page, err)
	}
}

func TestTiming(t *testing.T) {
	d := openDB(t, filepath.Join(t.TempDir(), "read.db"))
	// Friday 4 November 2022 is the due date; 31 October to 3 November are working days.
	due := day("2022-11-04")
	tests := []struct {
		today string
		left  int
		rag   string
	}{
		{"2022-10-28", 5, RAGGreen},
		{"2022-10-31", 4, RAGGreen},
		{"2022-11-01", 3, RAGAmber},
		{"2022-11-04", 0, RAGAmber},
		{"2022-11-05", -1, RAGRed}, // Saturday: the due Friday has passed
		{"2022-11-07", -1, RAGRed},
		{"2022-11-08", -2, RAGRed},
	}
	for _, tt := range tests {
		left, rag, err := d.timing("england-and-wales", due, day(tt.today))
		if err != nil {
			t.Fatal(err)
		}
		if left != tt.left || rag != tt.rag {
			t.Errorf("today %s: %d working days left, %s; want %d, %s", tt.today, left, rag, tt.left, tt.rag)
		}
	}
	if _, _, err := d.timing("atlantis", due, due); err == nil {
		t.Error("a region without a calendar gave no error")
	}
}

func TestBoardOverdueAgencies(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store := openStore(t, dir)
	d := openDB(t, filepath.Join(dir, "read.db"))
	follow(t, d, store)
	caughtUp(t, d, newScriptedCase(t, "CR-1").until(t, store, "submit-r1"))
	tests := []struct {
		today   string
		overdue []string
		rag     string
	}{
		{"2022-10-07", nil, RAGGreen},
		{"2022-10-21", []string{"police-force"}, RAGRed},
		{"2022-11-07", []string{"health-trust", "police-force"}, RAGRed},
	}
	for _, tt := range tests {
		board, err := d.Board(ctx, day(tt.today))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(board[0].OverdueAgencies, tt.overdue) || board[0].RAG != tt.rag {
			t.Errorf("on %s: overdue %v rag %s (next %+v); want %v %s", tt.today, board[0].OverdueAgencies, board[0].RAG,
				board[0].NextDeadline, tt.overdue, tt.rag)
		}
	}
}

func TestApplyingAnEventTwiceChangesNothing(t *testing.T) {
	dir := t.TempDir()
	store := openStore(t, dir)
	d := openDB(t, filepath.Join(dir, "read.db"))
	newScriptedCase(t, "CR-1").until(t, store, "notice")
	events := readAll(t, store)
	ctx := context.Background()
	for _, e := range events {
		if err := d.Apply(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	before, changes := dump(t, d), countChanges(t, d)
	for _, e := range []eventstore.RecordedEvent{events[0], events[len(events)/2], events[len(events)-1]} {
		if err := d.Apply(ctx, e); err != nil {
			t.Fatalf("apply position %d again: %v", e.Position, err)
		}
	}
	sameDump(t, dump(t, d), before)
	if n := countChanges(t, d); n != changes {
		t.Errorf("%d changes after repeats, want %d", n, changes)
	}
	if cp, _ := d.Checkpoint(ctx); cp != events[len(events)-1].Position {
		t.Errorf("checkpoint %d, want %d", cp, events[len(events)-1].Position)
	}
}

func TestGapDetection(t *testing.T) {
	dir := t.TempDir()
	store := openStore(t, dir)
	newScriptedCase(t, "CR-1").until(t, store, "facts")
	events := readAll(t, store)
	ctx := context.Background()
	tests := []struct {
		name       string
		contiguous bool
		wantGap    bool
	}{
		{"contiguous log", true, true},
		{"log with holes", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := OpenWith(filepath.Join(t.TempDir(), "read.db"), Options{ContiguousPositions: tt.contiguous})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if err := d.Apply(ctx, events[0]); err != nil {
				t.Fatal(err)
			}
			err = d.Apply(ctx, events[2])
			if !tt.wantGap {
				if err != nil {
					t.Fatalf("apply after a hole: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrGap) {
				t.Fatalf("apply after a hole: got %v, want ErrGap", err)
			}
			if !strings.Contains(err.Error(), "expected position 2") || !strings.Contains(err.Error(), "received 3") {
				t.Errorf("gap error %q does not name the expected and received positions", err)
			}
			if cp, _ := d.Checkpoint(ctx); cp != 1 {
				t.Errorf("checkpoint %d after a refused event, want 1", cp)
			}
		})
	}
}

func TestRebuildEqualsIncremental(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store := openStore(t, dir)
	path := filepath.Join(dir, "read.db")
	d := openDB(t, path)
	follow(t, d, store)

	// Three cases advance in turns while the projections follow live; an event of another
	// stream reaches the audit trail only.
	cases := []*scriptedCase{newScriptedCase(t, "CR-1"), newScriptedCase(t, "CR-2"), newScriptedCase(t, "CR-3")}
	cases[0].until(t, store, "panel")
	cases[1].until(t, store, "decide")
	cases[0].until(t, store, "notice")
	if _, err := store.Append(ctx, "user-u1", eventstore.Any(), eventstore.EventData{ID: storetest.NewID(), Type: "UserRegistered",
		Data: json.RawMessage(`{"userId":"u1"}`), Metadata: json.RawMessage(`{"actor":"admin-1","role":"admin"}`)}); err != nil {
		t.Fatal(err)
	}
	cases[2].until(t, store, "")
	cases[1].until(t, store, "entry-1")
	caughtUp(t, d, cases[0].until(t, store, ""))
	incremental := dump(t, d)

	if err := Rebuild(ctx, path, store, nil); err != nil {
		t.Fatal(err)
	}
	sameDump(t, dump(t, d), incremental)

	// A rebuild of some models beside the live process catches up with what it applied meanwhile.
	last := cases[1].until(t, store, "close-learning")
	if err := Rebuild(ctx, path, store, []string{ModelInbox, ModelBoard}); err != nil {
		t.Fatal(err)
	}
	last = cases[1].until(t, store, "")
	caughtUp(t, d, last)
	live := dump(t, d)
	if err := Rebuild(ctx, path, store, nil); err != nil {
		t.Fatal(err)
	}
	sameDump(t, dump(t, d), live)

	// A fresh file catching up with the whole log in batches ends the same.
	fresh := openDB(t, filepath.Join(dir, "fresh.db"))
	follow(t, fresh, store)
	caughtUp(t, fresh, last)
	sameDump(t, dump(t, fresh), live)

	trail, err := d.AuditTrail(ctx, "", 0, MaxAuditPage)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(trail, func(e AuditEntry) bool { return e.Stream == "user-u1" })
	if i < 0 || trail[i].Actor != "admin-1" || trail[i].Role != "admin" || trail[i].CaseID != "" {
		t.Errorf("audit of a non-case stream: %+v", trail)
	}
}

func TestRebuildRejectsUnknownModel(t *testing.T) {
	dir := t.TempDir()
	err := Rebuild(context.Background(), filepath.Join(dir, "read.db"), openStore(t, dir), []string{"boards"})
	if !errors.Is(err, ErrUnknownModel) || !strings.Contains(err.Error(), "board") {
		t.Errorf("got %v, want ErrUnknownModel listing the valid names", err)
	}
}

func TestChangedCodeVersionRebuildsAtStart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store := openStore(t, dir)
	path := filepath.Join(dir, "read.db")
	d := openDB(t, path)
	last := newScriptedCase(t, "CR-1").until(t, store, "entry-1")
	for _, e := range readAll(t, store) {
		if err := d.Apply(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	want := dump(t, d)
	// As if the inbox's code had changed: its stored version is older and its rows are wrong.
	if _, err := d.db.Exec(`UPDATE checkpoints SET version = version - 1 WHERE name = 'inbox'; DELETE FROM inbox`); err != nil {
		t.Fatal(err)
	}
	d.Close()

	d = openDB(t, path)
	if stale := d.Stale(); !slices.Equal(stale, []string{ModelInbox}) {
		t.Fatalf("stale models %v, want [inbox]", stale)
	}
	if cp, err := d.Checkpoint(ctx); err != nil || cp != last {
		t.Errorf("checkpoint %d %v, want %d", cp, err, last)
	}
	follow(t, d, store)
	deadline := time.Now().Add(20 * time.Second)
	for len(d.Stale()) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if len(d.Stale()) > 0 {
		t.Fatal("the stale model was not rebuilt")
	}
	sameDump(t, dump(t, d), want)
}

func TestPublicQueriesNeverReturnUnpublishedCases(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store := openStore(t, dir)
	d := openDB(t, filepath.Join(dir, "read.db"))
	follow(t, d, store)
	newScriptedCase(t, "CR-published").until(t, store, "progress-a1")
	caughtUp(t, d, newScriptedCase(t, "CR-private").until(t, store, "publish"))

	reg, err := d.Register(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(reg) != 1 || reg[0].CaseID != "CR-published" {
		t.Errorf("register %+v, want CR-published only", reg)
	}
	for _, id := range []string{"CR-private", "CR-unknown"} {
		_, err := d.ActionPlan(ctx, id, true)
		wantNotFound(t, "public action plan of "+id, err)
		_, err = d.PublicReport(ctx, id)
		wantNotFound(t, "public report of "+id, err)
	}
	if plan, err := d.ActionPlan(ctx, "CR-private", false); err != nil || len(plan) != 2 {
		t.Errorf("internal action plan of the unpublished case: %+v %v", plan, err)
	}
	for _, c := range changesOf(t, d) {
		if c.Audience.Public && c.CaseID != "CR-published" {
			t.Errorf("public change for an unpublished case: %+v", c)
		}
	}
}

func TestChangeFeedAudiences(t *testing.T) {
	dir := t.TempDir()
	store := openStore(t, dir)
	d := openDB(t, filepath.Join(dir, "read.db"))
	follow(t, d, store)
	caughtUp(t, d, newScriptedCase(t, "CR-1").until(t, store, "progress-a1"))
	changes := changesOf(t, d)
	if len(changes) == 0 || changes[0].Model != ModelBoard || changes[0].Case == nil || changes[0].Case.ID != "CR-1" || changes[0].Position != 1 {
		t.Fatalf("first change %+v, want the board row of CR-1", changes)
	}
	seen := map[string]bool{}
	for _, c := range changes {
		seen[c.Model] = true
		if c.CaseID != "CR-1" || c.Audience.CaseID != "CR-1" {
			t.Errorf("change %+v lacks its case", c)
		}
		switch c.Model {
		case ModelInbox:
			if c.Audience.Agency == "" {
				t.Errorf("inbox change without an agency: %+v", c)
			}
		case ModelRegister:
			if !c.Audience.Public {
				t.Errorf("register change not public: %+v", c)
			}
		case ModelBoard:
			if c.Case == nil {
				t.Errorf("board change without the case summary: %+v", c)
			}
		default:
			if c.Audience.Agency != "" {
				t.Errorf("case-wide change with an agency: %+v", c)
			}
		}
	}
	for _, m := range []string{ModelBoard, ModelCase, ModelChronology, ModelAnalysis, ModelInbox, ModelActionPlan, ModelRegister, ModelAudit} {
		if !seen[m] {
			t.Errorf("no change of model %s", m)
		}
	}
	agencies := map[string]bool{}
	for _, c := range changes {
		if c.Model == ModelInbox {
			agencies[c.Audience.Agency] = true
		}
	}
	if !agencies["police-force"] || !agencies["health-trust"] {
		t.Errorf("inbox changes for agencies %v, want police-force and health-trust", agencies)
	}
}

func TestEventTheDomainCannotFoldFailsLoudly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store := openStore(t, dir)
	last := newScriptedCase(t, "CR-1").until(t, store, "facts")
	typ, data, err := review.EncodeEvent(review.AgencySubmissionAccepted{RequestID: "no-such-request"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Append(ctx, "case-CR-1", eventstore.Any(), eventstore.EventData{ID: storetest.NewID(), Type: typ, Data: data}); err != nil {
		t.Fatal(err)
	}
	d := openDB(t, filepath.Join(dir, "read.db"))
	var failure error
	for _, e := range readAll(t, store) {
		if failure = d.Apply(ctx, e); failure != nil {
			break
		}
	}
	if want := fmt.Sprintf("position %d", last+1); !errors.Is(failure, review.ErrHistory) || !strings.Contains(failure.Error(), want) {
		t.Fatalf("got %v, want review.ErrHistory naming %s", failure, want)
	}
	if cp, _ := d.Checkpoint(ctx); cp != last {
		t.Errorf("checkpoint %d after the failure, want %d", cp, last)
	}
}

// storeWithHook runs hook once, when ReadAll is first called.
type storeWithHook struct {
	eventstore.Store
	hook func()
}

func (s *storeWithHook) ReadAll(ctx context.Context, from uint64, fn func(eventstore.RecordedEvent) error) error {
	if s.hook != nil {
		s.hook()
		s.hook = nil
	}
	return s.Store.ReadAll(ctx, from, fn)
}

func TestRebuildCatchesUpWithTheLiveProcess(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store := openStore(t, dir)
	newScriptedCase(t, "CR-1").until(t, store, "notice")
	events := readAll(t, store)
	half := len(events) / 2

	reference := openDB(t, filepath.Join(dir, "reference.db"))
	for _, e := range events {
		if err := reference.Apply(ctx, e); err != nil {
			t.Fatal(err)
		}
	}

	path := filepath.Join(dir, "read.db")
	live := openDB(t, path)
	for _, e := range events[:half] {
		if err := live.Apply(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	// The live process applies the second half after the rebuild has fixed where its fill stops,
	// so only the swap's catch-up can bring the rebuilt models level with the others.
	hooked := &storeWithHook{Store: store, hook: func() {
		for _, e := range events[half:] {
			if err := live.Apply(ctx, e); err != nil {
				t.Error(err)
			}
		}
	}}
	if err := Rebuild(ctx, path, hooked, []string{ModelBoard, ModelInbox, ModelState}); err != nil {
		t.Fatal(err)
	}
	sameDump(t, dump(t, live), dump(t, reference))
}

func TestFileOfTheFirstVersionIsRebuiltAtStart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store := openStore(t, dir)
	last := newScriptedCase(t, "CR-1").until(t, store, "entry-1")
	reference := openDB(t, filepath.Join(dir, "reference.db"))
	follow(t, reference, store)
	caughtUp(t, reference, last)

	// The first version of this package kept one "cases" model and its checkpoint.
	path := filepath.Join(dir, "read.db")
	old, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.db.Exec(`DROP TABLE board; DELETE FROM checkpoints;
		CREATE TABLE cases (id TEXT PRIMARY KEY, stage TEXT NOT NULL, position INTEGER NOT NULL);
		INSERT INTO cases VALUES ('CR-1', 'notified', 1);
		INSERT INTO checkpoints (name, position, version) VALUES ('cases', ?, 1)`, last); err != nil {
		t.Fatal(err)
	}
	old.Close()

	d := openDB(t, path)
	if stale := d.Stale(); !slices.Equal(stale, ModelNames()) {
		t.Fatalf("stale models %v, want all of %v", stale, ModelNames())
	}
	follow(t, d, store)
	caughtUp(t, d, last)
	checkpoints := dump(t, d)["checkpoints"]
	if len(checkpoints) != len(models)+1 { // and the old "cases" row
		t.Errorf("checkpoints %v", checkpoints)
	}
	got, want := dump(t, d), dump(t, reference)
	delete(got, "checkpoints")
	delete(want, "checkpoints")
	sameDump(t, got, want)
	if _, err := d.GetCase(ctx, "CR-1"); err != nil {
		t.Error(err)
	}
}

// TestChangesFromMemoryMatchTheFile reads the change feed from the in-memory window a live process
// keeps and from the file, as a freshly opened process does, and finds the same changes, in order,
// from every starting position, including after the window has dropped its oldest positions.
func TestChangesFromMemoryMatchTheFile(t *testing.T) {
	dir := t.TempDir()
	store := openStore(t, dir)
	path := filepath.Join(dir, "read.db")
	live := openDB(t, path)
	newScriptedCase(t, "CR-1").until(t, store, "")
	ctx := context.Background()
	events := readAll(t, store)
	for _, e := range events {
		if err := live.Apply(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	collect := func(d *DB, since uint64) []Change {
		var out []Change
		if _, err := d.ChangesSince(ctx, since, func(c Change) error { out = append(out, c); return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	fresh := openDB(t, path)
	if fresh.recentFrom != events[len(events)-1].Position || len(fresh.recent) != 0 {
		t.Fatalf("a fresh process holds changes after %d in memory (%d), want none after the file's end", fresh.recentFrom, len(fresh.recent))
	}
	if live.recentFrom != 0 || len(live.recent) == 0 {
		t.Fatalf("the live process keeps changes after %d (%d of them), want all since it opened", live.recentFrom, len(live.recent))
	}
	for _, since := range []uint64{0, 1, events[len(events)/2].Position, events[len(events)-1].Position} {
		fromMemory, fromFile := collect(live, since), collect(fresh, since)
		if !reflect.DeepEqual(fromMemory, fromFile) {
			t.Fatalf("since %d: memory gives %d changes, the file %d", since, len(fromMemory), len(fromFile))
		}
	}
	// Shrink the window as a long-running process would: what stays is whole positions, and a
	// reader from before it falls back to the file.
	live.mu.Lock()
	cut := len(live.recent) / 2
	for cut < len(live.recent) && live.recent[cut].Position == live.recent[cut-1].Position {
		cut++
	}
	live.recentFrom, live.recent = live.recent[cut-1].Position, live.recent[cut:]
	live.mu.Unlock()
	for _, since := range []uint64{0, live.recentFrom, live.recentFrom + 1} {
		if got, want := collect(live, since), collect(fresh, since); !reflect.DeepEqual(got, want) {
			t.Fatalf("since %d after trimming: %d changes, want %d", since, len(got), len(want))
		}
	}
}
