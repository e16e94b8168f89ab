package workflows

import (
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"casereview/activities"
	"casereview/calendar"
	"casereview/review"
)

// Signals the Review workflow sends its children.
const (
	DeadlineSignal = "deadline" // the deadline moved (an extension was granted)
	StopSignal     = "stop"     // the clock stopped (submitted, verified, closed)
)

// ChildWorkflowID names the child following one keyed clock of a case, e.g. case:CR-1/request:R1.
func ChildWorkflowID(caseID, kind, key string) string {
	return ReviewWorkflowID(caseID) + "/" + kind + ":" + key
}

// FollowInput starts a child that follows one deadline of a case.
type FollowInput struct {
	CaseID   string          `json:"caseId"`
	Kind     string          `json:"kind"`   // "request" | "action"
	Agency   string          `json:"agency"` // the agency that owes the work
	Region   string          `json:"region"` // calendar region of the case's rule set
	Deadline review.Deadline `json:"deadline"`
	Progress Progress        `json:"progress"`
	// Forbidden are the identifiers of the children and family, which no message may contain.
	Forbidden []string `json:"forbidden,omitempty"`
}

// ObligationSent tells the Review workflow that a child sent a reminder or escalation.
type ObligationSent struct {
	Obligation Obligation `json:"obligation"`
}

// AgencyRequest follows one request to an agency for a chronology or report: reminders before the
// due date and on the day, escalation once it is overdue, a new due date when an extension is
// granted; it ends when the agency submits (the parent stops the clock).
func AgencyRequest(ctx workflow.Context, in FollowInput) error { return follow(ctx, in) }

// ActionItem follows one action of the action plan: reminders before it is due, escalation after,
// until it is verified, closed or marked not implemented.
func ActionItem(ctx workflow.Context, in FollowInput) error { return follow(ctx, in) }

func follow(ctx workflow.Context, in FollowInput) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 10 * time.Minute},
	})
	cal, err := calendar.ForRegion(in.Region)
	if err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalid, nil)
	}
	stopped := false
	if err := workflow.SetQueryHandler(ctx, StatusQuery, func() (FollowInput, error) {
		out := in
		out.Forbidden = nil // the children's identifiers are for checking messages, not for answering queries
		return out, nil
	}); err != nil {
		return err
	}
	deadlines := workflow.GetSignalChannel(ctx, DeadlineSignal)
	stops := workflow.GetSignalChannel(ctx, StopSignal)
	for !stopped {
		due, next := dueNow(pendingObligations(in.Deadline, in.Progress, cal), workflow.Now(ctx))
		for _, o := range due {
			// The agency may have submitted while earlier messages went out.
			var on calendar.Date
			if stops.ReceiveAsync(&on) {
				return nil
			}
			what := in.Deadline.Title + " is due"
			if o.Kind == "escalation" {
				what = in.Deadline.Title + " is overdue"
			}
			n := notifyInput(in.CaseID, workflow.GetInfo(ctx).WorkflowExecution.ID, o, what, in.Deadline.Due, cal, nil)
			n.Agency = in.Agency
			n.Forbidden = in.Forbidden
			var a *activities.Activities
			var res activities.NotifyResult
			err := workflow.ExecuteActivity(withNotifyOptions(ctx), a.Notify, n).Get(ctx, &res)
			if o.Kind == "reminder" {
				in.Progress.RemindedOn = append(in.Progress.RemindedOn, calendar.DateOf(workflow.Now(ctx).In(cal.DeadlineAt(o.On).Location())))
			} else {
				in.Progress.Escalated++
			}
			if err != nil || res.Failure != "" {
				// Written off after its retries, or refused for good: logged, never recorded as sent,
				// and never the end of this follower, which still owes the later messages.
				if temporal.IsCanceledError(err) {
					return err
				}
				workflow.GetLogger(ctx).Error("message not delivered", "kind", o.Kind, "error", err)
				continue
			}
			// The parent is the only writer of the case's stream: it records what was sent.
			err = workflow.SignalExternalWorkflow(ctx, ReviewWorkflowID(in.CaseID), "", ObligationSignal, ObligationSent{Obligation: o}).Get(ctx, nil)
			if err != nil {
				workflow.GetLogger(ctx).Warn("parent not told of obligation sent", "error", err)
			}
		}
		if len(due) > 0 {
			continue
		}
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(deadlines, func(c workflow.ReceiveChannel, _ bool) {
			c.Receive(ctx, &in.Deadline)
			// A new due date brings its own escalation dates: what was escalated before does not count.
			in.Progress.Escalated = 0
		})
		sel.AddReceive(stops, func(c workflow.ReceiveChannel, _ bool) {
			var on calendar.Date
			c.Receive(ctx, &on)
			stopped = true
		})
		timerCtx, cancel := workflow.WithCancel(ctx)
		if !next.IsZero() {
			sel.AddFuture(workflow.NewTimer(timerCtx, next.Sub(workflow.Now(ctx))), func(workflow.Future) {})
		}
		sel.Select(ctx)
		cancel()
		if !stopped && workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			for deadlines.ReceiveAsync(&in.Deadline) {
				in.Progress.Escalated = 0
			}
			if stops.ReceiveAsync(nil) {
				return nil
			}
			if in.Kind == "action" {
				return workflow.NewContinueAsNewError(ctx, ActionItem, in)
			}
			return workflow.NewContinueAsNewError(ctx, AgencyRequest, in)
		}
	}
	return nil
}

// startChild starts the child workflow that follows a keyed clock.
func (r *reviewRun) startChild(ctx workflow.Context, dl review.Deadline) error {
	kind, agency := r.keyOwner(dl.Key)
	if kind == "" {
		return nil // a keyed clock the case does not know how to follow: the case-level loop ignores it too
	}
	opts := workflow.ChildWorkflowOptions{
		WorkflowID: ChildWorkflowID(r.caseID, kind, dl.Key),
		// Children outlive a parent run that continues as new: they signal whichever run is current.
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}
	in := FollowInput{CaseID: r.caseID, Kind: kind, Agency: agency, Region: r.rules.CalendarRegion, Deadline: dl, Forbidden: forbidden(r.c)}
	child := AgencyRequest
	if kind == "action" {
		child = ActionItem
	}
	f := workflow.ExecuteChildWorkflow(workflow.WithChildOptions(ctx, opts), child, in)
	err := f.GetChildWorkflowExecution().Get(ctx, nil)
	if temporal.IsWorkflowExecutionAlreadyStartedError(err) {
		return nil // a run before continue-as-new started it: it is following the clock already
	}
	if err != nil {
		return fmt.Errorf("start %s: %w", opts.WorkflowID, err)
	}
	return nil
}

func (r *reviewRun) keyOwner(key string) (kind, agency string) {
	for _, q := range r.c.Requests {
		if q.ID == key {
			return "request", q.Agency
		}
	}
	for _, a := range r.c.Actions {
		if a.ID == key {
			return "action", a.OwnerAgency
		}
	}
	return "", ""
}

func (r *reviewRun) signalChild(ctx workflow.Context, key, signal string, arg any) {
	kind, _ := r.keyOwner(key)
	if kind == "" {
		return
	}
	err := workflow.SignalExternalWorkflow(ctx, ChildWorkflowID(r.caseID, kind, key), "", signal, arg).Get(ctx, nil)
	if err != nil {
		// A child that already ended needs no signal; anything else is logged, not fatal: the
		// event is recorded, and the child's reminders are a courtesy on top of the record.
		workflow.GetLogger(ctx).Warn("signal child", "child", ChildWorkflowID(r.caseID, kind, key), "signal", signal, "error", err)
	}
}
