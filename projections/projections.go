// Package projections builds read models from the event log, each change committed with its checkpoint.
package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"casereview/eventstore"
	"casereview/review"
)

// name identifies this projection's checkpoint; bump version when its tables change shape.
const (
	name    = "cases"
	version = 1
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
	Position      uint64    `json:"position"` // log position of the last event applied to this case
}

// Change is a read-model change, stamped with the log position that caused it.
type Change struct {
	Position uint64       `json:"position"`
	Model    string       `json:"model"`
	CaseID   string       `json:"caseId"`
	Case     *CaseSummary `json:"case,omitempty"`
}

// ErrNotFound means a read model has no such row.
var ErrNotFound = errors.New("projections: not found")

// DB holds the read models.
type DB struct {
	db *sql.DB

	mu      sync.Mutex
	head    uint64
	waiters []chan struct{} // closed when a commit moves head
}

// Open opens (creating if needed) the read-model database at path.
func Open(path string) (*DB, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("projections: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	d := &DB{db: db}
	if err := d.migrate(); err != nil {
		db.Close()
		return nil, err
	}
	if d.head, err = d.Checkpoint(context.Background()); err != nil {
		db.Close()
		return nil, err
	}
	return d, nil
}

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

func (d *DB) migrate() error {
	_, err := d.db.Exec(`
CREATE TABLE IF NOT EXISTS checkpoints (name TEXT PRIMARY KEY, position INTEGER NOT NULL, version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS cases (
	id TEXT PRIMARY KEY, framework TEXT NOT NULL, stage TEXT NOT NULL, nature TEXT NOT NULL,
	awareness_date TEXT NOT NULL, incident_date TEXT NOT NULL, notified_at TEXT NOT NULL, position INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS changes (position INTEGER NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (position, seq));
`)
	if err != nil {
		return fmt.Errorf("projections: create tables: %w", err)
	}
	return nil
}

// Checkpoint returns the log position of the last event applied.
func (d *DB) Checkpoint(ctx context.Context) (uint64, error) {
	var pos uint64
	err := d.db.QueryRowContext(ctx, `SELECT position FROM checkpoints WHERE name = ?`, name).Scan(&pos)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("projections: read checkpoint: %w", err)
	}
	return pos, nil
}

// Apply applies one event and its checkpoint in one transaction. An event at or before the
// checkpoint was applied already and is skipped, so a repeated delivery changes nothing.
func (d *DB) Apply(ctx context.Context, e eventstore.RecordedEvent) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("projections: begin: %w", err)
	}
	defer tx.Rollback()
	var cp uint64
	err = tx.QueryRowContext(ctx, `SELECT position FROM checkpoints WHERE name = ?`, name).Scan(&cp)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("projections: read checkpoint: %w", err)
	}
	if e.Position <= cp {
		return nil
	}
	changes, err := applyEvent(ctx, tx, e)
	if err != nil {
		return fmt.Errorf("projections: apply %s at position %d: %w", e.Type, e.Position, err)
	}
	for i, c := range changes {
		body, err := json.Marshal(c)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO changes (position, seq, body) VALUES (?, ?, ?)`, e.Position, i, string(body)); err != nil {
			return fmt.Errorf("projections: record change: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO checkpoints (name, position, version) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET position = excluded.position, version = excluded.version`, name, e.Position, version); err != nil {
		return fmt.Errorf("projections: write checkpoint: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("projections: commit: %w", err)
	}
	d.mu.Lock()
	d.head = e.Position
	for _, w := range d.waiters {
		close(w)
	}
	d.waiters = nil
	d.mu.Unlock()
	return nil
}

func applyEvent(ctx context.Context, tx *sql.Tx, e eventstore.RecordedEvent) ([]Change, error) {
	switch e.Type {
	case review.EventCaseNotified:
		ev, err := review.DecodeEvent(e.Type, e.Data)
		if err != nil {
			return nil, err
		}
		n := ev.(review.CaseNotified)
		c := CaseSummary{
			ID: n.CaseID, Framework: n.Framework, Stage: "notified", Nature: string(n.Nature),
			AwarenessDate: n.AwarenessDate.String(), IncidentDate: n.IncidentDate.String(),
			NotifiedAt: e.Recorded.UTC(), Position: e.Position,
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO cases (id, framework, stage, nature, awareness_date, incident_date, notified_at, position)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			c.ID, c.Framework, c.Stage, c.Nature, c.AwarenessDate, c.IncidentDate, c.NotifiedAt.Format(time.RFC3339Nano), c.Position)
		if err != nil {
			return nil, err
		}
		return []Change{{Position: e.Position, Model: "case", CaseID: c.ID, Case: &c}}, nil
	}
	return nil, nil
}

// Run follows the log from the checkpoint and applies every event until ctx ends.
func (d *DB) Run(ctx context.Context, store eventstore.Store, log zerolog.Logger) error {
	from, err := d.Checkpoint(ctx)
	if err != nil {
		return err
	}
	sub, err := store.SubscribeAll(ctx, eventstore.SubscribeOptions{From: from, StreamPrefix: []string{"case-"}})
	if err != nil {
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
			return err
		}
	}
}

// ListCases returns every case, newest notification first.
func (d *DB) ListCases(ctx context.Context) ([]CaseSummary, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT id, framework, stage, nature, awareness_date, incident_date, notified_at, position FROM cases ORDER BY notified_at DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("projections: list cases: %w", err)
	}
	defer rows.Close()
	out := []CaseSummary{}
	for rows.Next() {
		c, err := scanCase(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// GetCase returns one case or ErrNotFound.
func (d *DB) GetCase(ctx context.Context, id string) (CaseSummary, error) {
	row := d.db.QueryRowContext(ctx, `SELECT id, framework, stage, nature, awareness_date, incident_date, notified_at, position FROM cases WHERE id = ?`, id)
	c, err := scanCase(row)
	if errors.Is(err, sql.ErrNoRows) {
		return CaseSummary{}, ErrNotFound
	}
	return c, err
}

type scanner interface{ Scan(...any) error }

func scanCase(s scanner) (CaseSummary, error) {
	var c CaseSummary
	var notified string
	if err := s.Scan(&c.ID, &c.Framework, &c.Stage, &c.Nature, &c.AwarenessDate, &c.IncidentDate, &notified, &c.Position); err != nil {
		return c, err
	}
	t, err := time.Parse(time.RFC3339Nano, notified)
	if err != nil {
		return c, fmt.Errorf("projections: bad notified_at %q: %w", notified, err)
	}
	c.NotifiedAt = t
	return c, nil
}

// ChangesSince calls fn for every change after position, in order, and returns the last position seen.
func (d *DB) ChangesSince(ctx context.Context, position uint64, fn func(Change) error) (uint64, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT position, body FROM changes WHERE position > ? ORDER BY position, seq`, position)
	if err != nil {
		return position, fmt.Errorf("projections: read changes: %w", err)
	}
	defer rows.Close()
	last := position
	for rows.Next() {
		var body string
		if err := rows.Scan(&last, &body); err != nil {
			return last, err
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
