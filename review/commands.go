package review

import (
	"slices"

	"casereview/calendar"
)

// Actor is the person (or the system) performing a command.
type Actor struct {
	UserID string `json:"userId"`
	Role   string `json:"role"`
	// Agency is the actor's agency; for a safeguarding partner it names the partner
	// (local-authority, icb, police) whose sign-off the actor gives.
	Agency string `json:"agency,omitempty"`
}

// Command is a request to change a case, made by an actor.
type Command interface {
	CommandName() string
	actor() Actor
}

// By carries the actor of a command; embed it in every command.
type By struct {
	Actor Actor `json:"actor"`
}

func (b By) actor() Actor { return b.Actor }

// NotifyIncident records an incident and opens a case.
type NotifyIncident struct {
	By
	CaseID string
	Notification
}

// SendNotification records the serious incident notification sent to the Panel.
type SendNotification struct {
	By
	Reference string
}

// RecordRapidReviewFacts records the rapid review's facts and agency involvement.
type RecordRapidReviewFacts struct {
	By
	Facts             string
	AgenciesInvolved  []string
	InequalitiesNoted string
}

// SummariseKeyPracticeEpisodes records the rapid review's summary of key practice episodes.
type SummariseKeyPracticeEpisodes struct {
	By
	Summary string
}

// RecordImmediateActions records immediate safety actions.
type RecordImmediateActions struct {
	By
	Actions []string
}

// ProposeDecision records the rapid review's proposed next step.
type ProposeDecision struct {
	By
	Outcome   string
	Rationale string
}

// SignOffRapidReview is one partner's sign-off of the rapid review.
type SignOffRapidReview struct{ By }

// SubmitRapidReview sends the rapid review to the Panel.
type SubmitRapidReview struct{ By }

// RecordPanelResponse records the Panel's response.
type RecordPanelResponse struct {
	By
	Response string
	Comments string
}

// RecordDecision records the partners' decision on a review.
type RecordDecision struct {
	By
	Outcome   string
	Rationale string
}

// ReportDecisionToPanel reports a decision not to review to the national panel.
type ReportDecisionToPanel struct{ By }

// AppointReviewer appoints an independent reviewer.
type AppointReviewer struct {
	By
	ReviewerID   string
	Name         string
	Lead         bool
	Independence string
}

// AgreeTermsOfReference records the terms of reference.
type AgreeTermsOfReference struct {
	By
	Terms TermsOfReferenceAgreed
}

// RequestFromAgency asks an agency for a chronology or report. A zero DueDate takes the rule set's clock.
type RequestFromAgency struct {
	By
	RequestID string
	Agency    string
	Kind      string
	DueDate   calendar.Date
	Note      string
}

// RequestExtension asks for more time on a request.
type RequestExtension struct {
	By
	RequestID string
	NewDue    calendar.Date
	Reason    string
}

// DecideExtension grants or refuses a pending extension.
type DecideExtension struct {
	By
	RequestID string
	Grant     bool
	Reason    string
}

// SubmitToRequest answers a request.
type SubmitToRequest struct {
	By
	RequestID string
	Summary   string
	Document  string
}

// AcceptSubmission accepts a submission as complete.
type AcceptSubmission struct {
	By
	RequestID string
}

// ReturnSubmission returns a submission for rework.
type ReturnSubmission struct {
	By
	RequestID string
	Reason    string
}

// RecordChronologyEntry adds an entry to an agency's chronology.
type RecordChronologyEntry struct {
	By
	Entry ChronologyEntry
}

// FlagMissedOpportunity marks an entry as a missed opportunity.
type FlagMissedOpportunity struct {
	By
	EntryID   string
	Rationale string
}

// RecordKeyPracticeEpisode records a key practice episode.
type RecordKeyPracticeEpisode struct {
	By
	Episode KeyPracticeEpisodeRecorded
}

// RecordContributoryFactor records a contributory factor.
type RecordContributoryFactor struct {
	By
	Factor ContributoryFactorRecorded
}

// RecordFinding records a finding.
type RecordFinding struct {
	By
	Finding FindingRecorded
}

// RecordAppraisal records what should have happened.
type RecordAppraisal struct {
	By
	Appraisal AppraisalRecorded
}

// RecordFamilyInvolvement records the family's involvement.
type RecordFamilyInvolvement struct {
	By
	Invited     bool
	Accepted    bool
	HowRecorded string
}

// MakeRecommendation records a recommendation.
type MakeRecommendation struct {
	By
	RecommendationID string
	Text             string
	FindingIDs       []string
}

// CreateAction creates an owned action for a recommendation.
type CreateAction struct {
	By
	Action ActionCreated
}

// UpdateActionProgress records progress on an action.
type UpdateActionProgress struct {
	By
	ActionID string
	Status   string
	Note     string
}

// RecordImpactEvidence records evidence of an action's impact.
type RecordImpactEvidence struct {
	By
	ActionID string
	Evidence string
}

// VerifyAction verifies an action.
type VerifyAction struct {
	By
	ActionID string
}

// CloseAction formally closes an action with a reason.
type CloseAction struct {
	By
	ActionID string
	Reason   string
}

// MarkActionNotImplemented records that an action will not be implemented, and why.
type MarkActionNotImplemented struct {
	By
	ActionID string
	Reason   string
}

// CompleteStage closes the current stage once its required artefacts exist.
type CompleteStage struct{ By }

// SubmitDraft sends the draft report for partner sign-off.
type SubmitDraft struct {
	By
	DraftVersion string
	Document     string
}

// ApproveReport is one partner's approval of the report.
type ApproveReport struct{ By }

// SendPrePublicationNotice sends the final report to the Panel and Secretary of State.
type SendPrePublicationNotice struct {
	By
	Recipients         []string
	PlannedPublication calendar.Date
}

// PublishReport publishes the report.
type PublishReport struct {
	By
	Location         string
	ImprovementsOnly bool
	Justification    string
}

// DeferPublication defers publication with a structured reason.
type DeferPublication struct {
	By
	Reason     string
	Detail     string
	ReviewDate calendar.Date
}

// CloseCase closes the case.
type CloseCase struct {
	By
	Reason string
}

// RecordReminder records a reminder the workflow sent.
type RecordReminder struct {
	By
	Clock string
	Key   string
}

// RecordEscalation records an escalation the workflow sent.
type RecordEscalation struct {
	By
	Clock string
	Key   string
	To    string
}

// RecordAccess records a person reading case data.
type RecordAccess struct {
	By
	Reader  Actor
	What    string
	Purpose string
}

func (NotifyIncident) CommandName() string               { return "NotifyIncident" }
func (SendNotification) CommandName() string             { return "SendNotification" }
func (RecordRapidReviewFacts) CommandName() string       { return "RecordRapidReviewFacts" }
func (SummariseKeyPracticeEpisodes) CommandName() string { return "SummariseKeyPracticeEpisodes" }
func (RecordImmediateActions) CommandName() string       { return "RecordImmediateActions" }
func (ProposeDecision) CommandName() string              { return "ProposeDecision" }
func (SignOffRapidReview) CommandName() string           { return "SignOffRapidReview" }
func (SubmitRapidReview) CommandName() string            { return "SubmitRapidReview" }
func (RecordPanelResponse) CommandName() string          { return "RecordPanelResponse" }
func (RecordDecision) CommandName() string               { return "RecordDecision" }
func (ReportDecisionToPanel) CommandName() string        { return "ReportDecisionToPanel" }
func (AppointReviewer) CommandName() string              { return "AppointReviewer" }
func (AgreeTermsOfReference) CommandName() string        { return "AgreeTermsOfReference" }
func (RequestFromAgency) CommandName() string            { return "RequestFromAgency" }
func (RequestExtension) CommandName() string             { return "RequestExtension" }
func (DecideExtension) CommandName() string              { return "DecideExtension" }
func (SubmitToRequest) CommandName() string              { return "SubmitToRequest" }
func (AcceptSubmission) CommandName() string             { return "AcceptSubmission" }
func (ReturnSubmission) CommandName() string             { return "ReturnSubmission" }
func (RecordChronologyEntry) CommandName() string        { return "RecordChronologyEntry" }
func (FlagMissedOpportunity) CommandName() string        { return "FlagMissedOpportunity" }
func (RecordKeyPracticeEpisode) CommandName() string     { return "RecordKeyPracticeEpisode" }
func (RecordContributoryFactor) CommandName() string     { return "RecordContributoryFactor" }
func (RecordFinding) CommandName() string                { return "RecordFinding" }
func (RecordAppraisal) CommandName() string              { return "RecordAppraisal" }
func (RecordFamilyInvolvement) CommandName() string      { return "RecordFamilyInvolvement" }
func (MakeRecommendation) CommandName() string           { return "MakeRecommendation" }
func (CreateAction) CommandName() string                 { return "CreateAction" }
func (UpdateActionProgress) CommandName() string         { return "UpdateActionProgress" }
func (RecordImpactEvidence) CommandName() string         { return "RecordImpactEvidence" }
func (VerifyAction) CommandName() string                 { return "VerifyAction" }
func (CloseAction) CommandName() string                  { return "CloseAction" }
func (MarkActionNotImplemented) CommandName() string     { return "MarkActionNotImplemented" }
func (CompleteStage) CommandName() string                { return "CompleteStage" }
func (SubmitDraft) CommandName() string                  { return "SubmitDraft" }
func (ApproveReport) CommandName() string                { return "ApproveReport" }
func (SendPrePublicationNotice) CommandName() string     { return "SendPrePublicationNotice" }
func (PublishReport) CommandName() string                { return "PublishReport" }
func (DeferPublication) CommandName() string             { return "DeferPublication" }
func (CloseCase) CommandName() string                    { return "CloseCase" }
func (RecordReminder) CommandName() string               { return "RecordReminder" }
func (RecordEscalation) CommandName() string             { return "RecordEscalation" }
func (RecordAccess) CommandName() string                 { return "RecordAccess" }

// allCommands holds one zero value of every command, for the name registry.
var allCommands = []Command{
	NotifyIncident{}, SendNotification{}, RecordRapidReviewFacts{}, SummariseKeyPracticeEpisodes{},
	RecordImmediateActions{}, ProposeDecision{}, SignOffRapidReview{}, SubmitRapidReview{},
	RecordPanelResponse{}, RecordDecision{}, ReportDecisionToPanel{}, AppointReviewer{},
	AgreeTermsOfReference{}, RequestFromAgency{}, RequestExtension{}, DecideExtension{},
	SubmitToRequest{}, AcceptSubmission{}, ReturnSubmission{}, RecordChronologyEntry{},
	FlagMissedOpportunity{}, RecordKeyPracticeEpisode{}, RecordContributoryFactor{}, RecordFinding{},
	RecordAppraisal{}, RecordFamilyInvolvement{}, MakeRecommendation{}, CreateAction{},
	UpdateActionProgress{}, RecordImpactEvidence{}, VerifyAction{}, CloseAction{},
	MarkActionNotImplemented{}, CompleteStage{}, SubmitDraft{}, ApproveReport{},
	SendPrePublicationNotice{}, PublishReport{}, DeferPublication{}, CloseCase{},
	RecordReminder{}, RecordEscalation{}, RecordAccess{},
}

var commandNames = func() map[string]bool {
	m := make(map[string]bool, len(allCommands))
	for _, c := range allCommands {
		m[c.CommandName()] = true
	}
	return m
}()

// CommandNames returns every command name, sorted.
func CommandNames() []string {
	names := sortedKeys(commandNames)
	slices.Sort(names)
	return names
}
