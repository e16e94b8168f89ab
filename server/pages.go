package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"casereview/auth"
	"casereview/calendar"
	"casereview/caselog"
	"casereview/eventstore"
	"casereview/projections"
	"casereview/review"
	"casereview/workflows"
)

// pageFuncs are the helpers every page template may call.
var pageFuncs = template.FuncMap{
	"date":     readableDate,
	"ragText":  ragText,
	"humanize": humanize,
	"join":     strings.Join,
	"list":     func(v ...string) []string { return v },
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(london).Format("2 Jan 2006 15:04")
	},
	"daysLeft": func(n int) string {
		switch {
		case n < -1:
			return fmt.Sprintf("%d working days overdue", -n)
		case n == -1:
			return "1 working day overdue"
		case n == 1:
			return "1 working day left"
		}
		return fmt.Sprintf("%d working days left", n)
	},
	"fieldOf": fieldOf,
	"caseSelect": func(id string, cases []string, value, err string) any {
		return struct {
			ID, Value, Error string
			Cases            []string
		}{id, value, err, cases}
	},
	"paragraphs": func(s string) []string {
		var out []string
		for _, p := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n\n") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out
	},
}

// pageTemplates holds one template set per page: base.html with the page's own "content".
var pageTemplates = func() map[string]*template.Template {
	names := []string{"board.html", "rows.html", "newcase.html", "case.html", "inbox.html", "audit.html", "auditcase.html", "register.html", "published.html", "message.html"}
	m := make(map[string]*template.Template, len(names))
	for _, n := range names {
		files := []string{"web/base.html", "web/" + n}
		if n == "board.html" {
			files = append(files, "web/rows.html") // the board's body is the live rows
		}
		m[n] = template.Must(template.New(n).Funcs(pageFuncs).ParseFS(webFS, files...))
	}
	return m
}()

// readableDate writes a date as people read it ("3 Mar 2025"); the zero date is empty.
func readableDate(d calendar.Date) string {
	if d.IsZero() {
		return ""
	}
	return d.Time().Format("2 Jan 2006")
}

// ragText words a RAG status, so that colour is never the only signal.
func ragText(rag string) string {
	switch rag {
	case projections.RAGRed:
		return "Overdue"
	case projections.RAGAmber:
		return "Due soon"
	case projections.RAGGreen:
		return "On track"
	}
	return "No deadline"
}

// humanize turns an identifier ("RecordChronologyEntry", "awarenessDate", "serious-harm") into words.
func humanize(id string) string {
	var b strings.Builder
	for i, r := range id {
		switch {
		case r == '-' || r == '_' || r == '.':
			b.WriteRune(' ')
		case unicode.IsUpper(r) && i > 0:
			b.WriteRune(' ')
			b.WriteRune(unicode.ToLower(r))
		case i == 0:
			b.WriteRune(unicode.ToUpper(r))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// navLink is one entry of the main navigation.
type navLink struct {
	Href, Text string
	Current    bool
}

// pageData is what every page template receives; Data is the page's own.
type pageData struct {
	Title    string
	User     auth.User
	SignedIn bool
	CSRF     string
	Nav      []navLink
	Live     bool // load the live-update script
	Data     any
}

func (s *Server) pageData(r *http.Request, title string, data any) pageData {
	u := s.userOf(r)
	p := pageData{Title: title, User: u, SignedIn: auth.SignedIn(r.Context()), CSRF: auth.CSRFToken(r.Context()), Data: data}
	add := func(href, text string) {
		current := r.URL.Path == href || (href != "/" && strings.HasPrefix(r.URL.Path, href))
		p.Nav = append(p.Nav, navLink{Href: href, Text: text, Current: current})
	}
	if auth.Can(u, auth.ActionCaseList, auth.Resource{}) {
		add("/", "Cases")
	}
	if u.Role.AgencyScoped() {
		add("/inbox", "Agency inbox")
	}
	if auth.Can(u, auth.ActionAuditRead, auth.Resource{}) {
		add("/audit", "Audit")
	}
	add("/register", "Published reviews")
	return p
}

// render writes a page. Pages load only this site's scripts and styles.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	s.renderPage(w, r, status, name, s.pageData(r, title, data))
}

func (s *Server) renderPage(w http.ResponseWriter, r *http.Request, status int, name string, p pageData) {
	var buf bytes.Buffer
	t := pageTemplates[name]
	exec := "base"
	if name == "rows.html" {
		exec = "rows"
	}
	if err := t.ExecuteTemplate(&buf, exec, p); err != nil {
		s.internalError(w, r, fmt.Errorf("render %s: %w", name, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// pageMessage shows a short message page, such as "not allowed" or "no such case".
func (s *Server) pageMessage(w http.ResponseWriter, r *http.Request, status int, title, message string) {
	s.render(w, r, status, "message.html", title, message)
}

// requirePage runs h when the user may do a on the resource; otherwise it sends people who are not
// signed in to the sign-in page and tells others they may not.
func (s *Server) requirePage(a auth.Action, resource func(*http.Request) auth.Resource, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := s.userOf(r)
		var res auth.Resource
		if resource != nil {
			res = resource(r)
		}
		if auth.Can(u, a, res) {
			h(w, r)
			return
		}
		if !auth.SignedIn(r.Context()) {
			http.Redirect(w, r, auth.SignInPath+"?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		s.pageMessage(w, r, http.StatusForbidden, "Not allowed", fmt.Sprintf("Your role (%s) may not open this page.", humanize(string(u.Role))))
	})
}

// pageRoutes registers the web pages.
func (s *Server) pageRoutes() {
	m := s.mux
	caseRes := s.caseResource
	ownAgency := func(r *http.Request) auth.Resource {
		return auth.Resource{Agency: s.userOf(r).Agency}
	}
	// The pages' own styles and script, served from the web directory of the binary.
	assets, err := fs.Sub(webFS, "web")
	if err != nil {
		panic(err) // the directory is embedded at build time; its absence is a build error
	}
	m.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServerFS(assets)))
	m.Handle("GET /{$}", s.requirePage(auth.ActionCaseList, nil, s.boardPage))
	m.Handle("GET /board/rows", s.requirePage(auth.ActionCaseList, nil, s.boardRows))
	m.Handle("GET /cases/new", s.requirePage(auth.ActionCaseCreate, nil, s.newCasePage))
	m.Handle("POST /cases", s.requirePage(auth.ActionCaseCreate, nil, s.createCasePage))
	m.Handle("GET /cases/{id}", s.requirePage(auth.ActionCaseRead, caseRes, s.casePage))
	m.Handle("POST /cases/{id}/commands/{name}", s.requirePage(auth.ActionCaseRead, caseRes, s.commandPage))
	m.Handle("GET /inbox", s.requirePage(auth.ActionCaseList, ownAgency, s.inboxPage))
	m.Handle("POST /inbox/entry", s.requirePage(auth.ActionChronologyEntry, ownAgency, s.entryPage))
	m.Handle("POST /inbox/upload", s.requirePage(auth.ActionChronologyEntry, ownAgency, s.uploadPage))
	m.Handle("GET /audit", s.requirePage(auth.ActionAuditRead, nil, s.auditPage))
	m.Handle("POST /audit/verify", s.requirePage(auth.ActionAuditVerify, nil, s.auditPage))
	m.Handle("GET /audit/case", s.requirePage(auth.ActionAuditRead, nil, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		target := "/audit/cases/" + strings.TrimSpace(q.Get("id"))
		if at := q.Get("at"); at != "" {
			target += "?at=" + at
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
	}))
	m.Handle("GET /audit/cases/{id}", s.requirePage(auth.ActionAuditRead, caseRes, s.auditCasePage))
	m.HandleFunc("GET /register", s.registerPage)
	m.HandleFunc("GET /register/{id}", s.publishedPage)
}

// visibleBoard returns the board rows this user may see.
func (s *Server) visibleBoard(ctx context.Context, u auth.User) ([]projections.BoardRow, error) {
	rows, err := s.cfg.ReadModels.Board(ctx, s.today())
	if err != nil || !u.Role.AgencyScoped() {
		return rows, err
	}
	visible := rows[:0]
	for _, row := range rows {
		d, err := s.cfg.ReadModels.CaseDetail(ctx, row.CaseID, s.today())
		if err == nil && auth.Can(u, auth.ActionCaseRead, auth.Resource{CaseID: row.CaseID, Agencies: agenciesOf(d.CaseFile)}) {
			visible = append(visible, row)
		}
	}
	return visible, nil
}

// boardQuery is the board's filter and sort, read from the query string.
type boardQuery struct {
	Stage, RAG, Framework, Sort string
}

func readBoardQuery(r *http.Request) boardQuery {
	q := r.URL.Query()
	return boardQuery{Stage: q.Get("stage"), RAG: q.Get("rag"), Framework: q.Get("framework"), Sort: q.Get("sort")}
}

// apply filters and sorts rows; an unknown sort keeps the board's own order, newest first.
func (q boardQuery) apply(rows []projections.BoardRow) []projections.BoardRow {
	out := []projections.BoardRow{}
	for _, r := range rows {
		if (q.Stage == "" || r.Stage == q.Stage) && (q.RAG == "" || r.RAG == q.RAG || (q.RAG == "none" && r.RAG == "")) &&
			(q.Framework == "" || r.Framework == q.Framework) {
			out = append(out, r)
		}
	}
	switch q.Sort {
	case "deadline":
		slices.SortStableFunc(out, func(a, b projections.BoardRow) int {
			switch {
			case a.NextDeadline == nil && b.NextDeadline == nil:
				return 0
			case a.NextDeadline == nil:
				return 1
			case b.NextDeadline == nil:
				return -1
			}
			return a.NextDeadline.Due.Time().Compare(b.NextDeadline.Due.Time())
		})
	case "rag":
		rank := map[string]int{projections.RAGRed: 0, projections.RAGAmber: 1, projections.RAGGreen: 2, "": 3}
		slices.SortStableFunc(out, func(a, b projections.BoardRow) int { return rank[a.RAG] - rank[b.RAG] })
	case "case":
		slices.SortStableFunc(out, func(a, b projections.BoardRow) int { return strings.Compare(a.CaseID, b.CaseID) })
	}
	return out
}

type boardData struct {
	Position   uint64
	Query      boardQuery
	Rows       []projections.BoardRow
	Total      int
	Stages     []string
	Frameworks []string
	CanCreate  bool
}

func (s *Server) boardData(r *http.Request) (boardData, error) {
	u := s.userOf(r)
	// The position is read first: a change landing between the two reads is then sent again by
	// the live feed rather than missed.
	cp, err := s.cfg.ReadModels.Checkpoint(r.Context())
	if err != nil {
		return boardData{}, err
	}
	all, err := s.visibleBoard(r.Context(), u)
	if err != nil {
		return boardData{}, err
	}
	q := readBoardQuery(r)
	d := boardData{Position: cp, Query: q, Rows: q.apply(all), Total: len(all), Frameworks: review.Frameworks(),
		CanCreate: auth.Can(u, auth.ActionCaseCreate, auth.Resource{})}
	for _, row := range all {
		if !slices.Contains(d.Stages, row.Stage) {
			d.Stages = append(d.Stages, row.Stage)
		}
	}
	slices.Sort(d.Stages)
	return d, nil
}

func (s *Server) boardPage(w http.ResponseWriter, r *http.Request) {
	d, err := s.boardData(r)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	p := s.pageData(r, "Cases", d)
	p.Live = true
	s.renderPage(w, r, http.StatusOK, "board.html", p)
}

// boardRows serves the board's table body alone, for the live script to swap in.
func (s *Server) boardRows(w http.ResponseWriter, r *http.Request) {
	d, err := s.boardData(r)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.renderPage(w, r, http.StatusOK, "rows.html", s.pageData(r, "", d))
}

// formState is a form's values and its errors, by field name.
type formState struct {
	Values map[string]string
	Errors map[string]string
	Error  string // about the form as a whole
}

func newFormState() formState {
	return formState{Values: map[string]string{}, Errors: map[string]string{}}
}

type newCaseData struct {
	Form       formState
	Frameworks []string
	Natures    []string
	Today      string
}

func (s *Server) newCasePage(w http.ResponseWriter, r *http.Request) {
	s.renderNewCase(w, r, http.StatusOK, newFormState())
}

func (s *Server) renderNewCase(w http.ResponseWriter, r *http.Request, status int, f formState) {
	s.render(w, r, status, "newcase.html", "Notify a new case", newCaseData{Form: f, Frameworks: review.Frameworks(),
		Natures: []string{string(review.NatureDeath), string(review.NatureSeriousHarm), string(review.NatureOther)}, Today: s.today().String()})
}

// createCasePage is the form twin of POST /api/v1/cases: the same checks, then the workflow starts,
// and the browser goes to the case once the read model holds it.
func (s *Server) createCasePage(w http.ResponseWriter, r *http.Request) {
	f := newFormState()
	for _, k := range []string{"framework", "awarenessDate", "incidentDate", "nature", "outline"} {
		f.Values[k] = strings.TrimSpace(r.PostFormValue(k))
	}
	req := NotificationRequest{Framework: f.Values["framework"], AwarenessDate: f.Values["awarenessDate"],
		IncidentDate: f.Values["incidentDate"], Nature: f.Values["nature"], Outline: f.Values["outline"]}
	n, fields := s.validateNotification(req)
	u := s.userOf(r)
	cmd := review.NotifyIncident{By: review.By{Actor: actorOf(u)}, Notification: n}
	if len(fields) == 0 {
		id, err := newCaseID()
		if err != nil {
			s.internalError(w, r, err)
			return
		}
		cmd.CaseID = id
		fields = decideFirst(cmd, s.cfg.Now())
	}
	if len(fields) > 0 {
		for _, fe := range fields {
			if _, ok := f.Values[fe.Field]; ok && f.Errors[fe.Field] == "" {
				f.Errors[fe.Field] = fe.Detail
			} else {
				f.Error = strings.TrimSpace(f.Error + " " + fe.Detail)
			}
		}
		s.renderNewCase(w, r, http.StatusBadRequest, f)
		return
	}
	if err := s.cfg.Cases.StartCase(r.Context(), workflows.ReviewInput{CaseID: cmd.CaseID, Notify: cmd, CorrelationID: cmd.CaseID}); err != nil {
		s.internalError(w, r, fmt.Errorf("start case workflow: %w", err))
		return
	}
	s.cfg.Logger.Info().Str("case", cmd.CaseID).Str("framework", n.Framework).Msg("case notified")
	s.awaitCase(r.Context(), cmd.CaseID)
	http.Redirect(w, r, "/cases/"+cmd.CaseID, http.StatusSeeOther)
}

// awaitCase waits, briefly, until the read model holds a new case, so that the page the browser is
// sent to shows it. If it takes longer the page says the case is on its way.
func (s *Server) awaitCase(ctx context.Context, id string) {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if _, err := s.cfg.ReadModels.GetCase(ctx, id); err == nil {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// awaitPosition waits, briefly, until the read models have caught up with a log position.
func (s *Server) awaitPosition(ctx context.Context, position uint64) {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if cp, err := s.cfg.ReadModels.Checkpoint(ctx); err == nil && cp >= position {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// caseAsOf folds a case from the log as it stood at the instant at.
func (s *Server) caseAsOf(ctx context.Context, id string, at time.Time) (*review.Case, error) {
	return caselog.AsOf(ctx, s.cfg.Store, id, at)
}

// notFoundPage answers a missing case with a page; it reports whether it did.
func (s *Server) notFoundPage(w http.ResponseWriter, r *http.Request, err error) bool {
	switch {
	case errors.Is(err, projections.ErrNotFound), errors.Is(err, eventstore.ErrStreamNotFound):
		s.pageMessage(w, r, http.StatusNotFound, "No such case", fmt.Sprintf("There is no case %q, or it is still being recorded: reload the page in a moment.", r.PathValue("id")))
		return true
	case err != nil:
		s.internalError(w, r, err)
		return true
	}
	return false
}
