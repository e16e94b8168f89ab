package embedded

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"casereview/eventstore"
	"casereview/eventstore/storetest"
)

func TestOpenSetsDurablePragmas(t *testing.T) {
	s := openTemp(t, t.TempDir())
	var mode string
	var sync int
	if err := s.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if err := s.db.QueryRow(`PRAGMA synchronous`).Scan(&sync); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || sync != 2 {
		t.Errorf("journal_mode=%s synchronous=%d, want wal and 2 (FULL)", mode, sync)
	}
	if got := s.Path(); filepath.Base(got) != "events.db" {
		t.Errorf("Path() = %s", got)
	}
}

func TestOpenRejectsBadArguments(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
		opts []Option
	}{
		{"empty path", "", nil},
		{"missing directory", filepath.Join(dir, "no", "such", "events.db"), nil},
		{"query characters", filepath.Join(dir, "a?b.db"), nil},
		{"zero batch", filepath.Join(dir, "ok.db"), []Option{WithMaxBatch(0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(tt.path, tt.opts...)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded", tt.path)
			}
		})
	}
}

// The embedded store promises more than the interface: positions from 1, contiguous, and a
// recorded time from its own clock, in UTC, truncated to microseconds.
func TestPositionsContiguousAndClock(t *testing.T) {
	fixed := time.Date(2026, 3, 4, 5, 6, 7, 891234567, time.FixedZone("BST", 3600))
	dir := t.TempDir()
	s := openTemp(t, dir, WithClock(func() time.Time { return fixed }))
	ctx := context.Background()
	for i := range 5 {
		res, err := s.Append(ctx, fmt.Sprintf("case-%d", i%2), eventstore.Any(), storetest.Events("E", 2)...)
		if err != nil {
			t.Fatal(err)
		}
		if want := uint64(2*i + 2); res.Position != want {
			t.Errorf("append %d landed at position %d, want %d", i, res.Position, want)
		}
	}
	want := fixed.UTC().Truncate(time.Microsecond)
	var pos uint64
	err := s.ReadAll(ctx, 0, func(e eventstore.RecordedEvent) error {
		pos++
		if e.Position != pos {
			return fmt.Errorf("position %d, want %d", e.Position, pos)
		}
		if !e.Recorded.Equal(want) || e.Recorded.Location() != time.UTC {
			return fmt.Errorf("recorded %v, want %v in UTC", e.Recorded, want)
		}
		return nil
	})
	if err != nil || pos != 10 {
		t.Fatalf("ReadAll: %v after %d events", err, pos)
	}
}

// TestGroupCommitOutcomes drives one batch through the writer directly, so the requests are
// certain to share a transaction, and checks each gets its own outcome.
func TestGroupCommitOutcomes(t *testing.T) {
	s := openTemp(t, t.TempDir())
	ctx := context.Background()
	e1, e2, e3, e4, e5 := storetest.Event("A", 1), storetest.Event("A", 2), storetest.Event("A", 3), storetest.Event("A", 4), storetest.Event("A", 5)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	reqs := []*appendRequest{
		{ctx: ctx, stream: "s1", expected: eventstore.NoStream(), events: []eventstore.EventData{e1}},
		{ctx: ctx, stream: "s1", expected: eventstore.NoStream(), events: []eventstore.EventData{e2}},
		{ctx: ctx, stream: "s1", expected: eventstore.Exact(0), events: []eventstore.EventData{e3}},
		{ctx: ctx, stream: "s2", expected: eventstore.Any(), events: []eventstore.EventData{e1}},
		{ctx: ctx, stream: "s1", expected: eventstore.NoStream(), events: []eventstore.EventData{e1}},
		{ctx: cancelled, stream: "s3", expected: eventstore.Any(), events: []eventstore.EventData{e4}},
		{ctx: ctx, stream: "s3", expected: eventstore.Any(), events: []eventstore.EventData{e5, e4}},
	}
	for _, r := range reqs {
		r.done = make(chan appendOutcome, 1)
	}
	head, ok := s.w.commit(reqs)
	if !ok || head != 4 {
		t.Fatalf("commit = %d, %v; want head 4", head, ok)
	}
	s.publishHead(head)
	tests := []struct {
		want    eventstore.AppendResult
		wantErr error
	}{
		{eventstore.AppendResult{NextRevision: 0, Position: 1}, nil},
		{wantErr: eventstore.ErrWrongExpectedRevision},
		{eventstore.AppendResult{NextRevision: 1, Position: 2}, nil},
		{wantErr: eventstore.ErrDuplicateEventID},
		{eventstore.AppendResult{NextRevision: 0, Position: 1}, nil},
		{wantErr: context.Canceled},
		{eventstore.AppendResult{NextRevision: 1, Position: 4}, nil},
	}
	for i, tt := range tests {
		out := <-reqs[i].done
		if !errors.Is(out.err, tt.wantErr) || (tt.wantErr == nil && out.res != tt.want) {
			t.Errorf("request %d: got %+v, %v; want %+v, %v", i, out.res, out.err, tt.want, tt.wantErr)
		}
	}
	if _, err := eventstore.Verify(ctx, s, s.ChainScope()); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func TestConcurrentAppendersGetOwnResults(t *testing.T) {
	s := openTemp(t, t.TempDir())
	ctx := context.Background()
	const writers, each = 32, 20
	type ack struct {
		stream string
		res    eventstore.AppendResult
	}
	acks := make(chan ack, writers*each)
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			stream := fmt.Sprintf("case-%d", w)
			for i := range each {
				expected := eventstore.NoStream()
				if i > 0 {
					expected = eventstore.Exact(uint64(i - 1))
				}
				res, err := s.Append(ctx, stream, expected, storetest.Event("E", i))
				if err != nil {
					errs <- err
					return
				}
				acks <- ack{stream, res}
			}
			errs <- nil
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(acks)
	seen := map[uint64]bool{}
	for a := range acks {
		if seen[a.res.Position] {
			t.Fatalf("position %d acknowledged twice", a.res.Position)
		}
		seen[a.res.Position] = true
		got, err := s.ReadStream(ctx, a.stream, eventstore.Forwards, a.res.NextRevision, 1)
		if err != nil || len(got) != 1 || got[0].Position != a.res.Position {
			t.Fatalf("acknowledged %+v in %s, read %+v, %v", a.res, a.stream, got, err)
		}
	}
	if len(seen) != writers*each {
		t.Fatalf("%d acknowledgements, want %d", len(seen), writers*each)
	}
	res, err := eventstore.Verify(ctx, s, s.ChainScope())
	if err != nil || res.Events != writers*each || res.HeadPosition != writers*each {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
}

func TestReopenContinuesPositionsAndChain(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Open(filepath.Join(dir, "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "case-1", eventstore.NoStream(), storetest.Events("E", 3)...); err != nil {
		t.Fatal(err)
	}
	before, err := eventstore.Verify(ctx, s, s.ChainScope())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.ReadStream(ctx, "case-1", eventstore.Forwards, 0, 0); !errors.Is(err, eventstore.ErrClosed) {
		t.Errorf("ReadStream after Close: %v, want ErrClosed", err)
	}
	if _, err := s.SubscribeAll(ctx, eventstore.SubscribeOptions{}); !errors.Is(err, eventstore.ErrClosed) {
		t.Errorf("SubscribeAll after Close: %v, want ErrClosed", err)
	}

	s2 := openTemp(t, dir)
	res, err := s2.Append(ctx, "case-2", eventstore.NoStream(), storetest.Event("E", 4))
	if err != nil {
		t.Fatal(err)
	}
	if res.Position != 4 {
		t.Errorf("first append after reopen at position %d, want 4", res.Position)
	}
	got, err := s2.ReadStream(ctx, "case-2", eventstore.Forwards, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].PrevHash != before.HeadHash {
		t.Errorf("first event after reopen links to %s, want the old head %s", got[0].PrevHash, before.HeadHash)
	}
	after, err := eventstore.Verify(ctx, s2, s2.ChainScope())
	if err != nil || after.Events != 4 {
		t.Errorf("Verify after reopen = %+v, %v", after, err)
	}
}

func TestCloseFlushesQueuedAppends(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(filepath.Join(dir, "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const n = 200
	results := make(chan error, n)
	for i := range n {
		go func() {
			_, err := s.Append(ctx, fmt.Sprintf("case-%d", i), eventstore.NoStream(), storetest.Event("E", i))
			results <- err
		}()
	}
	time.Sleep(time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	written := 0
	for range n {
		switch err := <-results; {
		case err == nil:
			written++
		case errors.Is(err, eventstore.ErrClosed):
		default:
			t.Errorf("append during Close: %v, want success or ErrClosed", err)
		}
	}
	s2 := openTemp(t, dir)
	res, err := eventstore.Verify(ctx, s2, s2.ChainScope())
	if err != nil {
		t.Fatal(err)
	}
	if res.Events != uint64(written) {
		t.Errorf("%d appends acknowledged, %d events in the file", written, res.Events)
	}
}

// TestTamperDetected changes one stored field behind the store's back and expects Verify to name
// the position of the changed event.
func TestTamperDetected(t *testing.T) {
	tests := []struct {
		name   string
		update string
		change func([]byte) []byte
		column string
		at     uint64 // position the change is made at
		want   uint64 // position Verify must report
	}{
		{name: "data byte flipped", column: "data", at: 5, want: 5, change: flipInString},
		{name: "metadata byte flipped", column: "metadata", at: 3, want: 3, change: flipInString},
		{name: "type changed", column: "type", at: 7, want: 7, change: flipInString},
		{name: "recorded time changed", column: "recorded", at: 2, want: 2, change: func(b []byte) []byte {
			return []byte(strings.Replace(string(b), "2026", "2025", 1))
		}},
		{name: "event deleted", update: "DELETE FROM events WHERE position = 6", at: 6, want: 7},
		{name: "last event's hash rewritten", column: "hash", at: 10, want: 10, change: func(b []byte) []byte {
			return []byte(strings.Repeat("a", 64))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "events.db")
			ctx := context.Background()
			clock := func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
			s, err := Open(path, WithClock(clock))
			if err != nil {
				t.Fatal(err)
			}
			for i := range 10 {
				if _, err := s.Append(ctx, "case-t", eventstore.Any(), storetest.Event("Typed", i)); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := eventstore.Verify(ctx, s, s.ChainScope()); err != nil {
				t.Fatalf("Verify before tampering: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			if tt.update != "" {
				_, err = db.Exec(tt.update)
			} else {
				var b []byte
				if err := db.QueryRow(`SELECT `+tt.column+` FROM events WHERE position = ?`, tt.at).Scan(&b); err != nil {
					t.Fatal(err)
				}
				changed := tt.change(append([]byte(nil), b...))
				if string(changed) == string(b) || (tt.column == "data" && !json.Valid(changed)) {
					t.Fatalf("change left %s unchanged or made it invalid JSON", tt.column)
				}
				var v any = changed
				if tt.column != "data" && tt.column != "metadata" {
					v = string(changed)
				}
				_, err = db.Exec(`UPDATE events SET `+tt.column+` = ? WHERE position = ?`, v, tt.at)
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}

			s2 := openTemp(t, dir)
			_, err = eventstore.Verify(ctx, s2, s2.ChainScope())
			var ce *eventstore.ChainError
			if !errors.As(err, &ce) || !errors.Is(err, eventstore.ErrChainBroken) {
				t.Fatalf("Verify after tampering: %v, want a *ChainError", err)
			}
			if ce.Position != tt.want {
				t.Errorf("Verify reported position %d, want %d", ce.Position, tt.want)
			}
		})
	}
}

// flipInString changes the last lowercase letter (inside a JSON string for data and metadata)
// to the next one, keeping the bytes valid JSON so that only the hash can tell.
func flipInString(b []byte) []byte {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] >= 'a' && b[i] < 'z' {
			b[i]++
			return b
		}
	}
	return b
}
