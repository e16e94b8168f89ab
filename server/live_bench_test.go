package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"casereview/auth"
	"casereview/calendar"
	"casereview/eventstore"
	"casereview/projections"
	"casereview/review"
	"casereview/server/apiclient"
	"casereview/workflows"
)

// errNoWorkflows is what the fake case backend answers: these tests exercise the read side only.
var errNoWorkflows = errors.New("no workflows in this test")

// readOnlyCases is a Cases with no Temporal behind it.
type readOnlyCases struct{}

func (readOnlyCases) StartCase(context.Context, workflows.ReviewInput) error { return errNoWorkflows }
func (readOnlyCases) Command(context.Context, string, workflows.CommandRequest) (workflows.CommandResult, error) {
	return workflows.CommandResult{}, errNoWorkflows
}
func (readOnlyCases) Status(context.Context, string) (workflows.ReviewStatus, error) {
	return workflows.ReviewStatus{}, errNoWorkflows
}

// liveRig is a server over a projections database that the test feeds events to directly, in the
// place of the event log and the projection runner.
type liveRig struct {
	db    *projections.DB
	srv   *Server
	http  *httptest.Server
	rules *review.RuleSet
	cal   *calendar.Calendar
	pos   uint64
	rev   map[string]uint64
	cases map[string]*review.Case
}

func newLiveRig(tb testing.TB) *liveRig {
	tb.Helper()
	dir := tb.TempDir()
	db, err := projections.Open(filepath.Join(dir, "readmodels.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	store, err := auth.OpenStore(context.Background(), filepath.Join(dir, "auth.db"), time.Now)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	a, err := auth.New(auth.Config{Store: store, InsecureCookies: true, Logger: zerolog.Nop()})
	if err != nil {
		tb.Fatal(err)
	}
	dev, err := auth.NewDevSignIn(nil)
	if err != nil {
		tb.Fatal(err)
	}
	srv := New(Config{Cases: readOnlyCases{}, ReadModels: db, Auth: a, SignIn: dev, Logger: zerolog.Nop()})
	hs := httptest.NewServer(srv)
	tb.Cleanup(hs.Close)
	tb.Cleanup(srv.Close) // runs before hs.Close: live handlers say goodbye and return
	rules, err := review.Rules("lcspr/wt2023")
	if err != nil {
		tb.Fatal(err)
	}
	cal, err := calendar.ForRegion(rules.CalendarRegion)
	if err != nil {
		tb.Fatal(err)
	}
	return &liveRig{db: db, srv: srv, http: hs, rules: rules, cal: cal, rev: map[string]uint64{}, cases: map[string]*review.Case{}}
}

// apply gives the read models one event of stream at the next position, as the projection runner
// would, and returns its position.
func (r *liveRig) apply(tb testing.TB, stream, typ string, data []byte) uint64 {
	tb.Helper()
	r.pos++
	e := eventstore.RecordedEvent{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", r.pos), Type: typ, Data: data,
		Metadata: json.RawMessage(`{"actor":"workflow","role":"system","schemaVersion":1}`),
		Stream:   stream, Revision: r.rev[stream], Position: r.pos, Recorded: time.Now().UTC()}
	r.rev[stream]++
	if err := r.db.Apply(context.Background(), e); err != nil {
		tb.Fatalf("apply %s at %d: %v", typ, r.pos, err)
	}
	return r.pos
}

// command decides cmd on a case as its workflow would and applies the events it records.
func (r *liveRig) command(tb testing.TB, caseID string, cmd review.Command) {
	tb.Helper()
	c, ok := r.cases[caseID]
	if !ok {
		c = review.NewCase(r.rules)
		r.cases[caseID] = c
	}
	events, err := c.Decide(cmd, time.Now(), r.rules, r.cal)
	if err != nil {
		tb.Fatalf("%s: %v", cmd.CommandName(), err)
	}
	if err := c.Apply(events...); err != nil {
		tb.Fatal(err)
	}
	for _, e := range events {
		typ, data, err := review.EncodeEvent(e)
		if err != nil {
			tb.Fatal(err)
		}
		r.apply(tb, workflows.CaseStream(caseID), typ, data)
	}
}

var benchBU = review.By{Actor: review.Actor{UserID: "u-bu", Role: review.RoleBusinessUnit, Agency: "partnership"}}

// notify opens a case notified yesterday, with the agencies involved recorded.
func (r *liveRig) notify(tb testing.TB, caseID string, agencies ...string) {
	tb.Helper()
	yesterday := calendar.DateOf(time.Now().In(london).AddDate(0, 0, -1))
	r.command(tb, caseID, review.NotifyIncident{By: benchBU, CaseID: caseID, Notification: review.Notification{
		Framework: "lcspr/wt2023", Notifier: "u-bu", NotifierAgency: "local-authority", AwarenessDate: yesterday, IncidentDate: yesterday,
		Nature: review.NatureSeriousHarm, Outline: "Invented.", Children: []review.Child{{Name: "Invented Child", Sex: "female"}}}})
	if len(agencies) > 0 {
		r.command(tb, caseID, review.SendNotification{By: benchBU, Reference: "SIN"})
		r.command(tb, caseID, review.RecordRapidReviewFacts{By: benchBU, Facts: "facts", AgenciesInvolved: agencies})
	}
}

// header signs in as a dev user and returns the headers of a live-feed handshake as them.
func (r *liveRig) header(tb testing.TB, userID string) http.Header {
	tb.Helper()
	c, err := apiclient.SignInDev(context.Background(), r.http.URL, userID)
	if err != nil {
		tb.Fatal(err)
	}
	return c.Header()
}

func (r *liveRig) liveURL(since uint64) string {
	return "ws" + strings.TrimPrefix(r.http.URL, "http") + "/api/v1/live?since=" + strconv.FormatUint(since, 10)
}

// TestLiveAgencyLeadsDoNotStall opens many live connections for agency leads, whose every case
// change needs the case's agencies looked up, and checks that a burst of changes reaches all of
// them while the read API and the projections keep working. Each connection reads the changes
// table itself; if one held its database connection while it looked up a case or wrote to its
// socket, a few of them would take the whole (small) pool and everything would wait on everything.
func TestLiveAgencyLeadsDoNotStall(t *testing.T) {
	r := newLiveRig(t)
	const id = "CR-STALL001"
	r.notify(t, id, "police-north")
	lead := r.header(t, "dev-lead-police-north")
	coordinator, err := apiclient.SignInDev(context.Background(), r.http.URL, "dev-coordinator")
	if err != nil {
		t.Fatal(err)
	}
	const conns = 48
	var received atomic.Int64
	since := r.pos
	for range conns {
		ws, _, err := websocket.DefaultDialer.Dial(r.liveURL(since), lead)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.Close() })
		go func() {
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					return
				}
				received.Add(1)
			}
		}()
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		// Case changes, each of which makes every lead's connection look the case up again.
		r.command(t, id, review.SummariseKeyPracticeEpisodes{By: benchBU, Summary: "summary"})
		r.command(t, id, review.ProposeDecision{By: benchBU, Outcome: review.OutcomeLCSPR, Rationale: "criteria met"})
		r.command(t, id, review.RecordImmediateActions{By: benchBU, Actions: []string{"safety plan"}})
	}()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("the projections could not apply three events in 15 s while leads were connected: the read-model pool is starved")
	}
	var want int
	if _, err := r.db.ChangesSince(context.Background(), since, func(c projections.Change) error {
		if c.Model != projections.ModelAudit && (c.Audience.Agency == "" || c.Audience.Agency == "police-north") {
			want++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for received.Load() < int64(want*conns) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := received.Load(); got != int64(want*conns) {
		t.Fatalf("%d frames reached %d leads, want %d each (%d)", got, conns, want, want*conns)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var board struct {
		Cases []projections.BoardRow `json:"cases"`
	}
	if status, err := coordinator.Get(ctx, "/api/v1/cases", &board); err != nil || status != http.StatusOK || len(board.Cases) != 1 {
		t.Fatalf("the board while leads are connected: %d %v %+v", status, err, board)
	}
}

// raiseOpenFileLimit lifts the soft and hard limits on open files to at least n: every websocket
// on loopback costs two descriptors in this process, the client's and the server's.
func raiseOpenFileLimit(tb testing.TB, n uint64) {
	tb.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		tb.Fatal(err)
	}
	if lim.Cur >= n {
		return
	}
	want := syscall.Rlimit{Cur: n, Max: max(lim.Max, n)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		tb.Fatalf("raise the open-file limit from %d/%d to %d: %v (run as root, or raise ulimit -n first)", lim.Cur, lim.Max, n, err)
	}
}

// benchOpenFiles is the open-file limit the fan-out benchmark sets: two descriptors for each of
// 10,000 connections, and room for the listener, the databases and the runtime.
const benchOpenFiles = 65536

// subscribers are websocket clients that note when each frame arrives.
type subscribers struct {
	conns    []*websocket.Conn
	mu       sync.Mutex
	arrivals []time.Time // of the current round, one per connection
	pending  sync.WaitGroup
	first    chan []byte // the first frame of one connection, for checking what was delivered
}

// dialAll opens n connections to url with at most 64 handshakes at a time, so the listen backlog
// never overflows, and starts a reader on each.
func dialAll(tb testing.TB, url string, header http.Header, n int) *subscribers {
	tb.Helper()
	s := &subscribers{conns: make([]*websocket.Conn, n), first: make(chan []byte, 1)}
	dialer := &websocket.Dialer{HandshakeTimeout: 30 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 1024,
		NetDialContext: (&net.Dialer{Timeout: 30 * time.Second}).DialContext}
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ws, _, err := dialer.Dial(url, header)
			if err != nil {
				mu.Lock()
				firstErr = cmpErr(firstErr, fmt.Errorf("dial %d: %w", i, err))
				mu.Unlock()
				return
			}
			s.conns[i] = ws
		}()
	}
	wg.Wait()
	if firstErr != nil {
		s.close()
		tb.Fatal(firstErr)
	}
	s.arrivals = make([]time.Time, n)
	for i, ws := range s.conns {
		go func() {
			for {
				_, msg, err := ws.ReadMessage()
				if err != nil {
					return
				}
				now := time.Now()
				s.mu.Lock()
				s.arrivals[i] = now
				s.mu.Unlock()
				if i == 0 {
					select {
					case s.first <- msg:
					default:
					}
				}
				s.pending.Done()
			}
		}()
	}
	return s
}

func cmpErr(old, err error) error {
	if old != nil {
		return old
	}
	return err
}

// expect arms a round: one frame per connection.
func (s *subscribers) expect() { s.pending.Add(len(s.conns)) }

// wait waits for the round to complete and returns each connection's delivery latency after start.
func (s *subscribers) wait(tb testing.TB, start time.Time, timeout time.Duration) []time.Duration {
	tb.Helper()
	done := make(chan struct{})
	go func() { s.pending.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		tb.Fatalf("not every one of %d subscribers received the frame within %s", len(s.conns), timeout)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]time.Duration, len(s.arrivals))
	for i, at := range s.arrivals {
		out[i] = at.Sub(start)
	}
	return out
}

func (s *subscribers) close() {
	for _, ws := range s.conns {
		if ws != nil {
			ws.Close()
		}
	}
}

// heapAndStacks is the memory a connection's goroutines and buffers occupy.
func heapAndStacks() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

// perConnection is the growth of heap and stacks since base, shared out over n connections.
func perConnection(base uint64, n int) float64 {
	now := heapAndStacks()
	if now < base {
		return 0
	}
	return float64(now-base) / float64(n)
}

// bareHub is the baseline: a plain gorilla/websocket server that writes each broadcast to every
// connection from that connection's own goroutine, as gorilla's chat example does.
type bareHub struct {
	mu    sync.Mutex
	conns []chan *websocket.PreparedMessage
	wg    sync.WaitGroup
}

func (h *bareHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{ReadBufferSize: 512, WriteBufferSize: 4096}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	send := make(chan *websocket.PreparedMessage, 16)
	h.mu.Lock()
	h.conns = append(h.conns, send)
	h.mu.Unlock()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer ws.Close()
		for m := range send {
			ws.SetWriteDeadline(time.Now().Add(writeWait))
			if err := ws.WritePreparedMessage(m); err != nil {
				return
			}
		}
	}()
	go func() {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
}

func (h *bareHub) broadcast(m *websocket.PreparedMessage) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.conns {
		c <- m
	}
}

func (h *bareHub) close() {
	h.mu.Lock()
	for _, c := range h.conns {
		close(c)
	}
	h.conns = nil
	h.mu.Unlock()
	h.wg.Wait()
}

// fanoutResult is what one run of the fan-out measured.
type fanoutResult struct {
	latencies []time.Duration
	perConn   float64 // bytes of heap and stacks per connection, both ends in this process
}

func (f fanoutResult) report(b *testing.B) {
	slices.Sort(f.latencies)
	q := func(p float64) float64 {
		return float64(f.latencies[int(p*float64(len(f.latencies)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(f.latencies[len(f.latencies)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(f.perConn/1024, "KiB/conn")
}

// BenchmarkLiveFanout delivers one read-model change to 1,000 and 10,000 live-feed subscribers on
// loopback, and the same frame to as many connections of a bare gorilla/websocket broadcast, in
// the same run. Each iteration is one change; latency is from just before the change is committed
// to the read models (for the baseline, just before the broadcast) until each subscriber has read
// the frame. Memory per connection counts both ends, since both run in this process.
//
//	go test -run x -bench LiveFanout -benchtime 20x ./server
func BenchmarkLiveFanout(b *testing.B) {
	raiseOpenFileLimit(b, benchOpenFiles)
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("casereview/subscribers=%d", n), func(b *testing.B) { benchCasereview(b, n).report(b) })
		b.Run(fmt.Sprintf("bare-gorilla/subscribers=%d", n), func(b *testing.B) { benchBare(b, n).report(b) })
	}
}

// benchStream is a stream outside any case: each event in it makes exactly one change (its audit
// row), which the coordinator may see, so each iteration sends each subscriber exactly one frame.
const benchStream = "bench-fanout"

func benchCasereview(b *testing.B, n int) fanoutResult {
	r := newLiveRig(b)
	header := r.header(b, "dev-coordinator")
	base := heapAndStacks()
	subs := dialAll(b, r.liveURL(r.pos), header, n)
	defer subs.close()
	timeout := 60 * time.Second

	// A first change, untimed, proves every connection is following the feed.
	subs.expect()
	pos := r.apply(b, benchStream, "BenchmarkNoted", []byte(`{"n":0}`))
	subs.wait(b, time.Now(), timeout)
	var frame liveMessage
	if err := json.Unmarshal(<-subs.first, &frame); err != nil || frame.Position != pos || frame.Change == nil || frame.Change.Model != projections.ModelAudit {
		b.Fatalf("first frame %+v (%v), want the audit change at %d", frame, err, pos)
	}
	perConn := perConnection(base, n)

	var all []time.Duration
	b.ResetTimer()
	for i := range b.N {
		subs.expect()
		start := time.Now()
		r.apply(b, benchStream, "BenchmarkNoted", []byte(`{"n":`+strconv.Itoa(i+1)+`}`))
		all = append(all, subs.wait(b, start, timeout)...)
	}
	b.StopTimer()
	return fanoutResult{latencies: all, perConn: perConn}
}

func benchBare(b *testing.B, n int) fanoutResult {
	hub := &bareHub{}
	hs := httptest.NewServer(hub)
	defer hs.Close()
	defer hub.close()
	base := heapAndStacks()
	subs := dialAll(b, "ws"+strings.TrimPrefix(hs.URL, "http"), nil, n)
	defer subs.close()
	// The same frame as the live feed sends for one audit change.
	body, err := json.Marshal(liveMessage{Type: "change", Position: 12345, Change: &projections.Change{Position: 12345,
		Model: projections.ModelAudit, Audience: projections.Audience{}}})
	if err != nil {
		b.Fatal(err)
	}
	timeout := 60 * time.Second
	// Wait for every handshake to be registered, then one untimed round.
	for deadline := time.Now().Add(timeout); ; time.Sleep(10 * time.Millisecond) {
		hub.mu.Lock()
		k := len(hub.conns)
		hub.mu.Unlock()
		if k == n {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d connections registered", k, n)
		}
	}
	prepare := func() *websocket.PreparedMessage {
		m, err := websocket.NewPreparedMessage(websocket.TextMessage, body)
		if err != nil {
			b.Fatal(err)
		}
		return m
	}
	subs.expect()
	hub.broadcast(prepare())
	subs.wait(b, time.Now(), timeout)
	<-subs.first
	perConn := perConnection(base, n)

	var all []time.Duration
	b.ResetTimer()
	for range b.N {
		subs.expect()
		start := time.Now()
		hub.broadcast(prepare())
		all = append(all, subs.wait(b, start, timeout)...)
	}
	b.StopTimer()
	return fanoutResult{latencies: all, perConn: perConn}
}
