package activities

import (
	"context"

	"casereview/activities/report"
)

// RedactionInput is a text to publish and the identifiers that must not appear in it.
type RedactionInput struct {
	Text        string              `json:"text"`
	Identifiers []report.Identifier `json:"identifiers"`
}

// RedactionResult lists every offending passage; none means the text may be published.
type RedactionResult struct {
	Offences []report.Offence `json:"offences,omitempty"`
}

// CheckRedaction finds every identifier of the children and family in a text meant for the public.
func (a *Activities) CheckRedaction(ctx context.Context, in RedactionInput) (RedactionResult, error) {
	return RedactionResult{Offences: report.CheckRedaction(in.Text, in.Identifiers)}, nil
}
