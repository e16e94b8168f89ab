package review

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"

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
	CaseID string `json:"caseId"`
	Notification
}

// SendNotification records the serious incident notification sent to the Panel.
type SendNotification struct {
	By
	Reference string `json:"reference"`
}

// RecordRapidReviewFacts records the rapid review's facts and agency involvement.
type RecordRapidReviewFacts struct {
	By
	Facts             string   `json:"facts"`
	AgenciesInvolved  []string `json:"agenciesInvolved"`
	InequalitiesNoted string   `json:"inequalitiesNoted"`
}

// SummariseKeyPracticeEpisodes records the rapid review's summary of key practice episodes.
type SummariseKeyPracticeEpisodes struct {
	By
	Summary string `json:"summary"`
}

// RecordImmediateActions records immediate safety actions.
type RecordImmediateActions struct {
	By
	Actions []string `json:"actions"`
}

// ProposeDecision records the rapid review's proposed next step.
type ProposeDecision struct {
	By
	Outcome   string `json:"outcome"`
	Rationale string `json:"rationale"`
}

// SignOffRapidReview is one partner's sign-off of the rapid review.
type SignOffRapidReview struct{ By }

// SubmitRapidReview sends the rapid review to the Panel.
type SubmitRapidReview struct{ By }

// RecordPanelResponse records the Panel's response.
type RecordPanelResponse struct {
	By
	Response string `json:"response"`
	Comments string `json:"comments"`
}

// RecordDecision records the partners' decision on a review.
type RecordDecision struct {
	By
	Outcome   string `json:"outcome"`
	Rationale string `json:"rationale"`
}

// ReportDecisionToPanel reports a decision not to review to the national panel.
type ReportDecisionToPanel struct{ By }

// AppointReviewer appoints an independent reviewer.
type AppointReviewer struct {
	By
	ReviewerID   string `json:"reviewerId"`
	Name         string `json:"name"`
	Lead         bool   `json:"lead"`
	Independence string `json:"independence"`
}

// AgreeTermsOfReference records the terms of reference.
type AgreeTermsOfReference struct {
	By
	Terms TermsOfReferenceAgreed `json:"terms"`
}

// RequestFromAgency asks an agency for a chronology or report. A zero DueDate takes the rule set's clock.
type RequestFromAgency struct {
	By
	RequestID string        `json:"requestId"`
	Agency    string        `json:"agency"`
	Kind      string        `json:"kind"`
	DueDate   calendar.Date `json:"dueDate"`
	Note      string        `json:"note"`
}

// RequestExtension asks for more time on a request.
type RequestExtension struct {
	By
	RequestID string        `json:"requestId"`
	NewDue    calendar.Date `json:"newDue"`
	Reason    string        `json:"reason"`
}

// DecideExtension grants or refuses a pending extension.
type DecideExtension struct {
	By
	RequestID string `json:"requestId"`
	Grant     bool   `json:"grant"`
	Reason    string `json:"reason"`
}

// SubmitToRequest answers a request.
type SubmitToRequest struct {
	By
	RequestID string `json:"requestId"`
	Summary   string `json:"summary"`
	Document  string `json:"document"`
}

// AcceptSubmission accepts a submission as complete.
type AcceptSubmission struct {
	By
	RequestID string `json:"requestId"`
}

// ReturnSubmission returns a submission for rework.
type ReturnSubmission struct {
	By
	RequestID string `json:"requestId"`
	Reason    string `json:"reason"`
}

// RecordChronologyEntry adds an entry to an agency's chronology.
type RecordChronologyEntry struct {
	By
	Entry ChronologyEntry `json:"entry"`
}

// FlagMissedOpportunity marks an entry as a missed opportunity.
type FlagMissedOpportunity struct {
	By
	EntryID   string `json:"entryId"`
	Rationale string `json:"rationale"`
}

// RecordKeyPracticeEpisode records a key practice episode.
type RecordKeyPracticeEpisode struct {
	By
	Episode KeyPracticeEpisodeRecorded `json:"episode"`
}

// RecordContributoryFactor records a contributory factor.
type RecordContributoryFactor struct {
	By
	Factor ContributoryFactorRecorded `json:"factor"`
}

// RecordFinding records a finding.
type RecordFinding struct {
	By
	Finding FindingRecorded `json:"finding"`
}

// RecordAppraisal records what should have happened.
type RecordAppraisal struct {
	By
	Appraisal AppraisalRecorded `json:"appraisal"`
}

// RecordFamilyInvolvement records the family's involvement.
type RecordFamilyInvolvement struct {
	By
	Invited     bool   `json:"invited"`
	Accepted    bool   `json:"accepted"`
	HowRecorded string `json:"howRecorded"`
}

// MakeRecommendation records a recommendation.
type MakeRecommendation struct {
	By
	RecommendationID string   `json:"recommendationId"`
	Text             string   `json:"text"`
	FindingIDs       []string `json:"findingIds"`
}

// CreateAction creates an owned action for a recommendation.
type CreateAction struct {
	By
	Action ActionCreated `json:"action"`
}

// UpdateActionProgress records progress on an action.
type UpdateActionProgress struct {
	By
	ActionID string `json:"actionId"`
	Status   string `json:"status"`
	Note     string `json:"note"`
}

// RecordImpactEvidence records evidence of an action's impact.
type RecordImpactEvidence struct {
	By
	ActionID string `json:"actionId"`
	Evidence string `json:"evidence"`
}

// VerifyAction verifies an action.
type VerifyAction struct {
	By
	ActionID string `json:"actionId"`
}

// CloseAction formally closes an action with a reason.
type CloseAction struct {
	By
	ActionID string `json:"actionId"`
	Reason   string `json:"reason"`
}

// MarkActionNotImplemented records that an action will not be implemented, and why.
type MarkActionNotImplemented struct {
	By
	ActionID string `json:"actionId"`
	Reason   string `json:"reason"`
}

// CompleteStage closes the current stage once its required artefacts exist.
type CompleteStage struct{ By }

// SubmitDraft sends the draft report for partner sign-off.
type SubmitDraft struct {
	By
	DraftVersion string `json:"draftVersion"`
	Document     string `json:"document"`
}

// ApproveReport is one partner's approval of the report.
type ApproveReport struct{ By }

// SendPrePublicationNotice sends the final report to the Panel and Secretary of State.
type SendPrePublicationNotice struct {
	By
	Recipients         []string      `json:"recipients"`
	PlannedPublication calendar.Date `json:"plannedPublication"`
}

// PublishReport publishes the report.
type PublishReport struct {
	By
	Location         string `json:"location"`
	ImprovementsOnly bool   `json:"improvementsOnly"`
	Justification    string `json:"justification"`
	// PublicText is the redacted report (or the improvements) as the public will read it; it is
	// checked for the children's and family's identifiers before anything is recorded.
	PublicText string `json:"publicText"`
}

// DeferPublication defers publication with a structured reason.
type DeferPublication struct {
	By
	Reason     string        `json:"reason"`
	Detail     string        `json:"detail"`
	ReviewDate calendar.Date `json:"reviewDate"`
}

// CloseCase closes the case.
type CloseCase struct {
	By
	Reason string `json:"reason"`
}

// RecordReminder records a reminder the workflow sent.
type RecordReminder struct {
	By
	Clock string `json:"clock"`
	Key   string `json:"key"`
}

// RecordEscalation records an escalation the workflow sent.
type RecordEscalation struct {
	By
	Clock string `json:"clock"`
	Key   string `json:"key"`
	To    string `json:"to"`
}

// RecordAccess records a person reading case data.
type RecordAccess struct {
	By
	Reader  Actor  `json:"reader"`
	What    string `json:"what"`
	Purpose string `json:"purpose"`
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

// commandTypes maps each command name to its struct type, for DecodeCommand.
var commandTypes = func() map[string]reflect.Type {
	m := make(map[string]reflect.Type, len(allCommands))
	for _, c := range allCommands {
		m[c.CommandName()] = reflect.TypeOf(c)
	}
	return m
}()

// DecodeCommand builds the named command from its JSON fields, refusing unknown fields, and sets its
// actor. The actor comes from whoever is authenticated, never from the payload.
func DecodeCommand(name string, actor Actor, payload []byte) (Command, error) {
	t, ok := commandTypes[name]
	if !ok {
		return nil, invalid("command.unknown", "command", "unknown command %q; valid commands: %s", name, strings.Join(CommandNames(), ", "))
	}
	v := reflect.New(t)
	if len(bytes.TrimSpace(payload)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(payload))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v.Interface()); err != nil {
			return nil, invalid("command.payload", payloadField(err), "%s: %v", name, err)
		}
	}
	v.Elem().FieldByName("By").Set(reflect.ValueOf(By{Actor: actor}))
	return v.Elem().Interface().(Command), nil
}

// payloadField names the JSON field a decoding error is about, where it can tell.
func payloadField(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Field
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return strings.Trim(f, `"`)
	}
	return ""
}

// ActorOf returns who performs a command.
func ActorOf(cmd Command) Actor { return cmd.actor() }
