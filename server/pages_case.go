package server

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"casereview/auth"
	"casereview/calendar"
	"casereview/projections"
	"casereview/review"
	"casereview/workflows"
)

// stageStep is one stage of the process map.
type stageStep struct {
	review.Stage
	State   string // done, current or to-come
	Entered string
	Clocks  []review.ClockState
}

// caseData is everything the case page shows.
type caseData struct {
	Detail       projections.CaseDetail
	RulesTitle   string
	Steps        []stageStep
	StageOwner   string
	StageWhat    string
	Chronology   projections.ChronologyView
	Analysis     projections.Analysis
	Actions      []projections.ActionPlanItem
	Forms        []commandForm
	Done         string
	CanAudit     bool
	ReportedDate string
}

// permittedCommands lists the commands this user may send to a case in its current stage: the rule
// set allows the role in the stage, and the access matrix allows the person.
func permittedCommands(rs *review.RuleSet, stage, caseID string, u auth.User) []string {
	actor := actorOf(u)
	var out []string
	for _, p := range rs.Permissions {
		action, people := commandActions[p.Command]
		if !people || !slices.Contains(p.Roles, actor.Role) || !(slices.Contains(p.Stages, stage) || slices.Contains(p.Stages, "*")) {
			continue
		}
		if auth.Can(u, action, auth.Resource{CaseID: caseID, Agency: u.Agency}) && !slices.Contains(out, p.Command) {
			out = append(out, p.Command)
		}
	}
	return out
}

func (s *Server) loadCaseData(r *http.Request, id string) (caseData, error) {
	ctx := r.Context()
	var d caseData
	var err error
	if d.Detail, err = s.cfg.ReadModels.CaseDetail(ctx, id, s.today()); err != nil {
		return d, err
	}
	u := s.userOf(r)
	if u.Role.AgencyScoped() {
		// An agency sees its own requests, not other agencies'.
		own := d.Detail.WaitingRequests[:0]
		for _, q := range d.Detail.WaitingRequests {
			if q.Agency == u.Agency {
				own = append(own, q)
			}
		}
		d.Detail.WaitingRequests = own
		var reqs []review.Request
		for _, q := range d.Detail.Requests {
			if q.Agency == u.Agency {
				reqs = append(reqs, q)
			}
		}
		d.Detail.Requests = reqs
	}
	if d.Chronology, err = s.cfg.ReadModels.Chronology(ctx, id); err != nil {
		return d, err
	}
	if d.Analysis, err = s.cfg.ReadModels.Analysis(ctx, id); err != nil {
		return d, err
	}
	if d.Actions, err = s.cfg.ReadModels.ActionPlan(ctx, id, false); err != nil {
		return d, err
	}
	rs, err := review.RulesVersion(d.Detail.Framework, d.Detail.RulesVersion)
	if err != nil {
		return d, fmt.Errorf("case %s: %w", id, err)
	}
	d.RulesTitle = rs.Title
	visited := map[string]string{}
	for _, v := range d.Detail.History {
		visited[v.Stage] = v.Entered.In(london).Format("2 Jan 2006")
	}
	state := "done"
	for _, st := range rs.Stages {
		step := stageStep{Stage: st, Entered: visited[st.ID]}
		switch {
		case st.ID == d.Detail.Stage:
			step.State, state = "current", "to-come"
			d.StageOwner, d.StageWhat = st.Owner, st.Description
		case step.Entered != "":
			step.State = "done"
		default:
			step.State = state
			if state == "done" {
				step.State = "skipped"
			}
		}
		d.Steps = append(d.Steps, step)
	}
	// Each clock sits with the stage the case was in when it started: the event that starts a
	// clock is usually the one that enters the stage it times.
	for _, c := range d.Detail.Clocks {
		stage := ""
		if slices.ContainsFunc(d.Steps, func(st stageStep) bool { return st.ID == c.Clock }) {
			stage = c.Clock // a clock named for its stage, such as the rapid review's
		} else {
			for _, v := range d.Detail.History {
				if !calendar.DateOf(v.Entered.In(london)).After(c.Start) {
					stage = v.Stage
				}
			}
		}
		for i := range d.Steps {
			if d.Steps[i].ID == stage {
				d.Steps[i].Clocks = append(d.Steps[i].Clocks, c)
			}
		}
	}
	for _, name := range permittedCommands(rs, d.Detail.Stage, id, u) {
		if f, ok := newCommandForm(id, name, u); ok {
			d.Forms = append(d.Forms, f)
		}
	}
	d.CanAudit = auth.Can(u, auth.ActionAuditRead, auth.Resource{CaseID: id})
	if name := r.URL.Query().Get("done"); slices.Contains(review.CommandNames(), name) {
		d.Done = humanize(name)
	}
	return d, nil
}

func (s *Server) casePage(w http.ResponseWriter, r *http.Request) {
	d, err := s.loadCaseData(r, r.PathValue("id"))
	if s.notFoundPage(w, r, err) {
		return
	}
	s.recordRead(r, d.Detail.CaseID, "case page")
	s.render(w, r, http.StatusOK, "case.html", "Case "+d.Detail.CaseID, d)
}

// commandPage sends one command from its form. A refusal shows the case page again with the
// form open and each message beside its field; success goes back to the case, updated.
func (s *Server) commandPage(w http.ResponseWriter, r *http.Request) {
	id, name := r.PathValue("id"), r.PathValue("name")
	d, err := s.loadCaseData(r, id)
	if s.notFoundPage(w, r, err) {
		return
	}
	i := slices.IndexFunc(d.Forms, func(f commandForm) bool { return f.Name == name })
	if i < 0 {
		s.pageMessage(w, r, http.StatusForbidden, "Not allowed now", fmt.Sprintf("You cannot %s on this case at its current stage.", humanize(name)))
		return
	}
	form := &d.Forms[i]
	payload := form.read(r)
	u := s.userOf(r)
	if !form.failed() {
		if _, err := review.DecodeCommand(name, actorOf(u), payload); err != nil {
			form.refusal(err)
		}
	}
	if !form.failed() {
		res, err := s.cfg.Cases.Command(r.Context(), id, workflows.CommandRequest{Name: name, Actor: actorOf(u), Payload: payload})
		var ce *workflows.CommandError
		switch {
		case errors.As(err, &ce):
			msg := ce.Detail.Message
			if len(ce.Offences) > 0 {
				msg += fmt.Sprintf(" (%d passages would identify the child or family: remove them and try again)", len(ce.Offences))
			}
			form.fieldError(ce.Detail.Field, msg)
		case err != nil:
			s.internalError(w, r, err)
			return
		default:
			s.awaitPosition(r.Context(), res.Position)
			http.Redirect(w, r, "/cases/"+id+"?done="+name, http.StatusSeeOther)
			return
		}
	}
	form.Open = true
	s.render(w, r, http.StatusUnprocessableEntity, "case.html", "Error: case "+id, d)
}
