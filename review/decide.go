package review

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"casereview/calendar"
)

// Sentinel kinds of RuleError, for errors.Is.
var (
	// ErrForbidden means the actor's role may not do this.
	ErrForbidden = errors.New("forbidden")
	// ErrInvalidCommand means a field of the command is missing or malformed.
	ErrInvalidCommand = errors.New("invalid command")
	// ErrRuleBroken means the case's state or a review rule does not allow the command now.
	ErrRuleBroken = errors.New("review rule broken")
)

// RuleError explains why a command was refused. Its messages never carry personal data.
type RuleError struct {
	Kind    error  // ErrForbidden, ErrInvalidCommand or ErrRuleBroken
	Rule    string // stable ID, e.g. "rapid-review.signoffs-incomplete"
	Field   string // the command field at fault, if any
	Message string
}

func (e *RuleError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s (%s): %s", e.Rule, e.Field, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Rule, e.Message)
}

// Unwrap returns the error's kind, so that errors.Is(err, ErrForbidden) and the like work.
func (e *RuleError) Unwrap() error { return e.Kind }

func forbidden(rule, field, format string, args ...any) error {
	return &RuleError{Kind: ErrForbidden, Rule: rule, Field: field, Message: fmt.Sprintf(format, args...)}
}

func invalid(rule, field, format string, args ...any) error {
	return &RuleError{Kind: ErrInvalidCommand, Rule: rule, Field: field, Message: fmt.Sprintf(format, args...)}
}

func broken(rule, field, format string, args ...any) error {
	return &RuleError{Kind: ErrRuleBroken, Rule: rule, Field: field, Message: fmt.Sprintf(format, args...)}
}

func required(rule, field, value string) error {
	if strings.TrimSpace(value) == "" {
		return invalid(rule, field, "%s is required", field)
	}
	return nil
}

// rapidReviewCommands are the commands a care leaver's death never needs.
var rapidReviewCommands = []string{"RecordRapidReviewFacts", "SummariseKeyPracticeEpisodes", "RecordImmediateActions",
	"ProposeDecision", "SignOffRapidReview", "SubmitRapidReview"}

// Decide checks a command against the rule set and the case and returns the events to record,
// clock events included. It changes nothing: apply the events to change the case. On a new case
// (the zero Case) only NotifyIncident is accepted.
func (c *Case) Decide(cmd Command, now time.Time, rules *RuleSet, cal Calendar) ([]Event, error) {
	if rules == nil || cal == nil || cmd == nil {
		return nil, invalid("decide.setup", "", "a command, a rule set and a calendar are required")
	}
	actor := cmd.actor()
	if actor.UserID == "" || actor.Role == "" {
		return nil, invalid("actor.missing", "actor", "the actor's user ID and role are required")
	}
	name := cmd.CommandName()
	stage := c.Stage
	if c.Revision == 0 {
		if _, ok := cmd.(NotifyIncident); !ok {
			return nil, broken("case.not-notified", "", "the case does not exist yet: notify the incident first")
		}
		stage = rules.InitialStage
	} else {
		if rules.Framework != c.Framework {
			return nil, invalid("rules.framework-mismatch", "", "the case runs under %s, not %s", c.Framework, rules.Framework)
		}
		if _, ok := cmd.(NotifyIncident); ok {
			return nil, broken("case.already-notified", "", "the case is already notified")
		}
		if c.Closed != nil {
			if _, ok := cmd.(RecordAccess); !ok {
				return nil, broken("case.closed", "", "the case is closed: only access can be recorded")
			}
		}
		if c.Notification.CareLeaverDeath() && slices.Contains(rapidReviewCommands, name) {
			return nil, broken("rapid-review.not-required", "", "a care leaver's death is notified but needs no rapid review")
		}
	}
	// Judge the case under the rules given, which may be newer than those it was folded with.
	judged := *c
	judged.rules = rules
	c = &judged
	if err := rules.permit(name, actor.Role, stage); err != nil {
		return nil, err
	}
	d := decider{c: c, rules: rules, cal: cal, now: now, today: londonDate(now), h: Header{At: now.UTC(), By: actor}}
	events, err := d.decide(cmd)
	if err != nil {
		return nil, err
	}
	return d.withClocks(events)
}

// permit checks the rule set's permission table: deny by default.
func (rs *RuleSet) permit(command, role, stage string) error {
	for _, p := range rs.Permissions {
		if p.Command != command {
			continue
		}
		if !slices.Contains(p.Roles, role) {
			return forbidden("permission.role", "actor.role", "a %s may not %s under %s (allowed: %s)", role, command, rs.Framework, strings.Join(p.Roles, ", "))
		}
		if !slices.Contains(p.Stages, "*") && !slices.Contains(p.Stages, stage) {
			return broken("stage.command-not-allowed", "", "%s is not allowed in stage %s (allowed in: %s)", command, stage, strings.Join(p.Stages, ", "))
		}
		return nil
	}
	return forbidden("permission.unknown-command", "", "%s is not part of the %s process", command, rs.Framework)
}

type decider struct {
	c     *Case
	rules *RuleSet
	cal   Calendar
	now   time.Time
	today calendar.Date
	h     Header
}

func (d *decider) partner(rule string) (string, error) {
	p := d.h.By.Agency
	if d.h.By.Role != RolePartner || !slices.Contains(d.rules.Parameters.RequiredPartners, p) {
		return "", forbidden(rule, "actor.agency", "only a required safeguarding partner (%s) may sign; actor's agency is %q",
			strings.Join(d.rules.Parameters.RequiredPartners, ", "), p)
	}
	return p, nil
}

// ownAgency refuses an agency lead acting for another agency.
func (d *decider) ownAgency(rule, agency string) error {
	if d.h.By.Role == RoleAgencyLead && d.h.By.Agency != agency {
		return forbidden(rule, "actor.agency", "an agency lead may act only for their own agency")
	}
	return nil
}

func (d *decider) requestFor(id string, statuses ...string) (*Request, error) {
	r := d.c.request(id)
	if r == nil {
		return nil, invalid("request.unknown", "requestId", "no request %q on this case", id)
	}
	if err := d.ownAgency("request.other-agency", r.Agency); err != nil {
		return nil, err
	}
	if len(statuses) > 0 && !slices.Contains(statuses, r.Status) {
		return nil, broken("request.wrong-status", "requestId", "request %q is %s; this needs it %s", id, r.Status, strings.Join(statuses, " or "))
	}
	return r, nil
}

func (d *decider) openAction(id string) (*Action, error) {
	a := d.c.action(id)
	if a == nil {
		return nil, invalid("action.unknown", "actionId", "no action %q on this case", id)
	}
	if err := d.ownAgency("action.other-agency", a.OwnerAgency); err != nil {
		return nil, err
	}
	if a.resolved() {
		return nil, broken("action.resolved", "actionId", "action %q is already %s", id, a.Status)
	}
	return a, nil
}

func (d *decider) decide(cmd Command) ([]Event, error) {
	h, c, rules := d.h, d.c, d.rules
	one := func(e Event) ([]Event, error) { return []Event{e}, nil }
	switch cmd := cmd.(type) {
	case NotifyIncident:
		n := cmd.Notification
		if err := required("notification.case-id", "caseId", cmd.CaseID); err != nil {
			return nil, err
		}
		if n.Framework != rules.Framework {
			return nil, invalid("notification.framework", "framework", "framework %q does not match the rule set %s", n.Framework, rules.Framework)
		}
		if n.AwarenessDate.IsZero() {
			return nil, invalid("notification.awareness-date", "awarenessDate", "the awareness date is required")
		}
		if n.AwarenessDate.After(d.today) {
			return nil, invalid("notification.awareness-date", "awarenessDate", "the awareness date %s is in the future", n.AwarenessDate)
		}
		if !n.IncidentDate.IsZero() && n.IncidentDate.After(n.AwarenessDate) {
			return nil, invalid("notification.incident-date", "incidentDate", "the incident date is after the awareness date")
		}
		switch n.Nature {
		case NatureDeath, NatureSeriousHarm, NatureOther:
		default:
			return nil, invalid("notification.nature", "nature", "nature %q is not one of death, serious-harm, other", n.Nature)
		}
		if len(n.Children) > MaxChildren {
			return nil, invalid("notification.children", "children", "at most %d children per notification; link further notifications instead", MaxChildren)
		}
		for i, ch := range n.Children {
			if strings.TrimSpace(ch.Name) == "" {
				return nil, invalid("notification.children", fmt.Sprintf("children[%d].name", i), "each child needs a name")
			}
		}
		if err := required("notification.outline", "outline", n.Outline); err != nil {
			return nil, err
		}
		n.RulesVersion = rules.Version
		return one(CaseNotified{Header: h, CaseID: cmd.CaseID, Notification: n})
	case SendNotification:
		if !c.NotificationSentOn.IsZero() {
			return nil, broken("notification.already-sent", "", "the notification was sent on %s", c.NotificationSentOn)
		}
		return one(NotificationSent{Header: h, SentOn: d.today, Reference: cmd.Reference})
	case RecordRapidReviewFacts:
		if err := required("rapid-review.facts", "facts", cmd.Facts); err != nil {
			return nil, err
		}
		return one(RapidReviewFactsRecorded{Header: h, Facts: cmd.Facts, AgenciesInvolved: cmd.AgenciesInvolved, InequalitiesNoted: cmd.InequalitiesNoted})
	case SummariseKeyPracticeEpisodes:
		if err := required("rapid-review.episodes", "summary", cmd.Summary); err != nil {
			return nil, err
		}
		return one(RapidReviewEpisodesSummarised{Header: h, Summary: cmd.Summary})
	case RecordImmediateActions:
		if len(cmd.Actions) == 0 || slices.Contains(cmd.Actions, "") {
			return nil, invalid("rapid-review.immediate-actions", "actions", "list at least one action, none empty")
		}
		return one(ImmediateActionsRecorded{Header: h, Actions: cmd.Actions})
	case ProposeDecision:
		if !slices.Contains(rules.Parameters.DecisionOutcomes, cmd.Outcome) {
			return nil, invalid("rapid-review.outcome", "outcome", "outcome %q is not one of %s", cmd.Outcome, strings.Join(rules.Parameters.DecisionOutcomes, ", "))
		}
		if err := required("rapid-review.rationale", "rationale", cmd.Rationale); err != nil {
			return nil, err
		}
		return one(DecisionProposed{Header: h, Outcome: cmd.Outcome, Rationale: cmd.Rationale})
	case SignOffRapidReview:
		p, err := d.partner("rapid-review.signoff-not-partner")
		if err != nil {
			return nil, err
		}
		if slices.Contains(c.RapidReview.SignedOffBy, p) {
			return nil, broken("rapid-review.already-signed-off", "", "%s has already signed off", p)
		}
		return one(RapidReviewSignedOff{Header: h, Partner: p})
	case SubmitRapidReview:
		if missing := c.missingPartners(c.RapidReview.SignedOffBy); len(missing) > 0 {
			return nil, broken("rapid-review.signoffs-incomplete", "signoffs", "sign-off still needed from: %s", strings.Join(missing, ", "))
		}
		return one(RapidReviewSubmitted{Header: h, SentOn: d.today})
	case RecordPanelResponse:
		if !slices.Contains(rules.Parameters.PanelResponses, cmd.Response) {
			return nil, invalid("panel.response", "response", "response %q is not one of %s", cmd.Response, strings.Join(rules.Parameters.PanelResponses, ", "))
		}
		return one(PanelResponded{Header: h, Response: cmd.Response, Comments: cmd.Comments})
	case RecordDecision:
		if !slices.Contains(rules.Parameters.DecisionOutcomes, cmd.Outcome) {
			return nil, invalid("decision.outcome", "outcome", "outcome %q is not one of %s", cmd.Outcome, strings.Join(rules.Parameters.DecisionOutcomes, ", "))
		}
		if err := required("decision.rationale", "rationale", cmd.Rationale); err != nil {
			return nil, err
		}
		return one(ReviewDecided{Header: h, Outcome: cmd.Outcome, Rationale: cmd.Rationale, DecidedOn: d.today})
	case ReportDecisionToPanel:
		if c.Decision == nil || c.Decision.Outcome != OutcomeNoFurtherReview {
			return nil, broken("decision.nothing-to-report", "", "only a decision not to review is reported to the national panel")
		}
		if !c.DecisionReportedOn.IsZero() {
			return nil, broken("decision.already-reported", "", "reported on %s", c.DecisionReportedOn)
		}
		return one(DecisionReportedToPanel{Header: h, SentOn: d.today})
	case AppointReviewer:
		for _, f := range []struct{ name, v string }{{"reviewerId", cmd.ReviewerID}, {"name", cmd.Name}, {"independence", cmd.Independence}} {
			if err := required("reviewer."+f.name, f.name, f.v); err != nil {
				return nil, err
			}
		}
		for _, r := range c.Reviewers {
			if r.ReviewerID == cmd.ReviewerID {
				return nil, broken("reviewer.already-appointed", "reviewerId", "reviewer %q is already appointed", cmd.ReviewerID)
			}
		}
		return one(ReviewerAppointed{Header: h, ReviewerID: cmd.ReviewerID, Name: cmd.Name, Lead: cmd.Lead, Independence: cmd.Independence})
	case AgreeTermsOfReference:
		t := cmd.Terms
		t.Header = h
		if err := required("terms.scope", "scope", t.Scope); err != nil {
			return nil, err
		}
		if err := required("terms.method", "method", t.Method); err != nil {
			return nil, err
		}
		if len(t.Agencies) == 0 {
			return nil, invalid("terms.agencies", "agencies", "name the agencies in scope")
		}
		if len(t.KeyLinesOfEnquiry) == 0 {
			return nil, invalid("terms.lines-of-enquiry", "keyLinesOfEnquiry", "state at least one key line of enquiry")
		}
		if !t.PeriodFrom.IsZero() && !t.PeriodTo.IsZero() && t.PeriodTo.Before(t.PeriodFrom) {
			return nil, invalid("terms.period", "periodTo", "the period ends before it starts")
		}
		return one(t)
	case RequestFromAgency:
		if err := required("request.id", "requestId", cmd.RequestID); err != nil {
			return nil, err
		}
		if err := reference("request.id", "requestId", cmd.RequestID); err != nil {
			return nil, err
		}
		if err := reference("request.agency", "agency", cmd.Agency); err != nil {
			return nil, err
		}
		if c.request(cmd.RequestID) != nil {
			return nil, invalid("request.duplicate", "requestId", "request %q already exists", cmd.RequestID)
		}
		if err := required("request.agency", "agency", cmd.Agency); err != nil {
			return nil, err
		}
		if cmd.Kind != RequestChronology && cmd.Kind != RequestReport {
			return nil, invalid("request.kind", "kind", "kind %q is not %s or %s", cmd.Kind, RequestChronology, RequestReport)
		}
		if !cmd.DueDate.IsZero() && !cmd.DueDate.After(d.today) {
			return nil, invalid("request.due-date", "dueDate", "the due date %s is not after today", cmd.DueDate)
		}
		return one(AgencyRequestSent{Header: h, RequestID: cmd.RequestID, Agency: cmd.Agency, Kind: cmd.Kind, DueDate: cmd.DueDate, Note: cmd.Note})
	case RequestExtension:
		r, err := d.requestFor(cmd.RequestID, RequestOpen, RequestReturned)
		if err != nil {
			return nil, err
		}
		if r.PendingExtension != nil {
			return nil, broken("request.extension-pending", "requestId", "an extension to %s is already awaiting a decision", r.PendingExtension)
		}
		if !cmd.NewDue.After(r.Due) {
			return nil, invalid("request.extension-date", "newDue", "the new due date must be after the current one, %s", r.Due)
		}
		if err := required("request.extension-reason", "reason", cmd.Reason); err != nil {
			return nil, err
		}
		return one(ExtensionRequested{Header: h, RequestID: cmd.RequestID, NewDue: cmd.NewDue, Reason: cmd.Reason})
	case DecideExtension:
		r, err := d.requestFor(cmd.RequestID)
		if err != nil {
			return nil, err
		}
		if r.PendingExtension == nil {
			return nil, broken("request.no-extension-pending", "requestId", "no extension is awaiting a decision on request %q", cmd.RequestID)
		}
		if cmd.Grant {
			return one(ExtensionGranted{Header: h, RequestID: cmd.RequestID, NewDue: *r.PendingExtension})
		}
		if err := required("request.refusal-reason", "reason", cmd.Reason); err != nil {
			return nil, err
		}
		return one(ExtensionRefused{Header: h, RequestID: cmd.RequestID, Reason: cmd.Reason})
	case SubmitToRequest:
		if _, err := d.requestFor(cmd.RequestID, RequestOpen, RequestReturned); err != nil {
			return nil, err
		}
		if err := required("request.summary", "summary", cmd.Summary); err != nil {
			return nil, err
		}
		return one(AgencySubmissionReceived{Header: h, RequestID: cmd.RequestID, Summary: cmd.Summary, Document: cmd.Document})
	case AcceptSubmission:
		if _, err := d.requestFor(cmd.RequestID, RequestSubmitted); err != nil {
			return nil, err
		}
		return one(AgencySubmissionAccepted{Header: h, RequestID: cmd.RequestID})
	case ReturnSubmission:
		if _, err := d.requestFor(cmd.RequestID, RequestSubmitted); err != nil {
			return nil, err
		}
		if err := required("request.return-reason", "reason", cmd.Reason); err != nil {
			return nil, err
		}
		return one(AgencySubmissionReturned{Header: h, RequestID: cmd.RequestID, Reason: cmd.Reason})
	case RecordChronologyEntry:
		en := cmd.Entry
		if err := required("chronology.entry-id", "entryId", en.EntryID); err != nil {
			return nil, err
		}
		if c.entry(en.EntryID) != nil {
			return nil, invalid("chronology.duplicate", "entryId", "entry %q already exists", en.EntryID)
		}
		if err := required("chronology.agency", "agency", en.Agency); err != nil {
			return nil, err
		}
		if err := d.ownAgency("chronology.other-agency", en.Agency); err != nil {
			return nil, err
		}
		if err := en.Date.Validate(); err != nil {
			return nil, invalid("chronology.date", "date", "%v", err)
		}
		if err := required("chronology.description", "description", en.Description); err != nil {
			return nil, err
		}
		if en.Significance != SignificanceKey && en.Significance != SignificanceBackground {
			return nil, invalid("chronology.significance", "significance", "significance %q is not %s or %s", en.Significance, SignificanceKey, SignificanceBackground)
		}
		if en.EpisodeID != "" && !slices.ContainsFunc(c.Episodes, func(e KeyPracticeEpisodeRecorded) bool { return e.EpisodeID == en.EpisodeID }) {
			return nil, invalid("chronology.episode", "episodeId", "no key practice episode %q", en.EpisodeID)
		}
		if en.MissedOpportunity || en.Rationale != "" {
			if d.h.By.Role != RoleReviewer {
				return nil, forbidden("chronology.missed-opportunity-reviewer-only", "missedOpportunity", "only a reviewer may flag a missed opportunity")
			}
			if en.MissedOpportunity && strings.TrimSpace(en.Rationale) == "" {
				return nil, invalid("chronology.missed-opportunity-rationale", "rationale", "a missed opportunity needs a rationale")
			}
		}
		return one(ChronologyEntryRecorded{Header: h, ChronologyEntry: en})
	case FlagMissedOpportunity:
		if c.entry(cmd.EntryID) == nil {
			return nil, invalid("chronology.unknown-entry", "entryId", "no chronology entry %q", cmd.EntryID)
		}
		if err := required("chronology.missed-opportunity-rationale", "rationale", cmd.Rationale); err != nil {
			return nil, err
		}
		return one(MissedOpportunityFlagged{Header: h, EntryID: cmd.EntryID, Rationale: cmd.Rationale})
	case RecordKeyPracticeEpisode:
		ep := cmd.Episode
		ep.Header = h
		if err := required("episode.id", "episodeId", ep.EpisodeID); err != nil {
			return nil, err
		}
		if slices.ContainsFunc(c.Episodes, func(e KeyPracticeEpisodeRecorded) bool { return e.EpisodeID == ep.EpisodeID }) {
			return nil, invalid("episode.duplicate", "episodeId", "episode %q already exists", ep.EpisodeID)
		}
		if err := required("episode.title", "title", ep.Title); err != nil {
			return nil, err
		}
		if err := required("episode.description", "description", ep.Description); err != nil {
			return nil, err
		}
		if !slices.Contains([]string{AppraisalGood, AppraisalProblematic, AppraisalMixed}, ep.Appraisal) {
			return nil, invalid("episode.appraisal", "appraisal", "appraisal %q is not good, problematic or mixed", ep.Appraisal)
		}
		if !ep.From.IsZero() && !ep.To.IsZero() && ep.To.Before(ep.From) {
			return nil, invalid("episode.period", "to", "the episode ends before it starts")
		}
		return one(ep)
	case RecordContributoryFactor:
		f := cmd.Factor
		f.Header = h
		if err := required("factor.id", "factorId", f.FactorID); err != nil {
			return nil, err
		}
		if slices.ContainsFunc(c.Factors, func(x ContributoryFactorRecorded) bool { return x.FactorID == f.FactorID }) {
			return nil, invalid("factor.duplicate", "factorId", "factor %q already exists", f.FactorID)
		}
		if !slices.Contains(FactorCategories(), f.Category) {
			return nil, invalid("factor.category", "category", "category %q is not a SCIE category: %v", f.Category, FactorCategories())
		}
		if err := required("factor.text", "text", f.Text); err != nil {
			return nil, err
		}
		for _, id := range f.EpisodeIDs {
			if !slices.ContainsFunc(c.Episodes, func(e KeyPracticeEpisodeRecorded) bool { return e.EpisodeID == id }) {
				return nil, invalid("factor.episode", "episodeIds", "no key practice episode %q", id)
			}
		}
		return one(f)
	case RecordFinding:
		f := cmd.Finding
		f.Header = h
		if err := required("finding.id", "findingId", f.FindingID); err != nil {
			return nil, err
		}
		if slices.ContainsFunc(c.Findings, func(x FindingRecorded) bool { return x.FindingID == f.FindingID }) {
			return nil, invalid("finding.duplicate", "findingId", "finding %q already exists", f.FindingID)
		}
		if err := required("finding.statement", "statement", f.Statement); err != nil {
			return nil, err
		}
		if err := required("finding.in-this-case", "inThisCase", f.InThisCase); err != nil {
			return nil, err
		}
		for _, id := range f.FactorIDs {
			if !slices.ContainsFunc(c.Factors, func(x ContributoryFactorRecorded) bool { return x.FactorID == id }) {
				return nil, invalid("finding.factor", "factorIds", "no contributory factor %q", id)
			}
		}
		return one(f)
	case RecordAppraisal:
		a := cmd.Appraisal
		a.Header = h
		if err := required("appraisal.id", "appraisalId", a.AppraisalID); err != nil {
			return nil, err
		}
		if err := required("appraisal.text", "text", a.Text); err != nil {
			return nil, err
		}
		return one(a)
	case RecordFamilyInvolvement:
		return one(FamilyInvolvementRecorded{Header: h, Invited: cmd.Invited, Accepted: cmd.Accepted, HowRecorded: cmd.HowRecorded})
	case MakeRecommendation:
		if err := required("recommendation.id", "recommendationId", cmd.RecommendationID); err != nil {
			return nil, err
		}
		if slices.ContainsFunc(c.Recommendations, func(r RecommendationMade) bool { return r.RecommendationID == cmd.RecommendationID }) {
			return nil, invalid("recommendation.duplicate", "recommendationId", "recommendation %q already exists", cmd.RecommendationID)
		}
		if err := required("recommendation.text", "text", cmd.Text); err != nil {
			return nil, err
		}
		for _, id := range cmd.FindingIDs {
			if !slices.ContainsFunc(c.Findings, func(f FindingRecorded) bool { return f.FindingID == id }) {
				return nil, invalid("recommendation.finding", "findingIds", "no finding %q", id)
			}
		}
		return one(RecommendationMade{Header: h, RecommendationID: cmd.RecommendationID, Text: cmd.Text, FindingIDs: cmd.FindingIDs})
	case CreateAction:
		a := cmd.Action
		a.Header = h
		if err := required("action.id", "actionId", a.ActionID); err != nil {
			return nil, err
		}
		if err := reference("action.id", "actionId", a.ActionID); err != nil {
			return nil, err
		}
		if err := reference("action.owner-agency", "ownerAgency", a.OwnerAgency); err != nil {
			return nil, err
		}
		if c.action(a.ActionID) != nil {
			return nil, invalid("action.duplicate", "actionId", "action %q already exists", a.ActionID)
		}
		if !slices.ContainsFunc(c.Recommendations, func(r RecommendationMade) bool { return r.RecommendationID == a.RecommendationID }) {
			return nil, invalid("action.recommendation", "recommendationId", "no recommendation %q", a.RecommendationID)
		}
		for _, f := range []struct{ name, v string }{{"text", a.Text}, {"ownerAgency", a.OwnerAgency}, {"ownerPerson", a.OwnerPerson}, {"measureOfSuccess", a.MeasureOfSuccess}} {
			if err := required("action."+f.name, f.name, f.v); err != nil {
				return nil, err
			}
		}
		if !a.DueDate.After(d.today) {
			return nil, invalid("action.due-date", "dueDate", "the due date must be after today")
		}
		return one(a)
	case UpdateActionProgress:
		if _, err := d.openAction(cmd.ActionID); err != nil {
			return nil, err
		}
		if cmd.Status != ActionInProgress && cmd.Status != ActionAwaitingEvidence {
			return nil, invalid("action.status", "status", "progress status %q is not %s or %s", cmd.Status, ActionInProgress, ActionAwaitingEvidence)
		}
		return one(ActionProgressUpdated{Header: h, ActionID: cmd.ActionID, Status: cmd.Status, Note: cmd.Note})
	case RecordImpactEvidence:
		if _, err := d.openAction(cmd.ActionID); err != nil {
			return nil, err
		}
		if err := required("action.evidence", "evidence", cmd.Evidence); err != nil {
			return nil, err
		}
		return one(ActionImpactEvidenced{Header: h, ActionID: cmd.ActionID, Evidence: cmd.Evidence})
	case VerifyAction:
		a, err := d.openAction(cmd.ActionID)
		if err != nil {
			return nil, err
		}
		if len(a.ImpactEvidence) == 0 {
			return nil, broken("action.evidence-missing", "actionId", "action %q has no evidence of impact to verify", cmd.ActionID)
		}
		return one(ActionVerified{Header: h, ActionID: cmd.ActionID, VerifiedOn: d.today})
	case CloseAction:
		if _, err := d.openAction(cmd.ActionID); err != nil {
			return nil, err
		}
		if err := required("action.close-reason", "reason", cmd.Reason); err != nil {
			return nil, err
		}
		return one(ActionClosed{Header: h, ActionID: cmd.ActionID, Reason: cmd.Reason})
	case MarkActionNotImplemented:
		if _, err := d.openAction(cmd.ActionID); err != nil {
			return nil, err
		}
		if err := required("action.not-implemented-reason", "reason", cmd.Reason); err != nil {
			return nil, err
		}
		return one(ActionNotImplemented{Header: h, ActionID: cmd.ActionID, Reason: cmd.Reason})
	case CompleteStage:
		e := StageCompleted{Header: h, Stage: c.Stage}
		if c.nextStage(e) == "" {
			return nil, broken("stage.not-completable", "", "stage %s ends with a specific event, not by completing it", c.Stage)
		}
		return one(e)
	case SubmitDraft:
		if err := required("report.draft-version", "draftVersion", cmd.DraftVersion); err != nil {
			return nil, err
		}
		fq := c.FourQuestions()
		for _, q := range []struct {
			field string
			s     QuestionStatus
		}{{"whatHappened", fq.WhatHappened}, {"why", fq.Why}, {"whatShouldHaveHappened", fq.WhatShouldHaveHappened}, {"prevention", fq.Prevention}} {
			if !q.s.Complete {
				return nil, broken("report.four-questions-incomplete", q.field, "%s is not answered: %s", q.s.Question, q.s.Missing)
			}
		}
		return one(DraftSubmittedForSignOff{Header: h, DraftVersion: cmd.DraftVersion, Document: cmd.Document})
	case ApproveReport:
		p, err := d.partner("report.approval-not-partner")
		if err != nil {
			return nil, err
		}
		if c.Draft == nil {
			return nil, broken("report.no-draft", "", "no draft has been submitted for sign-off")
		}
		if slices.Contains(c.Approvals, p) {
			return nil, broken("report.already-approved", "", "%s has already approved this draft", p)
		}
		return one(ReportApproved{Header: h, Partner: p})
	case SendPrePublicationNotice:
		if missing := c.missingPartners(c.Approvals); len(missing) > 0 {
			return nil, broken("publication.approvals-incomplete", "approvals", "approval still needed from: %s", strings.Join(missing, ", "))
		}
		if len(cmd.Recipients) == 0 {
			return nil, invalid("publication.notice-recipients", "recipients", "name the recipients (e.g. the Panel, the Secretary of State, Ofsted)")
		}
		if !cmd.PlannedPublication.IsZero() {
			if earliest := d.earliestPublication(d.today); cmd.PlannedPublication.Before(earliest) {
				return nil, invalid("publication.notice-too-late", "plannedPublication", "with notice today, publication can be no earlier than %s (%s notice)", earliest, rules.Parameters.PrePublicationNotice)
			}
		}
		return one(PrePublicationNoticeSent{Header: h, SentOn: d.today, Recipients: cmd.Recipients, PlannedPublication: cmd.PlannedPublication})
	case PublishReport:
		if missing := c.missingPartners(c.Approvals); len(missing) > 0 {
			return nil, broken("publication.approvals-incomplete", "approvals", "approval still needed from: %s", strings.Join(missing, ", "))
		}
		if c.Notice == nil {
			return nil, broken("publication.notice-missing", "", "send the pre-publication notice first (%s before publication)", rules.Parameters.PrePublicationNotice)
		}
		if earliest := d.earliestPublication(c.Notice.SentOn); d.today.Before(earliest) {
			return nil, broken("publication.notice-too-late", "", "the notice was sent on %s; with %s notice the report can be published from %s", c.Notice.SentOn, rules.Parameters.PrePublicationNotice, earliest)
		}
		if err := required("publication.location", "location", cmd.Location); err != nil {
			return nil, err
		}
		if cmd.ImprovementsOnly {
			if err := required("publication.justification", "justification", cmd.Justification); err != nil {
				return nil, err
			}
		}
		if err := required("publication.public-text", "publicText", cmd.PublicText); err != nil {
			return nil, err
		}
		return one(ReportPublished{Header: h, PublishedOn: d.today, Location: cmd.Location, ImprovementsOnly: cmd.ImprovementsOnly,
			Justification: cmd.Justification, PublicText: cmd.PublicText, KeepPublicUntil: addDuration(d.today, rules.Parameters.KeepPublic, d.cal)})
	case DeferPublication:
		if !slices.Contains([]string{DeferCriminalProceedings, DeferInquest, DeferChildWelfare, DeferOther}, cmd.Reason) {
			return nil, invalid("publication.deferral-reason", "reason", "reason %q is not criminal-proceedings, inquest, child-welfare or other", cmd.Reason)
		}
		if cmd.Reason == DeferOther {
			if err := required("publication.deferral-detail", "detail", cmd.Detail); err != nil {
				return nil, err
			}
		}
		if !cmd.ReviewDate.After(d.today) {
			return nil, invalid("publication.review-date", "reviewDate", "the date to review the deferral must be after today")
		}
		return one(PublicationDeferred{Header: h, Reason: cmd.Reason, Detail: cmd.Detail, ReviewDate: cmd.ReviewDate})
	case CloseCase:
		if err := required("case.close-reason", "reason", cmd.Reason); err != nil {
			return nil, err
		}
		var open []string
		for _, a := range c.Actions {
			if !a.resolved() {
				open = append(open, a.ID)
			}
		}
		if len(open) > 0 {
			return nil, broken("case.actions-open", "", "actions not yet verified, closed or marked not implemented: %s", strings.Join(open, ", "))
		}
		return one(CaseClosed{Header: h, Reason: cmd.Reason})
	case RecordReminder:
		k := c.clock(cmd.Clock, cmd.Key)
		if k == nil {
			return nil, invalid("clock.not-running", "clock", "no running clock %s %q", cmd.Clock, cmd.Key)
		}
		return one(ReminderSent{Header: h, Clock: k.Clock, Key: k.Key, Due: k.Due, To: k.Notify})
	case RecordEscalation:
		k := c.clock(cmd.Clock, cmd.Key)
		if k == nil {
			return nil, invalid("clock.not-running", "clock", "no running clock %s %q", cmd.Clock, cmd.Key)
		}
		if !slices.ContainsFunc(k.Escalations, func(e Escalation) bool { return e.Notify == cmd.To }) {
			return nil, invalid("clock.escalation-role", "to", "clock %s does not escalate to %q", cmd.Clock, cmd.To)
		}
		return one(EscalationSent{Header: h, Clock: k.Clock, Key: k.Key, Due: k.Due, To: cmd.To})
	case RecordAccess:
		if cmd.Reader.UserID == "" || cmd.Reader.Role == "" {
			return nil, invalid("access.reader", "reader", "the reader's user ID and role are required")
		}
		if err := required("access.what", "what", cmd.What); err != nil {
			return nil, err
		}
		if err := required("access.purpose", "purpose", cmd.Purpose); err != nil {
			return nil, err
		}
		return one(AccessRecorded{Header: h, Reader: cmd.Reader, What: cmd.What, Purpose: cmd.Purpose})
	}
	return nil, invalid("command.unknown", "", "command %s is not handled", cmd.CommandName())
}

// earliestPublication is the first day a report may be published after a notice sent on sent.
func (d *decider) earliestPublication(sent calendar.Date) calendar.Date {
	return addDuration(sent, d.rules.Parameters.PrePublicationNotice, d.cal)
}

// withClocks checks that an event leaving the current stage finds the stage's artefacts present,
// then adds the clock events the rule set ties to the decided events.
func (d *decider) withClocks(events []Event) ([]Event, error) {
	c, rules := d.c, d.rules
	probe := c
	var out []Event
	for _, e := range events {
		if n, ok := e.(CaseNotified); ok {
			probe = &Case{Notification: n.Notification, rules: rules}
		} else if to := c.nextStage(e); to != "" && to != c.Stage {
			st, _ := rules.Stage(c.Stage)
			for _, a := range st.Requires {
				art := artefacts[a]
				if !art.present(c) {
					return nil, broken(c.Stage+"."+art.rule, "", "stage %s cannot close: %s", c.Stage, art.message)
				}
			}
		}
		out = append(out, e)
		key := clockKeyOf(e)
		for _, k := range c.Clocks {
			if k.Stopped || (k.Key != "" && k.Key != key) {
				continue
			}
			def, ok := rules.Clock(k.Clock)
			if !ok {
				continue // a clock of an older rule-set version that this one dropped keeps running
			}
			if _, ok := e.(ExtensionGranted); ok && k.Key == key && key != "" {
				ext := e.(ExtensionGranted)
				dl := rules.deadline(def, k.Start, ext.NewDue, d.cal)
				dl.Key = k.Key
				out = append(out, ClockExtended{Header: d.h, Deadline: dl})
				continue
			}
			for _, s := range def.Stop {
				if probe.triggered(s, e) {
					out = append(out, ClockStopped{Header: d.h, Clock: k.Clock, Key: k.Key, StoppedOn: d.today})
					break
				}
			}
		}
		for _, def := range rules.Clocks {
			if !probe.triggered(def.Start, e) {
				continue
			}
			start := d.today
			if n, ok := e.(CaseNotified); ok {
				start = n.AwarenessDate
			}
			due := addDuration(start, def.Duration, d.cal)
			switch e := e.(type) {
			case AgencyRequestSent:
				if !e.DueDate.IsZero() {
					due = e.DueDate
				}
			case ActionCreated:
				due = e.DueDate
			}
			dl := rules.deadline(def, start, due, d.cal)
			dl.Key = key
			out = append(out, ClockStarted{Header: d.h, Deadline: dl})
		}
	}
	// A request sent without a due date takes its clock's: write it into the request event too.
	for i, e := range out {
		if r, ok := e.(AgencyRequestSent); ok && r.DueDate.IsZero() {
			for _, x := range out {
				if cs, ok := x.(ClockStarted); ok && cs.Key == r.RequestID {
					r.DueDate = cs.Due
					out[i] = r
				}
			}
		}
	}
	return out, nil
}

// triggered reports whether event e matches trigger t on this case.
func (c *Case) triggered(t Trigger, e Event) bool {
	if t.Event != e.EventType() {
		return false
	}
	if t.Outcome != "" && t.Outcome != outcomeOf(e) {
		return false
	}
	return c.holds(t.If, t.Unless)
}

// referencePattern is the shape of request, action and agency references. They become parts of
// workflow IDs, message keys and contact look-ups, so they must be short codes, never free text
// that could carry a name.
var referencePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

func reference(rule, field, v string) error {
	if !referencePattern.MatchString(strings.ToLower(v)) {
		return invalid(rule, field, "%s must be a short code of letters, digits and hyphens (at most 32), such as r1 or police-north", field)
	}
	return nil
}
