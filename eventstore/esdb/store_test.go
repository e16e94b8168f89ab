package esdb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	esdbclient "github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"casereview/eventstore"
	"casereview/eventstore/esdb/esdbtest"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// openStore connects a store to srv and closes it when the test ends.
func openStore(t *testing.T, srv *esdbtest.Server, opts ...Option) *Store {
	t.Helper()
	opts = append([]Option{WithResubscribeBackoff(5*time.Millisecond, 50*time.Millisecond)}, opts...)
	s, err := Open(testCtx(t), srv.ConnectionString(), opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newStore(t *testing.T) (*Store, *esdbtest.Server) {
	t.Helper()
	srv := esdbtest.Start(t)
	return openStore(t, srv), srv
}

// rawClient is the EventStoreDB client itself, to look at what the store put on the wire.
func rawClient(t *testing.T, srv *esdbtest.Server) *esdbclient.Client {
	t.Helper()
	cfg, err := esdbclient.ParseConnectionString(srv.ConnectionString())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = esdbclient.NoopLogging()
	c, err := esdbclient.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func event(typ string, n int) eventstore.EventData {
	return eventstore.EventData{
		ID:       uuid.NewString(),
		Type:     typ,
		Data:     json.RawMessage(fmt.Sprintf(`{"n":%d}`, n)),
		Metadata: json.RawMessage(`{"actor":"tester","correlationId":"c-1"}`),
	}
}

func events(typ string, n int) []eventstore.EventData {
	out := make([]eventstore.EventData, n)
	for i := range out {
		out[i] = event(typ, i)
	}
	return out
}

func mustAppend(t *testing.T, s *Store, stream string, exp eventstore.ExpectedRevision, es ...eventstore.EventData) eventstore.AppendResult {
	t.Helper()
	res, err := s.Append(testCtx(t), stream, exp, es...)
	if err != nil {
		t.Fatalf("Append(%s): %v", stream, err)
	}
	return res
}

func TestAppendReadRoundTrip(t *testing.T) {
	clock := time.Date(2026, 3, 4, 5, 6, 7, 891234567, time.FixedZone("X", 3600))
	srv := esdbtest.Start(t)
	s := openStore(t, srv, WithClock(func() time.Time { return clock }))
	in := []eventstore.EventData{
		event("Opened", 0),
		{ID: uuid.NewString(), Type: "Bare", Data: json.RawMessage(`{}`)},
		{ID: uuid.NewString(), Type: "EmptyObject", Data: json.RawMessage(`[1,2]`), Metadata: json.RawMessage(` { } `)},
		{ID: uuid.NewString(), Type: "Spaced", Data: json.RawMessage(`"text"`), Metadata: json.RawMessage(`{ "actor" : "a",  "n": [1, {"x": "}"}] }`)},
	}
	res := mustAppend(t, s, "case-1", eventstore.NoStream(), in...)
	if res.NextRevision != 3 {
		t.Errorf("NextRevision = %d, want 3", res.NextRevision)
	}
	got, err := s.ReadStream(testCtx(t), "case-1", eventstore.Forwards, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) {
		t.Fatalf("read %d events, want %d", len(got), len(in))
	}
	wantRecorded := time.Date(2026, 3, 4, 4, 6, 7, 891234000, time.UTC)
	prev := eventstore.GenesisHash
	for i, e := range got {
		w := in[i]
		if e.ID != w.ID || e.Type != w.Type || !bytes.Equal(e.Data, w.Data) || !bytes.Equal(e.Metadata, normalizeMetadata(w.Metadata)) {
			t.Errorf("event %d = %s %s %s %q, want %s %s %s %q", i, e.ID, e.Type, e.Data, e.Metadata, w.ID, w.Type, w.Data, normalizeMetadata(w.Metadata))
		}
		if e.Stream != "case-1" || e.Revision != uint64(i) {
			t.Errorf("event %d at %s/%d", i, e.Stream, e.Revision)
		}
		if !e.Recorded.Equal(wantRecorded) || e.Recorded.Location() != time.UTC {
			t.Errorf("event %d recorded %v, want %v in UTC", i, e.Recorded, wantRecorded)
		}
		if e.PrevHash != prev || eventstore.ChainHash(prev, e.Revision, e) != e.Hash {
			t.Errorf("event %d does not chain: prev %s hash %s", i, e.PrevHash, e.Hash)
		}
		prev = e.Hash
	}
	if got[3].Position != res.Position {
		t.Errorf("AppendResult.Position = %d, last event at %d", res.Position, got[3].Position)
	}
	if got[1].Metadata != nil {
		t.Errorf("event without metadata came back with %q", got[1].Metadata)
	}
}

func TestWireFormat(t *testing.T) {
	s, srv := newStore(t)
	e := event("Opened", 0)
	mustAppend(t, s, "case-wire", eventstore.NoStream(), e)
	rs, err := rawClient(t, srv).ReadStream(testCtx(t), "case-wire", esdbclient.ReadStreamOptions{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	got, err := rs.Recv()
	if err != nil {
		t.Fatal(err)
	}
	ev := got.OriginalEvent()
	// The store must send the caller's ID, or a retried append would be written twice.
	if ev.EventID.String() != e.ID {
		t.Errorf("EventStoreDB event ID %s, want the caller's %s", ev.EventID, e.ID)
	}
	if ev.ContentType != "application/json" || ev.EventType != "Opened" {
		t.Errorf("content type %q, type %q", ev.ContentType, ev.EventType)
	}
	var meta map[string]json.RawMessage
	if err := json.Unmarshal(ev.UserMetadata, &meta); err != nil {
		t.Fatalf("wire metadata is not a JSON object: %v: %s", err, ev.UserMetadata)
	}
	if _, ok := meta[chainKey]; !ok {
		t.Errorf("wire metadata %s has no %s key", ev.UserMetadata, chainKey)
	}
	if string(meta["actor"]) != `"tester"` {
		t.Errorf("caller's metadata keys are not at the top level on the wire: %s", ev.UserMetadata)
	}
	if _, err := rs.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("second Recv: %v, want EOF", err)
	}
}

func TestMetadataSealing(t *testing.T) {
	link := chainLink{PrevHash: strings.Repeat("a", 64), Hash: strings.Repeat("b", 64), Recorded: "2026-01-02T03:04:05.000006Z"}
	tests := []struct {
		name string
		in   string
	}{
		{"none", ""},
		{"empty object", "{}"},
		{"empty object with space", "{ \n}"},
		{"one key", `{"actor":"x"}`},
		{"spaces kept", `{  "actor" : "x" , "n":1 }`},
		{"nested braces in strings", `{"a":"}{","b":{"c":[{}]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wire, err := sealMetadata(link, []byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(wire) {
				t.Fatalf("wire metadata is not JSON: %s", wire)
			}
			gotLink, got, ok := openMetadata(wire)
			if !ok {
				t.Fatalf("openMetadata did not recognise %s", wire)
			}
			if string(got) != tt.in || (tt.in == "") != (got == nil) {
				t.Errorf("metadata came back as %q, want %q", got, tt.in)
			}
			gotLink.NoMetadata = false
			if gotLink != link {
				t.Errorf("link came back as %+v", gotLink)
			}
		})
	}
	for _, foreign := range []string{"", `{"actor":"x"}`, `{"$casereview":`, "not json"} {
		if _, got, ok := openMetadata([]byte(foreign)); ok || string(got) != foreign {
			t.Errorf("openMetadata(%q) = %q, %v; want it unchanged and not recognised", foreign, got, ok)
		}
	}
	if _, err := sealMetadata(link, []byte(`[1]`)); err == nil {
		t.Error("sealMetadata accepted an array")
	}
}

func TestExpectedRevisions(t *testing.T) {
	s, _ := newStore(t)
	tests := []struct {
		name     string
		existing int
		expected eventstore.ExpectedRevision
		wantErr  error
	}{
		{"any on new stream", 0, eventstore.Any(), nil},
		{"any on existing stream", 3, eventstore.Any(), nil},
		{"no stream on new stream", 0, eventstore.NoStream(), nil},
		{"no stream on existing stream", 1, eventstore.NoStream(), eventstore.ErrWrongExpectedRevision},
		{"stream exists on new stream", 0, eventstore.StreamExists(), eventstore.ErrWrongExpectedRevision},
		{"stream exists on existing stream", 1, eventstore.StreamExists(), nil},
		{"exact at head", 3, eventstore.Exact(2), nil},
		{"exact behind", 3, eventstore.Exact(1), eventstore.ErrWrongExpectedRevision},
		{"exact ahead", 3, eventstore.Exact(3), eventstore.ErrWrongExpectedRevision},
		{"exact on new stream", 0, eventstore.Exact(0), eventstore.ErrWrongExpectedRevision},
		{"exact at the largest revision", 1, eventstore.Exact(eventstore.End), eventstore.ErrWrongExpectedRevision},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream := fmt.Sprintf("case-exp-%d", i)
			if tt.existing > 0 {
				mustAppend(t, s, stream, eventstore.NoStream(), events("Seed", tt.existing)...)
			}
			res, err := s.Append(testCtx(t), stream, tt.expected, event("Tried", 0))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			got, _ := s.ReadStream(testCtx(t), stream, eventstore.Forwards, 0, 0)
			want := tt.existing
			if tt.wantErr == nil {
				want++
				if res.NextRevision != uint64(tt.existing) {
					t.Errorf("NextRevision = %d, want %d", res.NextRevision, tt.existing)
				}
			}
			if len(got) != want {
				t.Errorf("stream has %d events, want %d", len(got), want)
			}
		})
	}
}

func TestRetriedAppendWritesOnce(t *testing.T) {
	s, srv := newStore(t)
	tests := []struct {
		name  string
		seed  int
		first eventstore.ExpectedRevision
		retry eventstore.ExpectedRevision
	}{
		{"no stream", 0, eventstore.NoStream(), eventstore.NoStream()},
		{"exact", 2, eventstore.Exact(1), eventstore.Exact(1)},
		{"any", 2, eventstore.Any(), eventstore.Any()},
		{"stream exists", 1, eventstore.StreamExists(), eventstore.StreamExists()},
		{"exact then any", 1, eventstore.Exact(0), eventstore.Any()},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream := fmt.Sprintf("case-retry-%d", i)
			if tt.seed > 0 {
				mustAppend(t, s, stream, eventstore.NoStream(), events("Seed", tt.seed)...)
			}
			batch := events("Retried", 3)
			first := mustAppend(t, s, stream, tt.first, batch...)
			before := srv.Len()
			again := mustAppend(t, s, stream, tt.retry, batch...)
			if again != first {
				t.Errorf("retry = %+v, want the first result %+v", again, first)
			}
			if srv.Len() != before {
				t.Errorf("retry wrote %d events", srv.Len()-before)
			}
			got, _ := s.ReadStream(testCtx(t), stream, eventstore.Forwards, 0, 0)
			if len(got) != tt.seed+3 {
				t.Errorf("stream has %d events, want %d", len(got), tt.seed+3)
			}
		})
	}
}

func TestReusedIDs(t *testing.T) {
	s, _ := newStore(t)
	batch := events("Once", 2)
	mustAppend(t, s, "case-reuse", eventstore.NoStream(), batch...)
	tests := []struct {
		name     string
		expected eventstore.ExpectedRevision
		events   []eventstore.EventData
		want     error
	}{
		{"written ID at the head", eventstore.Exact(1), []eventstore.EventData{batch[0]}, eventstore.ErrDuplicateEventID},
		{"written ID with any", eventstore.Any(), []eventstore.EventData{batch[1], event("New", 0)}, eventstore.ErrDuplicateEventID},
		{"retry out of order", eventstore.NoStream(), []eventstore.EventData{batch[1], batch[0]}, eventstore.ErrDuplicateEventID},
		{"new events behind the head", eventstore.NoStream(), []eventstore.EventData{event("New", 2)}, eventstore.ErrWrongExpectedRevision},
		{"half a retry", eventstore.NoStream(), []eventstore.EventData{batch[0], event("New", 1)}, eventstore.ErrDuplicateEventID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Append(testCtx(t), "case-reuse", tt.expected, tt.events...)
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
	got, _ := s.ReadStream(testCtx(t), "case-reuse", eventstore.Forwards, 0, 0)
	if len(got) != 2 {
		t.Errorf("stream has %d events, want 2", len(got))
	}
}

func TestErrors(t *testing.T) {
	srv := esdbtest.Start(t, esdbtest.WithMaxAppendSize(4096))
	s := openStore(t, srv)
	big := event("Big", 0)
	big.Data = json.RawMessage(`{"pad":"` + strings.Repeat("x", 5000) + `"}`)
	reserved := event("Reserved", 0)
	reserved.Metadata = json.RawMessage(`{"$casereview":{"hash":"forged"}}`)
	array := event("Array", 0)
	array.Metadata = json.RawMessage(`[1]`)

	tests := []struct {
		name string
		call func(ctx context.Context) error
		want error
	}{
		{"missing stream forwards", func(ctx context.Context) error {
			_, err := s.ReadStream(ctx, "case-none", eventstore.Forwards, 0, 0)
			return err
		}, eventstore.ErrStreamNotFound},
		{"missing stream backwards", func(ctx context.Context) error {
			_, err := s.ReadStream(ctx, "case-none", eventstore.Backwards, eventstore.End, 1)
			return err
		}, eventstore.ErrStreamNotFound},
		{"append over the server's size limit", func(ctx context.Context) error {
			_, err := s.Append(ctx, "case-big", eventstore.Any(), big)
			return err
		}, eventstore.ErrInvalidEvent},
		{"reserved metadata key", func(ctx context.Context) error {
			_, err := s.Append(ctx, "case-reserved", eventstore.Any(), reserved)
			return err
		}, eventstore.ErrInvalidEvent},
		{"metadata not an object", func(ctx context.Context) error {
			_, err := s.Append(ctx, "case-array", eventstore.Any(), array)
			return err
		}, eventstore.ErrInvalidEvent},
		{"system stream", func(ctx context.Context) error {
			_, err := s.Append(ctx, "$case", eventstore.Any(), event("X", 0))
			return err
		}, eventstore.ErrInvalidEvent},
		{"cancelled context", func(ctx context.Context) error {
			ctx, cancel := context.WithCancel(ctx)
			cancel()
			_, err := s.Append(ctx, "case-cancel", eventstore.Any(), event("X", 0))
			return err
		}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(testCtx(t)); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
	n := 0
	if err := s.ReadAll(testCtx(t), 0, func(eventstore.RecordedEvent) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("failed calls wrote %d events", n)
	}
}

func TestClosedStore(t *testing.T) {
	s, _ := newStore(t)
	mustAppend(t, s, "case-closed", eventstore.NoStream(), event("A", 0))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	ctx := testCtx(t)
	_, errAppend := s.Append(ctx, "case-closed", eventstore.Any(), event("B", 0))
	_, errRead := s.ReadStream(ctx, "case-closed", eventstore.Forwards, 0, 0)
	errAll := s.ReadAll(ctx, 0, func(eventstore.RecordedEvent) error { return nil })
	_, errSub := s.SubscribeAll(ctx, eventstore.SubscribeOptions{})
	for name, err := range map[string]error{"Append": errAppend, "ReadStream": errRead, "ReadAll": errAll, "SubscribeAll": errSub} {
		if !errors.Is(err, eventstore.ErrClosed) {
			t.Errorf("%s after Close: err = %v, want ErrClosed", name, err)
		}
	}
}

func TestOpenFailures(t *testing.T) {
	srv := esdbtest.Start(t)
	addr := srv.Addr()
	srv.Close() // nothing listens on addr any more
	tests := []struct {
		name string
		conn string
	}{
		{"not a connection string", "http://[::1"},
		{"no server", "esdb://" + addr + "?tls=false&maxDiscoverAttempts=1&discoveryInterval=10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(testCtx(t), tt.conn)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Open(ctx, "esdb://"+addr+"?tls=false"); !errors.Is(err, context.Canceled) {
		t.Errorf("Open with a cancelled context: %v", err)
	}
}

func TestConcurrentAnyFromTwoStores(t *testing.T) {
	srv := esdbtest.Start(t)
	a, b := openStore(t, srv), openStore(t, srv)
	const perWriter = 20
	var wg sync.WaitGroup
	errs := make(chan error, 4*perWriter)
	for _, s := range []*Store{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				if _, err := s.Append(testCtx(t), "case-shared", eventstore.Any(), event("Any", i)); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Append with Any: %v", err)
	}
	got, err := a.ReadStream(testCtx(t), "case-shared", eventstore.Forwards, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4*perWriter {
		t.Errorf("stream has %d events, want %d", len(got), 4*perWriter)
	}
	if res, err := eventstore.Verify(testCtx(t), b, eventstore.ChainPerStream); err != nil || res.Events != 4*perWriter {
		t.Errorf("Verify = %+v, %v", res, err)
	}
}

func TestReadAll(t *testing.T) {
	s, srv := newStore(t)
	raw := rawClient(t, srv)
	ctx := testCtx(t)
	var want []string
	for i := range 5 {
		e := event("All", i)
		mustAppend(t, s, fmt.Sprintf("case-all-%d", i%2), eventstore.Any(), e)
		want = append(want, e.ID)
		// System events between ours, as a real server writes them.
		sys := esdbclient.EventData{EventID: uuid.New(), EventType: "$metadata", ContentType: esdbclient.ContentTypeJson, Data: []byte(`{}`)}
		if _, err := raw.AppendToStream(ctx, "$$case-all-0", esdbclient.AppendToStreamOptions{}, sys); err != nil {
			t.Fatal(err)
		}
		stat := esdbclient.EventData{EventID: uuid.New(), EventType: "$statistics-collected", ContentType: esdbclient.ContentTypeJson, Data: []byte(`{}`)}
		if _, err := raw.AppendToStream(ctx, "stats-node", esdbclient.AppendToStreamOptions{}, stat); err != nil {
			t.Fatal(err)
		}
	}
	var all []eventstore.RecordedEvent
	s.opts.readPageSize = 3 // several pages
	if err := s.ReadAll(ctx, 0, func(e eventstore.RecordedEvent) error { all = append(all, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(all) != len(want) {
		t.Fatalf("ReadAll gave %d events, want %d (system events skipped)", len(all), len(want))
	}
	for i, e := range all {
		if e.ID != want[i] {
			t.Errorf("event %d is %s, want %s", i, e.ID, want[i])
		}
	}
	tests := []struct {
		name string
		from uint64
		want []string
	}{
		{"from an event's position", all[1].Position, want[2:]},
		{"from just before an event", all[3].Position - 1, want[3:]},
		{"from the last event", all[4].Position, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			if err := s.ReadAll(ctx, tt.from, func(e eventstore.RecordedEvent) error { got = append(got, e.ID); return nil }); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	stop := errors.New("stop")
	calls := 0
	if err := s.ReadAll(ctx, 0, func(eventstore.RecordedEvent) error { calls++; return stop }); err != stop || calls != 1 {
		t.Errorf("ReadAll with a failing callback: %v after %d calls", err, calls)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(srv *esdbtest.Server) error
	}{
		{"data", func(srv *esdbtest.Server) error {
			return srv.ReplaceEventData("case-v", 2, []byte(`{"n":99}`))
		}},
		{"caller metadata", func(srv *esdbtest.Server) error {
			return replaceMetadata(srv, "case-v", 2, func(m []byte) []byte {
				return bytes.Replace(m, []byte(`"tester"`), []byte(`"someone"`), 1)
			})
		}},
		{"recorded time", func(srv *esdbtest.Server) error {
			return replaceMetadata(srv, "case-v", 2, func(m []byte) []byte {
				return bytes.Replace(m, []byte(`"recorded":"2026`), []byte(`"recorded":"2025`), 1)
			})
		}},
		{"chain metadata removed", func(srv *esdbtest.Server) error {
			return srv.ReplaceEventMetadata("case-v", 2, []byte(`{"actor":"tester","correlationId":"c-1"}`))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			srv := esdbtest.Start(t)
			s := openStore(t, srv, WithClock(func() time.Time { return clock }))
			mustAppend(t, s, "case-v", eventstore.NoStream(), events("V", 3)...)
			mustAppend(t, s, "case-w", eventstore.NoStream(), events("W", 2)...)
			mustAppend(t, s, "case-v", eventstore.Exact(2), events("V", 2)...)
			res, err := eventstore.Verify(testCtx(t), s, s.ChainScope())
			if err != nil || res.Events != 7 {
				t.Fatalf("Verify before tampering = %+v, %v", res, err)
			}
			if err := tt.tamper(srv); err != nil {
				t.Fatal(err)
			}
			_, err = eventstore.Verify(testCtx(t), s, s.ChainScope())
			var ce *eventstore.ChainError
			if !errors.Is(err, eventstore.ErrChainBroken) || !errors.As(err, &ce) {
				t.Fatalf("Verify after tampering: %v, want ErrChainBroken", err)
			}
			if ce.Stream != "case-v" || ce.Revision != 2 {
				t.Errorf("broken at %s/%d, want case-v/2", ce.Stream, ce.Revision)
			}
		})
	}
}

// replaceMetadata rewrites the stored wire metadata of one event.
func replaceMetadata(srv *esdbtest.Server, stream string, revision uint64, f func([]byte) []byte) error {
	c, err := esdbclient.ParseConnectionString(srv.ConnectionString())
	if err != nil {
		return err
	}
	c.Logger = esdbclient.NoopLogging()
	client, err := esdbclient.NewClient(c)
	if err != nil {
		return err
	}
	defer client.Close()
	rs, err := client.ReadStream(context.Background(), stream, esdbclient.ReadStreamOptions{From: esdbclient.Revision(revision)}, 1)
	if err != nil {
		return err
	}
	defer rs.Close()
	ev, err := rs.Recv()
	if err != nil {
		return err
	}
	old := ev.OriginalEvent().UserMetadata
	changed := f(old)
	if bytes.Equal(old, changed) {
		return fmt.Errorf("tampering changed nothing in %s", old)
	}
	return srv.ReplaceEventMetadata(stream, revision, changed)
}

func TestAppendRefusesToExtendForeignStream(t *testing.T) {
	s, srv := newStore(t)
	foreign := esdbclient.EventData{EventID: uuid.New(), EventType: "Legacy", ContentType: esdbclient.ContentTypeJson, Data: []byte(`{}`)}
	if _, err := rawClient(t, srv).AppendToStream(testCtx(t), "case-legacy", esdbclient.AppendToStreamOptions{}, foreign); err != nil {
		t.Fatal(err)
	}
	_, err := s.Append(testCtx(t), "case-legacy", eventstore.Any(), event("New", 0))
	if !errors.Is(err, eventstore.ErrChainBroken) {
		t.Errorf("appending after an unchained event: %v, want ErrChainBroken", err)
	}
	got, err := s.ReadStream(testCtx(t), "case-legacy", eventstore.Forwards, 0, 0)
	if err != nil || len(got) != 1 || got[0].Hash != "" || got[0].Type != "Legacy" {
		t.Errorf("foreign event read back as %+v, %v", got, err)
	}
}

func TestOpenWithDiscovery(t *testing.T) {
	srv := esdbtest.Start(t)
	s, err := Open(testCtx(t), srv.DiscoverConnectionString())
	if err != nil {
		t.Fatalf("Open(esdb+discover://): %v", err)
	}
	defer s.Close()
	e := event("Discovered", 0)
	mustAppend(t, s, "case-discover", eventstore.NoStream(), e)
	got, err := s.ReadStream(testCtx(t), "case-discover", eventstore.Forwards, 0, 0)
	if err != nil || len(got) != 1 || got[0].ID != e.ID {
		t.Errorf("read back %+v, %v", got, err)
	}
}
