package workflows

import (
	"fmt"
	"slices"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"casereview/activities"
	"casereview/activities/report"
	"casereview/calendar"
	"casereview/review"
)

// notifyInput builds a reminder or escalation that names the case by reference only.
func notifyInput(caseID, workflowID string, o Obligation, what string, due calendar.Date, cal review.Calendar, c *review.Case) activities.NotifyInput {
	kind := o.Kind
	subject := fmt.Sprintf("%s %s: %s by %s", caseID, kind, what, due)
	if kind == "escalation" {
		subject = fmt.Sprintf("%s escalation: %s (was due %s)", caseID, what, due)
	}
	body := fmt.Sprintf("Case %s: %s.\nDue: %s.\nThis message is sent to the %s. Open the case for details.",
		caseID, what, due, strings.ReplaceAll(o.Notify, "-", " "))
	in := activities.NotifyInput{
		Key:     workflowID + "/" + o.Clock + "/" + o.Key + "/" + o.ID,
		Kind:    kind,
		CaseID:  caseID,
		Role:    o.Notify,
		Subject: subject,
		Body:    body,
		Due:     cal.DeadlineAt(due),
	}
	if c != nil {
		in.Forbidden = forbidden(c)
	}
	return in
}

// forbidden lists the children's and family's identifiers, which no message may contain.
func forbidden(c *review.Case) []string {
	var out []string
	for _, id := range report.Identifiers(c) {
		out = append(out, id.Value)
	}
	return out
}

// checkRedaction refuses a public text that contains any identifier of the children or family,
// listing every offending passage.
func (r *reviewRun) checkRedaction(ctx workflow.Context, text string) error {
	var a *activities.Activities
	var res activities.RedactionResult
	in := activities.RedactionInput{Text: text, Identifiers: report.Identifiers(r.c)}
	if err := workflow.ExecuteActivity(ctx, a.CheckRedaction, in).Get(ctx, &res); err != nil {
		return err
	}
	if len(res.Offences) == 0 {
		return nil
	}
	msg := fmt.Sprintf("the public text contains %d identifier(s) of the children or family; redact each passage listed and publish again", len(res.Offences))
	return temporal.NewNonRetryableApplicationError(msg, ErrTypeRedaction, nil, RuleDetail{Rule: "publication.redaction", Field: "publicText", Message: msg}, res.Offences)
}

// publicText gathers the fields of a command that the public will read — the report, the
// register entry, the public action plan's summary, measure of success and evidence of impact —
// so that each is checked for the children's and family's identifiers before it is recorded.
func publicText(cmd review.Command) string {
	var parts []string
	switch c := cmd.(type) {
	case review.PublishReport:
		parts = []string{c.PublicText, c.Justification, c.Location}
	case review.CreateAction:
		parts = []string{c.Action.PublicSummary, c.Action.MeasureOfSuccess}
	case review.RecordImpactEvidence:
		parts = []string{c.Evidence}
	}
	return strings.Join(slices.DeleteFunc(parts, func(p string) bool { return p == "" }), "\n\n")
}
