package review

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"casereview/calendar"
)

// Request statuses.
const (
	RequestOpen      = "open"
	RequestSubmitted = "submitted"
	RequestAccepted  = "accepted"
	RequestReturned  = "returned"
)

// StageVisit records when a case entered a stage.
type StageVisit struct {
	Stage   string    `json:"stage"`
	Entered time.Time `json:"entered"`
}

// ClockState is a clock started on the case and what became of it.
type ClockState struct {
	Deadline
	Stopped     bool            `json:"stopped,omitempty"`
	StoppedOn   calendar.Date   `json:"stoppedOn,omitzero"`
	RemindedOn  []calendar.Date `json:"remindedOn,omitempty"`
	EscalatedTo []string        `json:"escalatedTo,omitempty"`
}

// RapidReview is the rapid review's content.
type RapidReview struct {
	Facts             string        `json:"facts,omitempty"`
	AgenciesInvolved  []string      `json:"agenciesInvolved,omitempty"`
	InequalitiesNoted string        `json:"inequalitiesNoted,omitempty"`
	EpisodesSummary   string        `json:"episodesSummary,omitempty"`
	ImmediateActions  []string      `json:"immediateActions,omitempty"`
	ProposedOutcome   string        `json:"proposedOutcome,omitempty"`
	ProposedRationale string        `json:"proposedRationale,omitempty"`
	SignedOffBy       []string      `json:"signedOffBy,omitempty"`
	SubmittedOn       calendar.Date `json:"submittedOn,omitzero"`
}

// Decision is the partners' decision on a review.
type Decision struct {
	Outcome   string        `json:"outcome"`
	Rationale string        `json:"rationale"`
	DecidedOn calendar.Date `json:"decidedOn"`
	By        Actor         `json:"by"`
}

// Request is one request to one agency.
type Request struct {
	ID               string         `json:"id"`
	Agency           string         `json:"agency"`
	Kind             string         `json:"kind"`
	Due              calendar.Date  `json:"due"`
	Status           string         `json:"status"`
	PendingExtension *calendar.Date `json:"pendingExtension,omitempty"`
	Extensions       int            `json:"extensions,omitempty"`
	Submissions      int            `json:"submissions,omitempty"`
	LastSummary      string         `json:"lastSummary,omitempty"`
	ReturnReasons    []string       `json:"returnReasons,omitempty"`
}

// ProgressNote is one progress update on an action.
type ProgressNote struct {
	At     time.Time `json:"at"`
	Status string    `json:"status"`
	Note   string    `json:"note"`
}

// Action is an owned action and its progress.
type Action struct {
	ID               string         `json:"id"`
	RecommendationID string         `json:"recommendationId"`
	Text             string         `json:"text"`
	OwnerAgency      string         `json:"ownerAgency"`
	OwnerPerson      string         `json:"ownerPerson"`
	Due              calendar.Date  `json:"due"`
	MeasureOfSuccess string         `json:"measureOfSuccess"`
	EvidenceRequired string         `json:"evidenceRequired,omitempty"`
	PublicSummary    string         `json:"publicSummary,omitempty"`
	Status           string         `json:"status"`
	Progress         []ProgressNote `json:"progress,omitempty"`
	ImpactEvidence   []string       `json:"impactEvidence,omitempty"`
	VerifiedOn       calendar.Date  `json:"verifiedOn,omitzero"`
	VerifiedBy       string         `json:"verifiedBy,omitempty"`
	Reason           string         `json:"reason,omitempty"`
}

func (a Action) resolved() bool {
	switch a.Status {
	case ActionStatusVerified, ActionStatusClosed, ActionStatusNotImplemented:
		return true
	}
	return false
}

// Case is a case review as its events have made it. It is plain data and serialises to JSON.
type Case struct {
	ID                 string                       `json:"id"`
	Framework          string                       `json:"framework"`
	RulesVersion       string                       `json:"rulesVersion"`
	Stage              string                       `json:"stage"`
	History            []StageVisit                 `json:"history"`
	Revision           int                          `json:"revision"`
	Notification       Notification                 `json:"notification"`
	NotifiedAt         time.Time                    `json:"notifiedAt,omitzero"`
	NotificationSentOn calendar.Date                `json:"notificationSentOn,omitzero"`
	Clocks             []ClockState                 `json:"clocks,omitempty"`
	RapidReview        RapidReview                  `json:"rapidReview"`
	PanelResponse      string                       `json:"panelResponse,omitempty"`
	PanelComments      string                       `json:"panelComments,omitempty"`
	Decision           *Decision                    `json:"decision,omitempty"`
	DecisionReportedOn calendar.Date                `json:"decisionReportedOn,omitzero"`
	Reviewers          []ReviewerAppointed          `json:"reviewers,omitempty"`
	TermsOfReference   *TermsOfReferenceAgreed      `json:"termsOfReference,omitempty"`
	Requests           []Request                    `json:"requests,omitempty"`
	Entries            []ChronologyEntry            `json:"entries,omitempty"`
	Episodes           []KeyPracticeEpisodeRecorded `json:"episodes,omitempty"`
	Factors            []ContributoryFactorRecorded `json:"factors,omitempty"`
	Findings           []FindingRecorded            `json:"findings,omitempty"`
	Appraisals         []AppraisalRecorded          `json:"appraisals,omitempty"`
	FamilyInvolvement  *FamilyInvolvementRecorded   `json:"familyInvolvement,omitempty"`
	Recommendations    []RecommendationMade         `json:"recommendations,omitempty"`
	Actions            []Action                     `json:"actions,omitempty"`
	CompletedStages    []string                     `json:"completedStages,omitempty"`
	Draft              *DraftSubmittedForSignOff    `json:"draft,omitempty"`
	Approvals          []string                     `json:"approvals,omitempty"`
	Notice             *PrePublicationNoticeSent    `json:"notice,omitempty"`
	Publication        *ReportPublished             `json:"publication,omitempty"`
	Deferrals          []PublicationDeferred        `json:"deferrals,omitempty"`
	Closed             *CaseClosed                  `json:"closed,omitempty"`
	Accesses           []AccessRecorded             `json:"accesses,omitempty"`

	rules *RuleSet
}

// ErrHistory is matched by errors for an event history that cannot be folded.
var ErrHistory = errors.New("inconsistent case history")

// Replay folds a case's events, first to last, into the case. The rule set is the one named by the
// first event (CaseNotified), at the version recorded there.
func Replay(events []Event) (*Case, error) {
	c := &Case{}
	if err := c.Apply(events...); err != nil {
		return nil, err
	}
	return c, nil
}

// NewCase returns an empty case that will fold its events with the given rule set rather than the
// embedded one its notification names: for rule sets loaded from outside the binary.
func NewCase(rules *RuleSet) *Case { return &Case{rules: rules} }

// Rules returns the rule set the case is folded with.
func (c *Case) Rules() *RuleSet { return c.rules }

// Apply folds more events into the case.
func (c *Case) Apply(events ...Event) error {
	for _, e := range events {
		if err := c.apply(e); err != nil {
			return fmt.Errorf("event %d (%s): %w", c.Revision+1, e.EventType(), err)
		}
		c.Revision++
	}
	return nil
}

func historyErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrHistory, fmt.Sprintf(format, args...))
}

func (c *Case) apply(e Event) error {
	if c.Revision == 0 {
		n, ok := e.(CaseNotified)
		if !ok {
			return historyErr("a case must start with %s", EventCaseNotified)
		}
		rs := c.rules
		if rs == nil {
			version := n.RulesVersion
			if version == "" {
				version = rulesVersionInForce(n.Framework, n.AwarenessDate)
			}
			var err error
			if rs, err = RulesVersion(n.Framework, version); err != nil {
				return fmt.Errorf("%w: %w", ErrHistory, err)
			}
		} else if rs.Framework != n.Framework {
			return historyErr("the case was notified under %s, not %s", n.Framework, rs.Framework)
		}
		c.rules = rs
		c.ID, c.Framework, c.RulesVersion = n.CaseID, n.Framework, rs.Version
		c.Notification = n.Notification
		c.Notification.RulesVersion = rs.Version
		c.NotifiedAt = n.At
		c.enter(rs.InitialStage, n.At)
		return nil
	}
	if c.rules == nil {
		// A case decoded from JSON carries its framework and version but not the rule set itself.
		rs, err := RulesVersion(c.Framework, c.RulesVersion)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrHistory, err)
		}
		c.rules = rs
	}
	at := time.Time{}
	if h, ok := e.(headed); ok {
		at = h.header().At
	}
	switch e := e.(type) {
	case CaseNotified:
		return historyErr("the case is already notified")
	case NotificationSent:
		c.NotificationSentOn = e.SentOn
	case RapidReviewFactsRecorded:
		c.RapidReview.Facts, c.RapidReview.AgenciesInvolved, c.RapidReview.InequalitiesNoted = e.Facts, e.AgenciesInvolved, e.InequalitiesNoted
	case RapidReviewEpisodesSummarised:
		c.RapidReview.EpisodesSummary = e.Summary
	case ImmediateActionsRecorded:
		c.RapidReview.ImmediateActions = append(c.RapidReview.ImmediateActions, e.Actions...)
	case DecisionProposed:
		c.RapidReview.ProposedOutcome, c.RapidReview.ProposedRationale = e.Outcome, e.Rationale
	case RapidReviewSignedOff:
		if !slices.Contains(c.RapidReview.SignedOffBy, e.Partner) {
			c.RapidReview.SignedOffBy = append(c.RapidReview.SignedOffBy, e.Partner)
		}
	case RapidReviewSubmitted:
		c.RapidReview.SubmittedOn = e.SentOn
	case PanelResponded:
		c.PanelResponse, c.PanelComments = e.Response, e.Comments
	case ReviewDecided:
		c.Decision = &Decision{Outcome: e.Outcome, Rationale: e.Rationale, DecidedOn: e.DecidedOn, By: e.By}
	case DecisionReportedToPanel:
		c.DecisionReportedOn = e.SentOn
	case ReviewerAppointed:
		c.Reviewers = append(c.Reviewers, e)
	case TermsOfReferenceAgreed:
		c.TermsOfReference = &e
	case AgencyRequestSent:
		if c.request(e.RequestID) != nil {
			return historyErr("request %q sent twice", e.RequestID)
		}
		c.Requests = append(c.Requests, Request{ID: e.RequestID, Agency: e.Agency, Kind: e.Kind, Due: e.DueDate, Status: RequestOpen})
	case ExtensionRequested:
		r := c.request(e.RequestID)
		if r == nil {
			return historyErr("no request %q", e.RequestID)
		}
		d := e.NewDue
		r.PendingExtension = &d
	case ExtensionGranted:
		r := c.request(e.RequestID)
		if r == nil {
			return historyErr("no request %q", e.RequestID)
		}
		r.Due, r.PendingExtension = e.NewDue, nil
		r.Extensions++
	case ExtensionRefused:
		r := c.request(e.RequestID)
		if r == nil {
			return historyErr("no request %q", e.RequestID)
		}
		r.PendingExtension = nil
	case AgencySubmissionReceived:
		r := c.request(e.RequestID)
		if r == nil {
			return historyErr("no request %q", e.RequestID)
		}
		r.Status, r.LastSummary = RequestSubmitted, e.Summary
		r.Submissions++
	case AgencySubmissionAccepted:
		r := c.request(e.RequestID)
		if r == nil {
			return historyErr("no request %q", e.RequestID)
		}
		r.Status = RequestAccepted
	case AgencySubmissionReturned:
		r := c.request(e.RequestID)
		if r == nil {
			return historyErr("no request %q", e.RequestID)
		}
		r.Status = RequestReturned
		r.ReturnReasons = append(r.ReturnReasons, e.Reason)
	case ChronologyEntryRecorded:
		if c.entry(e.EntryID) != nil {
			return historyErr("chronology entry %q recorded twice", e.EntryID)
		}
		c.Entries = append(c.Entries, e.ChronologyEntry)
	case MissedOpportunityFlagged:
		en := c.entry(e.EntryID)
		if en == nil {
			return historyErr("no chronology entry %q", e.EntryID)
		}
		en.MissedOpportunity, en.Rationale = true, e.Rationale
	case KeyPracticeEpisodeRecorded:
		c.Episodes = append(c.Episodes, e)
	case ContributoryFactorRecorded:
		c.Factors = append(c.Factors, e)
	case FindingRecorded:
		c.Findings = append(c.Findings, e)
	case AppraisalRecorded:
		c.Appraisals = append(c.Appraisals, e)
	case FamilyInvolvementRecorded:
		c.FamilyInvolvement = &e
	case RecommendationMade:
		c.Recommendations = append(c.Recommendations, e)
	case ActionCreated:
		if c.action(e.ActionID) != nil {
			return historyErr("action %q created twice", e.ActionID)
		}
		c.Actions = append(c.Actions, Action{ID: e.ActionID, RecommendationID: e.RecommendationID, Text: e.Text,
			OwnerAgency: e.OwnerAgency, OwnerPerson: e.OwnerPerson, Due: e.DueDate, MeasureOfSuccess: e.MeasureOfSuccess,
			EvidenceRequired: e.EvidenceRequired, PublicSummary: e.PublicSummary, Status: ActionNotStarted})
	case ActionProgressUpdated:
		a := c.action(e.ActionID)
		if a == nil {
			return historyErr("no action %q", e.ActionID)
		}
		a.Status = e.Status
		a.Progress = append(a.Progress, ProgressNote{At: at, Status: e.Status, Note: e.Note})
	case ActionImpactEvidenced:
		a := c.action(e.ActionID)
		if a == nil {
			return historyErr("no action %q", e.ActionID)
		}
		a.ImpactEvidence = append(a.ImpactEvidence, e.Evidence)
	case ActionVerified:
		a := c.action(e.ActionID)
		if a == nil {
			return historyErr("no action %q", e.ActionID)
		}
		a.Status, a.VerifiedOn, a.VerifiedBy = ActionStatusVerified, e.VerifiedOn, e.By.UserID
	case ActionClosed:
		a := c.action(e.ActionID)
		if a == nil {
			return historyErr("no action %q", e.ActionID)
		}
		a.Status, a.Reason = ActionStatusClosed, e.Reason
	case ActionNotImplemented:
		a := c.action(e.ActionID)
		if a == nil {
			return historyErr("no action %q", e.ActionID)
		}
		a.Status, a.Reason = ActionStatusNotImplemented, e.Reason
	case StageCompleted:
		c.CompletedStages = append(c.CompletedStages, e.Stage)
	case DraftSubmittedForSignOff:
		c.Draft = &e
		c.Approvals = nil // a new draft needs fresh approvals
	case ReportApproved:
		if !slices.Contains(c.Approvals, e.Partner) {
			c.Approvals = append(c.Approvals, e.Partner)
		}
	case PrePublicationNoticeSent:
		c.Notice = &e
	case ReportPublished:
		c.Publication = &e
	case PublicationDeferred:
		c.Deferrals = append(c.Deferrals, e)
	case CaseClosed:
		c.Closed = &e
	case ReminderSent:
		if k := c.clock(e.Clock, e.Key); k != nil {
			k.RemindedOn = append(k.RemindedOn, londonDate(e.At))
		}
	case EscalationSent:
		if k := c.clock(e.Clock, e.Key); k != nil {
			k.EscalatedTo = append(k.EscalatedTo, e.To)
		}
	case AccessRecorded:
		c.Accesses = append(c.Accesses, e)
	case ClockStarted:
		c.Clocks = append(c.Clocks, ClockState{Deadline: e.Deadline})
	case ClockExtended:
		k := c.clock(e.Clock, e.Key)
		if k == nil {
			return historyErr("no running clock %s %q to extend", e.Clock, e.Key)
		}
		k.Deadline = e.Deadline
	case ClockStopped:
		k := c.clock(e.Clock, e.Key)
		if k == nil {
			return historyErr("no running clock %s %q to stop", e.Clock, e.Key)
		}
		k.Stopped, k.StoppedOn = true, e.StoppedOn
	default:
		return historyErr("event type %s is not handled", e.EventType())
	}
	if to := c.nextStage(e); to != "" {
		c.enter(to, at)
	}
	return nil
}

func (c *Case) enter(stage string, at time.Time) {
	c.Stage = stage
	c.History = append(c.History, StageVisit{Stage: stage, Entered: at})
}

// nextStage returns the stage an event moves the case to, or "" when it stays.
func (c *Case) nextStage(e Event) string {
	for _, t := range c.rules.Transitions {
		if t.From != c.Stage || t.On != e.EventType() {
			continue
		}
		if t.Outcome != "" && t.Outcome != outcomeOf(e) {
			continue
		}
		if sc, ok := e.(StageCompleted); ok && sc.Stage != c.Stage {
			continue
		}
		if !c.holds(t.If, t.Unless) {
			continue
		}
		return t.To
	}
	return ""
}

func (c *Case) holds(ifCond, unless string) bool {
	if ifCond != "" && !conditions[ifCond](c) {
		return false
	}
	if unless != "" && conditions[unless](c) {
		return false
	}
	return true
}

func (c *Case) request(id string) *Request {
	for i := range c.Requests {
		if c.Requests[i].ID == id {
			return &c.Requests[i]
		}
	}
	return nil
}

func (c *Case) entry(id string) *ChronologyEntry {
	for i := range c.Entries {
		if c.Entries[i].EntryID == id {
			return &c.Entries[i]
		}
	}
	return nil
}

func (c *Case) action(id string) *Action {
	for i := range c.Actions {
		if c.Actions[i].ID == id {
			return &c.Actions[i]
		}
	}
	return nil
}

// clock returns the latest running instance of a clock with the given key.
func (c *Case) clock(id, key string) *ClockState {
	for i := len(c.Clocks) - 1; i >= 0; i-- {
		k := &c.Clocks[i]
		if k.Clock == id && k.Key == key && !k.Stopped {
			return k
		}
	}
	return nil
}

// RunningClocks returns the clocks not yet stopped, in the order they started.
func (c *Case) RunningClocks() []ClockState {
	var out []ClockState
	for _, k := range c.Clocks {
		if !k.Stopped {
			out = append(out, k)
		}
	}
	return out
}

// missingPartners returns the required partners not in have, in the rule set's order.
func (c *Case) missingPartners(have []string) []string {
	var missing []string
	for _, p := range c.rules.Parameters.RequiredPartners {
		if !slices.Contains(have, p) {
			missing = append(missing, p)
		}
	}
	return missing
}

// QuestionStatus is how far one of the four questions is answered.
type QuestionStatus struct {
	Question string `json:"question"`
	Complete bool   `json:"complete"`
	Items    int    `json:"items"`
	Missing  string `json:"missing,omitempty"`
}

// FourQuestionsReport is the completeness of the four questions every review must answer.
type FourQuestionsReport struct {
	WhatHappened           QuestionStatus `json:"whatHappened"`
	Why                    QuestionStatus `json:"why"`
	WhatShouldHaveHappened QuestionStatus `json:"whatShouldHaveHappened"`
	Prevention             QuestionStatus `json:"prevention"`
}

// Questions returns the four in order.
func (r FourQuestionsReport) Questions() []QuestionStatus {
	return []QuestionStatus{r.WhatHappened, r.Why, r.WhatShouldHaveHappened, r.Prevention}
}

// Complete reports whether all four questions have content.
func (r FourQuestionsReport) Complete() bool {
	for _, q := range r.Questions() {
		if !q.Complete {
			return false
		}
	}
	return true
}

// FourQuestions reports how far the case answers what happened, why, what should have happened,
// and what will prevent it happening again.
func (c *Case) FourQuestions() FourQuestionsReport {
	var r FourQuestionsReport
	r.WhatHappened = QuestionStatus{Question: "what happened", Items: len(c.Entries), Complete: len(c.Entries) > 0}
	if !r.WhatHappened.Complete {
		r.WhatHappened.Missing = "no chronology entries"
	}

	factorIDs := map[string]bool{}
	for _, f := range c.Factors {
		factorIDs[f.FactorID] = true
	}
	explained := 0
	for _, f := range c.Findings {
		for _, id := range f.FactorIDs {
			if factorIDs[id] {
				explained++
				break
			}
		}
	}
	r.Why = QuestionStatus{Question: "why it happened", Items: explained, Complete: explained > 0}
	switch {
	case len(c.Findings) == 0:
		r.Why.Missing = "no findings"
	case explained == 0:
		r.Why.Missing = "no finding cites a recorded contributory factor"
	}

	appraised := 0
	for _, a := range c.Appraisals {
		if a.Text != "" {
			appraised++
		}
	}
	r.WhatShouldHaveHappened = QuestionStatus{Question: "what should have happened", Items: appraised, Complete: appraised > 0}
	if appraised == 0 {
		r.WhatShouldHaveHappened.Missing = "no appraisal against practice standards"
	}

	r.Prevention = QuestionStatus{Question: "what will prevent it happening again", Items: len(c.Recommendations)}
	var unowned []string
	for _, rec := range c.Recommendations {
		owned := false
		for _, a := range c.Actions {
			if a.RecommendationID == rec.RecommendationID && a.OwnerAgency != "" && a.OwnerPerson != "" {
				owned = true
				break
			}
		}
		if !owned {
			unowned = append(unowned, rec.RecommendationID)
		}
	}
	switch {
	case len(c.Recommendations) == 0:
		r.Prevention.Missing = "no recommendations"
	case len(unowned) > 0:
		r.Prevention.Missing = fmt.Sprintf("recommendations without an owned action: %v", unowned)
	default:
		r.Prevention.Complete = true
	}
	return r
}
