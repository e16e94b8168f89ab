package esdbtest

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	esdbclient "github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"
)

func client(t *testing.T, srv *Server) *esdbclient.Client {
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

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func ev(id uuid.UUID) esdbclient.EventData {
	return esdbclient.EventData{EventID: id, EventType: "Test", ContentType: esdbclient.ContentTypeJson, Data: []byte(`{}`)}
}

func readAll(t *testing.T, c *esdbclient.Client, stream string) []*esdbclient.RecordedEvent {
	t.Helper()
	rs, err := c.ReadStream(ctx(t), stream, esdbclient.ReadStreamOptions{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []*esdbclient.RecordedEvent
	for {
		e, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e.OriginalEvent())
	}
}

func TestConnect(t *testing.T) {
	srv := Start(t)
	for _, conn := range []string{srv.ConnectionString(), srv.DiscoverConnectionString()} {
		t.Run(conn[:strings.Index(conn, ":")], func(t *testing.T) {
			cfg, err := esdbclient.ParseConnectionString(conn)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Logger = esdbclient.NoopLogging()
			c, err := esdbclient.NewClient(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			v, err := c.GetServerVersion()
			if err != nil {
				t.Fatal(err)
			}
			if v.Major != 24 || v.Minor != 10 {
				t.Errorf("server version %+v, want 24.10", v)
			}
			if _, err := c.AppendToStream(ctx(t), "s", esdbclient.AppendToStreamOptions{}, ev(uuid.New())); err != nil {
				t.Errorf("append: %v", err)
			}
		})
	}
}

// TestCommitCheck follows EventStoreDB's rules for expected revisions and idempotent appends, as
// the client sees them.
func TestCommitCheck(t *testing.T) {
	a, b, c := uuid.New(), uuid.New(), uuid.New()
	tests := []struct {
		name     string
		expected esdbclient.ExpectedRevision
		ids      []uuid.UUID
		wantErr  string // substring of the client's error, "" for success
		wantNext uint64
		wantLen  int
	}{
		{"exact at head writes", esdbclient.Revision(1), []uuid.UUID{c}, "", 2, 3},
		{"no stream retry is idempotent", esdbclient.NoStream{}, []uuid.UUID{a, b}, "", 1, 2},
		{"exact retry is idempotent", esdbclient.Revision(0), []uuid.UUID{b}, "", 1, 2},
		{"any retry is idempotent", esdbclient.Any{}, []uuid.UUID{a, b}, "", 1, 2},
		{"stream exists retry is idempotent", esdbclient.StreamExists{}, []uuid.UUID{b}, "", 1, 2},
		{"partial retry is a wrong version", esdbclient.NoStream{}, []uuid.UUID{a, c}, "expecting 'no_stream' but got '1'", 0, 2},
		{"new events behind head", esdbclient.Revision(0), []uuid.UUID{c}, "expecting '0' but got '1'", 0, 2},
		{"ahead of head", esdbclient.Revision(5), []uuid.UUID{c}, "expecting '5' but got '1'", 0, 2},
		{"any with partly known IDs", esdbclient.Any{}, []uuid.UUID{a, c}, "expecting 'any' but got '1'", 0, 2},
		{"any with new IDs writes", esdbclient.Any{}, []uuid.UUID{c}, "", 2, 3},
		{"exact reuses an ID: written again, as EventStoreDB does", esdbclient.Revision(1), []uuid.UUID{a}, "", 2, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := Start(t)
			cl := client(t, srv)
			if _, err := cl.AppendToStream(ctx(t), "s", esdbclient.AppendToStreamOptions{ExpectedRevision: esdbclient.NoStream{}}, ev(a), ev(b)); err != nil {
				t.Fatal(err)
			}
			var evs []esdbclient.EventData
			for _, id := range tt.ids {
				evs = append(evs, ev(id))
			}
			res, err := cl.AppendToStream(ctx(t), "s", esdbclient.AppendToStreamOptions{ExpectedRevision: tt.expected}, evs...)
			if tt.wantErr != "" {
				var ee *esdbclient.Error
				if !errors.As(err, &ee) || ee.Code() != esdbclient.ErrorCodeWrongExpectedVersion || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want a wrong expected version %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			} else if res.NextExpectedVersion != tt.wantNext {
				t.Errorf("next expected version %d, want %d", res.NextExpectedVersion, tt.wantNext)
			}
			if n := len(readAll(t, cl, "s")); n != tt.wantLen {
				t.Errorf("stream has %d events, want %d", n, tt.wantLen)
			}
		})
	}
	t.Run("stream exists on a new stream", func(t *testing.T) {
		_, err := client(t, Start(t)).AppendToStream(ctx(t), "new", esdbclient.AppendToStreamOptions{ExpectedRevision: esdbclient.StreamExists{}}, ev(uuid.New()))
		if err == nil || !strings.Contains(err.Error(), "expecting 'stream_exists' but got 'no_stream'") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestRecordedSystemMetadata(t *testing.T) {
	at := time.Date(2026, 5, 6, 7, 8, 9, 123456700, time.UTC)
	srv := Start(t, WithClock(func() time.Time { return at }))
	cl := client(t, srv)
	id := uuid.New()
	res, err := cl.AppendToStream(ctx(t), "s", esdbclient.AppendToStreamOptions{}, ev(id))
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, cl, "s")
	if len(got) != 1 {
		t.Fatalf("%d events", len(got))
	}
	e := got[0]
	if e.EventID != id || e.EventType != "Test" || e.ContentType != "application/json" || !e.CreatedDate.Equal(at) {
		t.Errorf("read back %+v", e)
	}
	if e.Position.Commit != res.CommitPosition || e.Position.Commit != e.Position.Prepare || e.Position.Commit == 0 {
		t.Errorf("position %+v, append said %d", e.Position, res.CommitPosition)
	}
}

func TestReadAllPositions(t *testing.T) {
	srv := Start(t)
	cl := client(t, srv)
	for i := range 4 {
		if _, err := cl.AppendToStream(ctx(t), []string{"a", "b"}[i%2], esdbclient.AppendToStreamOptions{}, ev(uuid.New())); err != nil {
			t.Fatal(err)
		}
	}
	read := func(from esdbclient.AllPosition, dir esdbclient.Direction) ([]esdbclient.Position, error) {
		rs, err := cl.ReadAll(ctx(t), esdbclient.ReadAllOptions{From: from, Direction: dir}, 100)
		if err != nil {
			return nil, err
		}
		defer rs.Close()
		var out []esdbclient.Position
		for {
			e, err := rs.Recv()
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			if err != nil {
				return nil, err
			}
			out = append(out, e.OriginalEvent().Position)
		}
	}
	all, err := read(esdbclient.Start{}, esdbclient.Forwards)
	if err != nil || len(all) != 4 {
		t.Fatalf("read $all: %v, %v", all, err)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Commit <= all[i-1].Commit {
			t.Errorf("positions not increasing: %v", all)
		}
	}
	tests := []struct {
		name    string
		from    esdbclient.AllPosition
		dir     esdbclient.Direction
		want    int
		wantErr bool
	}{
		{"forwards from an event includes it", all[1], esdbclient.Forwards, 3, false},
		{"backwards from an event excludes it", all[2], esdbclient.Backwards, 2, false},
		{"backwards from the end", esdbclient.End{}, esdbclient.Backwards, 4, false},
		{"forwards from the end", esdbclient.End{}, esdbclient.Forwards, 0, false},
		{"no record starts there", esdbclient.Position{Commit: all[1].Commit - 1, Prepare: all[1].Commit - 1}, esdbclient.Forwards, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := read(tt.from, tt.dir)
			if (err != nil) != tt.wantErr || len(got) != tt.want {
				t.Errorf("got %d events, err %v; want %d, error %v", len(got), err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestSubscriptionDropAndTamper(t *testing.T) {
	srv := Start(t)
	cl := client(t, srv)
	if _, err := cl.AppendToStream(ctx(t), "s", esdbclient.AppendToStreamOptions{}, ev(uuid.New())); err != nil {
		t.Fatal(err)
	}
	sub, err := cl.SubscribeToAll(ctx(t), esdbclient.SubscribeToAllOptions{From: esdbclient.Start{}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if e := sub.Recv(); e.EventAppeared == nil {
		t.Fatalf("first message %+v, want the event", e)
	}
	if e := sub.Recv(); e.CaughtUp == nil {
		t.Fatalf("second message %+v, want caught up", e)
	}
	if n := srv.DropSubscriptions(); n != 1 {
		t.Fatalf("dropped %d subscriptions, want 1", n)
	}
	if e := sub.Recv(); e.SubscriptionDropped == nil {
		t.Fatalf("after the drop: %+v, want dropped", e)
	}

	if err := srv.ReplaceEventData("s", 0, []byte(`{"changed":true}`)); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, cl, "s"); string(got[0].Data) != `{"changed":true}` {
		t.Errorf("data after tampering: %s", got[0].Data)
	}
	if err := srv.ReplaceEventData("s", 1, nil); !errors.Is(err, ErrNoSuchEvent) {
		t.Errorf("tampering with a missing event: %v", err)
	}
	if err := srv.Restart(0); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, client(t, srv), "s"); len(got) != 1 {
		t.Errorf("after restart the stream has %d events, want 1", len(got))
	}
}
