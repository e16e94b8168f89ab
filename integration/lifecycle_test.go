package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/server/temporaltest"

	"casereview/activities"
	"casereview/calendar"
	"casereview/devtemporal"
	"casereview/eventstore"
	"casereview/eventstore/embedded"
	"casereview/review"
	"casereview/worker"
	"casereview/worker/payloadcrypt"
	"casereview/workflows"
)

var update = flag.Bool("update", false, "re-record workflows/testdata/history-*.json from a fresh run")

// testdata is the workflows package's test data, where recorded histories are kept for its replay test.
var testdata = filepath.Join("..", "workflows", "testdata")

// loadTestKeyring loads the committed test-only keyring. Git does not keep file modes and
// LoadKeyring refuses a file others may read, so it loads a private copy.
func loadTestKeyring(t *testing.T) *payloadcrypt.Keyring {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testdata, "keyring-test.json"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "keyring.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil { // a umask cannot widen it, but be explicit
		t.Fatal(err)
	}
	kr, err := payloadcrypt.LoadKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// temporalRig is a temporaltest server with casereview's search attributes, a client with
// encrypted payloads and an embedded event store; workers are started by each test.
type temporalRig struct {
	ts     *temporaltest.TestServer
	opts   client.Options
	client client.Client
	store  eventstore.Store
}

func startTemporal(t *testing.T, kr *payloadcrypt.Keyring) *temporalRig {
	t.Helper()
	ts := temporaltest.NewServer(temporaltest.WithT(t))
	if err := devtemporal.EnsureSearchAttributes(context.Background(), ts.GetFrontendHostPort(), ts.GetDefaultNamespace(), workflows.SearchAttributes); err != nil {
		t.Fatal(err)
	}
	opts := worker.ClientOptions(ts.GetFrontendHostPort(), ts.GetDefaultNamespace(), kr, zerolog.Nop())
	store, err := embedded.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return &temporalRig{ts: ts, opts: opts, client: ts.NewClientWithOptions(opts), store: store}
}

// startWorker starts a worker on its own client connection, as a separate worker process would have.
func (r *temporalRig) startWorker(t *testing.T, store eventstore.Store) sdkworker.Worker {
	t.Helper()
	w := sdkworker.New(r.ts.NewClientWithOptions(r.opts), workflows.TaskQueue, sdkworker.Options{})
	worker.Register(w, &activities.Activities{Store: store})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	return w
}

// notification is an invented case notified yesterday (never in the future in London).
func notification(t *testing.T, caseID string) review.NotifyIncident {
	t.Helper()
	yesterday := calendar.DateOf(time.Now().UTC().AddDate(0, 0, -1))
	return review.NotifyIncident{
		By:     review.By{Actor: bu},
		CaseID: caseID,
		Notification: review.Notification{
			Framework: "lcspr/wt2023", Notifier: bu.UserID, NotifierAgency: "local-authority",
			AwarenessDate: yesterday, IncidentDate: yesterday, IncidentPlace: "an invented address",
			Nature: review.NatureSeriousHarm, Outline: "Invented test case.",
			Children: []review.Child{{Name: "Invented Child", Sex: "female", KnownToAgencies: true}},
		},
	}
}

var (
	bu     = review.Actor{UserID: "u-bu", Role: review.RoleBusinessUnit, Agency: "partnership"}
	la     = review.Actor{UserID: "u-la", Role: review.RolePartner, Agency: "local-authority"}
	icb    = review.Actor{UserID: "u-icb", Role: review.RolePartner, Agency: "icb"}
	police = review.Actor{UserID: "u-pol", Role: review.RolePartner, Agency: "police"}
	panel  = review.Actor{UserID: "u-panel", Role: review.RolePanel}
)

// command sends one lifecycle command and fails the test if the case refuses it.
func command(t *testing.T, ctx context.Context, cases workflows.Cases, caseID string, cmd review.Command) workflows.CommandResult {
	t.Helper()
	payload, err := json.Marshal(cmd)
	if err != nil {
		t.Fatal(err)
	}
	res, err := cases.Command(ctx, caseID, workflows.CommandRequest{Name: cmd.CommandName(), Actor: review.ActorOf(cmd), Payload: payload, CorrelationID: caseID})
	if err != nil {
		t.Fatalf("%s: %v", cmd.CommandName(), err)
	}
	return res
}

// settledHistory fetches a workflow's history once it has stopped growing with no workflow task
// outstanding, so that it ends where a replay can end.
func settledHistory(t *testing.T, ctx context.Context, c client.Client, workflowID string) *historypb.History {
	t.Helper()
	var prev int
	var hist *historypb.History
	eventually(t, "history of "+workflowID+" settles", func() error {
		hist = &historypb.History{}
		it := c.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				return err
			}
			hist.Events = append(hist.Events, e)
		}
		n := len(hist.Events)
		if n == 0 {
			return errors.New("no events")
		}
		last := hist.Events[n-1].GetEventType()
		if last == enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED || last == enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED {
			prev = n
			return fmt.Errorf("workflow task outstanding at event %d", n)
		}
		if n != prev {
			prev = n
			time.Sleep(300 * time.Millisecond)
			return fmt.Errorf("still growing: %d events", n)
		}
		return nil
	})
	return hist
}

// replayer replays casereview histories with the decrypting converters of kr.
func replayer(t *testing.T, kr *payloadcrypt.Keyring) sdkworker.WorkflowReplayer {
	t.Helper()
	rp, err := sdkworker.NewWorkflowReplayerWithOptions(sdkworker.WorkflowReplayerOptions{
		DataConverter:    payloadcrypt.DataConverter(kr),
		FailureConverter: payloadcrypt.FailureConverter(kr),
	})
	if err != nil {
		t.Fatal(err)
	}
	rp.RegisterWorkflow(workflows.Review)
	rp.RegisterWorkflow(workflows.AgencyRequest)
	rp.RegisterWorkflow(workflows.ActionItem)
	return rp
}

// TestRecordedHistories runs a short case on a real Temporal server, through the rapid review and
// the decision to a first agency request, and checks that the histories of the case and of its
// AgencyRequest child replay against today's code. With -update, or when they are missing, it
// writes them to workflows/testdata for the workflows package's replay test.
func TestRecordedHistories(t *testing.T) {
	kr := loadTestKeyring(t)
	r := startTemporal(t, kr)
	r.startWorker(t, r.store)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cases := workflows.Cases{Client: r.client}
	const id = "CR-HIST0001"
	if err := cases.StartCase(ctx, workflows.ReviewInput{CaseID: id, Notify: notification(t, id), CorrelationID: id}); err != nil {
		t.Fatal(err)
	}
	by := func(a review.Actor) review.By { return review.By{Actor: a} }
	for _, cmd := range []review.Command{
		review.SendNotification{By: by(bu), Reference: "SIN-H"},
		review.RecordRapidReviewFacts{By: by(bu), Facts: "facts", AgenciesInvolved: []string{"police-force"}},
		review.SummariseKeyPracticeEpisodes{By: by(bu), Summary: "summary"},
		review.ProposeDecision{By: by(bu), Outcome: review.OutcomeLCSPR, Rationale: "criteria met"},
		review.SignOffRapidReview{By: by(la)},
		review.SignOffRapidReview{By: by(icb)},
		review.SignOffRapidReview{By: by(police)},
		review.SubmitRapidReview{By: by(bu)},
		review.RecordPanelResponse{By: by(panel), Response: review.PanelAgrees},
		review.RecordDecision{By: by(la), Outcome: review.OutcomeLCSPR, Rationale: "learning for the partnership"},
		review.AppointReviewer{By: by(bu), ReviewerID: "rev-1", Name: "Reviewer One", Lead: true, Independence: "no prior involvement"},
		review.AgreeTermsOfReference{By: by(la), Terms: review.TermsOfReferenceAgreed{Scope: "scope", Agencies: []string{"police-force"}, KeyLinesOfEnquiry: []string{"information sharing"}, Method: "Learning Together"}},
		review.RequestFromAgency{By: by(bu), RequestID: "r1", Agency: "police-force", Kind: review.RequestChronology},
	} {
		command(t, ctx, cases, id, cmd)
	}
	st, err := cases.Status(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if st.Stage != "evidence" {
		t.Fatalf("stage %s, want evidence", st.Stage)
	}

	rp := replayer(t, kr)
	quiet := sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	for _, h := range []struct{ workflowID, file string }{
		{workflows.ReviewWorkflowID(id), "history-review.json"},
		{workflows.ChildWorkflowID(id, "request", "r1"), "history-agencyrequest.json"},
	} {
		hist := settledHistory(t, ctx, r.client, h.workflowID)
		data, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
		if err != nil {
			t.Fatal(err)
		}
		// Read back the way the replayer reads a file, so that what is written is what replays.
		back, err := client.HistoryFromJSON(bytes.NewReader(data), client.HistoryJSONOptions{})
		if err != nil {
			t.Fatalf("%s: read back: %v", h.file, err)
		}
		if len(back.Events) != len(hist.Events) {
			t.Fatalf("%s: %d events read back of %d", h.file, len(back.Events), len(hist.Events))
		}
		if err := rp.ReplayWorkflowHistory(quiet, back); err != nil {
			t.Errorf("replay %s: %v", h.workflowID, err)
		}
		path := filepath.Join(testdata, h.file)
		_, statErr := os.Stat(path)
		if *update || errors.Is(statErr, fs.ErrNotExist) {
			if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %s: %d events", path, len(hist.Events))
		}
	}
}

// gatedStore is an event store whose next append, once armed, commits and then never returns:
// the worker process died between writing the events and telling Temporal.
type gatedStore struct {
	eventstore.Store
	armed    atomic.Bool
	appended chan string   // the stream of the gated append, once committed
	hang     chan struct{} // closed when the test ends, to let the stranded goroutine go
}

func (g *gatedStore) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	res, err := g.Store.Append(ctx, stream, expected, events...)
	if err == nil && g.armed.CompareAndSwap(true, false) {
		g.appended <- stream
		<-g.hang
	}
	return res, err
}

// attemptStore notes the activity attempt of every append.
type attemptStore struct {
	eventstore.Store
	mu       sync.Mutex
	attempts []int32
}

func (s *attemptStore) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if activity.IsActivity(ctx) {
		s.mu.Lock()
		s.attempts = append(s.attempts, activity.GetInfo(ctx).Attempt)
		s.mu.Unlock()
	}
	return s.Store.Append(ctx, stream, expected, events...)
}

// TestWorkerKilledMidStage stops the worker while a command is half done: its events are committed
// to the store but the Record activity never reports back. A new worker retries the activity
// after its timeout; the retry lands on the same event IDs, so the store takes it as a retry, and
// the command completes with nothing lost and nothing recorded twice.
func TestWorkerKilledMidStage(t *testing.T) {
	kr, err := payloadcrypt.GenerateKeyring()
	if err != nil {
		t.Fatal(err)
	}
	r := startTemporal(t, kr)
	gated := &gatedStore{Store: r.store, appended: make(chan string, 1), hang: make(chan struct{})}
	t.Cleanup(func() { close(gated.hang) })
	first := r.startWorker(t, gated)

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cases := workflows.Cases{Client: r.client}
	const id = "CR-KILL0001"
	if err := cases.StartCase(ctx, workflows.ReviewInput{CaseID: id, Notify: notification(t, id), CorrelationID: id}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "case notified", func() error {
		st, err := cases.Status(ctx, id)
		if err != nil {
			return err
		}
		if st.Revision != 1 {
			return fmt.Errorf("revision %d", st.Revision)
		}
		return nil
	})

	gated.armed.Store(true)
	type outcome struct {
		res workflows.CommandResult
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		payload, _ := json.Marshal(review.SendNotification{By: review.By{Actor: bu}, Reference: "SIN-K"})
		res, err := cases.Command(ctx, id, workflows.CommandRequest{Name: "SendNotification", Actor: bu, Payload: payload, CorrelationID: id})
		done <- outcome{res, err}
	}()
	select {
	case stream := <-gated.appended:
		if stream != workflows.CaseStream(id) {
			t.Fatalf("gated append to %s", stream)
		}
	case <-ctx.Done():
		t.Fatal("the command's events were never appended")
	}
	// The update is accepted and its events committed; the worker goes away without a word.
	first.Stop()
	select {
	case o := <-done:
		t.Fatalf("the command completed with its worker gone: %+v, %v", o.res, o.err)
	default:
	}

	retrying := &attemptStore{Store: r.store}
	r.startWorker(t, retrying)
	var o outcome
	select {
	case o = <-done:
	case <-ctx.Done():
		t.Fatal("the command did not complete on the new worker")
	}
	if o.err != nil {
		t.Fatalf("SendNotification: %v", o.err)
	}
	retrying.mu.Lock()
	attempts := slices.Clone(retrying.attempts)
	retrying.mu.Unlock()
	if len(attempts) == 0 || attempts[0] < 2 {
		t.Errorf("appends on the new worker were attempts %v; want the stranded Record retried (attempt 2 or later)", attempts)
	}
	sinEvents := []string{review.EventNotificationSent, review.EventClockStopped, review.EventClockStarted}
	if !slices.Equal(o.res.Events, sinEvents) || o.res.Stage != "rapid-review" || o.res.Revision != 4 {
		t.Errorf("command result %+v; want events %v at revision 4, stage rapid-review", o.res, sinEvents)
	}

	// The case goes on at the right revision on the new worker.
	next := command(t, ctx, cases, id, review.RecordRapidReviewFacts{By: review.By{Actor: bu}, Facts: "facts", AgenciesInvolved: []string{"police-force"}})
	if next.Revision != 5 {
		t.Errorf("next command recorded at revision %d, want 5", next.Revision)
	}

	events, err := r.store.ReadStream(ctx, workflows.CaseStream(id), eventstore.Forwards, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]string{review.EventCaseNotified, review.EventClockStarted}, sinEvents...), review.EventRapidReviewFactsRecorded)
	var got []string
	ids := map[string]bool{}
	for i, e := range events {
		got = append(got, e.Type)
		if e.Revision != uint64(i) {
			t.Errorf("event %d at revision %d: revisions have a gap or repeat", i, e.Revision)
		}
		if ids[e.ID] {
			t.Errorf("event ID %s recorded twice", e.ID)
		}
		ids[e.ID] = true
	}
	if !slices.Equal(got, want) {
		t.Errorf("stream %v, want %v", got, want)
	}
	st, err := cases.Status(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if st.Stage != "rapid-review" || st.Revision != int64(len(events)-1) {
		t.Errorf("status %+v; want stage rapid-review at revision %d", st, len(events)-1)
	}
	if _, err := eventstore.Verify(ctx, r.store, r.store.ChainScope()); err != nil {
		t.Errorf("chain: %v", err)
	}
}
