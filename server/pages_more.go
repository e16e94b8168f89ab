package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"casereview/auth"
	"casereview/calendar"
	"casereview/projections"
	"casereview/review"
	"casereview/workflows"
)

// inboxData is what the agency inbox shows.
type inboxData struct {
	Agency    string
	Requests  []projections.InboxItem
	Actions   []inboxAction
	Cases     []string // cases the agency may add chronology entries to
	Columns   []string
	Entry     formState
	Upload    formState
	RowErrors []RowError
	Recorded  int
}

// inboxAction is an action the agency owns, with its progress and evidence of impact.
type inboxAction struct {
	projections.InboxItem
	Plan projections.ActionPlanItem
}

func (s *Server) inboxData(r *http.Request) (inboxData, error) {
	u := s.userOf(r)
	d := inboxData{Agency: u.Agency, Columns: ChronologyColumns, Entry: newFormState(), Upload: newFormState()}
	items, err := s.cfg.ReadModels.Inbox(r.Context(), u.Agency, s.today())
	if err != nil {
		return d, err
	}
	plans := map[string][]projections.ActionPlanItem{}
	for _, it := range items {
		if !slices.Contains(d.Cases, it.CaseID) {
			d.Cases = append(d.Cases, it.CaseID)
		}
		if it.Kind == projections.InboxRequest {
			d.Requests = append(d.Requests, it)
			continue
		}
		if _, ok := plans[it.CaseID]; !ok {
			if plans[it.CaseID], err = s.cfg.ReadModels.ActionPlan(r.Context(), it.CaseID, false); err != nil {
				return d, err
			}
		}
		a := inboxAction{InboxItem: it}
		for _, p := range plans[it.CaseID] {
			if p.ActionID == it.ID {
				a.Plan = p
			}
		}
		d.Actions = append(d.Actions, a)
	}
	return d, nil
}

func (s *Server) inboxPage(w http.ResponseWriter, r *http.Request) {
	if !s.userOf(r).Role.AgencyScoped() {
		s.pageMessage(w, r, http.StatusForbidden, "No inbox", "The inbox is for agency leads and practitioners: it lists what a case review asks of your agency.")
		return
	}
	d, err := s.inboxData(r)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if n, err := strconv.Atoi(r.URL.Query().Get("recorded")); err == nil && n > 0 {
		d.Recorded = n
	}
	s.render(w, r, http.StatusOK, "inbox.html", "Agency inbox", d)
}

// sendEntries checks every entry against the case as it stands, as the case itself will, and only
// when all pass sends them, one command each, so that a bad entry stores nothing.
func (s *Server) sendEntries(r *http.Request, caseID string, entries []review.ChronologyEntry) ([]RowError, error) {
	actor := actorOf(s.userOf(r))
	now := s.cfg.Now()
	c, err := s.caseAsOf(r.Context(), caseID, now)
	if err != nil {
		return nil, err
	}
	cal, err := calendar.ForRegion(c.Rules().CalendarRegion)
	if err != nil {
		return nil, err
	}
	var rowErrs []RowError
	cmds := make([]review.RecordChronologyEntry, len(entries))
	for i, e := range entries {
		cmds[i] = review.RecordChronologyEntry{By: review.By{Actor: actor}, Entry: e}
		evs, err := c.Decide(cmds[i], now, c.Rules(), cal)
		if err == nil {
			err = c.Apply(evs...)
		}
		var re *review.RuleError
		switch {
		case errors.As(err, &re):
			rowErrs = append(rowErrs, RowError{Row: i + 2, Column: csvColumn(re.Field), Message: re.Message})
		case err != nil:
			return nil, err
		}
	}
	if len(rowErrs) > 0 {
		return rowErrs, nil
	}
	var last uint64
	for i, cmd := range cmds {
		res, err := s.cfg.Cases.Command(r.Context(), caseID, workflows.CommandRequest{Name: cmd.CommandName(), Actor: actor, Payload: mustJSON(map[string]any{"entry": cmd.Entry})})
		var ce *workflows.CommandError
		if errors.As(err, &ce) {
			// The case moved between the check and the send; what was sent stays recorded.
			return []RowError{{Row: i + 2, Column: csvColumn(ce.Detail.Field), Message: ce.Detail.Message + fmt.Sprintf(" (rows before row %d were recorded)", i+2)}}, nil
		}
		if err != nil {
			return nil, err
		}
		last = res.Position
	}
	s.awaitPosition(r.Context(), last)
	return nil, nil
}

// mustJSON encodes a value that always encodes: plain data of strings, numbers and dates.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// csvColumn names the upload column for a command field.
func csvColumn(field string) string {
	switch field {
	case "entryId":
		return "entry_id"
	case "sourceRef":
		return "source_ref"
	case "childSeen":
		return "child_seen"
	case "childViewsSought":
		return "child_views_sought"
	}
	return field
}

// entryPage records one chronology entry from the inbox form.
func (s *Server) entryPage(w http.ResponseWriter, r *http.Request) {
	d, err := s.inboxData(r)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	caseID := r.PostFormValue("case")
	values := map[string]string{}
	for _, col := range ChronologyColumns {
		values[col] = r.PostFormValue(col)
		d.Entry.Values[col] = values[col]
	}
	d.Entry.Values["case"] = caseID
	if !slices.Contains(d.Cases, caseID) {
		d.Entry.Errors["case"] = "choose one of the cases in your inbox"
	}
	e, errs := chronologyEntry(d.Agency, values)
	for _, re := range errs {
		d.Entry.Errors[re.Column] = re.Message
	}
	if len(d.Entry.Errors) == 0 {
		rowErrs, err := s.sendEntries(r, caseID, []review.ChronologyEntry{e})
		if err != nil {
			s.internalError(w, r, err)
			return
		}
		for _, re := range rowErrs {
			if _, ok := d.Entry.Values[re.Column]; ok && re.Column != "" {
				d.Entry.Errors[re.Column] = re.Message
			} else {
				d.Entry.Error = re.Message
			}
		}
		if len(rowErrs) == 0 {
			http.Redirect(w, r, "/inbox?recorded=1#entry", http.StatusSeeOther)
			return
		}
	}
	s.render(w, r, http.StatusUnprocessableEntity, "inbox.html", "Error: agency inbox", d)
}

// maxUploadBytes bounds a chronology upload.
const maxUploadBytes = 4 << 20

// uploadPage records a chronology from a CSV file: every row is checked first, and nothing is
// stored unless the whole file is good.
func (s *Server) uploadPage(w http.ResponseWriter, r *http.Request) {
	d, err := s.inboxData(r)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	caseID := r.FormValue("case")
	d.Upload.Values["case"] = caseID
	fail := func(field, msg string) {
		if field == "" {
			d.Upload.Error = msg
		} else {
			d.Upload.Errors[field] = msg
		}
		s.render(w, r, http.StatusUnprocessableEntity, "inbox.html", "Error: agency inbox", d)
	}
	if !slices.Contains(d.Cases, caseID) {
		fail("case", "choose one of the cases in your inbox")
		return
	}
	// The form is already parsed (the CSRF check reads it), so the size is checked here.
	file, header, err := r.FormFile("file")
	if err == nil {
		defer file.Close()
	}
	if err != nil || header.Size > maxUploadBytes {
		fail("file", fmt.Sprintf("choose a CSV file of at most %d MB", maxUploadBytes>>20))
		return
	}
	entries, rowErrs, err := parseChronologyCSV(d.Agency, file)
	if err != nil {
		fail("file", strings.TrimPrefix(err.Error(), ErrBadChronologyCSV.Error()+": "))
		return
	}
	if len(rowErrs) == 0 {
		if rowErrs, err = s.sendEntries(r, caseID, entries); err != nil {
			s.internalError(w, r, err)
			return
		}
	}
	if len(rowErrs) > 0 {
		d.RowErrors = rowErrs
		problems := fmt.Sprintf("%d problems", len(rowErrs))
		if len(rowErrs) == 1 {
			problems = "1 problem"
		}
		fail("file", problems+" in the file; nothing was recorded. Correct the rows listed and upload it again.")
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/inbox?recorded=%d#upload", len(entries)), http.StatusSeeOther)
}

// auditData is what the audit page shows.
type auditData struct {
	Entries   []projections.AuditEntry
	NextAfter uint64
	Verify    *VerifyResult
	CanVerify bool
	Today     string
}

const auditPageSize = 200

// auditPage shows the whole log and, after POST /audit/verify, the result of the chain check.
func (s *Server) auditPage(w http.ResponseWriter, r *http.Request) {
	d := auditData{CanVerify: auth.Can(s.userOf(r), auth.ActionAuditVerify, auth.Resource{}), Today: s.today().String()}
	after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
	var err error
	if d.Entries, err = s.cfg.ReadModels.AuditTrail(r.Context(), "", after, auditPageSize); err != nil {
		s.internalError(w, r, err)
		return
	}
	if len(d.Entries) == auditPageSize {
		d.NextAfter = d.Entries[len(d.Entries)-1].Position
	}
	if r.Method == http.MethodPost {
		v, err := s.verifyLog(r.Context())
		if err != nil {
			s.internalError(w, r, err)
			return
		}
		s.cfg.Logger.Info().Bool("ok", v.OK).Uint64("head", v.HeadPosition).Msg("audit verification from the web")
		d.Verify = &v
	}
	s.render(w, r, http.StatusOK, "audit.html", "Audit", d)
}

// auditCaseData is one case's event history and, when asked, the case as it stood on a date.
type auditCaseData struct {
	CaseID  string
	Entries []projections.AuditEntry
	At      string
	AtError string
	AsOf    *review.Case
	Stage   string
}

func (s *Server) auditCasePage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	d := auditCaseData{CaseID: id, At: r.URL.Query().Get("at")}
	var err error
	if d.Entries, err = s.cfg.ReadModels.AuditTrail(r.Context(), id, 0, projections.MaxAuditPage); err != nil {
		s.internalError(w, r, err)
		return
	}
	if len(d.Entries) == 0 {
		s.pageMessage(w, r, http.StatusNotFound, "No such case", fmt.Sprintf("The log holds no events of case %q.", id))
		return
	}
	status := http.StatusOK
	if d.At != "" {
		day, err := time.ParseInLocation(time.DateOnly, d.At, london)
		if err != nil {
			d.AtError, status = fmt.Sprintf("%q is not a date: write it as YYYY-MM-DD", d.At), http.StatusBadRequest
		} else if c, err := s.caseAsOf(r.Context(), id, day.AddDate(0, 0, 1).Add(-time.Nanosecond)); errors.Is(err, review.ErrHistory) {
			d.AtError = fmt.Sprintf("Nothing was recorded for this case by the end of %s.", readableDate(calendar.DateOf(day)))
		} else if err != nil {
			s.internalError(w, r, err)
			return
		} else {
			d.AsOf = c
			if st, ok := c.Rules().Stage(c.Stage); ok {
				d.Stage = st.Title
			}
			s.recordRead(r, id, "case as of "+d.At)
		}
	}
	s.recordRead(r, id, "audit trail")
	s.render(w, r, status, "auditcase.html", "Audit of case "+id, d)
}

func (s *Server) registerPage(w http.ResponseWriter, r *http.Request) {
	entries, err := s.cfg.ReadModels.Register(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "register.html", "Published reviews", entries)
}

// publicAction is what the public action plan shows of an action.
type publicAction struct {
	Summary, OwnerAgency, Status, MeasureOfSuccess string
	Due                                            calendar.Date
	ImpactEvidence                                 []string
}

type publishedData struct {
	Report  projections.PublicReport
	Actions []publicAction
}

// publishedPage shows one published review with its public action plan: each action's status,
// measure of success and evidence of impact. The action's internal text and owner are not shown;
// its public summary stands for it.
func (s *Server) publishedPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	rep, err := s.cfg.ReadModels.PublicReport(r.Context(), id)
	if errors.Is(err, projections.ErrNotFound) {
		s.pageMessage(w, r, http.StatusNotFound, "No such published review", fmt.Sprintf("No review %q has been published.", id))
		return
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	plan, err := s.cfg.ReadModels.ActionPlan(r.Context(), id, false)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	d := publishedData{Report: rep}
	for _, a := range plan {
		summary := a.PublicSummary
		if summary == "" {
			summary = "Action " + a.ActionID // the internal text may name people; only the public summary is shown
		}
		d.Actions = append(d.Actions, publicAction{Summary: summary, OwnerAgency: a.OwnerAgency, Status: a.Status,
			MeasureOfSuccess: a.MeasureOfSuccess, Due: a.Due, ImpactEvidence: a.ImpactEvidence})
	}
	s.render(w, r, http.StatusOK, "published.html", rep.Title+" "+rep.CaseID, d)
}
