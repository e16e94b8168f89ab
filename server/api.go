package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"casereview/auth"
	"casereview/calendar"
	"casereview/eventstore"
	"casereview/projections"
	"casereview/review"
	"casereview/workflows"
)

// routes registers the API: every route but sign-in, the OpenAPI document and the public register
// requires a signed-in user or token, and each checks its permission.
func (s *Server) routes() {
	m := s.mux
	req := func(a auth.Action, res func(*http.Request) auth.Resource, h http.HandlerFunc) http.Handler {
		return auth.Require(a, res, h)
	}
	ownAgency := func(r *http.Request) auth.Resource {
		u, _ := auth.UserFrom(r.Context())
		return auth.Resource{Agency: u.Agency}
	}
	m.Handle("POST /api/v1/cases", req(auth.ActionCaseCreate, nil, s.createCase))
	m.Handle("GET /api/v1/cases", req(auth.ActionCaseList, nil, s.listCases))
	m.Handle("GET /api/v1/cases/{id}", req(auth.ActionCaseRead, s.caseResource, s.getCase))
	m.Handle("GET /api/v1/cases/{id}/chronology", req(auth.ActionCaseRead, s.caseResource, s.getChronology))
	m.Handle("GET /api/v1/cases/{id}/analysis", req(auth.ActionCaseRead, s.caseResource, s.getAnalysis))
	m.Handle("GET /api/v1/cases/{id}/action-plan", req(auth.ActionCaseRead, s.caseResource, s.getActionPlan))
	m.Handle("GET /api/v1/cases/{id}/status", req(auth.ActionCaseRead, s.caseResource, s.getStatus))
	m.Handle("GET /api/v1/cases/{id}/audit", req(auth.ActionAuditRead, s.caseResource, s.getAuditTrail))
	m.Handle("GET /api/v1/cases/{id}/as-of", req(auth.ActionAuditRead, s.caseResource, s.getAsOf))
	m.Handle("POST /api/v1/cases/{id}/commands/{name}", auth.RequireSignIn(http.HandlerFunc(s.postCommand)))
	m.Handle("GET /api/v1/inbox", req(auth.ActionAgencySubmission, ownAgency, s.getInbox))
	m.Handle("GET /api/v1/audit/log", req(auth.ActionAuditRead, nil, s.getAuditLog))
	m.Handle("POST /api/v1/audit/verify", req(auth.ActionAuditVerify, nil, s.postVerify))
	m.Handle("GET /api/v1/live", auth.RequireSignIn(http.HandlerFunc(s.live)))
	m.HandleFunc("GET /api/v1/register", s.getRegister)
	m.HandleFunc("GET /api/v1/register/{id}", s.getPublished)
	m.HandleFunc("GET /api/v1/openapi.json", s.getOpenAPI)
	s.cfg.Auth.RegisterTokenAPI(m)
}

// caseResource describes the case a request names, with the agencies taking part, so that an
// agency's staff may read exactly the cases their agency is in.
func (s *Server) caseResource(r *http.Request) auth.Resource {
	id := r.PathValue("id")
	res := auth.Resource{CaseID: id}
	if d, err := s.cfg.ReadModels.CaseDetail(r.Context(), id, s.today()); err == nil {
		res.Agencies = agenciesOf(d.CaseFile)
	}
	return res
}

func agenciesOf(f projections.CaseFile) []string {
	var out []string
	for _, lists := range [][]string{f.Parties.AgenciesInvolved, f.Parties.RequestedFrom} {
		for _, a := range lists {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out
}

func (s *Server) today() calendar.Date { return calendar.DateOf(s.cfg.Now().In(london)) }

// recordRead records that a person read case data; the record is batched, not one append a request.
func (s *Server) recordRead(r *http.Request, caseID, what string) {
	if s.cfg.Access == nil {
		return
	}
	why := r.URL.Query().Get("purpose")
	if why == "" {
		why = "case work"
	}
	if len(why) > 200 {
		why = why[:200] // a purpose, not a document: it goes into the log
	}
	if err := s.cfg.Access.RecordRead(r.Context(), caseID, what, why); err != nil {
		s.cfg.Logger.Warn().Err(err).Str("case", caseID).Msg("access not recorded")
	}
}

func (s *Server) userOf(r *http.Request) auth.User {
	u, _ := auth.UserFrom(r.Context())
	return u
}

func (s *Server) listCases(w http.ResponseWriter, r *http.Request) {
	rows, err := s.cfg.ReadModels.Board(r.Context(), s.today())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	u := s.userOf(r)
	if u.Role.AgencyScoped() {
		// An agency's staff see only the cases their agency takes part in.
		visible := rows[:0]
		for _, row := range rows {
			d, err := s.cfg.ReadModels.CaseDetail(r.Context(), row.CaseID, s.today())
			if err == nil && auth.Can(u, auth.ActionCaseRead, auth.Resource{CaseID: row.CaseID, Agencies: agenciesOf(d.CaseFile)}) {
				visible = append(visible, row)
			}
		}
		rows = visible
	}
	cp, err := s.cfg.ReadModels.Checkpoint(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	page, next, ok := pageOf(w, r, rows)
	if !ok {
		return
	}
	s.writeETagged(w, r, struct {
		Position   uint64                 `json:"position"`
		Cases      []projections.BoardRow `json:"cases"`
		NextCursor string                 `json:"nextCursor,omitempty"`
	}{cp, page, next})
}

// paginate takes ?limit (default 100, at most 500) and ?cursor (an offset from an earlier page).
// A bad parameter is a *FieldError naming it.
func paginate[T any](r *http.Request, all []T) ([]T, string, *FieldError) {
	limit, offset := 100, 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return nil, "", &FieldError{Field: "limit", Detail: fmt.Sprintf("limit must be a whole number from 1 to 500, not %q", v)}
		}
		limit = n
	}
	if v := r.URL.Query().Get("cursor"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, "", &FieldError{Field: "cursor", Detail: fmt.Sprintf("cursor %q is not one this API gave out; start again without it", v)}
		}
		offset = n
	}
	if offset > len(all) {
		offset = len(all)
	}
	end := min(offset+limit, len(all))
	next := ""
	if end < len(all) {
		next = strconv.Itoa(end)
	}
	return all[offset:end], next, nil
}

// pageOf cuts one page out of a list, answering 400 naming limit or cursor when they are bad.
func pageOf[T any](w http.ResponseWriter, r *http.Request, all []T) ([]T, string, bool) {
	page, next, bad := paginate(r, all)
	if bad != nil {
		writeProblem(w, r, http.StatusBadRequest, "Bad pagination", bad.Detail, *bad)
		return nil, "", false
	}
	return page, next, true
}

// writeETagged writes v as JSON with a strong ETag, answering 304 when the client has it already.
func (s *Server) writeETagged(w http.ResponseWriter, r *http.Request, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	tag := etag(body)
	w.Header().Set("ETag", tag)
	w.Header().Set("Cache-Control", "private, no-cache")
	if match := r.Header.Get("If-None-Match"); match != "" && match == tag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(body, '\n'))
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request, err error) bool {
	if errors.Is(err, projections.ErrNotFound) {
		writeProblem(w, r, http.StatusNotFound, "No such case", fmt.Sprintf("There is no case %q, or it is not yet in the read model.", r.PathValue("id")))
		return true
	}
	if err != nil {
		s.internalError(w, r, err)
		return true
	}
	return false
}

func (s *Server) getCase(w http.ResponseWriter, r *http.Request) {
	d, err := s.cfg.ReadModels.CaseDetail(r.Context(), r.PathValue("id"), s.today())
	if s.notFound(w, r, err) {
		return
	}
	if u := s.userOf(r); u.Role.AgencyScoped() {
		// An agency sees its own requests, not other agencies'.
		var own []review.Request
		for _, q := range d.Requests {
			if q.Agency == u.Agency {
				own = append(own, q)
			}
		}
		d.Requests = own
	}
	s.recordRead(r, d.CaseID, "case detail")
	s.writeETagged(w, r, d)
}

func (s *Server) getChronology(w http.ResponseWriter, r *http.Request) {
	v, err := s.cfg.ReadModels.Chronology(r.Context(), r.PathValue("id"))
	if s.notFound(w, r, err) {
		return
	}
	if u := s.userOf(r); u.Role.AgencyScoped() {
		v = ownChronology(v, u.Agency)
	}
	s.recordRead(r, r.PathValue("id"), "chronology")
	s.writeETagged(w, r, v)
}

// ownChronology keeps an agency's own entries and drops the reviewers' missed-opportunity
// judgements: agencies see what they contributed, not each other's records or the analysis of them.
func ownChronology(v projections.ChronologyView, agency string) projections.ChronologyView {
	var own []review.TimelineEntry
	for _, e := range v.Entries {
		if slices.Contains(e.Agencies, agency) {
			e.MissedOpportunity, e.Rationales = false, nil
			own = append(own, e)
		}
	}
	v.Entries, v.MissedOpportunities = own, nil
	return v
}

func (s *Server) getAnalysis(w http.ResponseWriter, r *http.Request) {
	if s.userOf(r).Role.AgencyScoped() {
		writeProblem(w, r, http.StatusForbidden, "Not allowed", "The Learning Together analysis is for the partnership and the reviewers, not for one agency.")
		return
	}
	v, err := s.cfg.ReadModels.Analysis(r.Context(), r.PathValue("id"))
	if s.notFound(w, r, err) {
		return
	}
	s.recordRead(r, r.PathValue("id"), "learning analysis")
	s.writeETagged(w, r, v)
}

func (s *Server) getActionPlan(w http.ResponseWriter, r *http.Request) {
	v, err := s.cfg.ReadModels.ActionPlan(r.Context(), r.PathValue("id"), false)
	if s.notFound(w, r, err) {
		return
	}
	if u := s.userOf(r); u.Role.AgencyScoped() {
		var own []projections.ActionPlanItem
		for _, a := range v {
			if a.OwnerAgency == u.Agency {
				own = append(own, a)
			}
		}
		v = own
	}
	s.recordRead(r, r.PathValue("id"), "action plan")
	s.writeETagged(w, r, v)
}

func (s *Server) getStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.cfg.Cases.Status(r.Context(), r.PathValue("id"))
	if err != nil {
		writeProblem(w, r, http.StatusNotFound, "No running case", fmt.Sprintf("Case %q has no running workflow to ask: %v", r.PathValue("id"), err))
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) getInbox(w http.ResponseWriter, r *http.Request) {
	agency := s.userOf(r).Agency
	items, err := s.cfg.ReadModels.Inbox(r.Context(), agency, s.today())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	page, next, ok := pageOf(w, r, items)
	if !ok {
		return
	}
	s.writeETagged(w, r, struct {
		Agency     string                  `json:"agency"`
		Items      []projections.InboxItem `json:"items"`
		NextCursor string                  `json:"nextCursor,omitempty"`
	}{agency, page, next})
}

func (s *Server) getAuditTrail(w http.ResponseWriter, r *http.Request) {
	s.auditTrail(w, r, r.PathValue("id"))
}

func (s *Server) getAuditLog(w http.ResponseWriter, r *http.Request) { s.auditTrail(w, r, "") }

func (s *Server) auditTrail(w http.ResponseWriter, r *http.Request, caseID string) {
	var after uint64
	if v := r.URL.Query().Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeProblem(w, r, http.StatusBadRequest, "Bad position", "after must be a log position, a whole number.", FieldError{Field: "after", Detail: "not a whole number"})
			return
		}
		after = n
	}
	limit := 200
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeProblem(w, r, http.StatusBadRequest, "Bad limit", "limit must be a whole number from 1 to 1000.", FieldError{Field: "limit", Detail: "out of range"})
			return
		}
		limit = n
	}
	entries, err := s.cfg.ReadModels.AuditTrail(r.Context(), caseID, after, limit)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if caseID != "" {
		s.recordRead(r, caseID, "audit trail")
	}
	next := ""
	if len(entries) == limit {
		next = strconv.FormatUint(entries[len(entries)-1].Position, 10)
	}
	s.writeETagged(w, r, struct {
		Entries []projections.AuditEntry `json:"entries"`
		After   string                   `json:"nextAfter,omitempty"`
	}{entries, next})
}

// VerifyResult is the answer to an audit verification.
type VerifyResult struct {
	OK           bool   `json:"ok"`
	Events       uint64 `json:"events"`
	HeadPosition uint64 `json:"headPosition"`
	HeadHash     string `json:"headHash"`
	FailedAt     uint64 `json:"failedAt,omitempty"`
	Reason       string `json:"reason,omitempty"`
}

func (s *Server) postVerify(w http.ResponseWriter, r *http.Request) {
	v, err := s.verifyLog(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// verifyLog checks the whole hash chain; a broken chain is a result, not an error.
func (s *Server) verifyLog(ctx context.Context) (VerifyResult, error) {
	res, err := eventstore.Verify(ctx, s.cfg.Store, s.cfg.Store.ChainScope())
	out := VerifyResult{OK: err == nil, Events: res.Events, HeadPosition: res.HeadPosition, HeadHash: res.HeadHash}
	var ce *eventstore.ChainError
	switch {
	case errors.As(err, &ce):
		out.FailedAt, out.Reason = ce.Position, ce.Reason
	case err != nil:
		return out, err
	}
	return out, nil
}

// getAsOf replays a case from the log as it stood at ?at= (RFC 3339, or a date for the end of that
// day in London), with the rule-set and calendar versions its events recorded.
func (s *Server) getAsOf(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	at := s.cfg.Now()
	if v := r.URL.Query().Get("at"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			d, derr := time.ParseInLocation(time.DateOnly, v, london)
			if derr != nil {
				writeProblem(w, r, http.StatusBadRequest, "Bad instant", "at must be RFC 3339 (2024-03-01T17:00:00Z) or a date (2024-03-01).", FieldError{Field: "at", Detail: "not a date or time"})
				return
			}
			t = d.AddDate(0, 0, 1).Add(-time.Nanosecond)
		}
		at = t
	}
	c, err := s.caseAsOf(r.Context(), id, at)
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		writeProblem(w, r, http.StatusNotFound, "No such case", fmt.Sprintf("The log holds no case %q.", id))
		return
	}
	if errors.Is(err, review.ErrHistory) {
		writeProblem(w, r, http.StatusNotFound, "Nothing recorded by then", err.Error(), FieldError{Field: "at", Detail: "before the case was notified"})
		return
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.recordRead(r, id, "case as of "+at.UTC().Format(time.RFC3339))
	writeJSON(w, http.StatusOK, struct {
		AsOf time.Time    `json:"asOf"`
		Case *review.Case `json:"case"`
	}{at.UTC(), c})
}

func (s *Server) getRegister(w http.ResponseWriter, r *http.Request) {
	entries, err := s.cfg.ReadModels.Register(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.writeETagged(w, r, struct {
		Reviews []projections.RegisterEntry `json:"reviews"`
	}{entries})
}

func (s *Server) getPublished(w http.ResponseWriter, r *http.Request) {
	p, err := s.cfg.ReadModels.PublicReport(r.Context(), r.PathValue("id"))
	if errors.Is(err, projections.ErrNotFound) {
		writeProblem(w, r, http.StatusNotFound, "No such published review", fmt.Sprintf("No review %q has been published.", r.PathValue("id")))
		return
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.writeETagged(w, r, p)
}

// postCommand sends one lifecycle command to a case as a Temporal Update and answers with the
// recorded revision, or 403 (role may not), 409 (concurrent change), 422 (rule broken).
func (s *Server) postCommand(w http.ResponseWriter, r *http.Request) {
	id, name := r.PathValue("id"), r.PathValue("name")
	action, ok := commandActions[name]
	if !ok {
		writeProblem(w, r, http.StatusNotFound, "No such command", fmt.Sprintf("%q is not a command people can send; see the OpenAPI document for the list.", name))
		return
	}
	u := s.userOf(r)
	// An agency acts only in cases it takes part in; the domain then checks it acts only for itself.
	if !auth.Can(u, action, auth.Resource{CaseID: id, Agency: u.Agency}) || !auth.Can(u, auth.ActionCaseRead, s.caseResource(r)) {
		writeProblem(w, r, http.StatusForbidden, "Not allowed", fmt.Sprintf("Your role (%s) may not %s in this case.", u.Role, name))
		return
	}
	payload, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCommandBytes))
	if err != nil {
		writeProblem(w, r, http.StatusRequestEntityTooLarge, "Request body too large", fmt.Sprintf("A command body may be at most %d bytes.", maxCommandBytes))
		return
	}
	if len(payload) > 0 && !json.Valid(payload) {
		writeProblem(w, r, http.StatusBadRequest, "Malformed JSON", "The body must be one JSON object.")
		return
	}
	actor := actorOf(u)
	// Decode here too, so that unknown fields and wrong types are a 400 before Temporal sees them.
	if _, err := review.DecodeCommand(name, actor, payload); err != nil {
		var re *review.RuleError
		field := ""
		if errors.As(err, &re) {
			field = re.Field
		}
		writeProblem(w, r, http.StatusBadRequest, "The command is not valid", err.Error(), FieldError{Field: field, Detail: err.Error()})
		return
	}
	res, err := s.cfg.Cases.Command(r.Context(), id, workflows.CommandRequest{Name: name, Actor: actor, Payload: payload, CorrelationID: correlationID(r), IdempotencyKey: idempotencyKey(r)})
	var ce *workflows.CommandError
	switch {
	case errors.As(err, &ce):
		status := http.StatusUnprocessableEntity
		title := "The command breaks a rule"
		switch ce.Kind {
		case workflows.ErrTypeForbidden:
			status, title = http.StatusForbidden, "Not allowed in this case"
		case workflows.ErrTypeInvalid:
			status, title = http.StatusBadRequest, "The command is not valid"
		case workflows.ErrTypeConflict:
			status, title = http.StatusConflict, "The case changed meanwhile"
		}
		p := Problem{Type: "https://casereview.example/problems/" + ce.Kind, Title: title, Status: status, Detail: ce.Detail.Message,
			Instance: r.URL.Path, Rule: ce.Detail.Rule, Offences: ce.Offences}
		if ce.Detail.Field != "" {
			p.Errors = []FieldError{{Field: ce.Detail.Field, Detail: ce.Detail.Message}}
		}
		writeProblemDoc(w, p)
	case err != nil:
		if isNotFound(err) {
			writeProblem(w, r, http.StatusNotFound, "No such case", fmt.Sprintf("There is no running case %q.", id))
			return
		}
		s.internalError(w, r, err)
	default:
		writeJSON(w, http.StatusOK, res)
	}
}

// maxCommandBytes bounds a command body; the largest, a publication, carries the public text.
const maxCommandBytes = 512 << 10

// correlationID takes a client's X-Correlation-ID when it is a short token, so that free text
// never reaches the log through it.
func correlationID(r *http.Request) string { return headerToken(r.Header.Get("X-Correlation-ID")) }

// idempotencyKey scopes a client's Idempotency-Key to the user, so that a retried request after a
// lost answer is the same Update and is performed once.
func idempotencyKey(r *http.Request) string {
	v := headerToken(r.Header.Get("Idempotency-Key"))
	if v == "" {
		return ""
	}
	return s256(r.PathValue("id") + "/" + r.PathValue("name") + "/" + userIDOf(r) + "/" + v)
}

func userIDOf(r *http.Request) string {
	u, _ := auth.UserFrom(r.Context())
	return u.ID
}

func headerToken(v string) string {
	if len(v) > 64 {
		return ""
	}
	for _, c := range v {
		if !(c == '-' || c == '_' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return ""
		}
	}
	return v
}

func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:16])
}
