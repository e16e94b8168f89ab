package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"casereview/eventstore"
)

type appendRequest struct {
	ctx      context.Context
	stream   string
	expected eventstore.ExpectedRevision
	events   []eventstore.EventData
	done     chan appendOutcome // buffered: the writer never blocks on a caller that gave up
}

type appendOutcome struct {
	res eventstore.AppendResult
	err error
}

// Transaction control is prepared like any other statement, which saves parsing it per batch.
const (
	beginTx    = "BEGIN IMMEDIATE"
	commitTx   = "COMMIT"
	rollbackTx = "ROLLBACK"
)

// writer owns the one connection that writes. Transactions are plain BEGIN/COMMIT statements on
// that connection so that its prepared statements are reused by every batch.
type writer struct {
	conn  *sql.Conn
	opts  options
	stmts map[string]*sql.Stmt

	// head is the position the last commit left; revCache holds stream revisions as of head.
	head     uint64
	revCache map[string]int64
}

func newWriter(ctx context.Context, db *sql.DB, opts options) (*writer, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	w := &writer{conn: conn, opts: opts, stmts: make(map[string]*sql.Stmt)}
	// Every append touches a random leaf of the event-ID index; a cache larger than SQLite's
	// default 2 MB keeps those pages in memory between batches instead of re-reading them.
	if _, err := conn.ExecContext(ctx, "PRAGMA cache_size = -65536"); err != nil {
		conn.Close()
		return nil, fmt.Errorf("set cache size: %w", err)
	}
	for _, q := range []string{insertEvent, selectHead, selectRev, beginTx, commitTx, rollbackTx} {
		st, err := conn.PrepareContext(ctx, q)
		if err != nil {
			w.close()
			return nil, fmt.Errorf("prepare %q: %w", q, err)
		}
		w.stmts[q] = st
	}
	return w, nil
}

func (w *writer) close() error {
	var errs []error
	for _, st := range w.stmts {
		errs = append(errs, st.Close())
	}
	errs = append(errs, w.conn.Close())
	return errors.Join(errs...)
}

// run commits queued appends in batches until the request channel is closed and drained.
func (w *writer) run(s *Store) {
	defer close(s.writerDone)
	for req := range s.reqs {
		batch := []*appendRequest{req}
		// The callers released by the last commit are waking up to append again; letting them
		// run first keeps batches large instead of alternating between full and nearly empty.
		runtime.Gosched()
	drain:
		for len(batch) < w.opts.maxBatch {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		if head, ok := w.commit(batch); ok {
			s.publishHead(head)
		}
	}
}

func (w *writer) readHead(ctx context.Context) (uint64, string, error) {
	var pos int64
	var hash string
	err := w.stmts[selectHead].QueryRowContext(ctx).Scan(&pos, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, eventstore.GenesisHash, nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("read head: %w", err)
	}
	return uint64(pos), hash, nil
}

// eventPlace is where an event ID already sits in the log.
type eventPlace struct {
	stream   string
	revision uint64
	position uint64
}

// batchState is the log as seen inside one transaction: the committed head plus what earlier
// requests of the same batch wrote, so each request is checked against everything before it.
type batchState struct {
	head      uint64
	headHash  string
	revisions map[string]int64      // stream -> last revision, -1 for none, as of this batch
	places    map[string]eventPlace // event ID -> place, for every ID of the batch found or written
	recorded  time.Time
}

// errInsert marks a request whose insert failed: the transaction is rolled back and the batch
// retried without it, so that one bad request cannot fail the others.
type errInsert struct {
	index int
	err   error
}

func (e *errInsert) Error() string { return e.err.Error() }

// commit writes one batch in one transaction and hands every request its own outcome. It returns
// the new head and whether the transaction committed.
func (w *writer) commit(batch []*appendRequest) (uint64, bool) {
	ctx := context.Background()
	live := make([]*appendRequest, 0, len(batch))
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- appendOutcome{err: err}
			continue
		}
		live = append(live, r)
	}
	for len(live) > 0 {
		st, outcomes, err := w.try(ctx, live)
		var ie *errInsert
		if errors.As(err, &ie) {
			live[ie.index].done <- appendOutcome{err: ie.err}
			live = append(live[:ie.index], live[ie.index+1:]...)
			continue
		}
		if err != nil {
			w.revCache = nil
			for _, r := range live {
				r.done <- appendOutcome{err: fmt.Errorf("embedded: append to %s: %w", r.stream, err)}
			}
			return 0, false
		}
		w.head = st.head
		if w.revCache == nil || len(w.revCache) > maxCachedStreams {
			w.revCache = make(map[string]int64)
		}
		for stream, rev := range st.revisions {
			w.revCache[stream] = rev
		}
		for i, r := range live {
			r.done <- outcomes[i]
		}
		return st.head, true
	}
	return 0, false
}

// maxCachedStreams bounds the writer's memory of stream revisions; past it the cache starts afresh.
const maxCachedStreams = 100_000

// try runs the batch in one transaction. It returns an *errInsert naming the request to drop when
// an insert fails, any other error when the transaction as a whole failed.
func (w *writer) try(ctx context.Context, live []*appendRequest) (*batchState, []appendOutcome, error) {
	if _, err := w.stmts[beginTx].ExecContext(ctx); err != nil {
		return nil, nil, fmt.Errorf("begin: %w", err)
	}
	st, err := w.begin(ctx, live)
	if err != nil {
		w.rollback(ctx)
		return nil, nil, err
	}
	outcomes := make([]appendOutcome, len(live))
	for i, r := range live {
		out, err := w.apply(ctx, st, r)
		if err != nil {
			w.rollback(ctx)
			return nil, nil, &errInsert{index: i, err: err}
		}
		outcomes[i] = out
	}
	if _, err := w.stmts[commitTx].ExecContext(ctx); err != nil {
		w.rollback(ctx)
		return nil, nil, fmt.Errorf("commit: %w", err)
	}
	return st, outcomes, nil
}

// begin reads what the batch needs from the file: the head, and the places of its event IDs in
// one query. The cached stream revisions are trusted only if no other process moved the head.
func (w *writer) begin(ctx context.Context, live []*appendRequest) (*batchState, error) {
	head, headHash, err := w.readHead(ctx)
	if err != nil {
		return nil, err
	}
	if head != w.head {
		w.revCache = nil
	}
	st := &batchState{
		head:      head,
		headHash:  headHash,
		revisions: make(map[string]int64),
		places:    make(map[string]eventPlace),
		recorded:  w.opts.clock().UTC().Truncate(time.Microsecond),
	}
	var ids []any
	for _, r := range live {
		for _, e := range r.events {
			ids = append(ids, e.ID)
		}
	}
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 500)]
		ids = ids[len(chunk):]
		q := "SELECT id, stream, revision, position FROM events WHERE id IN (?" + strings.Repeat(",?", len(chunk)-1) + ")"
		rows, err := w.conn.QueryContext(ctx, q, chunk...)
		if err != nil {
			return nil, fmt.Errorf("look up event IDs: %w", err)
		}
		for rows.Next() {
			var id, stream string
			var rev, pos int64
			if err := rows.Scan(&id, &stream, &rev, &pos); err != nil {
				rows.Close()
				return nil, fmt.Errorf("look up event IDs: %w", err)
			}
			st.places[id] = eventPlace{stream: stream, revision: uint64(rev), position: uint64(pos)}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("look up event IDs: %w", err)
		}
	}
	return st, nil
}

func (w *writer) rollback(ctx context.Context) {
	// A failed statement or COMMIT may already have rolled back; the error then only says so.
	_, _ = w.stmts[rollbackTx].ExecContext(ctx)
}

// apply checks one request against st and writes it. A refused request (conflict, reused ID) is
// an outcome; only a failed insert is returned as an error.
func (w *writer) apply(ctx context.Context, st *batchState, r *appendRequest) (appendOutcome, error) {
	places := make([]*eventPlace, len(r.events))
	found := 0
	for i, e := range r.events {
		if p, ok := st.places[e.ID]; ok {
			places[i] = &p
			found++
		}
	}
	if found > 0 {
		return idempotentOutcome(r, places, found), nil
	}

	current, err := w.revision(ctx, st, r.stream)
	if err != nil {
		return appendOutcome{}, fmt.Errorf("embedded: append to %s: %w", r.stream, err)
	}
	if err := checkExpected(r.stream, r.expected, current); err != nil {
		return appendOutcome{err: err}, nil
	}

	head, prev := st.head, st.headHash
	recorded := st.recorded.Format(time.RFC3339Nano)
	insert := w.stmts[insertEvent]
	written := make([]eventPlace, 0, len(r.events))
	for i, e := range r.events {
		rec := eventstore.RecordedEvent{
			ID:       e.ID,
			Type:     e.Type,
			Data:     e.Data,
			Metadata: e.Metadata,
			Stream:   r.stream,
			Revision: uint64(current + 1 + int64(i)),
			Position: head + 1,
			Recorded: st.recorded,
			PrevHash: prev,
		}
		rec.Hash = eventstore.ChainHash(prev, rec.Position, rec)
		meta := []byte(e.Metadata)
		if meta == nil {
			meta = []byte{}
		}
		if _, err := insert.ExecContext(ctx, int64(rec.Position), rec.Stream, int64(rec.Revision), rec.ID, rec.Type,
			[]byte(rec.Data), meta, recorded, rec.PrevHash, rec.Hash); err != nil {
			return appendOutcome{}, fmt.Errorf("embedded: append to %s: insert event %s: %w", r.stream, e.ID, err)
		}
		head, prev = rec.Position, rec.Hash
		written = append(written, eventPlace{stream: r.stream, revision: rec.Revision, position: rec.Position})
	}
	st.head, st.headHash = head, prev
	for i, p := range written {
		st.places[r.events[i].ID] = p
	}
	last := written[len(written)-1]
	st.revisions[r.stream] = int64(last.revision)
	return appendOutcome{res: eventstore.AppendResult{NextRevision: last.revision, Position: last.position}}, nil
}

// idempotentOutcome applies EventStoreDB's rule to an append whose IDs are (partly) in the log:
// the very same events, in order, at the place the append expected, are a retry and get the
// original result; anything else reuses an ID and is refused.
func idempotentOutcome(r *appendRequest, places []*eventPlace, found int) appendOutcome {
	first := places[0]
	retry := found == len(places) && first.stream == r.stream
	for i := 1; retry && i < len(places); i++ {
		retry = places[i].stream == r.stream && places[i].revision == first.revision+uint64(i)
	}
	if retry {
		switch {
		case r.expected.IsNoStream():
			retry = first.revision == 0
		case r.expected.IsAny(), r.expected.IsStreamExists():
		default:
			want, _ := r.expected.Revision()
			retry = first.revision == want+1
		}
	}
	if retry {
		last := places[len(places)-1]
		return appendOutcome{res: eventstore.AppendResult{NextRevision: last.revision, Position: last.position}}
	}
	for i, p := range places {
		if p != nil {
			return appendOutcome{err: fmt.Errorf("append to %s: event %s is already at revision %d of stream %s: give a new event a new ID, and retry an append only with the same events and expected revision: %w",
				r.stream, r.events[i].ID, p.revision, p.stream, eventstore.ErrDuplicateEventID)}
		}
	}
	panic("unreachable: found > 0 but no place")
}

func checkExpected(stream string, exp eventstore.ExpectedRevision, current int64) error {
	ok := true
	var want string
	switch {
	case exp.IsAny():
	case exp.IsNoStream():
		ok, want = current < 0, "no stream"
	case exp.IsStreamExists():
		ok, want = current >= 0, "an existing stream"
	default:
		r, _ := exp.Revision()
		ok, want = current >= 0 && uint64(current) == r, fmt.Sprintf("revision %d", r)
	}
	if ok {
		return nil
	}
	have := "has no events"
	if current >= 0 {
		have = fmt.Sprintf("is at revision %d", current)
	}
	return fmt.Errorf("append to %s expected %s but the stream %s: read the stream again and decide afresh: %w",
		stream, want, have, eventstore.ErrWrongExpectedRevision)
}

// revision returns the stream's last revision, -1 when it has no events.
func (w *writer) revision(ctx context.Context, st *batchState, stream string) (int64, error) {
	if r, ok := st.revisions[stream]; ok {
		return r, nil
	}
	if r, ok := w.revCache[stream]; ok {
		return r, nil
	}
	var rev sql.NullInt64
	if err := w.stmts[selectRev].QueryRowContext(ctx, stream).Scan(&rev); err != nil {
		return 0, fmt.Errorf("read revision: %w", err)
	}
	if !rev.Valid {
		return -1, nil
	}
	st.revisions[stream] = rev.Int64
	return rev.Int64, nil
}
