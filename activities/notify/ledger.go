package notify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Ledger remembers which deliveries have been made, so that a retried
// activity does not send the same e-mail or webhook twice. The channel
// argument names one destination, e.g. "email:ops@agency.example" or
// "webhook:https://hooks.agency.example/x": a message may go to several.
//
// A crash between sending and Mark means the next attempt sends again;
// the e-mail Message-ID and the webhook Idempotency-Key let receivers
// drop that rare duplicate. Seen is a check, not a lock: two attempts of
// the same message running at once could both send, which Temporal does
// not do for one activity.
type Ledger interface {
	Seen(ctx context.Context, key, channel string) (bool, error)
	Mark(ctx context.Context, key, channel string, r Receipt) error
}

type ledgerKey struct{ key, channel string }

// MemoryLedger is a Ledger held in memory, for tests and single-process
// tools. Its zero value is ready to use.
type MemoryLedger struct {
	mu   sync.Mutex
	done map[ledgerKey]Receipt
}

// Seen reports whether key was delivered to channel.
func (l *MemoryLedger) Seen(_ context.Context, key, channel string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.done[ledgerKey{key, channel}]
	return ok, nil
}

// Mark records the delivery of key to channel. The first receipt wins.
func (l *MemoryLedger) Mark(_ context.Context, key, channel string, r Receipt) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done == nil {
		l.done = make(map[ledgerKey]Receipt)
	}
	if _, ok := l.done[ledgerKey{key, channel}]; !ok {
		l.done[ledgerKey{key, channel}] = r
	}
	return nil
}

// SQLiteLedger is a Ledger kept in a SQLite file, so that it survives a
// worker restart.
type SQLiteLedger struct {
	db *sql.DB
}

const ledgerSchema = `CREATE TABLE IF NOT EXISTS notify_deliveries (
	idempotency_key TEXT NOT NULL,
	channel         TEXT NOT NULL,
	transport       TEXT NOT NULL,
	address         TEXT NOT NULL,
	delivered_at    TEXT NOT NULL,
	PRIMARY KEY (idempotency_key, channel)
)`

// OpenSQLiteLedger opens, creating if needed, the ledger in the SQLite
// file at path.
func OpenSQLiteLedger(ctx context.Context, path string) (*SQLiteLedger, error) {
	if path == "" {
		return nil, errors.New("notify: open ledger: empty path")
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)")
	if err != nil {
		return nil, fmt.Errorf("notify: open ledger %s: %w", path, err)
	}
	if _, err := db.ExecContext(ctx, ledgerSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("notify: create ledger schema in %s: %w", path, err)
	}
	return &SQLiteLedger{db: db}, nil
}

// Close closes the database.
func (l *SQLiteLedger) Close() error {
	return l.db.Close()
}

// Seen reports whether key was delivered to channel.
func (l *SQLiteLedger) Seen(ctx context.Context, key, channel string) (bool, error) {
	var n int
	err := l.db.QueryRowContext(ctx,
		`SELECT count(*) FROM notify_deliveries WHERE idempotency_key = ? AND channel = ?`,
		key, channel).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("notify: ledger lookup: %w", err)
	}
	return n > 0, nil
}

// Mark records the delivery of key to channel. The first receipt wins.
func (l *SQLiteLedger) Mark(ctx context.Context, key, channel string, r Receipt) error {
	_, err := l.db.ExecContext(ctx,
		`INSERT OR IGNORE INTO notify_deliveries (idempotency_key, channel, transport, address, delivered_at)
		 VALUES (?, ?, ?, ?, ?)`,
		key, channel, r.Channel, r.Address, r.DeliveredAt.UTC().Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("notify: ledger mark: %w", err)
	}
	return nil
}

// Receipt returns the receipt first recorded for key and channel, and
// false if there is none; for audits and tests.
func (l *SQLiteLedger) Receipt(ctx context.Context, key, channel string) (Receipt, bool, error) {
	var r Receipt
	var at string
	err := l.db.QueryRowContext(ctx,
		`SELECT transport, address, delivered_at FROM notify_deliveries WHERE idempotency_key = ? AND channel = ?`,
		key, channel).Scan(&r.Channel, &r.Address, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return Receipt{}, false, nil
	}
	if err != nil {
		return Receipt{}, false, fmt.Errorf("notify: ledger read: %w", err)
	}
	r.Key = key
	if r.DeliveredAt, err = time.Parse(time.RFC3339Nano, at); err != nil {
		return Receipt{}, false, fmt.Errorf("notify: ledger read: delivered_at %q: %w", at, err)
	}
	return r, true, nil
}
