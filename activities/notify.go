package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"go.temporal.io/sdk/temporal"

	"casereview/activities/notify"
)

// Deliverer sends a message to every channel of its recipient.
type Deliverer interface {
	Deliver(ctx context.Context, msg notify.Message, forbidden []string) ([]notify.Receipt, error)
}

// NotifyInput is a reminder or escalation to deliver. It names the case by reference only.
type NotifyInput struct {
	Key       string    `json:"key"`  // idempotency key, stable across retries and runs
	Kind      string    `json:"kind"` // reminder | escalation | deferral-review | planned-publication
	CaseID    string    `json:"caseId"`
	Role      string    `json:"role"`             // the role to notify
	Agency    string    `json:"agency,omitempty"` // for agency-lead: which agency
	Subject   string    `json:"subject"`
	Body      string    `json:"body"`
	Due       time.Time `json:"due"`
	Forbidden []string  `json:"forbidden,omitempty"`
}

// NotifyResult reports the delivery.
type NotifyResult struct {
	Recipient string           `json:"recipient"`
	Receipts  []notify.Receipt `json:"receipts,omitempty"`
	// Failure is set when delivery failed for good; the obligation is then handled, not retried forever.
	Failure string `json:"failure,omitempty"`
}

// Notify delivers a reminder or escalation to the contacts of the role (or, for an agency lead, of
// the agency). Without a configured notifier (dev mode) it writes the message to the log, so a
// person can watch reminders happen.
func (a *Activities) Notify(ctx context.Context, in NotifyInput) (NotifyResult, error) {
	recipient := in.Role
	if in.Role == "agency-lead" && in.Agency != "" {
		recipient = in.Agency
	}
	kind := notify.KindReminder
	if in.Kind == "escalation" {
		kind = notify.KindEscalation
	}
	msg := notify.Message{
		IdempotencyKey: in.Key,
		Kind:           kind,
		CaseID:         in.CaseID,
		Recipient:      recipient,
		Subject:        in.Subject,
		Body:           in.Body,
		Due:            in.Due,
		Link:           a.BaseURL + "/cases/" + in.CaseID,
	}
	if a.Notifier == nil {
		if err := msg.Check(in.Forbidden); err != nil {
			return NotifyResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "ForbiddenContent", err)
		}
		a.logger().Info().Str("case", in.CaseID).Str("kind", in.Kind).Str("to", recipient).
			Time("due", in.Due).Str("subject", in.Subject).Msg("notification (no notifier configured: logged only)")
		return NotifyResult{Recipient: recipient}, nil
	}
	receipts, err := a.Notifier.Deliver(ctx, msg, in.Forbidden)
	switch {
	case err == nil:
		return NotifyResult{Recipient: recipient, Receipts: receipts}, nil
	case errors.Is(err, notify.ErrPermanent), errors.Is(err, notify.ErrUnknownRecipient), errors.Is(err, notify.ErrForbiddenContent), errors.Is(err, notify.ErrInvalidMessage):
		a.logger().Error().Err(err).Str("case", in.CaseID).Str("kind", in.Kind).Str("to", recipient).Msg("notification failed for good")
		return NotifyResult{Recipient: recipient, Receipts: receipts, Failure: err.Error()}, nil
	default:
		return NotifyResult{}, fmt.Errorf("notify %s: %w", recipient, err)
	}
}

func (a *Activities) logger() *zerolog.Logger {
	if a.Log == nil {
		nop := zerolog.Nop()
		return &nop
	}
	return a.Log
}
