package server

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"casereview/auth"
	"casereview/calendar"
	"casereview/review"
	"casereview/workflows"
)

// maxBodyBytes bounds every request body; a notification is a few kilobytes.
const maxBodyBytes = 64 << 10

// maxOutline bounds the case outline so the notification stays a summary.
const maxOutline = 8000

// NotificationRequest is the body of POST /api/v1/cases.
type NotificationRequest struct {
	Framework     string `json:"framework"`
	AwarenessDate string `json:"awarenessDate"`
	IncidentDate  string `json:"incidentDate"`
	Nature        string `json:"nature"`
	Outline       string `json:"outline"`
}

// CreatedCase is the answer to a good notification.
type CreatedCase struct {
	ID         string `json:"id"`
	WorkflowID string `json:"workflowId"`
	Location   string `json:"location"`
}

func (s *Server) createCase(w http.ResponseWriter, r *http.Request) {
	var req NotificationRequest
	if !s.decodeBody(w, r, &req) {
		return
	}
	n, fields := s.validateNotification(req)
	if len(fields) > 0 {
		writeProblem(w, r, http.StatusBadRequest, "The notification is not valid",
			"Correct the fields listed in errors and send it again; nothing was recorded.", fields...)
		return
	}
	id, err := newCaseID()
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	u, _ := auth.UserFrom(r.Context())
	actor := actorOf(u)
	cmd := review.NotifyIncident{By: review.By{Actor: actor}, CaseID: id, Notification: n}
	if fields := decideFirst(cmd, s.cfg.Now()); len(fields) > 0 {
		writeProblem(w, r, http.StatusUnprocessableEntity, "The notification breaks a rule",
			"Correct the fields listed in errors and send it again; nothing was recorded.", fields...)
		return
	}
	in := workflows.ReviewInput{CaseID: id, Notify: cmd, CorrelationID: id}
	if err := s.cfg.Cases.StartCase(r.Context(), in); err != nil {
		s.internalError(w, r, fmt.Errorf("start case workflow: %w", err))
		return
	}
	s.cfg.Logger.Info().Str("case", id).Str("framework", n.Framework).Msg("case notified")
	loc := "/api/v1/cases/" + id
	w.Header().Set("Location", loc)
	writeJSON(w, http.StatusCreated, CreatedCase{ID: id, WorkflowID: workflows.ReviewWorkflowID(id), Location: loc})
}

// decodeBody reads one JSON object, refusing unknown fields, trailing data and oversized bodies.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		writeProblem(w, r, http.StatusUnsupportedMediaType, "Unsupported content type",
			fmt.Sprintf("Send the body as application/json, not %q.", ct))
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("the body holds more than one JSON value")
	}
	if err == nil {
		return true
	}
	var tooBig *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		writeProblem(w, r, http.StatusRequestEntityTooLarge, "Request body too large",
			fmt.Sprintf("The body may be at most %d bytes.", maxBodyBytes))
	case errors.As(err, &typeErr):
		writeProblem(w, r, http.StatusBadRequest, "Malformed JSON", "A field has the wrong type.",
			FieldError{Field: typeErr.Field, Detail: fmt.Sprintf("must be a JSON %s", typeErr.Type)})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		writeProblem(w, r, http.StatusBadRequest, "Unknown field", "Remove the field the API does not know.",
			FieldError{Field: field, Detail: "is not a field of this request"})
	default:
		writeProblem(w, r, http.StatusBadRequest, "Malformed JSON", "The body must be one JSON object: "+err.Error())
	}
	return false
}

func (s *Server) validateNotification(req NotificationRequest) (review.Notification, []FieldError) {
	var fields []FieldError
	bad := func(field, detail string) { fields = append(fields, FieldError{Field: field, Detail: detail}) }
	n := review.Notification{Framework: req.Framework, Nature: review.Nature(req.Nature), Outline: strings.TrimSpace(req.Outline)}

	frameworks := review.Frameworks()
	switch {
	case req.Framework == "":
		bad("framework", "is required; one of "+strings.Join(frameworks, ", "))
	case !slices.Contains(frameworks, req.Framework):
		bad("framework", fmt.Sprintf("%q is not a known framework; use one of %s", req.Framework, strings.Join(frameworks, ", ")))
	}
	today := calendar.DateOf(s.cfg.Now().In(london))
	date := func(field, v string) calendar.Date {
		if v == "" {
			bad(field, "is required, as YYYY-MM-DD")
			return calendar.Date{}
		}
		d, err := calendar.ParseDate(v)
		if err != nil {
			bad(field, fmt.Sprintf("%q is not a date; write it as YYYY-MM-DD", v))
			return calendar.Date{}
		}
		if d.After(today) {
			bad(field, fmt.Sprintf("%s is in the future; today is %s", d, today))
		}
		return d
	}
	n.AwarenessDate = date("awarenessDate", req.AwarenessDate)
	n.IncidentDate = date("incidentDate", req.IncidentDate)
	if !n.AwarenessDate.IsZero() && !n.IncidentDate.IsZero() && n.IncidentDate.After(n.AwarenessDate) {
		bad("incidentDate", "is after awarenessDate; an agency cannot become aware before the incident")
	}
	switch n.Nature {
	case review.NatureDeath, review.NatureSeriousHarm, review.NatureOther:
	case "":
		bad("nature", "is required: death, serious-harm or other")
	default:
		bad("nature", fmt.Sprintf("%q is not one of death, serious-harm, other", req.Nature))
	}
	switch {
	case n.Outline == "":
		bad("outline", "is required: a short outline of the case")
	case len(n.Outline) > maxOutline:
		bad("outline", fmt.Sprintf("is %d bytes; the outline may be at most %d", len(n.Outline), maxOutline))
	}
	return n, fields
}

// decideFirst checks a notification against its rule set exactly as the workflow will, so that a
// notification the case would refuse is refused here, synchronously, before any workflow starts.
func decideFirst(cmd review.NotifyIncident, now time.Time) []FieldError {
	rules, err := review.Rules(cmd.Framework)
	if err != nil {
		return []FieldError{{Field: "framework", Detail: err.Error()}}
	}
	cal, err := calendar.ForRegion(rules.CalendarRegion)
	if err != nil {
		return []FieldError{{Field: "framework", Detail: err.Error()}}
	}
	if _, err := review.NewCase(rules).Decide(cmd, now, rules, cal); err != nil {
		var re *review.RuleError
		if errors.As(err, &re) {
			return []FieldError{{Field: re.Field, Detail: re.Message + " (rule " + re.Rule + ")"}}
		}
		return []FieldError{{Field: "", Detail: err.Error()}}
	}
	return nil
}

// newCaseID returns a short random reference such as "CR-7F3K9QXM": easy to read out on the
// phone, and carrying nothing about the child.
func newCaseID() (string, error) {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ" // Crockford base32: no I, L, O, U
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("case id: %w", err)
	}
	out := []byte("CR-")
	for _, x := range b {
		out = append(out, alphabet[x&31])
	}
	return string(out), nil
}
