package projections

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"casereview/eventstore"
	"casereview/review"
)

// model is one named read model. Bump version whenever its tables or derived rows change: a file
// built by the old code is then rebuilt from the log at start.
type model struct {
	name    string
	table   string
	version int
	kind    modelKind
	// derive returns a case's rows in this model; set for caseRows models.
	derive func(c *review.Case) ([]row, error)
}

type modelKind int

const (
	caseRows  modelKind = iota // rows derived from the folded case, replaced per case
	caseState                  // the folded case itself
	auditLog                   // one row per event of any stream
)

// models lists every read model in the order their changes are emitted for one event: the board
// first, since it carries the case summary a live list needs before any detail.
var models = []*model{
	{name: ModelBoard, table: "board", version: 1, kind: caseRows, derive: boardRows},
	{name: ModelCase, table: "case_detail", version: 1, kind: caseRows, derive: detailRows},
	{name: ModelChronology, table: "chronology", version: 1, kind: caseRows, derive: chronologyRows},
	{name: ModelAnalysis, table: "analysis", version: 1, kind: caseRows, derive: analysisRows},
	{name: ModelInbox, table: "inbox", version: 1, kind: caseRows, derive: inboxRows},
	{name: ModelActionPlan, table: "action_plan", version: 1, kind: caseRows, derive: actionPlanRows},
	{name: ModelRegister, table: "register", version: 1, kind: caseRows, derive: registerRows},
	{name: ModelState, table: "case_state", version: 1, kind: caseState},
	{name: ModelAudit, table: "audit", version: 1, kind: auditLog},
}

// ModelNames returns the names of every read model, for Rebuild's only list.
func ModelNames() []string {
	names := make([]string, len(models))
	for i, m := range models {
		names[i] = m.name
	}
	return names
}

func modelNamed(name string) (*model, error) {
	for _, m := range models {
		if m.name == name {
			return m, nil
		}
	}
	return nil, fmt.Errorf("%w %q: choose from %s", ErrUnknownModel, name, strings.Join(ModelNames(), ", "))
}

// createModel creates a model's table under the given name, without indexes: a rebuild fills a
// fresh table faster without them, and indexes get their final names only after the swap.
func createModel(ctx context.Context, tx *sql.Tx, m *model, table string) error {
	var ddl string
	switch m.kind {
	case caseRows:
		ddl = `CREATE TABLE IF NOT EXISTS %s (case_id TEXT NOT NULL, seq INTEGER NOT NULL, agency TEXT NOT NULL,
			public INTEGER NOT NULL, sort_key TEXT NOT NULL, position INTEGER NOT NULL, body TEXT NOT NULL,
			PRIMARY KEY (case_id, seq))`
	case caseState:
		ddl = `CREATE TABLE IF NOT EXISTS %s (stream TEXT PRIMARY KEY, case_id TEXT NOT NULL, revision INTEGER NOT NULL,
			position INTEGER NOT NULL, body TEXT NOT NULL)`
	case auditLog:
		ddl = `CREATE TABLE IF NOT EXISTS %s (position INTEGER PRIMARY KEY, stream TEXT NOT NULL, case_id TEXT NOT NULL,
			type TEXT NOT NULL, actor TEXT NOT NULL, role TEXT NOT NULL, agency TEXT NOT NULL, recorded TEXT NOT NULL)`
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(ddl, table)); err != nil {
		return fmt.Errorf("projections: create table %s: %w", table, err)
	}
	return nil
}

func createIndexes(ctx context.Context, tx *sql.Tx, m *model) error {
	var stmts []string
	switch m.kind {
	case caseRows:
		stmts = []string{
			`CREATE INDEX IF NOT EXISTS %[1]s_agency ON %[1]s (agency, sort_key)`,
			`CREATE INDEX IF NOT EXISTS %[1]s_public ON %[1]s (public, sort_key)`,
		}
	case auditLog:
		stmts = []string{`CREATE INDEX IF NOT EXISTS %[1]s_case ON %[1]s (case_id, position)`}
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(s, m.table)); err != nil {
			return fmt.Errorf("projections: index %s: %w", m.table, err)
		}
	}
	return nil
}

// row is one row of a case model. Rows with the same agency and public flag form one audience
// group, and a change is emitted per group whose rows changed.
type row struct {
	agency  string
	public  bool
	sortKey string
	body    []byte
}

func jsonRow(agency string, public bool, sortKey string, v any) (row, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return row{}, fmt.Errorf("encode row: %w", err)
	}
	return row{agency: agency, public: public, sortKey: sortKey, body: b}, nil
}

// applier applies events to a set of models in one transaction, either to the live tables
// (suffix "", case state in case_state) or to a rebuild's fresh tables (suffix "_new", case state
// held in memory by the rebuild).
type applier struct {
	d       *DB
	tx      *sql.Tx
	suffix  string
	targets []*model
	// cases holds the cases folded so far by stream, and lastPos the position of each one's last
	// event. A rebuild keeps every case here and writes the case state once, at the swap; a live
	// batch keeps the cases it touched and writes them before it commits.
	cases   map[string]*review.Case
	lastPos map[string]uint64
	// live says the case state before this batch is in the case_state table.
	live bool
}

func (a *applier) has(kind modelKind) bool {
	return slices.ContainsFunc(a.targets, func(m *model) bool { return m.kind == kind })
}

// apply applies e to every target model and returns the changes, board first.
func (a *applier) apply(ctx context.Context, e eventstore.RecordedEvent) ([]Change, error) {
	var changes []Change
	caseID := caseIDOfStream(e.Stream)
	if caseID != "" && (a.has(caseRows) || a.has(caseState)) {
		c, err := a.fold(ctx, e)
		if err != nil {
			return nil, err
		}
		for _, m := range a.targets {
			if m.kind != caseRows {
				continue
			}
			rows, err := m.derive(c)
			if err != nil {
				return nil, fmt.Errorf("read model %s: %w", m.name, err)
			}
			cs, err := a.writeRows(ctx, m, c.ID, rows, e.Position)
			if err != nil {
				return nil, err
			}
			changes = append(changes, cs...)
		}
	}
	if a.has(auditLog) {
		c, err := a.writeAudit(ctx, e)
		if err != nil {
			return nil, err
		}
		changes = append(changes, c)
	}
	return changes, nil
}

// fold applies e to its case and returns the case.
func (a *applier) fold(ctx context.Context, e eventstore.RecordedEvent) (*review.Case, error) {
	ev, err := review.DecodeEvent(e.Type, e.Data)
	if err != nil {
		return nil, err
	}
	if a.live && !a.has(caseState) {
		// The case models and the case state move together; one without the other means a
		// model was reset outside Rebuild.
		return nil, fmt.Errorf("the case state is past position %d but a case read model is not: rebuild the read models", e.Position)
	}
	c := a.cases[e.Stream]
	if c == nil && a.live {
		var err error
		if c, err = a.loadCase(ctx, e.Stream); err != nil {
			return nil, err
		}
	}
	if c == nil {
		c = &review.Case{}
	}
	if err := c.Apply(ev); err != nil {
		return nil, fmt.Errorf("fold stream revision %d: %w", e.Revision, err)
	}
	if c.Revision == 1 && c.NotifiedAt.IsZero() {
		// A notification recorded without its own time was made when the log recorded it.
		c.NotifiedAt = e.Recorded.UTC()
	}
	a.cases[e.Stream], a.lastPos[e.Stream] = c, e.Position
	return c, nil
}

// loadCase reads a case's folded state from case_state, or returns nil for a new case.
func (a *applier) loadCase(ctx context.Context, stream string) (*review.Case, error) {
	var body string
	err := a.d.queryRow(ctx, a.tx, `SELECT body FROM case_state WHERE stream = ?`, stream).Scan(&body)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read case state: %w", err)
	}
	return decodeCase(body)
}

// saveCases writes the cases folded in this batch to the case state table.
func (a *applier) saveCases(ctx context.Context, table string) error {
	streams := make([]string, 0, len(a.cases))
	for s := range a.cases {
		streams = append(streams, s)
	}
	slices.Sort(streams)
	for _, s := range streams {
		if err := a.d.writeCaseState(ctx, a.tx, table, s, a.cases[s], a.lastPos[s]); err != nil {
			return err
		}
	}
	return nil
}

func (d *DB) writeCaseState(ctx context.Context, tx *sql.Tx, table, stream string, c *review.Case, position uint64) error {
	body, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode case state: %w", err)
	}
	_, err = d.exec(ctx, tx, fmt.Sprintf(`INSERT INTO %s (stream, case_id, revision, position, body) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (stream) DO UPDATE SET case_id = excluded.case_id, revision = excluded.revision,
		position = excluded.position, body = excluded.body`, table), stream, c.ID, c.Revision, position, string(body))
	if err != nil {
		return fmt.Errorf("write case state: %w", err)
	}
	return nil
}

type groupKey struct {
	agency string
	public bool
}

// writeRows replaces a case's rows in a model when they differ and returns one change per
// audience group whose rows changed. Unchanged rows are left alone, so a repeated derivation
// writes nothing.
func (a *applier) writeRows(ctx context.Context, m *model, caseID string, rows []row, position uint64) ([]Change, error) {
	table := m.table + a.suffix
	old := map[groupKey][]byte{}
	q, err := a.d.query(ctx, a.tx, fmt.Sprintf(`SELECT agency, public, sort_key, body FROM %s WHERE case_id = ? ORDER BY seq`, table), caseID)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", table, err)
	}
	for q.Next() {
		var r row
		var body string
		if err := q.Scan(&r.agency, &r.public, &r.sortKey, &body); err != nil {
			q.Close()
			return nil, fmt.Errorf("read %s: %w", table, err)
		}
		r.body = []byte(body)
		k := groupKey{r.agency, r.public}
		old[k] = appendRowDigest(old[k], r)
	}
	q.Close()
	if err := q.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", table, err)
	}
	now := map[groupKey][]byte{}
	var order []groupKey
	for _, r := range rows {
		k := groupKey{r.agency, r.public}
		if _, ok := now[k]; !ok {
			order = append(order, k)
		}
		now[k] = appendRowDigest(now[k], r)
	}
	var changed []groupKey
	for _, k := range order {
		if !bytes.Equal(old[k], now[k]) {
			changed = append(changed, k)
		}
	}
	var gone []groupKey
	for k := range old {
		if _, ok := now[k]; !ok {
			gone = append(gone, k)
		}
	}
	slices.SortFunc(gone, func(x, y groupKey) int {
		return cmp.Or(strings.Compare(x.agency, y.agency), compareBool(x.public, y.public))
	})
	changed = append(changed, gone...)
	if len(changed) == 0 {
		return nil, nil
	}
	if _, err := a.d.exec(ctx, a.tx, fmt.Sprintf(`DELETE FROM %s WHERE case_id = ?`, table), caseID); err != nil {
		return nil, fmt.Errorf("replace %s rows: %w", table, err)
	}
	for i, r := range rows {
		_, err := a.d.exec(ctx, a.tx, fmt.Sprintf(`INSERT INTO %s (case_id, seq, agency, public, sort_key, position, body)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, table), caseID, i, r.agency, r.public, r.sortKey, position, string(r.body))
		if err != nil {
			return nil, fmt.Errorf("write %s row: %w", table, err)
		}
	}
	changes := make([]Change, 0, len(changed))
	for _, k := range changed {
		c := Change{Position: position, Model: m.name, CaseID: caseID, Audience: Audience{CaseID: caseID, Agency: k.agency, Public: k.public}}
		if m.name == ModelBoard && len(rows) > 0 {
			var b boardDoc
			if err := json.Unmarshal(rows[0].body, &b); err != nil {
				return nil, fmt.Errorf("decode board row: %w", err)
			}
			s := b.summary(position)
			c.Case = &s
		}
		changes = append(changes, c)
	}
	return changes, nil
}

func compareBool(x, y bool) int {
	switch {
	case x == y:
		return 0
	case x:
		return 1
	}
	return -1
}

func appendRowDigest(dst []byte, r row) []byte {
	dst = append(dst, r.sortKey...)
	dst = append(dst, 0)
	dst = append(dst, r.body...)
	return append(dst, 0)
}

// writeAudit records one event of any stream with its actor.
func (a *applier) writeAudit(ctx context.Context, e eventstore.RecordedEvent) (Change, error) {
	actor := actorOf(e)
	caseID := caseIDOfStream(e.Stream)
	_, err := a.d.exec(ctx, a.tx, fmt.Sprintf(`INSERT INTO audit%s (position, stream, case_id, type, actor, role, agency, recorded)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (position) DO NOTHING`, a.suffix),
		e.Position, e.Stream, caseID, e.Type, actor.UserID, actor.Role, actor.Agency, e.Recorded.UTC().Format(time.RFC3339Nano))
	if err != nil {
		return Change{}, fmt.Errorf("write audit row: %w", err)
	}
	return Change{Position: e.Position, Model: ModelAudit, CaseID: caseID, Audience: Audience{CaseID: caseID}}, nil
}

// actorOf returns who caused an event: the domain event's own "by", or else the log metadata's actor.
func actorOf(e eventstore.RecordedEvent) review.Actor {
	var h struct {
		By review.Actor `json:"by"`
	}
	if json.Unmarshal(e.Data, &h) == nil && h.By.UserID != "" {
		return h.By
	}
	var meta eventstore.Metadata
	if len(e.Metadata) > 0 && json.Unmarshal(e.Metadata, &meta) == nil {
		return review.Actor{UserID: meta.Actor, Role: meta.Role}
	}
	return review.Actor{}
}
