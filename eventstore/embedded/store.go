// Package embedded is the event store kept in one SQLite file, with group commit and a global hash chain.
package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"casereview/eventstore"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// The data and metadata columns are BLOBs holding exactly the bytes the caller gave, so that the
// stored hash covers what is on disk and any later change to a byte shows up in eventstore.Verify.
const schema = `
CREATE TABLE IF NOT EXISTS events (
	position  INTEGER PRIMARY KEY,
	stream    TEXT    NOT NULL,
	revision  INTEGER NOT NULL,
	id        TEXT    NOT NULL UNIQUE,
	type      TEXT    NOT NULL,
	data      BLOB    NOT NULL,
	metadata  BLOB    NOT NULL,
	recorded  TEXT    NOT NULL,
	prev_hash TEXT    NOT NULL,
	hash      TEXT    NOT NULL,
	UNIQUE (stream, revision)
) STRICT;
PRAGMA user_version = 1;
`

const (
	columns      = `position, stream, revision, id, type, data, metadata, recorded, prev_hash, hash`
	insertEvent  = `INSERT INTO events (` + columns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	selectHead   = `SELECT position, hash FROM events ORDER BY position DESC LIMIT 1`
	selectRev    = `SELECT MAX(revision) FROM events WHERE stream = ?`
	readAllPage  = `SELECT ` + columns + ` FROM events WHERE position > ? ORDER BY position LIMIT ?`
	readSubPage  = `SELECT ` + columns + ` FROM events WHERE position > ? AND position <= ? ORDER BY position LIMIT ?`
	readForward  = `SELECT ` + columns + ` FROM events WHERE stream = ? AND revision >= ? ORDER BY revision LIMIT ?`
	readBackward = `SELECT ` + columns + ` FROM events WHERE stream = ? AND revision <= ? ORDER BY revision DESC LIMIT ?`
	streamExists = `SELECT 1 FROM events WHERE stream = ? LIMIT 1`
)

const (
	defaultMaxBatch    = 256
	defaultBusyTimeout = 5 * time.Second
	readPageSize       = 512 // rows per ReadAll query: bounds memory and how long a read transaction lives
	subPageSize        = 128 // rows a subscription buffers between queries
)

// Option configures a Store.
type Option func(*options)

type options struct {
	clock       func() time.Time
	maxBatch    int
	busyTimeout time.Duration
}

// WithClock sets the clock that stamps recorded times; tests use it to get fixed times.
func WithClock(now func() time.Time) Option { return func(o *options) { o.clock = now } }

// WithMaxBatch caps how many queued appends share one transaction and fsync (default 256).
func WithMaxBatch(n int) Option { return func(o *options) { o.maxBatch = n } }

// WithBusyTimeout sets how long SQLite waits for a lock held by another connection (default 5s).
func WithBusyTimeout(d time.Duration) Option { return func(o *options) { o.busyTimeout = d } }

// Store is an eventstore.Store on one SQLite file. One writer goroutine owns all writes, so commit
// order is position order and readers never see a later position before an earlier one.
type Store struct {
	path string
	opts options
	db   *sql.DB // readers
	w    *writer

	reqs       chan *appendRequest
	mu         sync.RWMutex // held for reading while sending on reqs, for writing to close it
	closed     bool
	closing    chan struct{} // closed once the writer has stopped: ends subscriptions
	writerDone chan struct{}
	closeOnce  sync.Once
	closeErr   error

	headMu sync.Mutex
	head   uint64        // last committed position
	wake   chan struct{} // closed and replaced at every commit
}

var _ eventstore.Store = (*Store)(nil)

// Open opens or creates the store at path, a SQLite file whose directory must exist. One process
// should hold a file at a time: a second one still appends correctly (each batch re-reads the head
// inside its write transaction), but its subscriptions wake only on its own commits.
func Open(path string, opts ...Option) (*Store, error) {
	o := options{clock: time.Now, maxBatch: defaultMaxBatch, busyTimeout: defaultBusyTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if o.maxBatch < 1 {
		return nil, fmt.Errorf("embedded: batch size %d: use at least 1", o.maxBatch)
	}
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("embedded: store path %q is empty or contains '?' or '#': use a plain file path", path)
	}
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("embedded: directory of %s does not exist: create it first", path)
	}
	dsn := fmt.Sprintf("%s?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)",
		path, o.busyTimeout.Milliseconds())
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("embedded: open %s: %w", path, err)
	}
	s := &Store{
		path:       path,
		opts:       o,
		db:         db,
		reqs:       make(chan *appendRequest, 4*o.maxBatch),
		closing:    make(chan struct{}),
		writerDone: make(chan struct{}),
		wake:       make(chan struct{}),
	}
	ctx := context.Background()
	if err := s.init(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("embedded: open %s: %w", path, err)
	}
	go s.w.run(s)
	return s, nil
}

func (s *Store) init(ctx context.Context) error {
	var mode string
	if err := s.db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, want WAL (is the file on a file system without shared memory?)", mode)
	}
	if _, err := s.db.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	w, err := newWriter(ctx, s.db, s.opts)
	if err != nil {
		return err
	}
	s.w = w
	head, _, err := w.readHead(ctx)
	if err != nil {
		w.close()
		return err
	}
	s.head = head
	w.head = head
	return nil
}

// Path returns the SQLite file the store lives in.
func (s *Store) Path() string { return s.path }

// ChainScope reports ChainGlobal: every event is linked to the one before it in global order.
func (s *Store) ChainScope() eventstore.ChainScope { return eventstore.ChainGlobal }

// Close flushes the appends already queued, stops the writer and every subscription, and closes
// the file. Appends made after Close fail with eventstore.ErrClosed. Close may be called again.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.reqs)
		s.mu.Unlock()
		<-s.writerDone
		close(s.closing)
		s.closeErr = errors.Join(s.w.close(), s.db.Close())
	})
	return s.closeErr
}

func (s *Store) isClosed() bool {
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}

// headState returns the last committed position and a channel closed at the next commit.
func (s *Store) headState() (uint64, <-chan struct{}) {
	s.headMu.Lock()
	defer s.headMu.Unlock()
	return s.head, s.wake
}

func (s *Store) publishHead(head uint64) {
	s.headMu.Lock()
	defer s.headMu.Unlock()
	if head != s.head {
		s.head = head
		close(s.wake)
		s.wake = make(chan struct{})
	}
}

// Append queues the append for the writer and waits for its own result.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if err := eventstore.ValidateAppend(stream, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return eventstore.AppendResult{}, err
	}
	req := &appendRequest{ctx: ctx, stream: stream, expected: expected, events: events, done: make(chan appendOutcome, 1)}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return eventstore.AppendResult{}, eventstore.ErrClosed
	}
	select {
	case s.reqs <- req:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.mu.RUnlock()
		return eventstore.AppendResult{}, ctx.Err()
	}
	select {
	case out := <-req.done:
		return out.res, out.err
	case <-ctx.Done():
		return eventstore.AppendResult{}, fmt.Errorf("append to %s abandoned, it may still be written (retry with the same event IDs to find out): %w", stream, ctx.Err())
	}
}

// ReadStream reads events of one stream by revision.
func (s *Store) ReadStream(ctx context.Context, stream string, dir eventstore.Direction, from uint64, max int) ([]eventstore.RecordedEvent, error) {
	if s.isClosed() {
		return nil, eventstore.ErrClosed
	}
	limit := int64(-1) // SQLite: no limit
	if max > 0 {
		limit = int64(max)
	}
	query := readForward
	if dir == eventstore.Backwards {
		query = readBackward
	}
	rows, err := s.db.QueryContext(ctx, query, stream, clampInt64(from), limit)
	if err != nil {
		return nil, fmt.Errorf("embedded: read stream %s: %w", stream, err)
	}
	defer rows.Close()
	events := []eventstore.RecordedEvent{}
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("embedded: read stream %s: %w", stream, err)
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("embedded: read stream %s: %w", stream, err)
	}
	if len(events) == 0 {
		var one int
		err := s.db.QueryRowContext(ctx, streamExists, stream).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("read %s: %w", stream, eventstore.ErrStreamNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("embedded: read stream %s: %w", stream, err)
		}
	}
	return events, nil
}

// ReadAll pages through the log by position, so memory stays bounded whatever its size.
func (s *Store) ReadAll(ctx context.Context, from uint64, fn func(eventstore.RecordedEvent) error) error {
	cursor := from
	for {
		if s.isClosed() {
			return eventstore.ErrClosed
		}
		n, err := s.readAllPage(ctx, &cursor, fn)
		if err != nil || n < readPageSize {
			return err
		}
	}
}

func (s *Store) readAllPage(ctx context.Context, cursor *uint64, fn func(eventstore.RecordedEvent) error) (int, error) {
	rows, err := s.db.QueryContext(ctx, readAllPage, clampInt64(*cursor), readPageSize)
	if err != nil {
		return 0, fmt.Errorf("embedded: read all after %d: %w", *cursor, err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return n, fmt.Errorf("embedded: read all after %d: %w", *cursor, err)
		}
		n++
		*cursor = e.Position
		if err := fn(e); err != nil {
			return n, err
		}
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("embedded: read all after %d: %w", *cursor, err)
	}
	return n, nil
}

func clampInt64(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

type rowScanner interface{ Scan(dest ...any) error }

func scanEvent(r rowScanner) (eventstore.RecordedEvent, error) {
	var (
		e             eventstore.RecordedEvent
		pos, rev      int64
		data, meta    []byte
		recorded      string
		prevHash, hsh string
	)
	if err := r.Scan(&pos, &e.Stream, &rev, &e.ID, &e.Type, &data, &meta, &recorded, &prevHash, &hsh); err != nil {
		return e, err
	}
	t, err := time.Parse(time.RFC3339Nano, recorded)
	if err != nil {
		return e, fmt.Errorf("position %d: recorded time %q: %w", pos, recorded, err)
	}
	e.Position, e.Revision = uint64(pos), uint64(rev)
	e.Data, e.Metadata = data, meta
	e.Recorded = t.UTC()
	e.PrevHash, e.Hash = prevHash, hsh
	return e, nil
}
