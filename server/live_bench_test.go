package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
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
		if c.Model != projections.ModelAudit && c.Model != projections.ModelAnalysis && (c.Audience.Agency == "" || c.Audience.Agency == "police-north") {
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

// raiseOpenFileLimit lifts the soft limit on open files to at least n, and the hard limit too if
// the process may. Each process of the fan-out benchmark holds one end of every connection.
func raiseOpenFileLimit(n uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("read the open-file limit: %w", err)
	}
	if lim.Cur >= n {
		return nil
	}
	want := syscall.Rlimit{Cur: n, Max: max(lim.Max, n)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		return fmt.Errorf("raise the open-file limit from %d (hard %d) to %d: %w; raise ulimit -n, or run with CAP_SYS_RESOURCE", lim.Cur, lim.Max, n, err)
	}
	return nil
}

// fanoutClientEnv, when set, makes the test binary a fan-out client process instead of running tests.
const fanoutClientEnv = "CASEREVIEW_FANOUT_CLIENT"

func TestMain(m *testing.M) {
	if os.Getenv(fanoutClientEnv) != "" {
		if err := runFanoutClient(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "fan-out client:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// memory is the heap and goroutine stacks in use, after collecting garbage.
type memory struct{ heap, stacks uint64 }

func memoryInUse() memory {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return memory{heap: m.HeapInuse, stacks: m.StackInuse}
}

// perConnection is the growth of heap and of stacks since base, in bytes, shared out over n connections.
func perConnection(base memory, n int) (heap, stacks float64) {
	now := memoryInUse()
	grown := func(now, then uint64) float64 {
		if now < then {
			return 0
		}
		return float64(now-then) / float64(n)
	}
	return grown(now.heap, base.heap), grown(now.stacks, base.stacks)
}

// runFanoutClient is the subscribers' process: it opens the connections its environment asks for
// (URL, Cookie header, count), says "ready BYTES-PER-CONNECTION", and then, for each round of frames,
// once every connection has read its frame, writes one line: the round and each connection's arrival
// time in Unix nanoseconds. It ends when its standard input closes. The subscribers live in a process
// of their own so that each process holds one end of every connection, within the open-file limit.
func runFanoutClient(stdin io.Reader, stdout io.Writer) error {
	url, cookie := os.Getenv(fanoutClientEnv), os.Getenv(fanoutClientEnv+"_COOKIE")
	n, err := strconv.Atoi(os.Getenv(fanoutClientEnv + "_N"))
	if err != nil || n < 1 {
		return fmt.Errorf("%s_N = %q: want the number of connections", fanoutClientEnv, os.Getenv(fanoutClientEnv+"_N"))
	}
	if err := raiseOpenFileLimit(uint64(n) + 256); err != nil {
		return err
	}
	header := http.Header{}
	if cookie != "" {
		header.Set("Cookie", cookie)
	}
	base := memoryInUse()
	dialer := &websocket.Dialer{HandshakeTimeout: 60 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 1024,
		NetDialContext: (&net.Dialer{Timeout: 60 * time.Second}).DialContext}
	conns := make([]*websocket.Conn, n)
	// At most 64 handshakes at a time, so the listen backlog never overflows.
	sem := make(chan struct{}, 64)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ws, _, err := dialer.Dial(url, header)
			if err != nil {
				errs <- fmt.Errorf("dial %d: %w", i, err)
				return
			}
			conns[i] = ws
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	defer func() {
		for _, ws := range conns {
			ws.Close()
		}
	}()

	var mu sync.Mutex
	arrivals := map[int][]int64{} // by round
	got := map[int]int{}          // connections that have read the round's frame
	complete := make(chan int, 1024)
	for i, ws := range conns {
		go func() {
			for round := 0; ; round++ {
				if _, _, err := ws.ReadMessage(); err != nil {
					return
				}
				now := time.Now().UnixNano()
				mu.Lock()
				if arrivals[round] == nil {
					arrivals[round] = make([]int64, n)
				}
				arrivals[round][i] = now
				got[round]++
				if got[round] == n {
					complete <- round
				}
				mu.Unlock()
			}
		}()
	}
	w := bufio.NewWriter(stdout)
	heap, stacks := perConnection(base, n)
	fmt.Fprintf(w, "ready %.0f\n", heap+stacks)
	if err := w.Flush(); err != nil {
		return err
	}
	stop := make(chan struct{})
	go func() { io.Copy(io.Discard, stdin); close(stop) }()
	for {
		select {
		case <-stop:
			return nil
		case round := <-complete:
			mu.Lock()
			times := arrivals[round]
			delete(arrivals, round)
			delete(got, round)
			mu.Unlock()
			fmt.Fprintf(w, "%d", round)
			for _, t := range times {
				fmt.Fprintf(w, " %d", t)
			}
			w.WriteByte('\n')
			if err := w.Flush(); err != nil {
				return err
			}
		}
	}
}

// clientProcess is a running fan-out client process, seen from the benchmark.
type clientProcess struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	out     *bufio.Reader
	perConn float64 // the client end's bytes per connection
	lines   chan string
	errs    chan error
}

// startClients starts a process of n subscribers to url and waits until all are connected.
func startClients(b *testing.B, url string, header http.Header, n int) *clientProcess {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), fanoutClientEnv+"="+url, fanoutClientEnv+"_COOKIE="+header.Get("Cookie"), fanoutClientEnv+"_N="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	p := &clientProcess{cmd: cmd, stdin: stdin, out: bufio.NewReaderSize(stdout, 1<<20), lines: make(chan string, 64), errs: make(chan error, 1)}
	b.Cleanup(p.stop)
	go func() {
		for {
			line, err := p.out.ReadString('\n')
			if err != nil {
				p.errs <- fmt.Errorf("the client process ended: %w", err)
				return
			}
			p.lines <- strings.TrimSpace(line)
		}
	}()
	line := p.next(b, 5*time.Minute)
	v, ok := strings.CutPrefix(line, "ready ")
	if !ok {
		b.Fatalf("the client process said %q, not ready", line)
	}
	p.perConn, _ = strconv.ParseFloat(v, 64)
	return p
}

func (p *clientProcess) next(b *testing.B, timeout time.Duration) string {
	b.Helper()
	select {
	case line := <-p.lines:
		return line
	case err := <-p.errs:
		b.Fatal(err)
	case <-time.After(timeout):
		b.Fatalf("no word from the client process in %s", timeout)
	}
	return ""
}

// round waits for the client process to report that every subscriber has read round k's frame,
// and returns the latencies after start.
func (p *clientProcess) round(b *testing.B, k int, start time.Time) []time.Duration {
	b.Helper()
	fields := strings.Fields(p.next(b, 2*time.Minute))
	if len(fields) < 2 || fields[0] != strconv.Itoa(k) {
		b.Fatalf("round %d: the client process reported %.40q", k, fields)
	}
	out := make([]time.Duration, 0, len(fields)-1)
	for _, f := range fields[1:] {
		ns, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			b.Fatalf("round %d: arrival %q: %v", k, f, err)
		}
		out = append(out, time.Duration(ns-start.UnixNano()))
	}
	return out
}

func (p *clientProcess) stop() {
	p.stdin.Close()
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
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

func (h *bareHub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
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
	latencies     []time.Duration
	serverHeap    float64 // bytes of heap per connection in the server's process
	serverStacks  float64 // bytes of goroutine stacks per connection in the server's process
	clientPerConn float64 // bytes of heap and stacks per connection in the subscribers' process
}

func (f fanoutResult) report(b *testing.B) {
	slices.Sort(f.latencies)
	q := func(p float64) float64 {
		return float64(f.latencies[int(p*float64(len(f.latencies)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(f.latencies[len(f.latencies)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric((f.serverHeap+f.serverStacks)/1024, "server-KiB/conn")
	b.ReportMetric(f.serverStacks/1024, "server-stack-KiB/conn")
	b.ReportMetric(f.clientPerConn/1024, "client-KiB/conn")
}

// BenchmarkLiveFanout delivers one read-model change to 1,000 and 10,000 live-feed subscribers on
// loopback, and the same frame to as many connections of a bare gorilla/websocket broadcast, in
// the same run. Each iteration is one change; latency runs from just before the change is
// committed to the read models (for the baseline, just before the broadcast) until each subscriber
// has read the frame. The subscribers run in a child process (this test binary again, see
// TestMain), so each process holds one end of each connection; memory per connection is the growth
// of heap and stacks in each process, GC'd, divided by the connections.
//
//	go test -run x -bench LiveFanout -benchtime 20x ./server
func BenchmarkLiveFanout(b *testing.B) {
	if err := raiseOpenFileLimit(benchOpenFiles); err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("casereview/subscribers=%d", n), func(b *testing.B) { benchCasereview(b, n).report(b) })
		b.Run(fmt.Sprintf("bare-gorilla/subscribers=%d", n), func(b *testing.B) { benchBare(b, n).report(b) })
	}
}

// benchOpenFiles is the open-file limit each process of the benchmark needs: one descriptor for
// each of 10,000 connections, and room for the listener, the databases and the runtime.
const benchOpenFiles = 10000 + 256

// benchStream is a stream outside any case: each event in it makes exactly one change (its audit
// row), which the coordinator may see, so each iteration sends each subscriber exactly one frame.
const benchStream = "bench-fanout"

func benchCasereview(b *testing.B, n int) fanoutResult {
	r := newLiveRig(b)
	header := r.header(b, "dev-coordinator")
	// One subscriber in this process checks what is delivered.
	probe, _, err := websocket.DefaultDialer.Dial(r.liveURL(r.pos), header)
	if err != nil {
		b.Fatal(err)
	}
	defer probe.Close()
	base := memoryInUse()
	clients := startClients(b, r.liveURL(r.pos), header, n)

	// A first change, untimed, proves every connection is following the feed.
	pos := r.apply(b, benchStream, "BenchmarkNoted", []byte(`{"n":0}`))
	clients.round(b, 0, time.Now())
	var frame liveMessage
	probe.SetReadDeadline(time.Now().Add(time.Minute))
	if err := probe.ReadJSON(&frame); err != nil || frame.Position != pos || frame.Change == nil || frame.Change.Model != projections.ModelAudit {
		b.Fatalf("first frame %+v (%v), want the audit change at %d", frame, err, pos)
	}
	go func() {
		for {
			if _, _, err := probe.ReadMessage(); err != nil {
				return
			}
		}
	}()
	res := fanoutResult{clientPerConn: clients.perConn}
	res.serverHeap, res.serverStacks = perConnection(base, n)

	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		r.apply(b, benchStream, "BenchmarkNoted", []byte(`{"n":`+strconv.Itoa(i+1)+`}`))
		res.latencies = append(res.latencies, clients.round(b, i+1, start)...)
	}
	b.StopTimer()
	return res
}

func benchBare(b *testing.B, n int) fanoutResult {
	hub := &bareHub{}
	hs := httptest.NewServer(hub)
	defer hs.Close()
	defer hub.close()
	// The same frame as the live feed sends for one audit change.
	body, err := json.Marshal(liveMessage{Type: "change", Position: 12345, Change: &projections.Change{Position: 12345, Model: projections.ModelAudit}})
	if err != nil {
		b.Fatal(err)
	}
	prepare := func() *websocket.PreparedMessage {
		m, err := websocket.NewPreparedMessage(websocket.TextMessage, body)
		if err != nil {
			b.Fatal(err)
		}
		return m
	}
	base := memoryInUse()
	clients := startClients(b, "ws"+strings.TrimPrefix(hs.URL, "http"), http.Header{}, n)
	for deadline := time.Now().Add(time.Minute); hub.count() < n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d connections registered", hub.count(), n)
		}
	}
	hub.broadcast(prepare())
	clients.round(b, 0, time.Now())
	res := fanoutResult{clientPerConn: clients.perConn}
	res.serverHeap, res.serverStacks = perConnection(base, n)

	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		hub.broadcast(prepare())
		res.latencies = append(res.latencies, clients.round(b, i+1, start)...)
	}
	b.StopTimer()
	return res
}
