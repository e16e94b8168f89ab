package workflows

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"casereview/activities"
)

// SearchAttributes are the custom search attributes casereview registers on its namespace.
var SearchAttributes = map[string]enumspb.IndexedValueType{
	StageKey.GetName():        enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	FrameworkKey.GetName():    enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	NextDeadlineKey.GetName(): enumspb.INDEXED_VALUE_TYPE_DATETIME,
	OverdueKey.GetName():      enumspb.INDEXED_VALUE_TYPE_BOOL,
}

// Cases starts, commands and queries case workflows through a Temporal client.
type Cases struct {
	Client client.Client
}

// StartCase starts the Review workflow of a new case; a second start for the same case ID fails.
func (c Cases) StartCase(ctx context.Context, in ReviewInput) error {
	_, err := c.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       ReviewWorkflowID(in.CaseID),
		TaskQueue:                TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		// Without this the SDK hands back the running case as if it had just been started.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			StageKey.ValueSet("notified"),
			FrameworkKey.ValueSet(in.Notify.Framework),
		),
	}, Review, in)
	if err != nil {
		return fmt.Errorf("start %s: %w", ReviewWorkflowID(in.CaseID), err)
	}
	return nil
}

// CommandError is a command the case refused, with the kind (ErrTypeForbidden, ErrTypeInvalid,
// ErrTypeRule, ErrTypeRedaction) and the rule broken.
type CommandError struct {
	Kind   string
	Detail RuleDetail
	// Offences lists the passages a redaction check found, for ErrTypeRedaction.
	Offences []map[string]any
}

func (e *CommandError) Error() string { return e.Kind + ": " + e.Detail.Message }

// Command sends a lifecycle command to a case as an Update and waits for its result. A refusal is
// a *CommandError.
func (c Cases) Command(ctx context.Context, caseID string, req CommandRequest) (CommandResult, error) {
	h, err := c.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   ReviewWorkflowID(caseID),
		UpdateID:     req.IdempotencyKey,
		UpdateName:   CommandUpdate,
		Args:         []any{req},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var res CommandResult
	if err == nil {
		err = h.Get(ctx, &res)
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == activities.ErrConflict {
		return res, &CommandError{Kind: ErrTypeConflict, Detail: RuleDetail{Rule: "case.changed", Message: "the case changed while the command was decided; reload and try again"}}
	}
	if errors.As(err, &appErr) && isRefusal(appErr.Type()) {
		ce := &CommandError{Kind: appErr.Type(), Detail: RuleDetail{Message: appErr.Message()}}
		if appErr.HasDetails() {
			var offences []map[string]any
			if appErr.Details(&ce.Detail, &offences) != nil {
				appErr.Details(&ce.Detail)
			}
			ce.Offences = offences
		}
		return res, ce
	}
	if err != nil {
		return res, fmt.Errorf("command %s on %s: %w", req.Name, ReviewWorkflowID(caseID), err)
	}
	return res, nil
}

// Status queries a running case's process state.
func (c Cases) Status(ctx context.Context, caseID string) (ReviewStatus, error) {
	var st ReviewStatus
	v, err := c.Client.QueryWorkflow(ctx, ReviewWorkflowID(caseID), "", StatusQuery)
	if err != nil {
		return st, fmt.Errorf("query %s: %w", ReviewWorkflowID(caseID), err)
	}
	if err := v.Get(&st); err != nil {
		return st, fmt.Errorf("decode status of %s: %w", ReviewWorkflowID(caseID), err)
	}
	return st, nil
}

// isRefusal reports whether an error type is the case refusing a command, as opposed to a fault.
func isRefusal(kind string) bool {
	switch kind {
	case ErrTypeForbidden, ErrTypeInvalid, ErrTypeRule, ErrTypeRedaction:
		return true
	}
	return false
}
