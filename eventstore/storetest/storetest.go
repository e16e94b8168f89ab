// Package storetest is the conformance suite that every eventstore.Store implementation must pass.
//
// The suite does not assume an empty log, global positions that start at 1 or are contiguous:
// every subtest writes to streams with a unique random prefix and reads positions relative to the
// events it wrote itself, so it can run against a shared EventStoreDB server. Stream revisions,
// however, must start at 0 and be contiguous.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"casereview/eventstore"
)

// Run runs the conformance suite. open must return a ready store and arrange for it to be closed
// with t.Cleanup; Run calls it once per subtest and never closes the store itself.
func Run(t *testing.T, open func(t *testing.T) eventstore.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s eventstore.Store)
	}{
		{"AppendRead", testAppendRead},
		{"ExpectedRevision", testExpectedRevision},
		{"ConcurrentExact", testConcurrentExact},
		{"Idempotency", testIdempotency},
		{"ReadStream", testReadStream},
		{"ReadAll", testReadAll},
		{"SubscribeCatchUpLive", testSubscribeCatchUpLive},
		{"SubscribeStreamPrefix", testSubscribeStreamPrefix},
		{"LargeEvents", testLargeEvents},
		{"ManyStreams", testManyStreams},
		{"Cancellation", testCancellation},
		{"BadInput", testBadInput},
		{"Verify", testVerify},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

// RunReopen runs the tests that close a store and open it again. open is called twice with the
// same dir (a fresh t.TempDir); stores that keep no local files may ignore dir and connect to the
// same server again. The suite closes the first store itself; open must still register a cleanup
// for each store it returns, and Close must tolerate being called twice.
func RunReopen(t *testing.T, open func(t *testing.T, dir string) eventstore.Store) {
	t.Helper()
	t.Run("Reopen", func(t *testing.T) { testReopen(t, open) })
	t.Run("CloseStopsSubscriptions", func(t *testing.T) { testCloseStopsSubscriptions(t, open) })
}

// NewID returns a random UUID (version 4) in the lowercase canonical form stores accept.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// UniqueStream returns a stream name no other test run uses.
func UniqueStream(name string) string {
	return "storetest-" + name + "-" + NewID()[:8] + NewID()[:8]
}

// Event returns a valid event of type typ with a small JSON body holding n.
func Event(typ string, n int) eventstore.EventData {
	return eventstore.EventData{
		ID:       NewID(),
		Type:     typ,
		Data:     json.RawMessage(fmt.Sprintf(`{"n":%d,"note":"storetest"}`, n)),
		Metadata: json.RawMessage(`{"actor":"storetest","schemaVersion":1}`),
	}
}

// Events returns n events numbered from 0.
func Events(typ string, n int) []eventstore.EventData {
	out := make([]eventstore.EventData, n)
	for i := range out {
		out[i] = Event(typ, i)
	}
	return out
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustAppend(t *testing.T, s eventstore.Store, stream string, exp eventstore.ExpectedRevision, events ...eventstore.EventData) eventstore.AppendResult {
	t.Helper()
	res, err := s.Append(testContext(t), stream, exp, events...)
	if err != nil {
		t.Fatalf("Append(%s, %d events): %v", stream, len(events), err)
	}
	return res
}

func mustRead(t *testing.T, s eventstore.Store, stream string) []eventstore.RecordedEvent {
	t.Helper()
	got, err := s.ReadStream(testContext(t), stream, eventstore.Forwards, 0, 0)
	if err != nil {
		t.Fatalf("ReadStream(%s): %v", stream, err)
	}
	return got
}

// streamLen returns the number of events in stream, 0 when it does not exist.
func streamLen(t *testing.T, s eventstore.Store, stream string) int {
	t.Helper()
	got, err := s.ReadStream(testContext(t), stream, eventstore.Forwards, 0, 0)
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return 0
	}
	if err != nil {
		t.Fatalf("ReadStream(%s): %v", stream, err)
	}
	return len(got)
}

// checkRecorded compares recorded events with the events appended, from revision first.
func checkRecorded(t *testing.T, stream string, first uint64, got []eventstore.RecordedEvent, want []eventstore.EventData) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("stream %s: got %d events, want %d", stream, len(got), len(want))
	}
	var lastPos uint64
	for i, e := range got {
		w := want[i]
		if e.ID != w.ID || e.Type != w.Type || !bytes.Equal(e.Data, w.Data) || !bytes.Equal(e.Metadata, w.Metadata) {
			t.Errorf("event %d: got id=%s type=%s data=%s metadata=%s, want id=%s type=%s data=%s metadata=%s",
				i, e.ID, e.Type, e.Data, e.Metadata, w.ID, w.Type, w.Data, w.Metadata)
		}
		if e.Stream != stream {
			t.Errorf("event %d: stream %q, want %q", i, e.Stream, stream)
		}
		if e.Revision != first+uint64(i) {
			t.Errorf("event %d: revision %d, want %d", i, e.Revision, first+uint64(i))
		}
		if i > 0 && e.Position <= lastPos {
			t.Errorf("event %d: position %d not after previous %d", i, e.Position, lastPos)
		}
		lastPos = e.Position
		if e.Recorded.IsZero() || e.Recorded.Location() != time.UTC {
			t.Errorf("event %d: recorded time %v is zero or not UTC", i, e.Recorded)
		}
		if len(e.Hash) != 64 || len(e.PrevHash) != 64 {
			t.Errorf("event %d: hash %q / prevHash %q are not hex SHA-256", i, e.Hash, e.PrevHash)
		}
	}
}

func testAppendRead(t *testing.T, s eventstore.Store) {
	stream := UniqueStream("append")
	first := Events("Opened", 3)
	res := mustAppend(t, s, stream, eventstore.NoStream(), first...)
	if res.NextRevision != 2 {
		t.Errorf("NextRevision = %d, want 2", res.NextRevision)
	}
	got := mustRead(t, s, stream)
	checkRecorded(t, stream, 0, got, first)
	if got[2].Position != res.Position {
		t.Errorf("result position %d, last event's position %d", res.Position, got[2].Position)
	}

	more := Events("Updated", 2)
	res2 := mustAppend(t, s, stream, eventstore.Exact(2), more...)
	if res2.NextRevision != 4 || res2.Position <= res.Position {
		t.Errorf("second append = %+v, want revision 4 and position after %d", res2, res.Position)
	}
	got = mustRead(t, s, stream)
	checkRecorded(t, stream, 0, got, append(first, more...))

	// Metadata may be left empty.
	bare := eventstore.EventData{ID: NewID(), Type: "Bare", Data: json.RawMessage(`{}`)}
	mustAppend(t, s, stream, eventstore.Exact(4), bare)
	last, err := s.ReadStream(testContext(t), stream, eventstore.Backwards, eventstore.End, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(last) != 1 || last[0].ID != bare.ID || len(last[0].Metadata) != 0 || string(last[0].Data) != "{}" {
		t.Errorf("event without metadata read back as %+v", last)
	}
}

func testExpectedRevision(t *testing.T, s eventstore.Store) {
	tests := []struct {
		name     string
		existing int // events in the stream before the append
		expected eventstore.ExpectedRevision
		wantErr  error
	}{
		{"any on new stream", 0, eventstore.Any(), nil},
		{"any on existing stream", 2, eventstore.Any(), nil},
		{"no stream on new stream", 0, eventstore.NoStream(), nil},
		{"no stream on existing stream", 2, eventstore.NoStream(), eventstore.ErrWrongExpectedRevision},
		{"stream exists on new stream", 0, eventstore.StreamExists(), eventstore.ErrWrongExpectedRevision},
		{"stream exists on existing stream", 2, eventstore.StreamExists(), nil},
		{"exact matching", 2, eventstore.Exact(1), nil},
		{"exact behind", 2, eventstore.Exact(0), eventstore.ErrWrongExpectedRevision},
		{"exact ahead", 2, eventstore.Exact(2), eventstore.ErrWrongExpectedRevision},
		{"exact 0 on new stream", 0, eventstore.Exact(0), eventstore.ErrWrongExpectedRevision},
		{"exact 0 on one event", 1, eventstore.Exact(0), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream := UniqueStream("expected")
			if tt.existing > 0 {
				mustAppend(t, s, stream, eventstore.NoStream(), Events("Seed", tt.existing)...)
			}
			e := Event("Tried", 0)
			res, err := s.Append(testContext(t), stream, tt.expected, e)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Append: err = %v, want %v", err, tt.wantErr)
				}
				if n := streamLen(t, s, stream); n != tt.existing {
					t.Fatalf("failed append changed the stream: %d events, want %d", n, tt.existing)
				}
				return
			}
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			if res.NextRevision != uint64(tt.existing) {
				t.Errorf("NextRevision = %d, want %d", res.NextRevision, tt.existing)
			}
			if n := streamLen(t, s, stream); n != tt.existing+1 {
				t.Errorf("stream has %d events, want %d", n, tt.existing+1)
			}
		})
	}
}

func testConcurrentExact(t *testing.T, s eventstore.Store) {
	stream := UniqueStream("race")
	mustAppend(t, s, stream, eventstore.NoStream(), Event("Seed", 0))
	const writers = 16
	ctx := testContext(t)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = s.Append(ctx, stream, eventstore.Exact(0), Event("Racer", i))
		}()
	}
	close(start)
	wg.Wait()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, eventstore.ErrWrongExpectedRevision):
		default:
			t.Errorf("writer %d: unexpected error %v", i, err)
		}
	}
	if wins != 1 {
		t.Errorf("%d writers won with Exact(0), want exactly 1", wins)
	}
	if n := streamLen(t, s, stream); n != 2 {
		t.Errorf("stream has %d events, want 2", n)
	}
}

func testIdempotency(t *testing.T, s eventstore.Store) {
	ctx := testContext(t)
	stream := UniqueStream("idem")
	ab := Events("Idem", 2)
	first := mustAppend(t, s, stream, eventstore.NoStream(), ab...)

	retries := []struct {
		name     string
		expected eventstore.ExpectedRevision
	}{
		{"no stream again", eventstore.NoStream()},
		{"any", eventstore.Any()},
	}
	for _, r := range retries {
		got, err := s.Append(ctx, stream, r.expected, ab...)
		if err != nil {
			t.Fatalf("retry with %s: %v", r.name, err)
		}
		if got != first {
			t.Errorf("retry with %s = %+v, want the original %+v", r.name, got, first)
		}
	}
	if n := streamLen(t, s, stream); n != 2 {
		t.Fatalf("stream has %d events after retries, want 2", n)
	}

	c := Event("Idem", 2)
	second := mustAppend(t, s, stream, eventstore.Exact(1), c)
	again, err := s.Append(ctx, stream, eventstore.Exact(1), c)
	if err != nil {
		t.Fatalf("retry with Exact(1): %v", err)
	}
	if again != second {
		t.Errorf("retry with Exact(1) = %+v, want %+v", again, second)
	}
	checkRecorded(t, stream, 0, mustRead(t, s, stream), append(ab, c))

	// The same ID in another stream is a different event with a reused ID.
	other := UniqueStream("idem-other")
	if _, err := s.Append(ctx, other, eventstore.Any(), ab[0]); !errors.Is(err, eventstore.ErrDuplicateEventID) {
		t.Errorf("reusing an ID in another stream: err = %v, want ErrDuplicateEventID", err)
	}
	if n := streamLen(t, s, other); n != 0 {
		t.Errorf("other stream has %d events, want 0", n)
	}

	// The same ID at another place in the same stream is not a retry either.
	_, err = s.Append(ctx, stream, eventstore.Exact(2), ab[1])
	if !errors.Is(err, eventstore.ErrDuplicateEventID) && !errors.Is(err, eventstore.ErrWrongExpectedRevision) {
		t.Errorf("reusing an ID later in the same stream: err = %v, want ErrDuplicateEventID or ErrWrongExpectedRevision", err)
	}
	// A batch that mixes a written ID with a new one is not a retry.
	_, err = s.Append(ctx, stream, eventstore.Exact(2), c, Event("Idem", 3))
	if !errors.Is(err, eventstore.ErrDuplicateEventID) && !errors.Is(err, eventstore.ErrWrongExpectedRevision) {
		t.Errorf("reusing an ID with a new one: err = %v, want ErrDuplicateEventID or ErrWrongExpectedRevision", err)
	}
	if n := streamLen(t, s, stream); n != 3 {
		t.Errorf("stream has %d events, want 3", n)
	}
}

func testReadStream(t *testing.T, s eventstore.Store) {
	ctx := testContext(t)
	stream := UniqueStream("read")
	events := Events("Read", 10)
	mustAppend(t, s, stream, eventstore.NoStream(), events...)

	revs := func(es []eventstore.RecordedEvent) []uint64 {
		out := []uint64{}
		for _, e := range es {
			out = append(out, e.Revision)
		}
		return out
	}
	tests := []struct {
		name string
		dir  eventstore.Direction
		from uint64
		max  int
		want []uint64
	}{
		{"forwards all", eventstore.Forwards, 0, 0, []uint64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"forwards from 3 max 4", eventstore.Forwards, 3, 4, []uint64{3, 4, 5, 6}},
		{"forwards max past end", eventstore.Forwards, 8, 5, []uint64{8, 9}},
		{"forwards past end", eventstore.Forwards, 10, 0, []uint64{}},
		{"backwards from end max 3", eventstore.Backwards, eventstore.End, 3, []uint64{9, 8, 7}},
		{"backwards from 5", eventstore.Backwards, 5, 0, []uint64{5, 4, 3, 2, 1, 0}},
		{"backwards from 0", eventstore.Backwards, 0, 0, []uint64{0}},
		{"backwards from end all", eventstore.Backwards, eventstore.End, -1, []uint64{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ReadStream(ctx, stream, tt.dir, tt.from, tt.max)
			if err != nil {
				t.Fatalf("ReadStream: %v", err)
			}
			if g := revs(got); fmt.Sprint(g) != fmt.Sprint(tt.want) {
				t.Fatalf("revisions %v, want %v", g, tt.want)
			}
			for _, e := range got {
				if e.ID != events[e.Revision].ID {
					t.Errorf("revision %d has ID %s, want %s", e.Revision, e.ID, events[e.Revision].ID)
				}
			}
		})
	}
	for _, dir := range []eventstore.Direction{eventstore.Forwards, eventstore.Backwards} {
		_, err := s.ReadStream(ctx, UniqueStream("missing"), dir, 0, 0)
		if !errors.Is(err, eventstore.ErrStreamNotFound) {
			t.Errorf("reading a missing stream (direction %d): err = %v, want ErrStreamNotFound", dir, err)
		}
	}
}

// errStop ends a ReadAll early.
var errStop = errors.New("storetest: stop reading")

// readAllUntil collects the events of streams with prefix after from, up to and including position last.
func readAllUntil(t *testing.T, s eventstore.Store, from, last uint64, prefix string) []eventstore.RecordedEvent {
	t.Helper()
	var out []eventstore.RecordedEvent
	prev := from
	err := s.ReadAll(testContext(t), from, func(e eventstore.RecordedEvent) error {
		if e.Position <= prev {
			return fmt.Errorf("position %d delivered after %d", e.Position, prev)
		}
		prev = e.Position
		if strings.HasPrefix(e.Stream, prefix) {
			out = append(out, e)
		}
		if e.Position >= last {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("ReadAll from %d: err = %v, want it to reach position %d", from, err, last)
	}
	return out
}

func testReadAll(t *testing.T, s eventstore.Store) {
	prefix := UniqueStream("readall")
	a, b := prefix+"-a", prefix+"-b"
	var want []eventstore.EventData
	var wantStream []string
	var firstPos, lastPos uint64
	for i := range 6 {
		stream := a
		if i%2 == 1 {
			stream = b
		}
		e := Event("All", i)
		res := mustAppend(t, s, stream, eventstore.Any(), e)
		if i == 0 {
			firstPos = res.Position
		}
		lastPos = res.Position
		want = append(want, e)
		wantStream = append(wantStream, stream)
	}

	got := readAllUntil(t, s, firstPos-1, lastPos, prefix)
	if len(got) != len(want) {
		t.Fatalf("ReadAll saw %d of our events, want %d", len(got), len(want))
	}
	for i, e := range got {
		if e.ID != want[i].ID || e.Stream != wantStream[i] {
			t.Errorf("event %d: %s in %s, want %s in %s", i, e.ID, e.Stream, want[i].ID, wantStream[i])
		}
	}
	// From a position in the middle: only later events.
	mid := got[2].Position
	later := readAllUntil(t, s, mid, lastPos, prefix)
	if len(later) != 3 || later[0].ID != want[3].ID {
		t.Errorf("ReadAll from position %d gave %d events starting %v, want 3 starting %s", mid, len(later), later, want[3].ID)
	}
	// The callback's error ends the read and comes back.
	calls := 0
	err := s.ReadAll(testContext(t), firstPos-1, func(eventstore.RecordedEvent) error {
		calls++
		return errStop
	})
	if !errors.Is(err, errStop) || calls != 1 {
		t.Errorf("ReadAll with a failing callback: err = %v after %d calls, want errStop after 1", err, calls)
	}
}

// collect reads n events of streams with prefix from sub, failing on a gap, a duplicate or disorder.
func collect(t *testing.T, ctx context.Context, sub eventstore.Subscription, prefix string, n int) []eventstore.RecordedEvent {
	t.Helper()
	var out []eventstore.RecordedEvent
	var prev uint64
	for len(out) < n {
		e, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("Next after %d of %d events: %v", len(out), n, err)
		}
		if prev != 0 && e.Position <= prev {
			t.Fatalf("position %d delivered after %d", e.Position, prev)
		}
		prev = e.Position
		if strings.HasPrefix(e.Stream, prefix) {
			out = append(out, e)
		}
	}
	return out
}

func testSubscribeCatchUpLive(t *testing.T, s eventstore.Store) {
	ctx := testContext(t)
	stream := UniqueStream("sub")
	const before, during, after = 200, 100, 5
	marker := mustAppend(t, s, UniqueStream("sub-marker"), eventstore.NoStream(), Event("Marker", 0))
	for i := 0; i < before; i += 50 {
		mustAppend(t, s, stream, eventstore.Any(), Events("Before", 50)...)
	}

	sub, err := s.SubscribeAll(ctx, eventstore.SubscribeOptions{From: marker.Position})
	if err != nil {
		t.Fatalf("SubscribeAll: %v", err)
	}
	defer sub.Close()

	// Append while the subscription is still catching up, one event per append so that commits
	// interleave with its reads.
	appendErr := make(chan error, 1)
	go func() {
		for i := range during {
			if _, err := s.Append(ctx, stream, eventstore.Exact(uint64(before+i-1)), Event("During", i)); err != nil {
				appendErr <- err
				return
			}
		}
		appendErr <- nil
	}()
	got := collect(t, ctx, sub, stream, before+during)
	if err := <-appendErr; err != nil {
		t.Fatalf("concurrent append: %v", err)
	}
	// Live: nothing more is pending, so these arrive only if commits wake the subscription.
	for i := range after {
		mustAppend(t, s, stream, eventstore.Any(), Event("After", i))
		got = append(got, collect(t, ctx, sub, stream, 1)...)
	}
	for i, e := range got {
		if e.Revision != uint64(i) {
			t.Fatalf("event %d has revision %d: gap, duplicate or disorder", i, e.Revision)
		}
	}
}

func testSubscribeStreamPrefix(t *testing.T, s eventstore.Store) {
	ctx := testContext(t)
	base := UniqueStream("prefix")
	keep1, keep2, drop := base+"-keep-1", base+"-keep-2", base+"-drop"
	marker := mustAppend(t, s, base+"-marker", eventstore.NoStream(), Event("Marker", 0))
	sub, err := s.SubscribeAll(ctx, eventstore.SubscribeOptions{
		From:         marker.Position,
		StreamPrefix: []string{keep1, keep2},
	})
	if err != nil {
		t.Fatalf("SubscribeAll: %v", err)
	}
	defer sub.Close()
	var want []string
	for i := range 12 {
		stream := []string{keep1, drop, keep2}[i%3]
		e := Event("Prefixed", i)
		mustAppend(t, s, stream, eventstore.Any(), e)
		if stream != drop {
			want = append(want, e.ID)
		}
	}
	for i, id := range want {
		e, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("Next %d: %v", i, err)
		}
		if !strings.HasPrefix(e.Stream, keep1) && !strings.HasPrefix(e.Stream, keep2) {
			t.Fatalf("event of stream %s passed the prefix filter", e.Stream)
		}
		if e.ID != id {
			t.Fatalf("event %d is %s, want %s", i, e.ID, id)
		}
	}
}

// sizedEvent returns an event whose data and metadata together are exactly size bytes.
func sizedEvent(size int) eventstore.EventData {
	meta := json.RawMessage(`{"actor":"storetest"}`)
	pad := size - len(meta) - len(`{"pad":""}`)
	data := json.RawMessage(`{"pad":"` + strings.Repeat("x", pad) + `"}`)
	return eventstore.EventData{ID: NewID(), Type: "Large", Data: data, Metadata: meta}
}

func testLargeEvents(t *testing.T, s eventstore.Store) {
	stream := UniqueStream("large")
	// Just under the limit, leaving room for the metadata an implementation may add on the wire.
	big := sizedEvent(eventstore.MaxEventSize - 1024)
	mustAppend(t, s, stream, eventstore.NoStream(), big)
	got := mustRead(t, s, stream)
	checkRecorded(t, stream, 0, got, []eventstore.EventData{big})

	over := sizedEvent(eventstore.MaxEventSize + 1)
	_, err := s.Append(testContext(t), stream, eventstore.Any(), over)
	if !errors.Is(err, eventstore.ErrInvalidEvent) {
		t.Errorf("event over MaxEventSize: err = %v, want ErrInvalidEvent", err)
	}
	if n := streamLen(t, s, stream); n != 1 {
		t.Errorf("stream has %d events, want 1", n)
	}
}

func testManyStreams(t *testing.T, s eventstore.Store) {
	const streams, workers = 500, 16
	ctx := testContext(t)
	base := UniqueStream("many")
	ids := make([]string, streams)
	work := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				e := Event("Many", i)
				ids[i] = e.ID
				if _, err := s.Append(ctx, fmt.Sprintf("%s-%d", base, i), eventstore.NoStream(), e); err != nil {
					errs <- fmt.Errorf("stream %d: %w", i, err)
					return
				}
			}
		}()
	}
	for i := range streams {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := range streams {
		got := mustRead(t, s, fmt.Sprintf("%s-%d", base, i))
		if len(got) != 1 || got[0].ID != ids[i] || got[0].Revision != 0 {
			t.Fatalf("stream %d read back as %+v", i, got)
		}
	}
}

func testCancellation(t *testing.T, s eventstore.Store) {
	marker := mustAppend(t, s, UniqueStream("cancel"), eventstore.NoStream(), Event("Marker", 0))
	sub, err := s.SubscribeAll(testContext(t), eventstore.SubscribeOptions{
		From:         marker.Position,
		StreamPrefix: []string{UniqueStream("cancel-nothing")},
	})
	if err != nil {
		t.Fatalf("SubscribeAll: %v", err)
	}
	defer sub.Close()

	// Cancelled while blocked in Next.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err = sub.Next(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Next after cancel: err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Next took %v to notice cancellation", d)
	}
	// Deadline passes while blocked in Next.
	dctx, dcancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer dcancel()
	if _, err := sub.Next(dctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Next after deadline: err = %v, want context.DeadlineExceeded", err)
	}

	// Close ends a blocked Next.
	sub2, err := s.SubscribeAll(testContext(t), eventstore.SubscribeOptions{
		From:         marker.Position,
		StreamPrefix: []string{UniqueStream("cancel-nothing")},
	})
	if err != nil {
		t.Fatalf("SubscribeAll: %v", err)
	}
	done := make(chan error, 1)
	nextCtx := testContext(t)
	go func() {
		_, err := sub2.Next(nextCtx)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := sub2.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("Next on a closed subscription returned an event")
		}
	case <-time.After(5 * time.Second):
		t.Errorf("Close did not end a blocked Next")
	}
}

func testBadInput(t *testing.T, s eventstore.Store) {
	good := func() eventstore.EventData { return Event("Good", 0) }
	with := func(f func(*eventstore.EventData)) []eventstore.EventData {
		e := good()
		f(&e)
		return []eventstore.EventData{e}
	}
	dup := good()
	tests := []struct {
		name   string
		stream string // "" means a fresh unique stream
		events []eventstore.EventData
	}{
		{"empty stream name", "-", []eventstore.EventData{good()}},
		{"stream name too long", "storetest-" + strings.Repeat("x", eventstore.MaxStreamNameLength), []eventstore.EventData{good()}},
		{"stream name with newline", "storetest-a\nb", []eventstore.EventData{good()}},
		{"stream name with NUL", "storetest-a\x00b", []eventstore.EventData{good()}},
		{"system stream name", "$storetest", []eventstore.EventData{good()}},
		{"no events", "", nil},
		{"ID not a UUID", "", with(func(e *eventstore.EventData) { e.ID = "not-a-uuid" })},
		{"ID empty", "", with(func(e *eventstore.EventData) { e.ID = "" })},
		{"ID nil UUID", "", with(func(e *eventstore.EventData) { e.ID = "00000000-0000-0000-0000-000000000000" })},
		{"ID upper case", "", with(func(e *eventstore.EventData) { e.ID = strings.ToUpper(NewID()) })},
		{"empty type", "", with(func(e *eventstore.EventData) { e.Type = "" })},
		{"empty data", "", with(func(e *eventstore.EventData) { e.Data = nil })},
		{"data not JSON", "", with(func(e *eventstore.EventData) { e.Data = json.RawMessage(`{"n":`) })},
		{"metadata not JSON", "", with(func(e *eventstore.EventData) { e.Metadata = json.RawMessage(`not json`) })},
		{"too large", "", []eventstore.EventData{sizedEvent(eventstore.MaxEventSize + 1)}},
		{"duplicate IDs in one append", "", []eventstore.EventData{dup, dup}},
		{"one bad event among good ones", "", []eventstore.EventData{good(), good(), with(func(e *eventstore.EventData) { e.Type = "" })[0]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream := tt.stream
			switch stream {
			case "":
				stream = UniqueStream("bad")
			case "-":
				stream = ""
			}
			_, err := s.Append(testContext(t), stream, eventstore.Any(), tt.events...)
			if !errors.Is(err, eventstore.ErrInvalidEvent) {
				t.Fatalf("err = %v, want ErrInvalidEvent", err)
			}
			if err.Error() == eventstore.ErrInvalidEvent.Error() {
				t.Errorf("error %q does not say what was wrong", err)
			}
			if stream != "" && eventstore.ValidateStreamName(stream) == nil {
				if n := streamLen(t, s, stream); n != 0 {
					t.Errorf("rejected append wrote %d events", n)
				}
			}
			for _, e := range tt.events {
				if e.ID == "" || !eventstore.IsUUID(e.ID) {
					continue
				}
				// A valid ID from a rejected append must still be free to use.
				if _, err := s.Append(testContext(t), UniqueStream("bad-after"), eventstore.NoStream(), eventstore.EventData{ID: e.ID, Type: "Reused", Data: json.RawMessage(`{}`)}); err != nil {
					t.Errorf("ID %s from the rejected append cannot be used afterwards: %v", e.ID, err)
				}
				break
			}
		})
	}
}

func testVerify(t *testing.T, s eventstore.Store) {
	stream := UniqueStream("verify")
	res := mustAppend(t, s, stream, eventstore.NoStream(), Events("Verified", 5)...)
	mustAppend(t, s, UniqueStream("verify-2"), eventstore.NoStream(), Events("Verified", 3)...)
	got, err := eventstore.Verify(testContext(t), s, s.ChainScope())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got.Events < 8 || got.HeadPosition <= res.Position || len(got.HeadHash) != 64 {
		t.Errorf("Verify = %+v, want at least 8 events and head after %d", got, res.Position)
	}
	events := mustRead(t, s, stream)
	if s.ChainScope() == eventstore.ChainPerStream {
		prev := eventstore.GenesisHash
		for _, e := range events {
			if e.PrevHash != prev || eventstore.ChainHash(prev, e.Revision, e) != e.Hash {
				t.Fatalf("revision %d does not chain to the previous event of its stream", e.Revision)
			}
			prev = e.Hash
		}
	}
	for i := 1; i < len(events); i++ {
		if events[i].PrevHash == events[i].Hash {
			t.Errorf("revision %d has PrevHash equal to its own hash", i)
		}
	}
}

func testReopen(t *testing.T, open func(t *testing.T, dir string) eventstore.Store) {
	dir := t.TempDir()
	s := open(t, dir)
	stream := UniqueStream("reopen")
	first := Events("BeforeClose", 3)
	res := mustAppend(t, s, stream, eventstore.NoStream(), first...)
	before := mustRead(t, s, stream)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := s.Append(context.Background(), stream, eventstore.Any(), Event("AfterClose", 0)); !errors.Is(err, eventstore.ErrClosed) {
		t.Errorf("Append after Close: err = %v, want ErrClosed", err)
	}

	s2 := open(t, dir)
	after := mustRead(t, s2, stream)
	checkRecorded(t, stream, 0, after, first)
	for i := range before {
		b, a := before[i], after[i]
		if b.Position != a.Position || b.Hash != a.Hash || b.PrevHash != a.PrevHash || !b.Recorded.Equal(a.Recorded) {
			t.Errorf("revision %d changed across reopen: %+v became %+v", i, b, a)
		}
	}
	more := Event("AfterReopen", 0)
	res2 := mustAppend(t, s2, stream, eventstore.Exact(2), more)
	if res2.NextRevision != 3 || res2.Position <= res.Position {
		t.Errorf("append after reopen = %+v, want revision 3 and a position after %d", res2, res.Position)
	}
	if _, err := eventstore.Verify(testContext(t), s2, s2.ChainScope()); err != nil {
		t.Errorf("Verify after reopen: %v", err)
	}
}

func testCloseStopsSubscriptions(t *testing.T, open func(t *testing.T, dir string) eventstore.Store) {
	s := open(t, t.TempDir())
	marker := mustAppend(t, s, UniqueStream("close-sub"), eventstore.NoStream(), Event("Marker", 0))
	sub, err := s.SubscribeAll(testContext(t), eventstore.SubscribeOptions{From: marker.Position})
	if err != nil {
		t.Fatalf("SubscribeAll: %v", err)
	}
	defer sub.Close()
	done := make(chan error, 1)
	nextCtx := testContext(t)
	go func() {
		for {
			if _, err := sub.Next(nextCtx); err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-done:
		if errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Next ended only by its deadline: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("closing the store did not end a blocked Next")
	}
}
