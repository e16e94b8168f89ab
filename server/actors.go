package server

import (
	"casereview/auth"
	"casereview/review"
)

// actorOf maps a signed-in user to the actor the rule sets know. The rule sets speak of the
// partnership's roles (business unit, safeguarding partner) and the partner a sign-off is for;
// sign-in speaks of people's accounts.
func actorOf(u auth.User) review.Actor {
	switch u.Role {
	case auth.RoleCoordinator:
		return review.Actor{UserID: u.ID, Role: review.RoleBusinessUnit, Agency: "partnership"}
	case auth.RolePartnerLA:
		return review.Actor{UserID: u.ID, Role: review.RolePartner, Agency: "local-authority"}
	case auth.RolePartnerICB:
		return review.Actor{UserID: u.ID, Role: review.RolePartner, Agency: "icb"}
	case auth.RolePartnerPolice:
		return review.Actor{UserID: u.ID, Role: review.RolePartner, Agency: "police"}
	case auth.RoleReviewer:
		return review.Actor{UserID: u.ID, Role: review.RoleReviewer, Agency: u.Agency}
	case auth.RoleAgencyLead:
		return review.Actor{UserID: u.ID, Role: review.RoleAgencyLead, Agency: u.Agency}
	case auth.RolePractitioner:
		return review.Actor{UserID: u.ID, Role: review.RolePractitioner, Agency: u.Agency}
	case auth.RoleAuditor:
		return review.Actor{UserID: u.ID, Role: review.RoleAuditor}
	}
	return review.Actor{}
}

// commandActions maps each command people may send to the coarse permission the front door
// checks; the rule set then decides whether this role may do it in this stage, and the domain
// whether an agency acts only for itself.
var commandActions = map[string]auth.Action{
	"SendNotification":             auth.ActionNotification,
	"RecordRapidReviewFacts":       auth.ActionNotification,
	"SummariseKeyPracticeEpisodes": auth.ActionNotification,
	"RecordImmediateActions":       auth.ActionNotification,
	"ProposeDecision":              auth.ActionNotification,
	"SubmitRapidReview":            auth.ActionNotification,
	"RecordPanelResponse":          auth.ActionNotification,
	"ReportDecisionToPanel":        auth.ActionNotification,
	"CompleteStage":                auth.ActionNotification,
	"CloseCase":                    auth.ActionNotification,
	"SignOffRapidReview":           auth.ActionRapidReviewSignOff,
	"RecordDecision":               auth.ActionDecision,
	"AppointReviewer":              auth.ActionReviewerAppoint,
	"AgreeTermsOfReference":        auth.ActionTermsOfReference,
	"RequestFromAgency":            auth.ActionAgencyRequestSend,
	"RequestExtension":             auth.ActionAgencySubmission,
	"DecideExtension":              auth.ActionAgencyRequestExtend,
	"SubmitToRequest":              auth.ActionAgencySubmission,
	"AcceptSubmission":             auth.ActionAgencyRequestAccept,
	"ReturnSubmission":             auth.ActionAgencyRequestReturn,
	"RecordChronologyEntry":        auth.ActionChronologyEntry,
	"FlagMissedOpportunity":        auth.ActionLearningAnalysis,
	"RecordKeyPracticeEpisode":     auth.ActionLearningAnalysis,
	"RecordContributoryFactor":     auth.ActionLearningAnalysis,
	"RecordFinding":                auth.ActionLearningAnalysis,
	"RecordAppraisal":              auth.ActionLearningAnalysis,
	"RecordFamilyInvolvement":      auth.ActionLearningAnalysis,
	"SubmitDraft":                  auth.ActionRecommendationCreate,
	"MakeRecommendation":           auth.ActionRecommendationCreate,
	"CreateAction":                 auth.ActionActionCreate,
	"UpdateActionProgress":         auth.ActionActionProgress,
	"RecordImpactEvidence":         auth.ActionActionProgress,
	"VerifyAction":                 auth.ActionActionVerify,
	"CloseAction":                  auth.ActionActionVerify,
	"MarkActionNotImplemented":     auth.ActionActionVerify,
	"ApproveReport":                auth.ActionApproval,
	"SendPrePublicationNotice":     auth.ActionPublication,
	"PublishReport":                auth.ActionPublication,
	"DeferPublication":             auth.ActionPublication,
}
