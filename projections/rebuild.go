package projections

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"casereview/eventstore"
	"casereview/review"
)

// rebuildBatch is how many events a rebuild applies per transaction while filling fresh tables.
const rebuildBatch = 1000

// errStop ends a ReadAll early once a rebuild has reached the position it is building to.
var errStop = errors.New("stop reading")

// Rebuild rebuilds the named read models (every model when only is empty) of the database at
// path from position 0 of the log into fresh tables and swaps them in atomically, resetting each
// model's checkpoint and code version.
//
// A live process and a rebuild share the file safely, so Rebuild may run on a stopped server's
// file (the CLI) or beside a running server. It fills "<table>_new" tables without holding the
// write lock, up to the position the live models had reached when it started. It then takes
// SQLite's write lock, which pauses the live Apply (its transactions wait on busy_timeout),
// applies the events the live models took meanwhile, drops the old tables, renames the new ones
// into place and sets the models' checkpoints to the live one, all in one transaction. Run does
// the same, before following the log, for any model whose stored code version differs from the
// code's. A rebuild writes nothing to the change feed: clients reload after one.
func Rebuild(ctx context.Context, path string, store eventstore.Store, only []string) error {
	d, err := Open(path)
	if err != nil {
		return err
	}
	defer d.Close()
	if len(only) == 0 {
		only = ModelNames()
	}
	return d.rebuild(ctx, store, only)
}

// rebuild builds the named models in fresh "<table>_new" tables and swaps them in.
func (d *DB) rebuild(ctx context.Context, store eventstore.Store, names []string) error {
	var targets []*model
	for _, n := range names {
		m, err := modelNamed(n)
		if err != nil {
			return err
		}
		if !slices.Contains(targets, m) {
			targets = append(targets, m)
		}
	}
	// The live models' head when the rebuild starts: the fill stops there, so the rebuilt models
	// never get ahead of the others, and the swap catches up to wherever the live models are then.
	limit, live, err := d.liveHead(ctx, targets)
	if err != nil {
		return err
	}
	if err := d.createFresh(ctx, targets); err != nil {
		return err
	}
	a := &applier{d: d, suffix: "_new", targets: targets, cases: map[string]*review.Case{}, lastPos: map[string]uint64{}}
	var reached uint64
	var pending []eventstore.RecordedEvent
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		tx, err := d.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("projections: rebuild: begin: %w", err)
		}
		defer tx.Rollback()
		a.tx = tx
		for _, e := range pending {
			if _, err := a.apply(ctx, e); err != nil {
				return fmt.Errorf("projections: rebuild: apply %s at position %d: %w", e.Type, e.Position, err)
			}
		}
		pending = pending[:0]
		return tx.Commit()
	}
	err = store.ReadAll(ctx, 0, func(e eventstore.RecordedEvent) error {
		if live && e.Position > limit {
			return errStop
		}
		if err := d.checkNext(reached, e.Position); err != nil {
			return err
		}
		reached = e.Position
		pending = append(pending, e)
		if len(pending) >= rebuildBatch {
			return flush()
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return fmt.Errorf("projections: rebuild: read the log: %w", err)
	}
	if err := flush(); err != nil {
		return err
	}
	return d.swap(ctx, store, a, reached)
}

// checkNext fails on a hole in a contiguous log.
func (d *DB) checkNext(last, next uint64) error {
	if d.opts.ContiguousPositions && next != last+1 {
		return fmt.Errorf("%w: rebuild is at position %d and expected position %d next, but received %d", ErrGap, last, last+1, next)
	}
	return nil
}

// liveHead returns the highest checkpoint of the current models not being rebuilt, and whether
// there is any such model.
func (d *DB) liveHead(ctx context.Context, rebuilding []*model) (uint64, bool, error) {
	stored, err := readCheckpoints(ctx, d.db)
	if err != nil {
		return 0, false, err
	}
	var head uint64
	live := false
	for _, m := range models {
		cp, ok := stored[m.name]
		if !ok || cp.version != m.version || slices.Contains(rebuilding, m) {
			continue
		}
		head, live = max(head, cp.position), true
	}
	return head, live, nil
}

func (d *DB) createFresh(ctx context.Context, targets []*model) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("projections: rebuild: begin: %w", err)
	}
	defer tx.Rollback()
	for _, m := range targets {
		if _, err := tx.ExecContext(ctx, `DROP TABLE IF EXISTS `+m.table+`_new`); err != nil {
			return fmt.Errorf("projections: rebuild: drop %s_new: %w", m.table, err)
		}
		if err := createModel(ctx, tx, m, m.table+"_new"); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// swap catches the fresh tables up to the live head under SQLite's write lock, then replaces the
// old tables with them and sets their checkpoints, in one transaction.
func (d *DB) swap(ctx context.Context, store eventstore.Store, a *applier, reached uint64) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("projections: rebuild: begin swap: %w", err)
	}
	defer tx.Rollback()
	// The transaction holds the write lock from BEGIN (see OpenWith), so the live models cannot
	// move until it commits.
	a.tx = tx
	head, live, err := d.liveHead(ctx, a.targets)
	if err != nil {
		return err
	}
	if live && head > reached {
		err := store.ReadAll(ctx, reached, func(e eventstore.RecordedEvent) error {
			if e.Position > head {
				return errStop
			}
			if err := d.checkNext(reached, e.Position); err != nil {
				return err
			}
			if _, err := a.apply(ctx, e); err != nil {
				return fmt.Errorf("apply %s at position %d: %w", e.Type, e.Position, err)
			}
			reached = e.Position
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			return fmt.Errorf("projections: rebuild: catch up: %w", err)
		}
		if reached != head {
			return fmt.Errorf("projections: rebuild: the log ends at position %d but the live read models are at %d: is this the right event store?", reached, head)
		}
	}
	for _, m := range a.targets {
		if m.kind == caseState {
			if err := a.saveCases(ctx, m.table+"_new"); err != nil {
				return fmt.Errorf("projections: rebuild: %w", err)
			}
		}
		for _, stmt := range []string{`DROP TABLE IF EXISTS ` + m.table, `ALTER TABLE ` + m.table + `_new RENAME TO ` + m.table} {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("projections: rebuild: swap %s: %w", m.table, err)
			}
		}
		if err := createIndexes(ctx, tx, m); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO checkpoints (name, position, version) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET position = excluded.position, version = excluded.version`, m.name, reached, m.version); err != nil {
			return fmt.Errorf("projections: rebuild: checkpoint %s: %w", m.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("projections: rebuild: commit swap: %w", err)
	}
	d.mu.Lock()
	for _, m := range a.targets {
		delete(d.stale, m.name)
	}
	d.mu.Unlock()
	d.advance(reached, nil)
	return nil
}
