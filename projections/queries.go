package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"casereview/calendar"
	"casereview/review"
)

// AmberWithinWorkingDays is how near, in working days, a deadline turns a case amber: three
// working days leaves a team time to chase an agency or ask for an extension before it turns red.
const AmberWithinWorkingDays = 3

// RAG statuses.
const (
	RAGRed   = "red"   // a deadline has passed
	RAGAmber = "amber" // a deadline falls within AmberWithinWorkingDays working days
	RAGGreen = "green" // every deadline is further off
	RAGNone  = ""      // no clock is running
)

// Deadline is a running clock's due date.
type Deadline struct {
	Clock string        `json:"clock"`
	Key   string        `json:"key,omitempty"`
	Title string        `json:"title"`
	Kind  string        `json:"kind"`
	Due   calendar.Date `json:"due"`
}

// BoardRow is one case on the board, with what depends on today computed for the day asked.
type BoardRow struct {
	CaseID        string        `json:"caseId"`
	Framework     string        `json:"framework"`
	Title         string        `json:"title"` // the kind of review, as its rule set names it
	Stage         string        `json:"stage"`
	StageTitle    string        `json:"stageTitle"`
	Nature        string        `json:"nature"`
	Outcome       string        `json:"outcome,omitempty"`
	AwarenessDate calendar.Date `json:"awarenessDate"`
	NotifiedAt    time.Time     `json:"notifiedAt"`
	Closed        bool          `json:"closed,omitempty"`
	Published     bool          `json:"published,omitempty"`
	NextDeadline  *Deadline     `json:"nextDeadline,omitempty"`
	// WorkingDaysLeft counts working days from today to the next deadline; negative once overdue.
	WorkingDaysLeft int      `json:"workingDaysLeft"`
	RAG             string   `json:"rag"`
	OverdueAgencies []string `json:"overdueAgencies,omitempty"`
	Position        uint64   `json:"position"`
}

// timing returns the working days from today to due in the region's calendar and the RAG status.
func (d *DB) timing(region string, due, today calendar.Date) (int, string, error) {
	cal, err := d.calendarFor(region)
	if err != nil {
		return 0, RAGNone, err
	}
	left := cal.WorkingDaysBetween(today, due)
	switch {
	case due.Before(today):
		return left, RAGRed, nil
	case left <= AmberWithinWorkingDays:
		return left, RAGAmber, nil
	}
	return left, RAGGreen, nil
}

func (d *DB) boardRow(b boardDoc, position uint64, today calendar.Date) (BoardRow, error) {
	r := BoardRow{CaseID: b.CaseID, Framework: b.Framework, Title: b.Title, Stage: b.Stage, StageTitle: b.StageTitle,
		Nature: b.Nature, Outcome: b.Outcome, AwarenessDate: b.AwarenessDate, NotifiedAt: b.NotifiedAt, Closed: b.Closed,
		Published: b.Published, Position: position}
	if len(b.Deadlines) > 0 {
		next := b.Deadlines[0] // stored soonest first
		r.NextDeadline = &Deadline{Clock: next.Clock, Key: next.Key, Title: next.Title, Kind: next.Kind, Due: next.Due}
		var err error
		if r.WorkingDaysLeft, r.RAG, err = d.timing(b.CalendarRegion, next.Due, today); err != nil {
			return r, err
		}
	}
	for _, w := range b.Waiting {
		if !w.Due.IsZero() && w.Due.Before(today) && !slices.Contains(r.OverdueAgencies, w.Agency) {
			r.OverdueAgencies = append(r.OverdueAgencies, w.Agency)
		}
	}
	slices.Sort(r.OverdueAgencies)
	return r, nil
}

// Board returns every case, newest notification first, as it stands on the day today.
func (d *DB) Board(ctx context.Context, today calendar.Date) ([]BoardRow, error) {
	out := []BoardRow{}
	err := d.eachRow(ctx, `SELECT position, body FROM board ORDER BY sort_key DESC, case_id`, nil, func(pos uint64, body []byte) error {
		var b boardDoc
		if err := json.Unmarshal(body, &b); err != nil {
			return fmt.Errorf("decode board row: %w", err)
		}
		r, err := d.boardRow(b, pos, today)
		if err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// eachRow runs a query returning (position, body) rows and calls fn for each.
func (d *DB) eachRow(ctx context.Context, query string, args []any, fn func(uint64, []byte) error) error {
	rows, err := d.db.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("projections: query: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var pos uint64
		var body string
		if err := rows.Scan(&pos, &body); err != nil {
			return fmt.Errorf("projections: query: %w", err)
		}
		if err := fn(pos, []byte(body)); err != nil {
			return fmt.Errorf("projections: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("projections: query: %w", err)
	}
	return nil
}

// one reads the single row of a case in a one-row-per-case model into v, or returns ErrNotFound.
func (d *DB) one(ctx context.Context, table, caseID string, v any) (uint64, error) {
	var pos uint64
	var body string
	err := d.db.QueryRowContext(ctx, `SELECT position, body FROM `+table+` WHERE case_id = ? AND seq = 0`, caseID).Scan(&pos, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%w: no case %q in %s", ErrNotFound, caseID, table)
	}
	if err != nil {
		return 0, fmt.Errorf("projections: read %s: %w", table, err)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		return 0, fmt.Errorf("projections: decode %s row: %w", table, err)
	}
	return pos, nil
}

// ListCases returns every case, newest notification first.
func (d *DB) ListCases(ctx context.Context) ([]CaseSummary, error) {
	out := []CaseSummary{}
	err := d.eachRow(ctx, `SELECT position, body FROM board ORDER BY sort_key DESC, case_id`, nil, func(pos uint64, body []byte) error {
		var b boardDoc
		if err := json.Unmarshal(body, &b); err != nil {
			return fmt.Errorf("decode board row: %w", err)
		}
		out = append(out, b.summary(pos))
		return nil
	})
	return out, err
}

// GetCase returns one case or ErrNotFound.
func (d *DB) GetCase(ctx context.Context, id string) (CaseSummary, error) {
	var b boardDoc
	pos, err := d.one(ctx, "board", id, &b)
	if err != nil {
		return CaseSummary{}, err
	}
	return b.summary(pos), nil
}

// CaseDetail is everything the case page shows: the board row for today and the case's history,
// parties, requests, decisions and sign-offs.
type CaseDetail struct {
	Summary BoardRow `json:"summary"`
	CaseFile
	// WaitingRequests are the requests still waiting on an agency, with their timing for today.
	WaitingRequests []InboxItem `json:"waitingRequests,omitempty"`
}

// CaseDetail returns one case's detail as it stands on the day today, or ErrNotFound.
func (d *DB) CaseDetail(ctx context.Context, id string, today calendar.Date) (CaseDetail, error) {
	var out CaseDetail
	var b boardDoc
	pos, err := d.one(ctx, "board", id, &b)
	if err != nil {
		return out, err
	}
	if out.Summary, err = d.boardRow(b, pos, today); err != nil {
		return out, err
	}
	if _, err := d.one(ctx, "case_detail", id, &out.CaseFile); err != nil {
		return out, err
	}
	for _, w := range b.Waiting {
		item := InboxItem{CaseID: id, Agency: w.Agency, Kind: InboxRequest, ID: w.RequestID, RequestKind: w.Kind, Due: w.Due, Status: w.Status}
		if !w.Due.IsZero() {
			if item.WorkingDaysLeft, item.RAG, err = d.timing(b.CalendarRegion, w.Due, today); err != nil {
				return out, err
			}
		}
		out.WaitingRequests = append(out.WaitingRequests, item)
	}
	return out, nil
}

// ChronologyView is a case's merged multi-agency chronology and its missed opportunities.
type ChronologyView struct {
	CaseID              string                     `json:"caseId"`
	Entries             []review.TimelineEntry     `json:"entries"`
	MissedOpportunities []review.MissedOpportunity `json:"missedOpportunities"`
}

// Chronology returns a case's merged chronology in date order, or ErrNotFound for an unknown case.
func (d *DB) Chronology(ctx context.Context, id string) (ChronologyView, error) {
	out := ChronologyView{CaseID: id, Entries: []review.TimelineEntry{}, MissedOpportunities: []review.MissedOpportunity{}}
	if _, err := d.GetCase(ctx, id); err != nil {
		return out, err
	}
	err := d.eachRow(ctx, `SELECT position, body FROM chronology WHERE case_id = ? ORDER BY seq`, []any{id}, func(_ uint64, body []byte) error {
		var t review.TimelineEntry
		if err := json.Unmarshal(body, &t); err != nil {
			return fmt.Errorf("decode chronology row: %w", err)
		}
		out.Entries = append(out.Entries, t)
		if t.MissedOpportunity {
			// As review.Case.MissedOpportunities words it: one row per merged entry.
			out.MissedOpportunities = append(out.MissedOpportunities, review.MissedOpportunity{Date: t.Date, DateText: t.DateText,
				Agencies: t.Agencies, EntryIDs: t.EntryIDs, Rationale: strings.Join(t.Rationales, " / ")})
		}
		return nil
	})
	return out, err
}

// Analysis returns a case's Learning Together analysis, or ErrNotFound.
func (d *DB) Analysis(ctx context.Context, id string) (Analysis, error) {
	var a Analysis
	_, err := d.one(ctx, "analysis", id, &a)
	return a, err
}

// InboxItem is a request or action waiting on an agency, with its timing for the day asked.
type InboxItem struct {
	CaseID           string         `json:"caseId"`
	Agency           string         `json:"agency"`
	Kind             string         `json:"kind"` // InboxRequest or InboxAction
	ID               string         `json:"id"`
	RequestKind      string         `json:"requestKind,omitempty"`
	Text             string         `json:"text,omitempty"`
	OwnerPerson      string         `json:"ownerPerson,omitempty"`
	Due              calendar.Date  `json:"due,omitzero"`
	Status           string         `json:"status"`
	PendingExtension *calendar.Date `json:"pendingExtension,omitempty"`
	ReturnReasons    []string       `json:"returnReasons,omitempty"`
	WorkingDaysLeft  int            `json:"workingDaysLeft"`
	RAG              string         `json:"rag"`
	Position         uint64         `json:"position"`
}

// Inbox returns an agency's open requests and the actions it owns, soonest due first.
func (d *DB) Inbox(ctx context.Context, agency string, today calendar.Date) ([]InboxItem, error) {
	if agency == "" {
		return nil, errors.New("projections: inbox: name the agency")
	}
	out := []InboxItem{}
	err := d.eachRow(ctx, `SELECT position, body FROM inbox WHERE agency = ? ORDER BY sort_key, case_id, seq`, []any{agency}, func(pos uint64, body []byte) error {
		var doc inboxDoc
		if err := json.Unmarshal(body, &doc); err != nil {
			return fmt.Errorf("decode inbox row: %w", err)
		}
		item := InboxItem{CaseID: doc.CaseID, Agency: doc.Agency, Kind: doc.Kind, ID: doc.ID, RequestKind: doc.RequestKind,
			Text: doc.Text, OwnerPerson: doc.OwnerPerson, Due: doc.Due, Status: doc.Status, PendingExtension: doc.PendingExtension,
			ReturnReasons: doc.ReturnReasons, Position: pos}
		if !doc.Due.IsZero() {
			var err error
			if item.WorkingDaysLeft, item.RAG, err = d.timing(doc.CalendarRegion, doc.Due, today); err != nil {
				return err
			}
		}
		out = append(out, item)
		return nil
	})
	return out, err
}

// ActionPlanItem is one action of a case's action plan. The public view carries only the public
// summary, owning agency, due date and status.
type ActionPlanItem struct {
	ActionID           string                `json:"actionId"`
	RecommendationID   string                `json:"recommendationId,omitempty"`
	RecommendationText string                `json:"recommendationText,omitempty"`
	Text               string                `json:"text,omitempty"`
	PublicSummary      string                `json:"publicSummary,omitempty"`
	OwnerAgency        string                `json:"ownerAgency"`
	OwnerPerson        string                `json:"ownerPerson,omitempty"`
	Due                calendar.Date         `json:"due"`
	Status             string                `json:"status"`
	MeasureOfSuccess   string                `json:"measureOfSuccess,omitempty"`
	EvidenceRequired   string                `json:"evidenceRequired,omitempty"`
	Progress           []review.ProgressNote `json:"progress,omitempty"`
	ImpactEvidence     []string              `json:"impactEvidence,omitempty"`
	VerifiedOn         calendar.Date         `json:"verifiedOn,omitzero"`
	Reason             string                `json:"reason,omitempty"`
}

// ActionPlan returns a case's actions. With public set it returns the public view, and only for a
// case whose review is published; for any other case it returns ErrNotFound.
func (d *DB) ActionPlan(ctx context.Context, id string, public bool) ([]ActionPlanItem, error) {
	if public {
		if _, err := d.publicEntry(ctx, id); err != nil {
			return nil, err
		}
	} else if _, err := d.GetCase(ctx, id); err != nil {
		return nil, err
	}
	query := `SELECT position, body FROM action_plan WHERE case_id = ? ORDER BY seq`
	if public {
		query = `SELECT position, body FROM action_plan WHERE case_id = ? AND public = 1 ORDER BY seq`
	}
	out := []ActionPlanItem{}
	err := d.eachRow(ctx, query, []any{id}, func(_ uint64, body []byte) error {
		var p planDoc
		if err := json.Unmarshal(body, &p); err != nil {
			return fmt.Errorf("decode action plan row: %w", err)
		}
		a := p.Action
		item := ActionPlanItem{ActionID: a.ID, PublicSummary: a.PublicSummary, OwnerAgency: a.OwnerAgency, Due: a.Due, Status: a.Status}
		if !public {
			item.RecommendationID, item.RecommendationText, item.Text = a.RecommendationID, p.RecommendationText, a.Text
			item.OwnerPerson, item.MeasureOfSuccess, item.EvidenceRequired = a.OwnerPerson, a.MeasureOfSuccess, a.EvidenceRequired
			item.Progress, item.ImpactEvidence, item.VerifiedOn, item.Reason = a.Progress, a.ImpactEvidence, a.VerifiedOn, a.Reason
		}
		out = append(out, item)
		return nil
	})
	return out, err
}

// Register returns the public register: published reviews only, most recently published first.
func (d *DB) Register(ctx context.Context) ([]RegisterEntry, error) {
	out := []RegisterEntry{}
	err := d.eachRow(ctx, `SELECT position, body FROM register WHERE public = 1 ORDER BY sort_key DESC, case_id`, nil, func(_ uint64, body []byte) error {
		var e registerDoc
		if err := json.Unmarshal(body, &e); err != nil {
			return fmt.Errorf("decode register row: %w", err)
		}
		out = append(out, e.RegisterEntry)
		return nil
	})
	return out, err
}

func (d *DB) publicEntry(ctx context.Context, id string) (registerDoc, error) {
	var e registerDoc
	var body string
	err := d.db.QueryRowContext(ctx, `SELECT body FROM register WHERE case_id = ? AND public = 1`, id).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("%w: no published review %q", ErrNotFound, id)
	}
	if err != nil {
		return e, fmt.Errorf("projections: read register: %w", err)
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		return e, fmt.Errorf("projections: decode register row: %w", err)
	}
	return e, nil
}

// PublicReport is what the public may see of one published review: its register entry, the
// published text (the redacted report, or the improvements only) and the public action plan.
type PublicReport struct {
	RegisterEntry
	Text    string           `json:"text"`
	Actions []ActionPlanItem `json:"actions"`
}

// PublicReport returns a published review's register entry and public action plan, or
// ErrNotFound for a case that is not published.
func (d *DB) PublicReport(ctx context.Context, id string) (PublicReport, error) {
	var out PublicReport
	e, err := d.publicEntry(ctx, id)
	if err != nil {
		return out, err
	}
	out.RegisterEntry, out.Text = e.RegisterEntry, e.PublicText
	out.Actions, err = d.ActionPlan(ctx, id, true)
	return out, err
}

// AuditEntry is one event of the log with who caused it.
type AuditEntry struct {
	Position uint64    `json:"position"`
	Stream   string    `json:"stream"`
	CaseID   string    `json:"caseId,omitempty"`
	Type     string    `json:"type"`
	Actor    string    `json:"actor"`
	Role     string    `json:"role,omitempty"`
	Agency   string    `json:"agency,omitempty"`
	Recorded time.Time `json:"recorded"`
}

// MaxAuditPage is the most audit entries one call returns.
const MaxAuditPage = 1000

// AuditTrail returns up to limit events after the given position, oldest first: of one case, or
// of every stream when caseID is empty. Pass the last entry's position as after for the next page.
func (d *DB) AuditTrail(ctx context.Context, caseID string, after uint64, limit int) ([]AuditEntry, error) {
	if limit <= 0 || limit > MaxAuditPage {
		return nil, fmt.Errorf("projections: audit trail limit %d: use 1 to %d", limit, MaxAuditPage)
	}
	query := `SELECT position, stream, case_id, type, actor, role, agency, recorded FROM audit WHERE position > ? ORDER BY position LIMIT ?`
	args := []any{after, limit}
	if caseID != "" {
		query = `SELECT position, stream, case_id, type, actor, role, agency, recorded FROM audit WHERE case_id = ? AND position > ? ORDER BY position LIMIT ?`
		args = []any{caseID, after, limit}
	}
	rows, err := d.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("projections: read audit trail: %w", err)
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		var recorded string
		if err := rows.Scan(&e.Position, &e.Stream, &e.CaseID, &e.Type, &e.Actor, &e.Role, &e.Agency, &recorded); err != nil {
			return nil, fmt.Errorf("projections: read audit trail: %w", err)
		}
		if e.Recorded, err = time.Parse(time.RFC3339Nano, recorded); err != nil {
			return nil, fmt.Errorf("projections: audit entry %d has a bad recorded time: %w", e.Position, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
