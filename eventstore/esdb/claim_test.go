package esdb

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"casereview/eventstore"
	"casereview/eventstore/esdb/esdbtest"
)

func TestEventIDReusedInAnotherStream(t *testing.T) {
	s, srv := newStore(t)
	e := event("Once", 0)
	mustAppend(t, s, "case-first", eventstore.NoStream(), e)
	tests := []struct {
		name     string
		stream   string
		expected eventstore.ExpectedRevision
	}{
		{"new stream, any", "case-second", eventstore.Any()},
		{"new stream, no stream", "case-third", eventstore.NoStream()},
	}
	mustAppend(t, s, "case-existing", eventstore.NoStream(), event("Seed", 0))
	tests = append(tests, struct {
		name     string
		stream   string
		expected eventstore.ExpectedRevision
	}{"existing stream, exact", "case-existing", eventstore.Exact(0)})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := s.ReadStream(testCtx(t), tt.stream, eventstore.Forwards, 0, 0)
			_, err := s.Append(testCtx(t), tt.stream, tt.expected, e)
			if !errors.Is(err, eventstore.ErrDuplicateEventID) {
				t.Fatalf("err = %v, want ErrDuplicateEventID", err)
			}
			after, _ := s.ReadStream(testCtx(t), tt.stream, eventstore.Forwards, 0, 0)
			if len(after) != len(before) {
				t.Errorf("refused append changed the stream from %d to %d events", len(before), len(after))
			}
		})
	}
	// Claims never show in the log, though the server holds them.
	n := 0
	if err := s.ReadAll(testCtx(t), 0, func(e eventstore.RecordedEvent) error {
		if strings.HasPrefix(e.Stream, claimStreamPrefix) {
			t.Errorf("ReadAll delivered claim stream %s", e.Stream)
		}
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 2 || srv.Len() <= n {
		t.Errorf("ReadAll saw %d events of the server's %d, want 2 and the claims hidden", n, srv.Len())
	}
	if _, err := s.Append(testCtx(t), claimStreamPrefix+"x", eventstore.Any(), event("X", 0)); !errors.Is(err, eventstore.ErrInvalidEvent) {
		t.Errorf("append to a claim stream name: %v, want ErrInvalidEvent", err)
	}
}

func TestEventIDRaceAcrossStores(t *testing.T) {
	srv := esdbtest.Start(t)
	stores := []*Store{openStore(t, srv), openStore(t, srv)}
	e := event("Contested", 0)
	const writers = 8
	errs := make([]error, writers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = stores[i%2].Append(testCtx(t), fmt.Sprintf("case-race-%d", i), eventstore.Any(), e)
		}()
	}
	close(start)
	wg.Wait()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, eventstore.ErrDuplicateEventID):
			t.Errorf("writer %d: %v", i, err)
		}
	}
	if wins != 1 {
		t.Errorf("%d streams got the same event ID, want 1", wins)
	}
}

func TestStaleClaimIsTakenOver(t *testing.T) {
	// A claim whose append failed on the server holds the ID for the grace period only.
	srv := esdbtest.Start(t, esdbtest.WithMaxAppendSize(1000))
	s := openStore(t, srv)
	e := event("Retried", 0)
	big := e
	big.Data = json.RawMessage(`{"pad":"` + strings.Repeat("x", 2000) + `"}`)
	if _, err := s.Append(testCtx(t), "case-too-big", eventstore.NoStream(), big); !errors.Is(err, eventstore.ErrInvalidEvent) {
		t.Fatalf("oversized append: %v, want ErrInvalidEvent", err)
	}
	if _, err := s.Append(testCtx(t), "case-elsewhere", eventstore.NoStream(), e); !errors.Is(err, eventstore.ErrDuplicateEventID) {
		t.Fatalf("reuse within the grace period: %v, want ErrDuplicateEventID", err)
	}
	// The same stream may always retry.
	mustAppend(t, s, "case-too-big", eventstore.NoStream(), e)

	other := event("Other", 0)
	otherBig := other
	otherBig.Data = big.Data
	if _, err := s.Append(testCtx(t), "case-too-big-2", eventstore.NoStream(), otherBig); !errors.Is(err, eventstore.ErrInvalidEvent) {
		t.Fatalf("oversized append: %v, want ErrInvalidEvent", err)
	}
	s.opts.claimGrace = 0
	mustAppend(t, s, "case-elsewhere", eventstore.NoStream(), other)
	if _, err := s.Append(testCtx(t), "case-too-big-2", eventstore.NoStream(), other); !errors.Is(err, eventstore.ErrDuplicateEventID) {
		t.Errorf("after the takeover the first stream may not use the ID: %v", err)
	}
}
