// Package review is the domain of a multi-agency case review: rule sets, events, commands and the case aggregate.
package review

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"casereview/calendar"
)

// Event is a domain fact recorded in a case's stream.
type Event interface {
	EventType() string
}

// Header is carried by every event: when it happened and who caused it.
type Header struct {
	At time.Time `json:"at,omitzero"`
	By Actor     `json:"by,omitzero"`
}

func (h Header) header() Header { return h }

// headed is implemented by every event through its embedded Header.
type headed interface{ header() Header }

// Nature is what happened to the child.
type Nature string

const (
	NatureDeath       Nature = "death"
	NatureSeriousHarm Nature = "serious-harm"
	NatureOther       Nature = "other"
)

// Child is one child named on a notification (the DfE form allows up to four).
type Child struct {
	Name                string        `json:"name"`
	DateOfBirth         calendar.Date `json:"dateOfBirth,omitzero"`
	Sex                 string        `json:"sex,omitempty"`
	Ethnicity           string        `json:"ethnicity,omitempty"`
	Disability          bool          `json:"disability,omitempty"`
	LookedAfter         bool          `json:"lookedAfter,omitempty"`
	CareLeaver          bool          `json:"careLeaver,omitempty"`
	ChildProtectionPlan bool          `json:"childProtectionPlan,omitempty"`
	KnownToAgencies     bool          `json:"knownToAgencies,omitempty"`
}

// MaxChildren is the number of children the DfE notification form allows.
const MaxChildren = 4

// Notification is a serious incident notification, the first fact of every case.
type Notification struct {
	Framework      string        `json:"framework"`
	RulesVersion   string        `json:"rulesVersion,omitempty"`
	Notifier       string        `json:"notifier,omitempty"`
	NotifierAgency string        `json:"notifierAgency,omitempty"`
	AwarenessDate  calendar.Date `json:"awarenessDate"`
	IncidentDate   calendar.Date `json:"incidentDate"`
	IncidentPlace  string        `json:"incidentPlace,omitempty"`
	HomePlace      string        `json:"homePlace,omitempty"`
	Nature         Nature        `json:"nature"`
	Children       []Child       `json:"children,omitempty"`
	Outline        string        `json:"outline"`
	LinkedCases    []string      `json:"linkedCases,omitempty"`
}

// CareLeaverDeath reports whether the notification is of a care leaver's death, which is notified
// but needs no rapid review.
func (n Notification) CareLeaverDeath() bool {
	if n.Nature != NatureDeath || len(n.Children) == 0 {
		return false
	}
	for _, c := range n.Children {
		if !c.CareLeaver {
			return false
		}
	}
	return true
}

// CaseNotified records an incident and opens the case; its awareness date starts the notification clock.
type CaseNotified struct {
	Header
	CaseID string `json:"caseId"`
	Notification
}

// NotificationSent records the serious incident notification sent to the Panel (or national body).
type NotificationSent struct {
	Header
	SentOn    calendar.Date `json:"sentOn"`
	Reference string        `json:"reference,omitempty"`
}

// RapidReviewFactsRecorded records the facts and agency involvement gathered for the rapid review.
type RapidReviewFactsRecorded struct {
	Header
	Facts             string   `json:"facts"`
	AgenciesInvolved  []string `json:"agenciesInvolved,omitempty"`
	InequalitiesNoted string   `json:"inequalitiesNoted,omitempty"`
}

// RapidReviewEpisodesSummarised records the summary of key practice episodes for the rapid review.
type RapidReviewEpisodesSummarised struct {
	Header
	Summary string `json:"summary"`
}

// ImmediateActionsRecorded records immediate safety actions taken.
type ImmediateActionsRecorded struct {
	Header
	Actions []string `json:"actions"`
}

// DecisionProposed records the rapid review's proposed next step.
type DecisionProposed struct {
	Header
	Outcome   string `json:"outcome"`
	Rationale string `json:"rationale"`
}

// RapidReviewSignedOff records one safeguarding partner's sign-off of the rapid review.
type RapidReviewSignedOff struct {
	Header
	Partner string `json:"partner"`
}

// RapidReviewSubmitted records the rapid review sent to the Panel.
type RapidReviewSubmitted struct {
	Header
	SentOn calendar.Date `json:"sentOn"`
}

// Panel responses.
const (
	PanelAgrees         = "agree"
	PanelChallenges     = "challenge"
	PanelNationalReview = "national-review"
)

// PanelResponded records the national Panel's response to a rapid review.
type PanelResponded struct {
	Header
	Response string `json:"response"`
	Comments string `json:"comments,omitempty"`
}

// Decision outcomes.
const (
	OutcomeLCSPR           = "lcspr"
	OutcomeSCR             = "scr"
	OutcomeLocalReview     = "review"
	OutcomeNoFurtherReview = "no-further-review"
	OutcomeNationalReview  = "national-review"
)

// ReviewDecided records the partners' decision on whether to commission a review, with rationale.
type ReviewDecided struct {
	Header
	Outcome   string        `json:"outcome"`
	Rationale string        `json:"rationale"`
	DecidedOn calendar.Date `json:"decidedOn"`
}

// DecisionReportedToPanel records a decision not to review reported to the national panel.
type DecisionReportedToPanel struct {
	Header
	SentOn calendar.Date `json:"sentOn"`
}

// ReviewerAppointed records an independent reviewer's appointment.
type ReviewerAppointed struct {
	Header
	ReviewerID   string `json:"reviewerId"`
	Name         string `json:"name"`
	Lead         bool   `json:"lead,omitempty"`
	Independence string `json:"independence"`
}

// TermsOfReferenceAgreed records the agreed terms of reference.
type TermsOfReferenceAgreed struct {
	Header
	Scope             string        `json:"scope"`
	PeriodFrom        calendar.Date `json:"periodFrom,omitzero"`
	PeriodTo          calendar.Date `json:"periodTo,omitzero"`
	Agencies          []string      `json:"agencies"`
	KeyLinesOfEnquiry []string      `json:"keyLinesOfEnquiry"`
	Method            string        `json:"method"`
	FamilyEngagement  string        `json:"familyEngagement,omitempty"`
	ParallelProcesses []string      `json:"parallelProcesses,omitempty"`
	Governance        string        `json:"governance,omitempty"`
	Timescales        string        `json:"timescales,omitempty"`
}

// Request kinds.
const (
	RequestChronology = "chronology"
	RequestReport     = "report"
)

// AgencyRequestSent records a request to one agency for a chronology or report.
type AgencyRequestSent struct {
	Header
	RequestID string        `json:"requestId"`
	Agency    string        `json:"agency"`
	Kind      string        `json:"kind"`
	DueDate   calendar.Date `json:"dueDate,omitzero"`
	Note      string        `json:"note,omitempty"`
}

// ExtensionRequested records an agency asking for more time.
type ExtensionRequested struct {
	Header
	RequestID string        `json:"requestId"`
	NewDue    calendar.Date `json:"newDue"`
	Reason    string        `json:"reason"`
}

// ExtensionGranted records more time given for a request.
type ExtensionGranted struct {
	Header
	RequestID string        `json:"requestId"`
	NewDue    calendar.Date `json:"newDue"`
}

// ExtensionRefused records a refused extension.
type ExtensionRefused struct {
	Header
	RequestID string `json:"requestId"`
	Reason    string `json:"reason"`
}

// AgencySubmissionReceived records an agency's answer to a request.
type AgencySubmissionReceived struct {
	Header
	RequestID string `json:"requestId"`
	Summary   string `json:"summary"`
	Document  string `json:"document,omitempty"`
}

// AgencySubmissionAccepted records a submission accepted as complete.
type AgencySubmissionAccepted struct {
	Header
	RequestID string `json:"requestId"`
}

// AgencySubmissionReturned records a submission sent back for rework.
type AgencySubmissionReturned struct {
	Header
	RequestID string `json:"requestId"`
	Reason    string `json:"reason"`
}

// Precision says how much of an event date is known.
type Precision string

const (
	PrecisionDay         Precision = "day"
	PrecisionMonth       Precision = "month"
	PrecisionApproximate Precision = "approximate"
)

// Significance of a chronology entry.
const (
	SignificanceKey        = "key"
	SignificanceBackground = "background"
)

// ChronologyEntry is one agency's record of one dated event in the child's life.
type ChronologyEntry struct {
	EntryID           string    `json:"entryId"`
	Agency            string    `json:"agency"`
	SourceRef         string    `json:"sourceRef,omitempty"`
	Date              EventDate `json:"date"`
	Description       string    `json:"description"`
	ChildSeen         bool      `json:"childSeen,omitempty"`
	ChildViewsSought  bool      `json:"childViewsSought,omitempty"`
	Significance      string    `json:"significance"`
	EpisodeID         string    `json:"episodeId,omitempty"`
	MissedOpportunity bool      `json:"missedOpportunity,omitempty"`
	Rationale         string    `json:"rationale,omitempty"`
}

// ChronologyEntryRecorded records one chronology entry.
type ChronologyEntryRecorded struct {
	Header
	ChronologyEntry
}

// MissedOpportunityFlagged records a reviewer's judgement that an entry was a missed opportunity.
type MissedOpportunityFlagged struct {
	Header
	EntryID   string `json:"entryId"`
	Rationale string `json:"rationale"`
}

// Appraisals of a key practice episode.
const (
	AppraisalGood        = "good"
	AppraisalProblematic = "problematic"
	AppraisalMixed       = "mixed"
)

// KeyPracticeEpisodeRecorded records a key practice episode (Learning Together).
type KeyPracticeEpisodeRecorded struct {
	Header
	EpisodeID   string        `json:"episodeId"`
	Title       string        `json:"title"`
	From        calendar.Date `json:"from,omitzero"`
	To          calendar.Date `json:"to,omitzero"`
	Description string        `json:"description"`
	Appraisal   string        `json:"appraisal"`
	Agencies    []string      `json:"agencies,omitempty"`
	Sources     []string      `json:"sources,omitempty"`
}

// FactorCategory is a SCIE Learning Together contributory-factor category.
type FactorCategory string

// The SCIE contributory-factor categories (SCIE Guide 24, appendix 3).
const (
	FactorFamily               FactorCategory = "family"
	FactorRole                 FactorCategory = "role"
	FactorConditionsOfWork     FactorCategory = "conditions-of-work"
	FactorPersonal             FactorCategory = "personal"
	FactorOwnTeam              FactorCategory = "own-team"
	FactorInterAgencyTeam      FactorCategory = "inter-agency-team"
	FactorCultureAndManagement FactorCategory = "organisational-culture-and-management"
	FactorWiderContext         FactorCategory = "wider-political-context"
	FactorOther                FactorCategory = "other"
)

// FactorCategories lists the valid contributory-factor categories in SCIE's order.
func FactorCategories() []FactorCategory {
	return []FactorCategory{FactorFamily, FactorRole, FactorConditionsOfWork, FactorPersonal, FactorOwnTeam,
		FactorInterAgencyTeam, FactorCultureAndManagement, FactorWiderContext, FactorOther}
}

// ContributoryFactorRecorded records a contributory factor.
type ContributoryFactorRecorded struct {
	Header
	FactorID   string         `json:"factorId"`
	Category   FactorCategory `json:"category"`
	Text       string         `json:"text"`
	Evidence   string         `json:"evidence,omitempty"`
	EpisodeIDs []string       `json:"episodeIds,omitempty"`
}

// FindingRecorded records a finding.
type FindingRecorded struct {
	Header
	FindingID    string   `json:"findingId"`
	Statement    string   `json:"statement"`
	InThisCase   string   `json:"inThisCase"`
	NotPeculiar  string   `json:"notPeculiar,omitempty"`
	WhyItMatters string   `json:"whyItMatters,omitempty"`
	Questions    []string `json:"questions,omitempty"`
	FactorIDs    []string `json:"factorIds,omitempty"`
}

// AppraisalRecorded records what should have happened, against practice standards.
type AppraisalRecorded struct {
	Header
	AppraisalID string `json:"appraisalId"`
	Standard    string `json:"standard,omitempty"`
	Text        string `json:"text"`
	EpisodeID   string `json:"episodeId,omitempty"`
}

// FamilyInvolvementRecorded records how the family was invited and involved.
type FamilyInvolvementRecorded struct {
	Header
	Invited     bool   `json:"invited"`
	Accepted    bool   `json:"accepted,omitempty"`
	HowRecorded string `json:"howRecorded,omitempty"`
}

// RecommendationMade records a recommendation.
type RecommendationMade struct {
	Header
	RecommendationID string   `json:"recommendationId"`
	Text             string   `json:"text"`
	FindingIDs       []string `json:"findingIds,omitempty"`
}

// Action statuses.
const (
	ActionNotStarted           = "not-started"
	ActionInProgress           = "in-progress"
	ActionAwaitingEvidence     = "completed-awaiting-evidence"
	ActionStatusVerified       = "verified"
	ActionStatusClosed         = "closed"
	ActionStatusNotImplemented = "not-implemented"
)

// ActionCreated records an owned action against a recommendation.
type ActionCreated struct {
	Header
	ActionID         string        `json:"actionId"`
	RecommendationID string        `json:"recommendationId"`
	Text             string        `json:"text"`
	OwnerAgency      string        `json:"ownerAgency"`
	OwnerPerson      string        `json:"ownerPerson"`
	DueDate          calendar.Date `json:"dueDate"`
	MeasureOfSuccess string        `json:"measureOfSuccess"`
	EvidenceRequired string        `json:"evidenceRequired,omitempty"`
	PublicSummary    string        `json:"publicSummary,omitempty"`
}

// ActionProgressUpdated records progress on an action.
type ActionProgressUpdated struct {
	Header
	ActionID string `json:"actionId"`
	Status   string `json:"status"`
	Note     string `json:"note"`
}

// ActionImpactEvidenced records evidence of an action's impact.
type ActionImpactEvidenced struct {
	Header
	ActionID string `json:"actionId"`
	Evidence string `json:"evidence"`
}

// ActionVerified records partners verifying an action's impact.
type ActionVerified struct {
	Header
	ActionID   string        `json:"actionId"`
	VerifiedOn calendar.Date `json:"verifiedOn"`
}

// ActionClosed records an action formally closed with a reason.
type ActionClosed struct {
	Header
	ActionID string `json:"actionId"`
	Reason   string `json:"reason"`
}

// ActionNotImplemented records an action that will not be implemented, and why.
type ActionNotImplemented struct {
	Header
	ActionID string `json:"actionId"`
	Reason   string `json:"reason"`
}

// StageCompleted records a stage closed once its required artefacts exist.
type StageCompleted struct {
	Header
	Stage string `json:"stage"`
}

// DraftSubmittedForSignOff records the draft report sent to partners for sign-off.
type DraftSubmittedForSignOff struct {
	Header
	DraftVersion string `json:"draftVersion"`
	Document     string `json:"document,omitempty"`
}

// ReportApproved records one partner's approval of the final report.
type ReportApproved struct {
	Header
	Partner string `json:"partner"`
}

// PrePublicationNoticeSent records the final report sent to the Panel and Secretary of State before publication.
type PrePublicationNoticeSent struct {
	Header
	SentOn             calendar.Date `json:"sentOn"`
	Recipients         []string      `json:"recipients"`
	PlannedPublication calendar.Date `json:"plannedPublication,omitzero"`
}

// ReportPublished records publication of the redacted report (or of the improvements only).
type ReportPublished struct {
	Header
	PublishedOn      calendar.Date `json:"publishedOn"`
	Location         string        `json:"location"`
	ImprovementsOnly bool          `json:"improvementsOnly,omitempty"`
	Justification    string        `json:"justification,omitempty"`
	PublicText       string        `json:"publicText,omitempty"`
	KeepPublicUntil  calendar.Date `json:"keepPublicUntil,omitzero"`
}

// Deferral reasons.
const (
	DeferCriminalProceedings = "criminal-proceedings"
	DeferInquest             = "inquest"
	DeferChildWelfare        = "child-welfare"
	DeferOther               = "other"
)

// PublicationDeferred records a deferral with a structured reason and a date to review it.
type PublicationDeferred struct {
	Header
	Reason     string        `json:"reason"`
	Detail     string        `json:"detail,omitempty"`
	ReviewDate calendar.Date `json:"reviewDate"`
}

// CaseClosed records the case closed.
type CaseClosed struct {
	Header
	Reason string `json:"reason"`
}

// ReminderSent records a reminder sent for a clock.
type ReminderSent struct {
	Header
	Clock string        `json:"clock"`
	Key   string        `json:"key,omitempty"`
	Due   calendar.Date `json:"due"`
	To    string        `json:"to"`
}

// EscalationSent records an escalation sent for an overdue clock.
type EscalationSent struct {
	Header
	Clock string        `json:"clock"`
	Key   string        `json:"key,omitempty"`
	Due   calendar.Date `json:"due"`
	To    string        `json:"to"`
}

// AccessRecorded records a person reading case data: what was shared, with whom and why.
type AccessRecorded struct {
	Header
	Reader  Actor  `json:"reader"`
	What    string `json:"what"`
	Purpose string `json:"purpose"`
}

// ClockStarted records a clock started, with its computed deadline.
type ClockStarted struct {
	Header
	Deadline
}

// ClockExtended records a clock's deadline moved.
type ClockExtended struct {
	Header
	Deadline
}

// ClockStopped records a clock stopped by the event that satisfies it.
type ClockStopped struct {
	Header
	Clock     string        `json:"clock"`
	Key       string        `json:"key,omitempty"`
	StoppedOn calendar.Date `json:"stoppedOn"`
}

// Stable event type names. They are stored in the log: never rename one.
const (
	EventCaseNotified                  = "CaseNotified"
	EventNotificationSent              = "NotificationSent"
	EventRapidReviewFactsRecorded      = "RapidReviewFactsRecorded"
	EventRapidReviewEpisodesSummarised = "RapidReviewEpisodesSummarised"
	EventImmediateActionsRecorded      = "ImmediateActionsRecorded"
	EventDecisionProposed              = "DecisionProposed"
	EventRapidReviewSignedOff          = "RapidReviewSignedOff"
	EventRapidReviewSubmitted          = "RapidReviewSubmitted"
	EventPanelResponded                = "PanelResponded"
	EventReviewDecided                 = "ReviewDecided"
	EventDecisionReportedToPanel       = "DecisionReportedToPanel"
	EventReviewerAppointed             = "ReviewerAppointed"
	EventTermsOfReferenceAgreed        = "TermsOfReferenceAgreed"
	EventAgencyRequestSent             = "AgencyRequestSent"
	EventExtensionRequested            = "ExtensionRequested"
	EventExtensionGranted              = "ExtensionGranted"
	EventExtensionRefused              = "ExtensionRefused"
	EventAgencySubmissionReceived      = "AgencySubmissionReceived"
	EventAgencySubmissionAccepted      = "AgencySubmissionAccepted"
	EventAgencySubmissionReturned      = "AgencySubmissionReturned"
	EventChronologyEntryRecorded       = "ChronologyEntryRecorded"
	EventMissedOpportunityFlagged      = "MissedOpportunityFlagged"
	EventKeyPracticeEpisodeRecorded    = "KeyPracticeEpisodeRecorded"
	EventContributoryFactorRecorded    = "ContributoryFactorRecorded"
	EventFindingRecorded               = "FindingRecorded"
	EventAppraisalRecorded             = "AppraisalRecorded"
	EventFamilyInvolvementRecorded     = "FamilyInvolvementRecorded"
	EventRecommendationMade            = "RecommendationMade"
	EventActionCreated                 = "ActionCreated"
	EventActionProgressUpdated         = "ActionProgressUpdated"
	EventActionImpactEvidenced         = "ActionImpactEvidenced"
	EventActionVerified                = "ActionVerified"
	EventActionClosed                  = "ActionClosed"
	EventActionNotImplemented          = "ActionNotImplemented"
	EventStageCompleted                = "StageCompleted"
	EventDraftSubmittedForSignOff      = "DraftSubmittedForSignOff"
	EventReportApproved                = "ReportApproved"
	EventPrePublicationNoticeSent      = "PrePublicationNoticeSent"
	EventReportPublished               = "ReportPublished"
	EventPublicationDeferred           = "PublicationDeferred"
	EventCaseClosed                    = "CaseClosed"
	EventReminderSent                  = "ReminderSent"
	EventEscalationSent                = "EscalationSent"
	EventAccessRecorded                = "AccessRecorded"
	EventClockStarted                  = "ClockStarted"
	EventClockExtended                 = "ClockExtended"
	EventClockStopped                  = "ClockStopped"
)

func (CaseNotified) EventType() string                  { return EventCaseNotified }
func (NotificationSent) EventType() string              { return EventNotificationSent }
func (RapidReviewFactsRecorded) EventType() string      { return EventRapidReviewFactsRecorded }
func (RapidReviewEpisodesSummarised) EventType() string { return EventRapidReviewEpisodesSummarised }
func (ImmediateActionsRecorded) EventType() string      { return EventImmediateActionsRecorded }
func (DecisionProposed) EventType() string              { return EventDecisionProposed }
func (RapidReviewSignedOff) EventType() string          { return EventRapidReviewSignedOff }
func (RapidReviewSubmitted) EventType() string          { return EventRapidReviewSubmitted }
func (PanelResponded) EventType() string                { return EventPanelResponded }
func (ReviewDecided) EventType() string                 { return EventReviewDecided }
func (DecisionReportedToPanel) EventType() string       { return EventDecisionReportedToPanel }
func (ReviewerAppointed) EventType() string             { return EventReviewerAppointed }
func (TermsOfReferenceAgreed) EventType() string        { return EventTermsOfReferenceAgreed }
func (AgencyRequestSent) EventType() string             { return EventAgencyRequestSent }
func (ExtensionRequested) EventType() string            { return EventExtensionRequested }
func (ExtensionGranted) EventType() string              { return EventExtensionGranted }
func (ExtensionRefused) EventType() string              { return EventExtensionRefused }
func (AgencySubmissionReceived) EventType() string      { return EventAgencySubmissionReceived }
func (AgencySubmissionAccepted) EventType() string      { return EventAgencySubmissionAccepted }
func (AgencySubmissionReturned) EventType() string      { return EventAgencySubmissionReturned }
func (ChronologyEntryRecorded) EventType() string       { return EventChronologyEntryRecorded }
func (MissedOpportunityFlagged) EventType() string      { return EventMissedOpportunityFlagged }
func (KeyPracticeEpisodeRecorded) EventType() string    { return EventKeyPracticeEpisodeRecorded }
func (ContributoryFactorRecorded) EventType() string    { return EventContributoryFactorRecorded }
func (FindingRecorded) EventType() string               { return EventFindingRecorded }
func (AppraisalRecorded) EventType() string             { return EventAppraisalRecorded }
func (FamilyInvolvementRecorded) EventType() string     { return EventFamilyInvolvementRecorded }
func (RecommendationMade) EventType() string            { return EventRecommendationMade }
func (ActionCreated) EventType() string                 { return EventActionCreated }
func (ActionProgressUpdated) EventType() string         { return EventActionProgressUpdated }
func (ActionImpactEvidenced) EventType() string         { return EventActionImpactEvidenced }
func (ActionVerified) EventType() string                { return EventActionVerified }
func (ActionClosed) EventType() string                  { return EventActionClosed }
func (ActionNotImplemented) EventType() string          { return EventActionNotImplemented }
func (StageCompleted) EventType() string                { return EventStageCompleted }
func (DraftSubmittedForSignOff) EventType() string      { return EventDraftSubmittedForSignOff }
func (ReportApproved) EventType() string                { return EventReportApproved }
func (PrePublicationNoticeSent) EventType() string      { return EventPrePublicationNoticeSent }
func (ReportPublished) EventType() string               { return EventReportPublished }
func (PublicationDeferred) EventType() string           { return EventPublicationDeferred }
func (CaseClosed) EventType() string                    { return EventCaseClosed }
func (ReminderSent) EventType() string                  { return EventReminderSent }
func (EscalationSent) EventType() string                { return EventEscalationSent }
func (AccessRecorded) EventType() string                { return EventAccessRecorded }
func (ClockStarted) EventType() string                  { return EventClockStarted }
func (ClockExtended) EventType() string                 { return EventClockExtended }
func (ClockStopped) EventType() string                  { return EventClockStopped }

// Outcomes select between transitions and clocks that one event type can trigger.
func (e ReviewDecided) outcome() string  { return e.Outcome }
func (e PanelResponded) outcome() string { return e.Response }

type outcomer interface{ outcome() string }

func outcomeOf(e Event) string {
	if o, ok := e.(outcomer); ok {
		return o.outcome()
	}
	return ""
}

// Keys tell apart the instances of a clock that runs once per request or action.
func (e AgencyRequestSent) clockKey() string        { return e.RequestID }
func (e AgencySubmissionReceived) clockKey() string { return e.RequestID }
func (e AgencySubmissionAccepted) clockKey() string { return e.RequestID }
func (e AgencySubmissionReturned) clockKey() string { return e.RequestID }
func (e ExtensionGranted) clockKey() string         { return e.RequestID }
func (e ActionCreated) clockKey() string            { return e.ActionID }
func (e ActionVerified) clockKey() string           { return e.ActionID }
func (e ActionClosed) clockKey() string             { return e.ActionID }
func (e ActionNotImplemented) clockKey() string     { return e.ActionID }

type keyed interface{ clockKey() string }

func clockKeyOf(e Event) string {
	if k, ok := e.(keyed); ok {
		return k.clockKey()
	}
	return ""
}

// eventCodec knows one event type's current schema version and how to decode it.
type eventCodec struct {
	version int
	decode  func(version int, data []byte) (Event, error)
}

func plain[T Event](version int) eventCodec {
	return eventCodec{version: version, decode: func(v int, data []byte) (Event, error) {
		if v != version {
			return nil, fmt.Errorf("schema version %d is not known (current is %d)", v, version)
		}
		var e T
		if err := json.Unmarshal(data, &e); err != nil {
			return nil, err
		}
		return e, nil
	}}
}

var eventCodecs = map[string]eventCodec{
	EventCaseNotified:                  {version: 2, decode: decodeCaseNotified},
	EventNotificationSent:              plain[NotificationSent](1),
	EventRapidReviewFactsRecorded:      plain[RapidReviewFactsRecorded](1),
	EventRapidReviewEpisodesSummarised: plain[RapidReviewEpisodesSummarised](1),
	EventImmediateActionsRecorded:      plain[ImmediateActionsRecorded](1),
	EventDecisionProposed:              plain[DecisionProposed](1),
	EventRapidReviewSignedOff:          plain[RapidReviewSignedOff](1),
	EventRapidReviewSubmitted:          plain[RapidReviewSubmitted](1),
	EventPanelResponded:                plain[PanelResponded](1),
	EventReviewDecided:                 plain[ReviewDecided](1),
	EventDecisionReportedToPanel:       plain[DecisionReportedToPanel](1),
	EventReviewerAppointed:             plain[ReviewerAppointed](1),
	EventTermsOfReferenceAgreed:        plain[TermsOfReferenceAgreed](1),
	EventAgencyRequestSent:             plain[AgencyRequestSent](1),
	EventExtensionRequested:            plain[ExtensionRequested](1),
	EventExtensionGranted:              plain[ExtensionGranted](1),
	EventExtensionRefused:              plain[ExtensionRefused](1),
	EventAgencySubmissionReceived:      plain[AgencySubmissionReceived](1),
	EventAgencySubmissionAccepted:      plain[AgencySubmissionAccepted](1),
	EventAgencySubmissionReturned:      plain[AgencySubmissionReturned](1),
	EventChronologyEntryRecorded:       plain[ChronologyEntryRecorded](1),
	EventMissedOpportunityFlagged:      plain[MissedOpportunityFlagged](1),
	EventKeyPracticeEpisodeRecorded:    plain[KeyPracticeEpisodeRecorded](1),
	EventContributoryFactorRecorded:    plain[ContributoryFactorRecorded](1),
	EventFindingRecorded:               plain[FindingRecorded](1),
	EventAppraisalRecorded:             plain[AppraisalRecorded](1),
	EventFamilyInvolvementRecorded:     plain[FamilyInvolvementRecorded](1),
	EventRecommendationMade:            plain[RecommendationMade](1),
	EventActionCreated:                 plain[ActionCreated](1),
	EventActionProgressUpdated:         plain[ActionProgressUpdated](1),
	EventActionImpactEvidenced:         plain[ActionImpactEvidenced](1),
	EventActionVerified:                plain[ActionVerified](1),
	EventActionClosed:                  plain[ActionClosed](1),
	EventActionNotImplemented:          plain[ActionNotImplemented](1),
	EventStageCompleted:                plain[StageCompleted](1),
	EventDraftSubmittedForSignOff:      plain[DraftSubmittedForSignOff](1),
	EventReportApproved:                plain[ReportApproved](1),
	EventPrePublicationNoticeSent:      plain[PrePublicationNoticeSent](1),
	EventReportPublished:               plain[ReportPublished](1),
	EventPublicationDeferred:           plain[PublicationDeferred](1),
	EventCaseClosed:                    plain[CaseClosed](1),
	EventReminderSent:                  plain[ReminderSent](1),
	EventEscalationSent:                plain[EscalationSent](1),
	EventAccessRecorded:                plain[AccessRecorded](1),
	EventClockStarted:                  plain[ClockStarted](1),
	EventClockExtended:                 plain[ClockExtended](1),
	EventClockStopped:                  plain[ClockStopped](1),
}

// EventTypes returns every known event type name, sorted.
func EventTypes() []string {
	names := make([]string, 0, len(eventCodecs))
	for name := range eventCodecs {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// SchemaVersion returns the current schema version of an event type, or 0 if the type is unknown.
func SchemaVersion(eventType string) int { return eventCodecs[eventType].version }

// EncodeEvent returns an event's type name and JSON data. The data carries its schema version in
// a "schemaVersion" member, so that DecodeEvent can upcast it later without outside help.
func EncodeEvent(e Event) (string, []byte, error) {
	codec, ok := eventCodecs[e.EventType()]
	if !ok {
		return "", nil, fmt.Errorf("encode: unknown event type %q", e.EventType())
	}
	b, err := json.Marshal(e)
	if err != nil {
		return "", nil, fmt.Errorf("encode %s: %w", e.EventType(), err)
	}
	prefix := fmt.Sprintf(`{"schemaVersion":%d`, codec.version)
	if len(b) > 2 {
		prefix += ","
	}
	return e.EventType(), append([]byte(prefix), b[1:]...), nil
}

// DecodeEvent decodes JSON data of the named type into its event. The schema version is read from
// the data's "schemaVersion" member; data without one is version 1. Older versions are upcast.
func DecodeEvent(eventType string, data []byte) (Event, error) {
	var v struct {
		SchemaVersion int `json:"schemaVersion"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("decode %s: %w", eventType, err)
	}
	if v.SchemaVersion == 0 {
		v.SchemaVersion = 1
	}
	return DecodeEventVersion(eventType, v.SchemaVersion, data)
}

// DecodeEventVersion decodes data written at the given schema version, upcasting it to the current one.
// It is for stores that keep the schema version beside the data rather than in it.
func DecodeEventVersion(eventType string, schemaVersion int, data []byte) (Event, error) {
	codec, ok := eventCodecs[eventType]
	if !ok {
		return nil, fmt.Errorf("decode: unknown event type %q", eventType)
	}
	if schemaVersion < 1 || schemaVersion > codec.version {
		return nil, fmt.Errorf("decode %s: schema version %d is not known (want 1..%d)", eventType, schemaVersion, codec.version)
	}
	e, err := codec.decode(schemaVersion, data)
	if err != nil {
		return nil, fmt.Errorf("decode %s v%d: %w", eventType, schemaVersion, err)
	}
	return e, nil
}

// caseNotifiedV1 is CaseNotified as first written: one optional child, no list, no rule-set version.
type caseNotifiedV1 struct {
	CaseID        string        `json:"caseId"`
	Framework     string        `json:"framework"`
	AwarenessDate calendar.Date `json:"awarenessDate"`
	IncidentDate  calendar.Date `json:"incidentDate"`
	Nature        Nature        `json:"nature"`
	Outline       string        `json:"outline"`
	Child         *struct {
		Name        string        `json:"name"`
		DateOfBirth calendar.Date `json:"dateOfBirth"`
	} `json:"child"`
}

func decodeCaseNotified(version int, data []byte) (Event, error) {
	switch version {
	case 1:
		var old caseNotifiedV1
		if err := json.Unmarshal(data, &old); err != nil {
			return nil, err
		}
		e := CaseNotified{CaseID: old.CaseID, Notification: Notification{
			Framework:     old.Framework,
			AwarenessDate: old.AwarenessDate,
			IncidentDate:  old.IncidentDate,
			Nature:        old.Nature,
			Outline:       old.Outline,
			// Version 1 events were written before rule sets carried versions: they ran under the
			// rules in force when the incident became known.
			RulesVersion: rulesVersionInForce(old.Framework, old.AwarenessDate),
		}}
		if old.Child != nil {
			e.Children = []Child{{Name: old.Child.Name, DateOfBirth: old.Child.DateOfBirth}}
		}
		return e, nil
	case 2:
		var e CaseNotified
		if err := json.Unmarshal(data, &e); err != nil {
			return nil, err
		}
		return e, nil
	}
	return nil, fmt.Errorf("schema version %d is not known", version)
}
