// Package workflows holds the deterministic Temporal workflows that move each case through its stages.
package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"casereview/activities"
	"casereview/calendar"
	"casereview/eventstore"
	"casereview/review"
)

// TaskQueue is the queue every casereview worker polls.
const TaskQueue = "casereview"

// ReviewWorkflowID is the workflow ID of a case. It carries only the case ID, never personal data.
func ReviewWorkflowID(caseID string) string { return "case:" + caseID }

// CaseStream is the event stream of a case.
func CaseStream(caseID string) string { return "case-" + caseID }

// Search attributes: process state only, never anything about the people in a case.
var (
	StageKey        = temporal.NewSearchAttributeKeyKeyword("CaseStage")
	FrameworkKey    = temporal.NewSearchAttributeKeyKeyword("CaseFramework")
	NextDeadlineKey = temporal.NewSearchAttributeKeyTime("CaseNextDeadline")
	OverdueKey      = temporal.NewSearchAttributeKeyBool("CaseOverdue")
)

// Names of the Review workflow's handlers.
const (
	StatusQuery      = "status"
	CommandUpdate    = "command"
	ObligationSignal = "obligation-sent"
)

// System is the actor of what the workflow does by itself: reminders, escalations.
var System = review.Actor{UserID: "casereview", Role: review.RoleSystem}

// ReviewInput starts a case, or resumes one after continue-as-new.
type ReviewInput struct {
	CaseID        string                `json:"caseId"`
	Notify        review.NotifyIncident `json:"notify"`
	CorrelationID string                `json:"correlationId"`
	// Resume means the case exists: the new run folds its state from the event log.
	Resume bool `json:"resume,omitempty"`
	// HistoryLimit continues as new once a run's history has this many events, besides whenever
	// the server suggests it; 0 leaves it to the server. Tests set it low to exercise the handover.
	HistoryLimit int `json:"historyLimit,omitempty"`
	// Handled carries, across continue-as-new, the wakes already acted on that no event records.
	Handled []string `json:"handled,omitempty"`
}

// CommandRequest asks the case to perform one lifecycle command.
type CommandRequest struct {
	Name          string          `json:"name"`
	Actor         review.Actor    `json:"actor"`
	Payload       json.RawMessage `json:"payload,omitempty"`
	CorrelationID string          `json:"correlationId,omitempty"`
	// IdempotencyKey, when set, makes a retried request the same Update: it is performed once.
	IdempotencyKey string `json:"-"`
}

// CommandResult says what a command recorded.
type CommandResult struct {
	Revision int64    `json:"revision"`
	Position uint64   `json:"position"`
	Events   []string `json:"events"`
	Stage    string   `json:"stage"`
}

// ReviewStatus is the answer to StatusQuery.
type ReviewStatus struct {
	CaseID    string              `json:"caseId"`
	Framework string              `json:"framework"`
	Stage     string              `json:"stage"`
	Revision  int64               `json:"revision"` // last revision of the case stream, -1 before the first event
	Clocks    []review.ClockState `json:"clocks,omitempty"`
	NextWake  time.Time           `json:"nextWake,omitzero"`
	Closed    bool                `json:"closed"`
}

// Error types carried by ApplicationErrors from the command update, for the API to map.
const (
	ErrTypeForbidden = "Forbidden"
	ErrTypeInvalid   = "InvalidCommand"
	ErrTypeRule      = "RuleBroken"
	ErrTypeConflict  = "Conflict"
	ErrTypeRedaction = "RedactionFailed"
)

// RuleDetail is the detail of a rejected command.
type RuleDetail struct {
	Rule    string `json:"rule"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// reviewRun is the state of one run of the Review workflow.
type reviewRun struct {
	caseID      string
	correlation string
	c           *review.Case
	rules       *review.RuleSet
	cal         review.Calendar
	revision    int64
	busy        bool // a command is being decided and recorded; the next waits for the latest state
	opening     bool // the case is being recorded or loaded: commands are judged once it is open
	changed     int  // bumped on every change so the main loop recomputes its next wake
	nextWake    time.Time
	obligations []ObligationSent
	handled     map[string]bool // case-level wakes acted on that the log does not record (notices, undeliverable reminders)
	// keyedOverdue: request and action deadlines mark the case overdue too (workflow version 1).
	keyedOverdue bool
	// publicFieldsChecked: action summaries, measures and evidence are redaction-checked (version 1).
	publicFieldsChecked bool
}

// Review runs one case from notification to closure, driven by the case's rule set.
func Review(ctx workflow.Context, in ReviewInput) error {
	r := &reviewRun{caseID: in.CaseID, correlation: in.CorrelationID, revision: -1, handled: map[string]bool{}}
	for _, id := range in.Handled {
		r.handled[id] = true
	}
	continueAsNew := func() bool {
		info := workflow.GetInfo(ctx)
		return info.GetContinueAsNewSuggested() || (in.HistoryLimit > 0 && info.GetCurrentHistoryLength() >= in.HistoryLimit)
	}
	ctx = withActivityOptions(ctx)
	// Deadlines of requests and actions began to mark the case overdue after the first cases ran.
	r.keyedOverdue = workflow.GetVersion(ctx, "keyed-clock-overdue", workflow.DefaultVersion, 1) >= 1
	// Every field that goes public, not only the report, is checked for identifiers (version 1).
	// Read once per run, at its start: a run begun before keeps its behaviour until it continues as new.
	r.publicFieldsChecked = workflow.GetVersion(ctx, "public-fields-redaction", workflow.DefaultVersion, 1) >= 1
	if err := workflow.SetQueryHandler(ctx, StatusQuery, r.status); err != nil {
		return err
	}
	// Handlers first: an update that arrives while the case is still being recorded or loaded
	// (a command sent the moment a case is created, or during continue-as-new) waits for it
	// instead of being refused as unknown, and is judged once the case is open. The flags are
	// set before the handler is registered because registering runs updates already delivered.
	r.busy, r.opening = true, true
	if err := workflow.SetUpdateHandlerWithOptions(ctx, CommandUpdate, r.handleCommand, workflow.UpdateHandlerOptions{Validator: r.validateCommand}); err != nil {
		return err
	}
	if in.Resume {
		if err := r.load(ctx); err != nil {
			return err
		}
	} else {
		rules, err := review.Rules(in.Notify.Framework)
		if err != nil {
			return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalid, nil)
		}
		if err := r.setRules(rules); err != nil {
			return err
		}
		r.c = review.NewCase(rules)
		if _, err := r.execute(ctx, in.Notify, in.CorrelationID); err != nil {
			return err
		}
	}
	r.busy, r.opening = false, false
	signals := workflow.GetSignalChannel(ctx, ObligationSignal)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var o ObligationSent
			signals.Receive(ctx, &o)
			r.obligations = append(r.obligations, o)
			r.changed++
		}
	})
	for {
		seen := r.changed
		due, next := r.dueWakes(workflow.Now(ctx))
		r.nextWake = next
		if len(due) == 0 && len(r.obligations) == 0 {
			cond := func() bool {
				return r.changed != seen || r.c.Closed != nil || continueAsNew()
			}
			if next.IsZero() {
				if err := workflow.Await(ctx, cond); err != nil {
					return err
				}
			} else if _, err := workflow.AwaitWithTimeout(ctx, next.Sub(workflow.Now(ctx)), cond); err != nil {
				return err
			}
		}
		if err := workflow.Await(ctx, func() bool { return !r.busy }); err != nil {
			return err
		}
		if err := r.act(ctx); err != nil {
			return err
		}
		if r.c.Closed != nil || continueAsNew() {
			if err := workflow.Await(ctx, func() bool { return !r.busy && workflow.AllHandlersFinished(ctx) }); err != nil {
				return err
			}
			for {
				var o ObligationSent
				if !signals.ReceiveAsync(&o) {
					break
				}
				r.obligations = append(r.obligations, o)
			}
			if len(r.obligations) > 0 {
				continue // record what children reported before this run ends
			}
			if r.c.Closed != nil {
				return nil
			}
			return workflow.NewContinueAsNewError(ctx, Review, ReviewInput{CaseID: r.caseID, CorrelationID: r.correlation, Resume: true,
				HistoryLimit: in.HistoryLimit, Handled: slices.Sorted(maps.Keys(r.handled))})
		}
	}
}

// withActivityOptions gives activities a timeout and a retry policy; update handlers get a fresh
// context, so each entry point applies it.
func withActivityOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
	})
}

func (r *reviewRun) setRules(rules *review.RuleSet) error {
	cal, err := calendar.ForRegion(rules.CalendarRegion)
	if err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalid, nil)
	}
	r.rules, r.cal = rules, cal
	return nil
}

func (r *reviewRun) status() (ReviewStatus, error) {
	st := ReviewStatus{CaseID: r.caseID, Revision: r.revision, NextWake: r.nextWake}
	if r.opening {
		return st, errors.New("the case is opening (recording its notification or loading after continue-as-new): ask again in a moment")
	}
	if r.c != nil {
		st.Framework, st.Stage, st.Clocks, st.Closed = r.c.Framework, r.c.Stage, r.c.RunningClocks(), r.c.Closed != nil
	}
	return st, nil
}

// load folds the case from its stream: the event log, not workflow history, is the record.
func (r *reviewRun) load(ctx workflow.Context) error {
	var a *activities.Activities
	var events []review.Event
	var revision int64
	for from := uint64(0); ; {
		var res activities.LoadResult
		if err := workflow.ExecuteActivity(ctx, a.Load, activities.LoadInput{Stream: CaseStream(r.caseID), From: from}).Get(ctx, &res); err != nil {
			return fmt.Errorf("load case: %w", err)
		}
		page, err := res.Events()
		if err != nil {
			return temporal.NewNonRetryableApplicationError("decode case: "+err.Error(), "History", err)
		}
		events, revision = append(events, page...), res.Revision
		if !res.More {
			break
		}
		from = uint64(res.Revision) + 1
	}
	c, err := review.Replay(events)
	if err != nil {
		return temporal.NewNonRetryableApplicationError("fold case: "+err.Error(), "History", err)
	}
	r.c, r.revision = c, revision
	return r.setRules(c.Rules())
}

func (r *reviewRun) validateCommand(ctx workflow.Context, req CommandRequest) error {
	cmd, err := review.DecodeCommand(req.Name, req.Actor, req.Payload)
	if err != nil {
		return ruleError(err)
	}
	if req.Actor.Role == review.RoleSystem {
		return temporal.NewNonRetryableApplicationError("only the workflow itself acts as the system", ErrTypeForbidden, nil)
	}
	if r.opening {
		return nil // no state to judge it on yet: the handler decides it once the case is open
	}
	if _, err := r.c.Decide(cmd, workflow.Now(ctx), r.rules, r.cal); err != nil {
		return ruleError(err)
	}
	return nil
}

func (r *reviewRun) handleCommand(ctx workflow.Context, req CommandRequest) (CommandResult, error) {
	ctx = withActivityOptions(ctx)
	if err := workflow.Await(ctx, func() bool { return !r.busy }); err != nil {
		return CommandResult{}, err
	}
	r.busy = true
	defer func() { r.busy = false }()
	cmd, err := review.DecodeCommand(req.Name, req.Actor, req.Payload)
	if err != nil {
		return CommandResult{}, ruleError(err)
	}
	text := publicText(cmd)
	if r.publicFieldsChecked {
		if _, publishing := cmd.(review.PublishReport); publishing {
			// The actions' public summaries are published with the report.
			for _, a := range r.c.Actions {
				text += "\n\n" + a.PublicSummary
			}
		}
	} else if _, publishing := cmd.(review.PublishReport); !publishing {
		text = "" // a run begun before fields other than the report were checked replays without it
	}
	if strings.TrimSpace(text) != "" {
		if err := r.checkRedaction(ctx, text); err != nil {
			return CommandResult{}, err
		}
	}
	return r.execute(ctx, cmd, req.CorrelationID)
}

// decision is a Decide result recorded as a side effect, so that replaying a history never depends
// on today's domain code agreeing with the code that made the decision.
type decision struct {
	Events []activities.NewEvent `json:"events"`
	Error  *RuleDetail           `json:"error,omitempty"`
	Kind   string                `json:"kind,omitempty"`
}

// execute decides a command on the current state, records its events at the expected revision and
// applies them. On a revision conflict it reloads the case from the log and decides again.
func (r *reviewRun) execute(ctx workflow.Context, cmd review.Command, correlation string) (CommandResult, error) {
	for attempt := 0; ; attempt++ {
		now := workflow.Now(ctx)
		var d decision
		err := workflow.SideEffect(ctx, func(workflow.Context) any {
			evs, err := r.c.Decide(cmd, now, r.rules, r.cal)
			if err != nil {
				kind, detail := ruleDetail(err)
				return decision{Error: &detail, Kind: kind}
			}
			out := decision{}
			for _, e := range evs {
				typ, data, err := review.EncodeEvent(e)
				if err != nil {
					return decision{Error: &RuleDetail{Rule: "event.encode", Message: err.Error()}, Kind: ErrTypeInvalid}
				}
				out.Events = append(out.Events, activities.NewEvent{Type: typ, Data: data})
			}
			return out
		}).Get(&d)
		if err != nil {
			return CommandResult{}, err
		}
		if d.Error != nil {
			return CommandResult{}, temporal.NewNonRetryableApplicationError(d.Error.Message, d.Kind, nil, *d.Error)
		}
		res, err := r.record(ctx, d.Events, review.ActorOf(cmd), correlation)
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.Type() == activities.ErrConflict && attempt < 3 {
			if err := r.load(ctx); err != nil {
				return CommandResult{}, err
			}
			continue
		}
		if err != nil {
			return CommandResult{}, err
		}
		events := make([]review.Event, len(d.Events))
		types := make([]string, len(d.Events))
		for i, ne := range d.Events {
			if events[i], err = review.DecodeEvent(ne.Type, ne.Data); err != nil {
				return CommandResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "History", nil)
			}
			types[i] = ne.Type
		}
		if err := r.c.Apply(events...); err != nil {
			return CommandResult{}, temporal.NewNonRetryableApplicationError("apply recorded events: "+err.Error(), "History", nil)
		}
		r.revision = res.NextRevision
		r.changed++
		// The events are recorded: what follows is upkeep, and its failure must not make the
		// command look refused when it is in the log.
		if err := r.afterEvents(ctx, events); err != nil {
			if temporal.IsCanceledError(err) {
				return CommandResult{}, err
			}
			workflow.GetLogger(ctx).Error("after recording a command", "command", cmd.CommandName(), "error", err)
		}
		return CommandResult{Revision: res.NextRevision, Position: res.Position, Events: types, Stage: r.c.Stage}, nil
	}
}

func (r *reviewRun) record(ctx workflow.Context, events []activities.NewEvent, actor review.Actor, correlation string) (activities.RecordResult, error) {
	in := activities.RecordInput{
		Stream:           CaseStream(r.caseID),
		ExpectedRevision: r.revision,
		Events:           events,
		Metadata: eventstore.Metadata{
			Actor:          actor.UserID,
			Role:           actor.Role,
			CorrelationID:  correlation,
			RuleSetVersion: r.rules.Version,
		},
	}
	if r.cal != nil {
		in.Metadata.CalendarVersion = r.cal.Version()
	}
	var a *activities.Activities
	var res activities.RecordResult
	err := workflow.ExecuteActivity(ctx, a.Record, in).Get(ctx, &res)
	return res, err
}

// afterEvents starts and steers child workflows for keyed clocks and refreshes the search attributes.
func (r *reviewRun) afterEvents(ctx workflow.Context, events []review.Event) error {
	var errs []error
	for _, e := range events {
		switch e := e.(type) {
		case review.ClockStarted:
			if e.Key == "" {
				continue
			}
			if err := r.startChild(ctx, e.Deadline); err != nil {
				errs = append(errs, err) // the others still start, and the attributes still update
			}
		case review.ClockExtended:
			if e.Key != "" {
				r.signalChild(ctx, e.Key, DeadlineSignal, e.Deadline)
			}
		case review.ClockStopped:
			if e.Key != "" {
				r.signalChild(ctx, e.Key, StopSignal, e.StoppedOn)
			}
		}
	}
	errs = append(errs, r.upsertSearchAttributes(ctx))
	return errors.Join(errs...)
}

func (r *reviewRun) upsertSearchAttributes(ctx workflow.Context) error {
	now := workflow.Now(ctx)
	updates := []temporal.SearchAttributeUpdate{StageKey.ValueSet(r.c.Stage), FrameworkKey.ValueSet(r.c.Framework)}
	var next time.Time
	overdue := false
	for _, k := range r.c.RunningClocks() {
		if next.IsZero() || k.DueAt.Before(next) {
			next = k.DueAt
		}
		if k.Kind == review.KindDeadline && now.After(k.DueAt) {
			overdue = true
		}
	}
	if next.IsZero() {
		updates = append(updates, NextDeadlineKey.ValueUnset())
	} else {
		updates = append(updates, NextDeadlineKey.ValueSet(next))
	}
	updates = append(updates, OverdueKey.ValueSet(overdue))
	return workflow.UpsertTypedSearchAttributes(ctx, updates...)
}

// wake is a moment the case itself must act at.
type wake struct {
	id string
	at time.Time
	do func(workflow.Context) error
}

// dueWakes lists the case-level wakes due at now and the time of the next one.
func (r *reviewRun) dueWakes(now time.Time) (due []wake, next time.Time) {
	for _, w := range r.wakes() {
		if w.at.After(now) {
			if next.IsZero() || w.at.Before(next) {
				next = w.at
			}
			continue
		}
		due = append(due, w)
	}
	return due, next
}

// wakes lists what the case owes at a time: reminders and escalations of its own (unkeyed) clocks,
// the moment each running deadline passes (to mark the case overdue), the deferral's review date and
// the planned publication date.
func (r *reviewRun) wakes() []wake {
	var out []wake
	for _, k := range r.c.RunningClocks() {
		// Every deadline, the case's own and those its children follow, marks the case overdue
		// in its search attributes when it passes.
		if k.Kind == review.KindDeadline && (k.Key == "" || r.keyedOverdue) {
			id := "overdue/" + k.Clock + "/" + k.Key + "/" + k.Due.String()
			if !r.handled[id] {
				out = append(out, wake{id: id, at: k.DueAt.Add(time.Second), do: func(ctx workflow.Context) error {
					r.handled[id] = true
					return r.upsertSearchAttributes(ctx)
				}})
			}
		}
		if k.Key != "" {
			continue // its reminders are sent by a child workflow
		}
		for _, o := range pendingObligations(k.Deadline, progressOf(k), r.cal) {
			if r.handled[k.Clock+"/"+o.ID] {
				continue
			}
			out = append(out, wake{id: k.Clock + "/" + o.ID, at: o.At, do: func(ctx workflow.Context) error { return r.fulfil(ctx, o) }})
		}
	}
	// A dated notice to the business unit, sent once on its morning.
	notice := func(kind string, on calendar.Date, what string) {
		id := kind + "/" + on.String()
		if r.handled[id] {
			return
		}
		o := Obligation{ID: id, Kind: kind, On: on, At: morning(r.cal, on), Notify: review.RoleBusinessUnit}
		out = append(out, wake{id: id, at: o.At, do: func(ctx workflow.Context) error {
			r.handled[id] = true
			_, err := r.notify(ctx, o, what, on)
			return err
		}})
	}
	if n := len(r.c.Deferrals); n > 0 && r.c.Publication == nil {
		notice("deferral-review", r.c.Deferrals[n-1].ReviewDate, "review the deferral of publication")
	}
	if n := r.c.Notice; n != nil && !n.PlannedPublication.IsZero() && r.c.Publication == nil && len(r.c.Deferrals) == 0 {
		notice("planned-publication", n.PlannedPublication, "publish the report: the planned publication date has come")
	}
	slices.SortStableFunc(out, func(a, b wake) int { return a.at.Compare(b.at) })
	return out
}

// act performs every wake that is due and records what children reported sending.
// act records what children reported sending and performs every case-level wake that is due.
// Notifications are sent without holding the case: a mail outage must never hold up people's
// commands. A step that fails is logged and marked handled rather than failing the whole case,
// which would stop every clock of it.
func (r *reviewRun) act(ctx workflow.Context) error {
	for len(r.obligations) > 0 {
		o := r.obligations[0]
		r.obligations = r.obligations[1:]
		if err := r.underLock(ctx, func() error { return r.recordSent(ctx, o.Obligation) }); err != nil {
			if temporal.IsCanceledError(err) {
				return err
			}
			workflow.GetLogger(ctx).Error("reminder sent by a child not recorded", "clock", o.Obligation.Clock, "kind", o.Obligation.Kind, "error", err)
		}
	}
	now := workflow.Now(ctx)
	due, _ := r.dueWakes(now)
	// Of several reminders of one clock already due, send only the latest.
	latest := map[string]string{}
	for _, w := range due {
		if o, ok := r.obligationOf(w.id); ok && o.Kind == "reminder" {
			latest[o.Clock] = w.id
		}
	}
	for _, w := range due {
		if o, ok := r.obligationOf(w.id); ok && o.Kind == "reminder" && latest[o.Clock] != w.id {
			// Superseded by a later reminder of the same clock: never sent, even if that one fails.
			r.handled[w.id] = true
			continue
		}
		if err := w.do(ctx); err != nil {
			if temporal.IsCanceledError(err) {
				return err
			}
			workflow.GetLogger(ctx).Error("case wake failed; it will not be retried", "wake", w.id, "error", err)
			r.handled[w.id] = true
		}
	}
	return nil
}

// underLock runs f while no command is being decided, so it decides on the latest state.
func (r *reviewRun) underLock(ctx workflow.Context, f func() error) error {
	if err := workflow.Await(ctx, func() bool { return !r.busy }); err != nil {
		return err
	}
	r.busy = true
	defer func() { r.busy = false }()
	return f()
}

func (r *reviewRun) obligationOf(wakeID string) (Obligation, bool) {
	for _, k := range r.c.RunningClocks() {
		if k.Key != "" {
			continue
		}
		for _, o := range pendingObligations(k.Deadline, progressOf(k), r.cal) {
			if k.Clock+"/"+o.ID == wakeID {
				return o, true
			}
		}
	}
	return Obligation{}, false
}

// fulfil sends a case-level reminder or escalation and records it.
func (r *reviewRun) fulfil(ctx workflow.Context, o Obligation) error {
	k := r.clockState(o.Clock, o.Key)
	if k == nil {
		return nil // stopped meanwhile
	}
	what := k.Title + " is due"
	if o.Kind == "escalation" {
		what = k.Title + " is overdue"
	}
	res, err := r.notify(ctx, o, what, k.Due)
	if err != nil {
		return err
	}
	if res.Failure != "" {
		// Not delivered, for good (unknown recipient, refused content): the record must not claim
		// it was sent. The business unit sees the clock without its reminder on the case page.
		workflow.GetLogger(ctx).Error("reminder not delivered", "clock", o.Clock, "kind", o.Kind, "to", res.Recipient)
		r.handled[k.Clock+"/"+o.ID] = true
		return nil
	}
	return r.underLock(ctx, func() error { return r.recordSent(ctx, o) })
}

func (r *reviewRun) clockState(clock, key string) *review.ClockState {
	for _, k := range r.c.RunningClocks() {
		if k.Clock == clock && k.Key == key {
			return &k
		}
	}
	return nil
}

// recordSent records a reminder or escalation as an event of the case.
func (r *reviewRun) recordSent(ctx workflow.Context, o Obligation) error {
	if r.clockState(o.Clock, o.Key) == nil {
		return nil // the clock stopped after the child sent it: nothing to attach it to
	}
	var cmd review.Command = review.RecordReminder{By: review.By{Actor: System}, Clock: o.Clock, Key: o.Key}
	if o.Kind == "escalation" {
		cmd = review.RecordEscalation{By: review.By{Actor: System}, Clock: o.Clock, Key: o.Key, To: o.Notify}
	}
	_, err := r.execute(ctx, cmd, r.correlation)
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && (appErr.Type() == ErrTypeInvalid || appErr.Type() == ErrTypeRule) {
		workflow.GetLogger(ctx).Warn("reminder not recorded", "clock", o.Clock, "kind", o.Kind, "error", err)
		return nil
	}
	return err
}

// notify delivers a message about the case to the role an obligation names.
func (r *reviewRun) notify(ctx workflow.Context, o Obligation, what string, due calendar.Date) (activities.NotifyResult, error) {
	in := notifyInput(r.caseID, ReviewWorkflowID(r.caseID), o, what, due, r.cal, r.c)
	var a *activities.Activities
	var res activities.NotifyResult
	err := workflow.ExecuteActivity(withNotifyOptions(ctx), a.Notify, in).Get(ctx, &res)
	return res, err
}

// withNotifyOptions bounds a delivery's retries: a message hours late is better written off, and
// logged, than retried for ever.
func withNotifyOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    time.Minute,
		ScheduleToCloseTimeout: 6 * time.Hour,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 10 * time.Second, MaximumInterval: 10 * time.Minute},
	})
}

func ruleError(err error) error {
	kind, detail := ruleDetail(err)
	return temporal.NewNonRetryableApplicationError(detail.Message, kind, nil, detail)
}

func ruleDetail(err error) (string, RuleDetail) {
	var re *review.RuleError
	if !errors.As(err, &re) {
		return ErrTypeInvalid, RuleDetail{Rule: "command.invalid", Message: err.Error()}
	}
	kind := ErrTypeRule
	switch {
	case errors.Is(err, review.ErrForbidden):
		kind = ErrTypeForbidden
	case errors.Is(err, review.ErrInvalidCommand):
		kind = ErrTypeInvalid
	}
	return kind, RuleDetail{Rule: re.Rule, Field: re.Field, Message: re.Message}
}
