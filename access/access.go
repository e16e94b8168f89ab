// Package access records every read of case data by a person, batching the records so that reads
// cost the event log one append per batch rather than one per request.
package access

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"casereview/auth"
)

// Record is one safeguarding information-sharing record: who saw which case's data, what and why.
// What and Why describe the data and purpose ("chronology", "prepare panel meeting"); they must not
// carry personal data about children.
type Record struct {
	// ID is set by the Recorder: unique, and the same across flush retries, so the flush function
	// can use it as an event ID and a retried append never records a read twice.
	ID     string
	UserID string
	Role   string
	Agency string
	CaseID string
	What   string
	Why    string
	At     time.Time
}

// FlushFunc writes a batch of records, for instance as AccessRecorded events. It is called from one
// goroutine at a time and may keep the slice; a batch it fails is offered again, unchanged, until it
// succeeds.
type FlushFunc func(ctx context.Context, records []Record) error

// Errors callers test with errors.Is.
var (
	ErrDropped = errors.New("access: record dropped, queue full")
	ErrClosed  = errors.New("access: recorder closed")
)

// Config configures a Recorder; zero fields take the defaults named.
type Config struct {
	Flush FlushFunc
	// BatchSize flushes as soon as this many records wait; 200 when zero.
	BatchSize int
	// Interval flushes whatever waits this often; 2 seconds when zero.
	Interval time.Duration
	// QueueSize bounds the records waiting for a flush; 10,000 when zero. See Recorder.
	QueueSize int
	// EnqueueWait is how long Record waits for room in a full queue before dropping; 50 ms when zero.
	EnqueueWait time.Duration
	// FlushTimeout bounds one call of Flush; 10 seconds when zero.
	FlushTimeout time.Duration
	// RetryBackoff is the first wait after a failed flush, doubling up to 5 seconds; 100 ms when zero.
	RetryBackoff time.Duration
	Logger       zerolog.Logger
	Now          func() time.Time // stamps records with no At; time.Now when nil
}

// Recorder batches records and flushes them every BatchSize records, every Interval, and on Close.
//
// The queue is bounded on purpose. While the event log is down, flushes fail and are retried, and
// records pile up; unbounded, they would grow until the process ran out of memory and lost every one
// of them. Bounded, a request waits at most EnqueueWait for room, so reads never hang on the log,
// and a record is dropped only when the queue has been full for that long — which is counted
// (Stats.Dropped) and logged, so an operator sees the gap in the information-sharing record.
type Recorder struct {
	cfg   Config
	queue chan Record
	// abortCtx ends when Close gives up waiting: flushes in flight are cancelled, none retried.
	abortCtx context.Context
	abort    context.CancelFunc
	done     chan struct{} // closed when the flushing goroutine has returned

	mu     sync.RWMutex // guards closed against a send on the closed queue
	closed bool

	dropped, flushed, flushErrors atomic.Uint64
	lastDropLog                   atomic.Int64
	closeErr                      error
	closeOnce                     sync.Once
}

// Stats counts what the Recorder did.
type Stats struct {
	Flushed     uint64 // records written by a successful flush
	Dropped     uint64 // records refused because the queue stayed full, or unflushed at Close
	FlushErrors uint64 // failed flush attempts (each retried)
}

// NewRecorder starts a Recorder; call Close to flush what remains and stop it.
func NewRecorder(cfg Config) (*Recorder, error) {
	if cfg.Flush == nil {
		return nil, errors.New("access: Config.Flush is nil; give the function that writes a batch of records")
	}
	if cfg.BatchSize < 0 || cfg.Interval < 0 || cfg.QueueSize < 0 || cfg.EnqueueWait < 0 || cfg.FlushTimeout < 0 || cfg.RetryBackoff < 0 {
		return nil, errors.New("access: Config sizes and durations must not be negative")
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 200
	}
	if cfg.QueueSize == 0 {
		cfg.QueueSize = 10_000
	}
	def(&cfg.Interval, 2*time.Second)
	def(&cfg.EnqueueWait, 50*time.Millisecond)
	def(&cfg.FlushTimeout, 10*time.Second)
	def(&cfg.RetryBackoff, 100*time.Millisecond)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Recorder{
		cfg:   cfg,
		queue: make(chan Record, cfg.QueueSize),
		done:  make(chan struct{}),
	}
	r.abortCtx, r.abort = context.WithCancel(context.Background())
	go r.run()
	return r, nil
}

// Record queues rec. It returns at once unless the queue is full, then waits up to EnqueueWait (or
// until ctx ends) and returns ErrDropped; after Close it returns ErrClosed.
func (r *Recorder) Record(ctx context.Context, rec Record) error {
	if rec.UserID == "" || rec.What == "" {
		return fmt.Errorf("access: record needs a UserID and a What (got user %q, what %q)", rec.UserID, rec.What)
	}
	if rec.At.IsZero() {
		rec.At = r.cfg.Now()
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return fmt.Errorf("access: record id: %w", err)
	}
	rec.ID = hex.EncodeToString(id)

	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return ErrClosed
	}
	select {
	case r.queue <- rec:
		return nil
	default:
	}
	t := time.NewTimer(r.cfg.EnqueueWait)
	defer t.Stop()
	select {
	case r.queue <- rec:
		return nil
	case <-t.C:
	case <-ctx.Done():
	}
	r.drop(1)
	return ErrDropped
}

// RecordRead records that the signed-in user in ctx (see auth.Middleware) read what of caseID, for
// why. Reads by API tokens are recorded too: a token acts for someone. Public reads are of
// published material only, which is not case data, and are not recorded.
func (r *Recorder) RecordRead(ctx context.Context, caseID, what, why string) error {
	u, ok := auth.UserFrom(ctx)
	if !ok || u.Role == auth.RolePublic {
		return nil
	}
	return r.Record(ctx, Record{UserID: u.ID, Role: string(u.Role), Agency: u.Agency, CaseID: caseID, What: what, Why: why})
}

func (r *Recorder) drop(n int) {
	total := r.dropped.Add(uint64(n))
	// One line a second at most: a full queue drops thousands a second, and the count says it all.
	now := time.Now().UnixNano()
	last := r.lastDropLog.Load()
	if now-last >= int64(time.Second) && r.lastDropLog.CompareAndSwap(last, now) {
		r.cfg.Logger.Error().Uint64("dropped_total", total).Msg("access records dropped: the information-sharing record has a gap")
	}
}

// Stats returns the counts so far.
func (r *Recorder) Stats() Stats {
	return Stats{Flushed: r.flushed.Load(), Dropped: r.dropped.Load(), FlushErrors: r.flushErrors.Load()}
}

// Close stops accepting records and flushes every queued one, retrying failed flushes until ctx
// ends; records still unflushed then are counted as dropped and Close returns an error.
func (r *Recorder) Close(ctx context.Context) error {
	r.closeOnce.Do(func() {
		r.mu.Lock()
		r.closed = true
		close(r.queue)
		r.mu.Unlock()
	})
	select {
	case <-r.done:
	case <-ctx.Done():
		r.abort()
		<-r.done
	}
	return r.closeErr
}

func (r *Recorder) run() {
	defer close(r.done)
	ticker := time.NewTicker(r.cfg.Interval)
	defer ticker.Stop()
	batch := make([]Record, 0, r.cfg.BatchSize)
	for {
		select {
		case rec, ok := <-r.queue:
			if !ok {
				r.closeErr = r.drain(batch, 0)
				return
			}
			batch = append(batch, rec)
			if len(batch) >= r.cfg.BatchSize {
				if !r.flush(batch) {
					r.closeErr = r.drain(nil, len(batch))
					return
				}
				batch = make([]Record, 0, r.cfg.BatchSize)
			}
		case <-ticker.C:
			if len(batch) > 0 {
				if !r.flush(batch) {
					r.closeErr = r.drain(nil, len(batch))
					return
				}
				batch = make([]Record, 0, r.cfg.BatchSize)
			}
		}
	}
}

// drain flushes batch and everything left in the closed queue, in batches. After Close has given
// up, each batch gets one attempt with a cancelled context, so a flush that can still succeed at
// once does, and the rest are counted as dropped.
func (r *Recorder) drain(batch []Record, lost int) error {
	for rec := range r.queue {
		batch = append(batch, rec)
		if len(batch) >= r.cfg.BatchSize {
			if !r.flush(batch) {
				lost += len(batch)
			}
			batch = make([]Record, 0, r.cfg.BatchSize)
		}
	}
	if len(batch) > 0 && !r.flush(batch) {
		lost += len(batch)
	}
	if lost > 0 {
		return fmt.Errorf("access: closed before %d records could be flushed; they are counted in Stats.Dropped", lost)
	}
	return nil
}

// flush writes batch, retrying with backoff until it succeeds (true) or Close gives up (false,
// with the batch counted as dropped).
func (r *Recorder) flush(batch []Record) bool {
	backoff := r.cfg.RetryBackoff
	for {
		ctx, cancel := context.WithTimeout(r.abortCtx, r.cfg.FlushTimeout)
		err := r.cfg.Flush(ctx, batch)
		cancel()
		if err == nil {
			r.flushed.Add(uint64(len(batch)))
			return true
		}
		r.flushErrors.Add(1)
		r.cfg.Logger.Warn().Err(err).Int("records", len(batch)).Dur("retry_in", backoff).Msg("access record flush failed; retrying")
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-r.abortCtx.Done():
			t.Stop()
			r.drop(len(batch))
			return false
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}
