// Package projections builds read models from the event log, each change committed with its checkpoint.
package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"casereview/calendar"
	"casereview/eventstore"
	"casereview/review"
)

// CaseSummary is one row of the case list.
type CaseSummary struct {
	ID            string    `json:"id"`
	Framework     string    `json:"framework"`
	Stage         string    `json:"stage"`
	Nature        string    `json:"nature"`
	AwarenessDate string    `json:"awarenessDate"`
	IncidentDate  string    `json:"incidentDate"`
	NotifiedAt    time.Time `json:"notifiedAt"`
	Position      uint64    `json:"position"` // log position of the last event that changed this row
}

// Audience says who may see a change, so that a server can filter the feed per user.
type Audience struct {
	CaseID string `json:"caseId,omitempty"`
	// Agency is set for changes scoped to one agency (an inbox row); empty means case-wide.
	Agency string `json:"agency,omitempty"`
	// Public marks changes to what the public may see: the register and public action plans.
	Public bool `json:"public,omitempty"`
}

// Change is a read-model change, stamped with the log position that caused it.
type Change struct {
	Position uint64       `json:"position"`
	Model    string       `json:"model"` // one of the Model* names
	CaseID   string       `json:"caseId"`
	Audience Audience     `json:"audience"`
	Case     *CaseSummary `json:"case,omitempty"` // set for board changes
}

// Read model names, as used in Change.Model, checkpoints and Rebuild's only list.
const (
	ModelBoard      = "board"
	ModelCase       = "case"
	ModelChronology = "chronology"
	ModelAnalysis   = "analysis"
	ModelInbox      = "inbox"
	ModelActionPlan = "actionplan"
	ModelRegister   = "register"
	ModelAudit      = "audit"
	// ModelState is the folded case behind the case models; it emits no changes.
	ModelState = "state"
)

// Errors callers test with errors.Is.
var (
	// ErrNotFound means a read model has no such row.
	ErrNotFound = errors.New("projections: not found")
	// ErrGap means an event arrived after a missing position in a log whose positions are contiguous.
	ErrGap = errors.New("projections: gap in the event log")
	// ErrUnknownModel means a read model name is not one this code knows.
	ErrUnknownModel = errors.New("projections: unknown read model")
)

// caseStreamPrefix starts the name of every case's stream: case-{caseID}.
const caseStreamPrefix = "case-"

// Options tune a DB.
type Options struct {
	// ContiguousPositions says the log numbers its events 1, 2, 3... with no holes (the embedded
	// store does; EventStoreDB does not). When set, an event that arrives after a hole is an error.
	ContiguousPositions bool
}

// DB holds the read models. Every read model is a named projection with its own checkpoint row
// and code version, all in one SQLite file. The case read models are derived, on every event,
// from the case as the domain folds it (review.Case, kept per case in the case_state table), so
// they can never disagree with the aggregate; what depends on today (working days left, RAG,
// overdue) is computed at read time from stored due dates, so it never goes stale.
type DB struct {
	db   *sql.DB
	opts Options

	mu      sync.Mutex
	head    uint64
	waiters []chan struct{} // closed when a commit moves head
	// recent holds the newest changes in memory, every change after recentFrom, so that the live
	// feed's many readers, woken together by one commit, read memory instead of each querying.
	recent     []Change
	recentFrom uint64
	stale      map[string]bool // models whose stored code version differs: Run rebuilds them

	calendars sync.Map // region -> *calendar.Calendar

	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt // by query text
}

// Open opens (creating if needed) the read-model database at path, for a log that may have holes
// in its positions.
func Open(path string) (*DB, error) { return OpenWith(path, Options{}) }

// OpenWith opens (creating if needed) the read-model database at path with options.
func OpenWith(path string, opts Options) (*DB, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("projections: database path %q is empty or contains '?' or '#': use a plain file path", path)
	}
	// Every transaction here writes; taking the write lock at BEGIN (immediate) makes a second
	// writer on the file (a rebuild beside a live server) wait on busy_timeout instead of failing
	// when its read snapshot turns out stale at the first write.
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(10000)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("projections: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	d := &DB{db: db, opts: opts, stale: map[string]bool{}, stmts: map[string]*sql.Stmt{}}
	if err := d.migrate(context.Background()); err != nil {
		db.Close()
		return nil, err
	}
	if d.head, err = d.Checkpoint(context.Background()); err != nil {
		db.Close()
		return nil, err
	}
	// Changes up to here are in the file; every one after it will be in memory too.
	if err := d.db.QueryRow(`SELECT COALESCE(MAX(position), 0) FROM changes`).Scan(&d.recentFrom); err != nil {
		db.Close()
		return nil, fmt.Errorf("projections: read the change feed's end: %w", err)
	}
	d.recentFrom = max(d.recentFrom, d.head)
	return d, nil
}

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

// migrate creates the tables of every model whose stored version matches the code's (or that is
// new in a fresh file) and marks the others stale, to be rebuilt into fresh tables by Run.
func (d *DB) migrate(ctx context.Context) error {
	_, err := d.db.ExecContext(ctx, `
CREATE TABLE IF NOT EXISTS checkpoints (name TEXT PRIMARY KEY, position INTEGER NOT NULL, version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS changes (position INTEGER NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (position, seq));`)
	if err != nil {
		return fmt.Errorf("projections: create tables: %w", err)
	}
	stored, err := readCheckpoints(ctx, d.db)
	if err != nil {
		return err
	}
	fresh := true
	for _, m := range models {
		if _, ok := stored[m.name]; ok {
			fresh = false
		}
	}
	// A file written by the first version of this package has only the "cases" checkpoint.
	if legacy, ok := stored["cases"]; ok && legacy.position > 0 {
		fresh = false
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("projections: begin: %w", err)
	}
	defer tx.Rollback()
	for _, m := range models {
		cp, ok := stored[m.name]
		if !fresh && (!ok || cp.version != m.version) {
			d.stale[m.name] = true
			continue
		}
		if err := createModel(ctx, tx, m, m.table); err != nil {
			return err
		}
		if err := createIndexes(ctx, tx, m); err != nil {
			return err
		}
		if !ok {
			if _, err := tx.ExecContext(ctx, `INSERT INTO checkpoints (name, position, version) VALUES (?, 0, ?)`, m.name, m.version); err != nil {
				return fmt.Errorf("projections: create checkpoint %s: %w", m.name, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("projections: commit tables: %w", err)
	}
	return nil
}

type checkpoint struct {
	position uint64
	version  int
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func readCheckpoints(ctx context.Context, q querier) (map[string]checkpoint, error) {
	rows, err := q.QueryContext(ctx, `SELECT name, position, version FROM checkpoints`)
	if err != nil {
		return nil, fmt.Errorf("projections: read checkpoints: %w", err)
	}
	defer rows.Close()
	out := map[string]checkpoint{}
	for rows.Next() {
		var name string
		var cp checkpoint
		if err := rows.Scan(&name, &cp.position, &cp.version); err != nil {
			return nil, fmt.Errorf("projections: read checkpoints: %w", err)
		}
		out[name] = cp
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("projections: read checkpoints: %w", err)
	}
	return out, nil
}

// Stale returns the models whose stored code version differs from the code's and which Run will
// rebuild before following the log.
func (d *DB) Stale() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, m := range models {
		if d.stale[m.name] {
			out = append(out, m.name)
		}
	}
	return out
}

func (d *DB) isStale(name string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stale[name]
}

// Checkpoint returns the log position up to which every current read model has applied the log.
func (d *DB) Checkpoint(ctx context.Context) (uint64, error) {
	stored, err := readCheckpoints(ctx, d.db)
	if err != nil {
		return 0, err
	}
	first := true
	var low uint64
	for _, m := range models {
		cp, ok := stored[m.name]
		if !ok || d.isStale(m.name) {
			continue
		}
		if first || cp.position < low {
			low, first = cp.position, false
		}
	}
	return low, nil
}

// Apply applies one event to every current read model that has not yet taken it, with their
// checkpoints, in one transaction. An event at or before a model's checkpoint was applied already
// and is skipped, so a repeated delivery changes nothing.
func (d *DB) Apply(ctx context.Context, e eventstore.RecordedEvent) error {
	return d.applyBatch(ctx, []eventstore.RecordedEvent{e})
}

// applyBatch applies events in order in one transaction: each as Apply would, the checkpoints
// written once at the end.
func (d *DB) applyBatch(ctx context.Context, events []eventstore.RecordedEvent) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("projections: begin: %w", err)
	}
	defer tx.Rollback()
	stored, err := readCheckpoints(ctx, tx)
	if err != nil {
		return err
	}
	moved := map[string]bool{}
	var head uint64
	var committed []Change
	// Cases folded in this batch stay in memory until it commits: a backlog of one case's events
	// decodes and encodes its state once per batch rather than once per event.
	cases, lastPos := map[string]*review.Case{}, map[string]uint64{}
	for _, e := range events {
		var targets []*model
		for _, m := range models {
			cp, ok := stored[m.name]
			if !ok || d.isStale(m.name) || e.Position <= cp.position {
				continue
			}
			if d.opts.ContiguousPositions && e.Position != cp.position+1 {
				return fmt.Errorf("%w: read model %s is at position %d and expected position %d next, but received %d",
					ErrGap, m.name, cp.position, cp.position+1, e.Position)
			}
			targets = append(targets, m)
		}
		if len(targets) == 0 {
			continue
		}
		a := applier{d: d, tx: tx, suffix: "", targets: targets, cases: cases, lastPos: lastPos, live: true}
		changes, err := a.apply(ctx, e)
		if err != nil {
			return fmt.Errorf("projections: apply %s at position %d: %w", e.Type, e.Position, err)
		}
		for i, c := range changes {
			committed = append(committed, c)
			body, err := json.Marshal(c)
			if err != nil {
				return fmt.Errorf("projections: encode change: %w", err)
			}
			if _, err := d.exec(ctx, tx, `INSERT INTO changes (position, seq, body) VALUES (?, ?, ?)`, e.Position, i, string(body)); err != nil {
				return fmt.Errorf("projections: record change: %w", err)
			}
		}
		for _, m := range targets {
			stored[m.name] = checkpoint{position: e.Position, version: stored[m.name].version}
			moved[m.name] = true
		}
		head = e.Position
	}
	if len(moved) == 0 {
		return nil
	}
	saver := applier{d: d, tx: tx, cases: cases, lastPos: lastPos}
	if err := saver.saveCases(ctx, "case_state"); err != nil {
		return fmt.Errorf("projections: %w", err)
	}
	for _, m := range models {
		if !moved[m.name] {
			continue
		}
		if _, err := d.exec(ctx, tx, `UPDATE checkpoints SET position = ? WHERE name = ?`, stored[m.name].position, m.name); err != nil {
			return fmt.Errorf("projections: write checkpoint %s: %w", m.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("projections: commit: %w", err)
	}
	d.advance(head, committed)
	return nil
}

// catchUpBatch is how many events Run applies per transaction while it reads the log's backlog.
const catchUpBatch = 256

// catchUp applies the log after the checkpoint in batches, as far as it goes now, and returns the
// new checkpoint: a transaction per batch rather than per event while a backlog is read.
func (d *DB) catchUp(ctx context.Context, store eventstore.Store, from uint64) (uint64, error) {
	var batch []eventstore.RecordedEvent
	err := store.ReadAll(ctx, from, func(e eventstore.RecordedEvent) error {
		batch = append(batch, e)
		if len(batch) < catchUpBatch {
			return nil
		}
		err := d.applyBatch(ctx, batch)
		batch = batch[:0]
		return err
	})
	if err == nil && len(batch) > 0 {
		err = d.applyBatch(ctx, batch)
	}
	if err != nil {
		return 0, fmt.Errorf("projections: catch up from %d: %w", from, err)
	}
	return d.Checkpoint(ctx)
}

// recentChanges bounds the changes kept in memory for the live feed.
const recentChanges = 4096

// advance moves the head, keeps the committed changes in memory and wakes every waiter.
func (d *DB) advance(position uint64, committed []Change) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if position > d.head {
		d.head = position
	}
	d.recent = append(d.recent, committed...)
	if over := len(d.recent) - recentChanges; over > 0 {
		// Drop whole positions only: what stays must be every change after recentFrom.
		cut := over
		for cut < len(d.recent) && d.recent[cut].Position == d.recent[cut-1].Position {
			cut++
		}
		d.recentFrom = d.recent[cut-1].Position
		d.recent = append([]Change(nil), d.recent[cut:]...)
	}
	for _, w := range d.waiters {
		close(w)
	}
	d.waiters = nil
}

// Run follows the log from the checkpoint and applies every event until ctx ends. It first
// rebuilds any model whose code version changed, then reads the backlog in batches, then
// subscribes and applies each new event as it comes. It returns nil when ctx ends and an error,
// naming the event, when one cannot be applied: a gap, or a history the domain cannot fold.
func (d *DB) Run(ctx context.Context, store eventstore.Store, log zerolog.Logger) error {
	if stale := d.Stale(); len(stale) > 0 {
		log.Info().Strs("models", stale).Msg("rebuilding read models whose code version changed")
		if err := d.rebuild(ctx, store, stale); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	from, err := d.Checkpoint(ctx)
	if err != nil {
		return err
	}
	d.advance(from, nil)
	if from, err = d.catchUp(ctx, store, from); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	// Every stream, not only cases': the audit trail records every event.
	sub, err := store.SubscribeAll(ctx, eventstore.SubscribeOptions{From: from})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("projections: subscribe from %d: %w", from, err)
	}
	defer sub.Close()
	log.Info().Uint64("from", from).Msg("projections following the log")
	for {
		e, err := sub.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("projections: subscription: %w", err)
		}
		if err := d.Apply(ctx, e); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// ChangesSince calls fn for every change after position, in order, and returns the last position seen.
func (d *DB) ChangesSince(ctx context.Context, position uint64, fn func(Change) error) (uint64, error) {
	d.mu.Lock()
	inMemory := position >= d.recentFrom
	var recent []Change
	if inMemory {
		i := sort.Search(len(d.recent), func(i int) bool { return d.recent[i].Position > position })
		recent = d.recent[i:len(d.recent):len(d.recent)]
	}
	d.mu.Unlock()
	if inMemory {
		last := position
		for _, c := range recent {
			last = c.Position
			if err := fn(c); err != nil {
				return last, err
			}
		}
		return last, nil
	}
	rows, err := d.db.QueryContext(ctx, `SELECT position, body FROM changes WHERE position > ? ORDER BY position, seq`, position)
	if err != nil {
		return position, fmt.Errorf("projections: read changes: %w", err)
	}
	defer rows.Close()
	last := position
	for rows.Next() {
		var body string
		if err := rows.Scan(&last, &body); err != nil {
			return last, fmt.Errorf("projections: read changes: %w", err)
		}
		var c Change
		if err := json.Unmarshal([]byte(body), &c); err != nil {
			return last, fmt.Errorf("projections: decode change at %d: %w", last, err)
		}
		if err := fn(c); err != nil {
			return last, err
		}
	}
	return last, rows.Err()
}

// Wait returns a channel closed when the checkpoint moves past position, and the current head.
func (d *DB) Wait(position uint64) (<-chan struct{}, uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ch := make(chan struct{})
	if d.head > position {
		close(ch)
		return ch, d.head
	}
	d.waiters = append(d.waiters, ch)
	return ch, d.head
}

// calendarFor returns the working-day calendar of a region, loaded once.
func (d *DB) calendarFor(region string) (*calendar.Calendar, error) {
	if c, ok := d.calendars.Load(region); ok {
		return c.(*calendar.Calendar), nil
	}
	c, err := calendar.ForRegion(region)
	if err != nil {
		return nil, fmt.Errorf("projections: calendar for %q: %w", region, err)
	}
	d.calendars.Store(region, c)
	return c, nil
}

// caseIDOfStream returns the case ID a stream belongs to, or "" for a stream that is not a case's.
func caseIDOfStream(stream string) string {
	if id, ok := strings.CutPrefix(stream, caseStreamPrefix); ok {
		return id
	}
	return ""
}

// decodeCase restores a case folded earlier; Apply reloads its rule set from framework and version.
func decodeCase(body string) (*review.Case, error) {
	c := &review.Case{}
	if err := json.Unmarshal([]byte(body), c); err != nil {
		return nil, fmt.Errorf("decode case state: %w", err)
	}
	return c, nil
}

// stmt returns the query prepared once on the pool: SQLite parsing every statement of every
// event would otherwise cost about as much as executing them.
func (d *DB) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	d.stmtMu.Lock()
	defer d.stmtMu.Unlock()
	if s, ok := d.stmts[query]; ok {
		return s, nil
	}
	s, err := d.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	d.stmts[query] = s
	return s, nil
}

func (d *DB) exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	s, err := d.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return tx.StmtContext(ctx, s).ExecContext(ctx, args...)
}

func (d *DB) query(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	s, err := d.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return tx.StmtContext(ctx, s).QueryContext(ctx, args...)
}

// rowErr is a *sql.Row stand-in for a statement that failed to prepare.
type rowErr struct{ err error }

func (r rowErr) Scan(...any) error { return r.err }

func (d *DB) queryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) scanner {
	s, err := d.stmt(ctx, query)
	if err != nil {
		return rowErr{err}
	}
	return tx.StmtContext(ctx, s).QueryRowContext(ctx, args...)
}

type scanner interface{ Scan(...any) error }
