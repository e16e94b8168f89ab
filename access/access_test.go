package access

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"casereview/auth"
)

// fakeLog is a flush function that keeps every batch it accepted, and can be told to fail or block.
type fakeLog struct {
	mu       sync.Mutex
	batches  [][]Record
	attempts [][]Record
	failN    int           // fail this many calls first
	block    chan struct{} // when not nil, each call waits for it to close
}

func (f *fakeLog) flush(ctx context.Context, recs []Record) error {
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts = append(f.attempts, recs)
	if f.failN > 0 {
		f.failN--
		return errors.New("event log unavailable")
	}
	f.batches = append(f.batches, recs)
	return nil
}

func (f *fakeLog) sizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var s []int
	for _, b := range f.batches {
		s = append(s, len(b))
	}
	return s
}

func (f *fakeLog) all() []Record {
	f.mu.Lock()
	defer f.mu.Unlock()
	var all []Record
	for _, b := range f.batches {
		all = append(all, b...)
	}
	return all
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func rec(i int) Record {
	return Record{UserID: "dev-reviewer", Role: "reviewer", CaseID: "case-1", What: fmt.Sprintf("chronology page %d", i), Why: "analysis"}
}

func TestBatchesBySizeAndFlushesRestOnClose(t *testing.T) {
	log := &fakeLog{}
	at := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	r, err := NewRecorder(Config{Flush: log.flush, BatchSize: 3, Interval: time.Hour, Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 7 {
		if err := r.Record(context.Background(), rec(i)); err != nil {
			t.Fatalf("Record %d: %v", i, err)
		}
	}
	waitFor(t, "two full batches", func() bool { return len(log.sizes()) == 2 })
	if err := r.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got, want := fmt.Sprint(log.sizes()), "[3 3 1]"; got != want {
		t.Errorf("batch sizes = %s, want %s", got, want)
	}
	ids := map[string]bool{}
	for i, got := range log.all() {
		if got.What != rec(i).What {
			t.Errorf("record %d = %q, want %q (order kept)", i, got.What, rec(i).What)
		}
		if !got.At.Equal(at) {
			t.Errorf("record %d At = %v, want the recorder's clock %v", i, got.At, at)
		}
		if got.ID == "" || ids[got.ID] {
			t.Errorf("record %d ID %q is empty or repeated", i, got.ID)
		}
		ids[got.ID] = true
	}
	if s := r.Stats(); s.Flushed != 7 || s.Dropped != 0 {
		t.Errorf("Stats = %+v, want 7 flushed, 0 dropped", s)
	}
	if err := r.Record(context.Background(), rec(8)); !errors.Is(err, ErrClosed) {
		t.Errorf("Record after Close = %v, want ErrClosed", err)
	}
	if err := r.Close(context.Background()); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

func TestFlushesOnInterval(t *testing.T) {
	log := &fakeLog{}
	r, err := NewRecorder(Config{Flush: log.flush, BatchSize: 100, Interval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	for i := range 2 {
		if err := r.Record(context.Background(), rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the interval flush", func() bool { return len(log.all()) == 2 })
	if got := log.sizes(); len(got) != 1 {
		t.Errorf("batches = %v, want one batch of 2", got)
	}
}

func TestRetriesFailedFlushWithTheSameBatch(t *testing.T) {
	log := &fakeLog{failN: 2}
	r, err := NewRecorder(Config{Flush: log.flush, BatchSize: 2, Interval: time.Hour, RetryBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := r.Record(context.Background(), rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if len(log.attempts) != 3 {
		t.Fatalf("flush attempts = %d, want 3 (two failures, one success)", len(log.attempts))
	}
	for i, a := range log.attempts {
		if a[0].ID != log.attempts[0][0].ID || a[1].ID != log.attempts[0][1].ID {
			t.Errorf("attempt %d carried different record IDs: retries must offer the same batch", i)
		}
	}
	if s := r.Stats(); s.Flushed != 2 || s.FlushErrors != 2 || s.Dropped != 0 {
		t.Errorf("Stats = %+v, want 2 flushed, 2 flush errors, 0 dropped", s)
	}
}

func TestFullQueueDropsAfterBriefWait(t *testing.T) {
	log := &fakeLog{block: make(chan struct{})}
	r, err := NewRecorder(Config{Flush: log.flush, BatchSize: 1, QueueSize: 2, Interval: time.Hour, EnqueueWait: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// The first record is taken off the queue and its flush blocks; two more fill the queue.
	if err := r.Record(ctx, rec(0)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first record to leave the queue", func() bool { return len(r.queue) == 0 })
	for i := 1; i <= 2; i++ {
		if err := r.Record(ctx, rec(i)); err != nil {
			t.Fatalf("Record %d with room in the queue: %v", i, err)
		}
	}
	start := time.Now()
	err = r.Record(ctx, rec(3))
	if !errors.Is(err, ErrDropped) {
		t.Fatalf("Record into a full queue = %v, want ErrDropped", err)
	}
	if waited := time.Since(start); waited < 5*time.Millisecond || waited > time.Second {
		t.Errorf("Record waited %v, want about EnqueueWait (5ms)", waited)
	}
	if got := r.Stats().Dropped; got != 1 {
		t.Errorf("Dropped = %d, want 1", got)
	}
	close(log.block)
	if err := r.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if s := r.Stats(); s.Flushed != 3 {
		t.Errorf("Flushed = %d, want 3", s.Flushed)
	}
}

func TestCloseGivesUpWhenTheLogStaysDown(t *testing.T) {
	log := &fakeLog{failN: 1 << 30}
	r, err := NewRecorder(Config{Flush: log.flush, BatchSize: 2, Interval: time.Hour, RetryBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := r.Record(context.Background(), rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := r.Close(ctx); err == nil {
		t.Fatal("Close with the log down = nil, want an error counting the lost records")
	}
	if s := r.Stats(); s.Dropped != 5 || s.Flushed != 0 {
		t.Errorf("Stats = %+v, want all 5 dropped", s)
	}
}

func TestBadInput(t *testing.T) {
	if _, err := NewRecorder(Config{}); err == nil {
		t.Error("NewRecorder without Flush = nil error")
	}
	if _, err := NewRecorder(Config{Flush: (&fakeLog{}).flush, BatchSize: -1}); err == nil {
		t.Error("NewRecorder with negative BatchSize = nil error")
	}
	r, err := NewRecorder(Config{Flush: (&fakeLog{}).flush})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	for _, bad := range []Record{{What: "case"}, {UserID: "u1"}} {
		if err := r.Record(context.Background(), bad); err == nil {
			t.Errorf("Record(%+v) = nil, want an error naming the missing field", bad)
		}
	}
}

func TestRecordReadTakesTheSignedInUser(t *testing.T) {
	log := &fakeLog{}
	r, err := NewRecorder(Config{Flush: log.flush})
	if err != nil {
		t.Fatal(err)
	}
	lead := auth.User{ID: "dev-lead-police-north", Name: "Noah", Role: auth.RoleAgencyLead, Agency: "police-north"}
	if err := r.RecordRead(auth.WithUser(context.Background(), lead), "case-7", "agency request", "answer request"); err != nil {
		t.Fatal(err)
	}
	if err := r.RecordRead(auth.WithUser(context.Background(), auth.Public), "case-7", "register", "published"); err != nil {
		t.Fatal(err)
	}
	if err := r.RecordRead(context.Background(), "case-7", "no middleware", "?"); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := log.all()
	if len(got) != 1 {
		t.Fatalf("recorded %d reads, want only the signed-in user's", len(got))
	}
	want := Record{ID: got[0].ID, UserID: lead.ID, Role: "agency-lead", Agency: "police-north", CaseID: "case-7", What: "agency request", Why: "answer request", At: got[0].At}
	if got[0] != want || got[0].At.IsZero() {
		t.Errorf("record = %+v, want %+v with a time", got[0], want)
	}
}

func BenchmarkRecord(b *testing.B) {
	r, err := NewRecorder(Config{Flush: func(context.Context, []Record) error { return nil }})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close(context.Background())
	ctx := context.Background()
	for b.Loop() {
		if err := r.Record(ctx, rec(1)); err != nil {
			b.Fatal(err)
		}
	}
}
