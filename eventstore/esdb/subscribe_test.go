package esdb

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	esdbclient "github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"casereview/eventstore"
	"casereview/eventstore/esdb/esdbtest"
)

// next reads n events from sub and fails the test on an error.
func next(t *testing.T, sub eventstore.Subscription, n int) []eventstore.RecordedEvent {
	t.Helper()
	out := make([]eventstore.RecordedEvent, 0, n)
	for len(out) < n {
		e, err := sub.Next(testCtx(t))
		if err != nil {
			t.Fatalf("Next after %d of %d events: %v", len(out), n, err)
		}
		out = append(out, e)
	}
	return out
}

// checkSequence fails unless events are revisions first, first+1, ... of one stream in order.
func checkSequence(t *testing.T, got []eventstore.RecordedEvent, stream string, first uint64) {
	t.Helper()
	var prev uint64
	for i, e := range got {
		if e.Stream != stream || e.Revision != first+uint64(i) {
			t.Fatalf("event %d is %s/%d, want %s/%d: gap, duplicate or disorder", i, e.Stream, e.Revision, stream, first+uint64(i))
		}
		if e.Position <= prev {
			t.Fatalf("event %d at position %d, not after %d", i, e.Position, prev)
		}
		prev = e.Position
	}
}

func TestSubscribeCatchUpThenLive(t *testing.T) {
	s, _ := newStore(t)
	marker := mustAppend(t, s, "case-marker", eventstore.NoStream(), event("Marker", 0))
	mustAppend(t, s, "case-sub", eventstore.NoStream(), events("Before", 10)...)
	sub, err := s.SubscribeAll(testCtx(t), eventstore.SubscribeOptions{From: marker.Position})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	got := next(t, sub, 10)
	for i := range 5 {
		mustAppend(t, s, "case-sub", eventstore.Exact(uint64(9+i)), event("Live", i))
		got = append(got, next(t, sub, 1)...)
	}
	checkSequence(t, got, "case-sub", 0)
	if got[0].Hash == "" || got[0].Metadata == nil {
		t.Errorf("subscription delivered an undecoded event: %+v", got[0])
	}
}

func TestSubscriptionResumesAfterDrops(t *testing.T) {
	s, srv := newStore(t)
	sub, err := s.SubscribeAll(testCtx(t), eventstore.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	waitSubscribed(t, srv)

	rev := uint64(0)
	appendN := func(n int) {
		for range n {
			exp := eventstore.Exact(rev - 1)
			if rev == 0 {
				exp = eventstore.NoStream()
			}
			mustAppend(t, s, "case-drop", exp, event("E", int(rev)))
			rev++
		}
	}
	var got []eventstore.RecordedEvent
	steps := []struct {
		name    string
		appends int // before the drop
		read    int // before the drop
	}{
		{"drop while idle and caught up", 0, 0},
		{"drop with undelivered events queued", 10, 4},
		{"drop after reading everything", 5, 11},
		{"drop during catch-up of a large backlog", 300, 10},
	}
	for _, st := range steps {
		appendN(st.appends)
		got = append(got, next(t, sub, st.read)...)
		waitSubscribed(t, srv)
		if n := srv.DropSubscriptions(); n != 1 {
			t.Fatalf("%s: dropped %d subscriptions, want 1", st.name, n)
		}
		if testing.Verbose() {
			t.Logf("%s: dropped", st.name)
		}
		appendN(3)
	}
	got = append(got, next(t, sub, int(rev)-len(got))...)
	checkSequence(t, got, "case-drop", 0)
	// Nothing more may come: a duplicate would show up here.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if e, err := sub.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("extra delivery after the last event: %+v, %v", e, err)
	}
}

// waitSubscribed waits until the server holds exactly one subscription.
func waitSubscribed(t *testing.T, srv *esdbtest.Server) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for srv.Subscriptions() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("server has %d subscriptions, want 1", srv.Subscriptions())
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSubscriptionResumesAfterServerRestart(t *testing.T) {
	srv := esdbtest.Start(t)
	// Discovery that gives up quickly, in case the restart outlasts it.
	s, err := Open(testCtx(t), srv.ConnectionString()+"&maxDiscoverAttempts=2&discoveryInterval=10",
		WithResubscribeBackoff(5*time.Millisecond, 50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sub, err := s.SubscribeAll(testCtx(t), eventstore.SubscribeOptions{StreamPrefix: []string{"case-r"}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	mustAppend(t, s, "case-r", eventstore.NoStream(), events("R", 3)...)
	got := next(t, sub, 2)
	// The node goes away: every call and the subscription's stream end, and connections are refused.
	if err := srv.Restart(300 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, "case-other", eventstore.NoStream(), events("Other", 3)...)
	mustAppend(t, s, "case-r", eventstore.Exact(2), events("R", 2)...)
	got = append(got, next(t, sub, 3)...)
	checkSequence(t, got, "case-r", 0)
}

func TestSubscriptionFilterAndSystemEvents(t *testing.T) {
	s, srv := newStore(t)
	filtered, err := s.SubscribeAll(testCtx(t), eventstore.SubscribeOptions{StreamPrefix: []string{"case-a", "case-c"}})
	if err != nil {
		t.Fatal(err)
	}
	defer filtered.Close()
	everything, err := s.SubscribeAll(testCtx(t), eventstore.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer everything.Close()
	raw := rawClient(t, srv)
	var wantFiltered, wantAll []string
	for i := range 9 {
		stream := fmt.Sprintf("case-%c", 'a'+i%3)
		e := event("F", i)
		mustAppend(t, s, stream, eventstore.Any(), e)
		wantAll = append(wantAll, e.ID)
		if stream != "case-b" {
			wantFiltered = append(wantFiltered, e.ID)
		}
		sys := esdbclient.EventData{EventID: uuid.New(), EventType: "$metadata", ContentType: esdbclient.ContentTypeJson, Data: []byte(`{}`)}
		if _, err := raw.AppendToStream(testCtx(t), "$$"+stream, esdbclient.AppendToStreamOptions{}, sys); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		sub  eventstore.Subscription
		want []string
	}{{"filtered", filtered, wantFiltered}, {"everything", everything, wantAll}} {
		got := next(t, c.sub, len(c.want))
		for i, e := range got {
			if e.ID != c.want[i] {
				t.Errorf("%s: event %d is %s of %s, want %s", c.name, i, e.ID, e.Stream, c.want[i])
			}
		}
	}
}

func TestSubscriptionEnds(t *testing.T) {
	tests := []struct {
		name string
		end  func(s *Store, sub eventstore.Subscription, cancel context.CancelFunc)
		want error
	}{
		{"closed", func(_ *Store, sub eventstore.Subscription, _ context.CancelFunc) { sub.Close() }, eventstore.ErrClosed},
		{"store closed", func(s *Store, _ eventstore.Subscription, _ context.CancelFunc) { s.Close() }, eventstore.ErrClosed},
		{"context cancelled", func(_ *Store, _ eventstore.Subscription, cancel context.CancelFunc) { cancel() }, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newStore(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			sub, err := s.SubscribeAll(ctx, eventstore.SubscribeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			done := make(chan error, 1)
			go func() {
				_, err := sub.Next(testCtx(t))
				done <- err
			}()
			time.Sleep(20 * time.Millisecond)
			tt.end(s, sub, cancel)
			select {
			case err := <-done:
				if !errors.Is(err, tt.want) {
					t.Errorf("Next: %v, want %v", err, tt.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Next did not return")
			}
		})
	}
}

func TestClientReplacedAfterItGaveUp(t *testing.T) {
	// The v4 client closes itself for good when discovery fails; the store must not stay dead.
	s, _ := newStore(t)
	sub, err := s.SubscribeAll(testCtx(t), eventstore.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	mustAppend(t, s, "case-renew", eventstore.NoStream(), event("A", 0))
	got := next(t, sub, 1)

	s.mu.RLock()
	dead := s.client
	s.mu.RUnlock()
	dead.Close() // what a failed discovery does

	_, err = s.Append(testCtx(t), "case-renew", eventstore.Exact(0), event("B", 1))
	if err == nil || errors.Is(err, eventstore.ErrClosed) {
		t.Fatalf("append on the dead client: %v, want a connection error that is not ErrClosed", err)
	}
	mustAppend(t, s, "case-renew", eventstore.Exact(0), event("B", 1))
	got = append(got, next(t, sub, 1)...)
	checkSequence(t, got, "case-renew", 0)
}

func TestSubscribeFromPositionBetweenEvents(t *testing.T) {
	// Real servers refuse to start at a position where no event begins; the store must still deliver
	// exactly the events after From.
	s, _ := newStore(t)
	res := make([]eventstore.AppendResult, 3)
	for i := range res {
		res[i] = mustAppend(t, s, "case-between", eventstore.Any(), event("B", i))
	}
	sub, err := s.SubscribeAll(testCtx(t), eventstore.SubscribeOptions{From: res[1].Position - 1})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	got := next(t, sub, 2)
	checkSequence(t, got, "case-between", 1)
}
