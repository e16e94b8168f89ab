package auth

import (
	"fmt"
	"slices"
)

// Action is one thing a user may ask to do; commands are grouped as the workflows group them.
type Action string

// The actions. Command actions change a case; every other action only reads.
const (
	ActionCaseCreate Action = "case.create"
	ActionCaseRead   Action = "case.read"
	ActionCaseList   Action = "case.list" // the board

	ActionNotification         Action = "command.notification"
	ActionRapidReviewSignOff   Action = "command.rapid-review.sign-off"
	ActionDecision             Action = "command.decision"
	ActionReviewerAppoint      Action = "command.reviewer.appoint"
	ActionTermsOfReference     Action = "command.terms-of-reference"
	ActionAgencyRequestSend    Action = "command.agency-request.send"
	ActionAgencyRequestExtend  Action = "command.agency-request.extend"
	ActionAgencyRequestAccept  Action = "command.agency-request.accept"
	ActionAgencyRequestReturn  Action = "command.agency-request.return"
	ActionAgencySubmission     Action = "command.agency-submission"
	ActionChronologyEntry      Action = "command.chronology-entry"
	ActionLearningAnalysis     Action = "command.learning-analysis" // episodes, factors, findings, appraisal
	ActionRecommendationCreate Action = "command.recommendation.create"
	ActionActionCreate         Action = "command.action.create"
	ActionActionProgress       Action = "command.action.progress"
	ActionActionVerify         Action = "command.action.verify"
	ActionApproval             Action = "command.approval"
	ActionPublication          Action = "command.publication"
	ActionAuditRead            Action = "audit.read"
	ActionAuditVerify          Action = "audit.verify"
	ActionPublicRead           Action = "public.read"
	ActionTokenManage          Action = "token.manage"
)

// Actions lists every action, in the order documents show them.
func Actions() []Action {
	return []Action{
		ActionCaseCreate, ActionCaseRead, ActionCaseList,
		ActionNotification, ActionRapidReviewSignOff, ActionDecision, ActionReviewerAppoint,
		ActionTermsOfReference, ActionAgencyRequestSend, ActionAgencyRequestExtend,
		ActionAgencyRequestAccept, ActionAgencyRequestReturn, ActionAgencySubmission,
		ActionChronologyEntry, ActionLearningAnalysis, ActionRecommendationCreate,
		ActionActionCreate, ActionActionProgress, ActionActionVerify, ActionApproval,
		ActionPublication, ActionAuditRead, ActionAuditVerify, ActionPublicRead, ActionTokenManage,
	}
}

// ReadOnly reports whether a changes nothing; the auditor may do only read-only actions.
// audit.verify recomputes the hash chain and writes nothing, so it counts as a read.
func (a Action) ReadOnly() bool {
	switch a {
	case ActionCaseRead, ActionCaseList, ActionAuditRead, ActionAuditVerify, ActionPublicRead:
		return true
	}
	return false
}

// Resource is what an action applies to. Leave fields empty when they do not apply.
type Resource struct {
	CaseID string
	// Agency is the agency that owns the thing acted on: the agency of a request, submission,
	// chronology entry or action item.
	Agency string
	// Agencies are the agencies taking part in the case, for case-level reads by agency staff.
	Agencies []string
}

// Scope narrows a rule for agency-scoped roles.
type Scope string

const (
	// ScopeAll allows the action on every resource.
	ScopeAll Scope = "all"
	// ScopeOwnAgency allows it only when Resource.Agency is the user's agency.
	ScopeOwnAgency Scope = "own-agency"
	// ScopeAgencyInCase allows it only when the user's agency takes part in the case
	// (listed in Resource.Agencies, or is Resource.Agency).
	ScopeAgencyInCase Scope = "agency-in-case"
	// ScopeFilteredList allows a listing whose handler must drop every row for which
	// Can(u, ActionCaseRead, row) is false.
	ScopeFilteredList Scope = "filtered-list"
)

// Rule grants one role one action within a scope. Anything no rule grants is denied.
type Rule struct {
	Role   Role
	Action Action
	Scope  Scope
}

var (
	partners     = []Role{RolePartnerLA, RolePartnerICB, RolePartnerPolice}
	partnership  = append([]Role{RoleCoordinator}, partners...)
	staffReaders = append(slices.Clone(partnership), RoleReviewer, RoleAuditor)
	everyRole    = Roles()
	agencyLeads  = []Role{RoleAgencyLead}
)

// grants is the access-control matrix: the one place permissions are written down.
// Reading it row by row: who may do what, and how far that reaches.
var grants = []struct {
	action Action
	roles  []Role
	scope  Scope
}{
	{ActionCaseCreate, []Role{RoleCoordinator}, ScopeAll},
	// Partnership staff follow every case; the reviewer reads evidence; the auditor sees everything.
	{ActionCaseRead, staffReaders, ScopeAll},
	{ActionCaseRead, []Role{RoleAgencyLead, RolePractitioner}, ScopeAgencyInCase},
	{ActionCaseList, staffReaders, ScopeAll},
	{ActionCaseList, []Role{RoleAgencyLead, RolePractitioner}, ScopeFilteredList},

	// The local authority notifies; the business unit records it on the partners' behalf.
	{ActionNotification, []Role{RoleCoordinator, RolePartnerLA}, ScopeAll},
	// Each of the three partners signs the rapid review personally.
	{ActionRapidReviewSignOff, partners, ScopeAll},
	{ActionDecision, partnership, ScopeAll},
	{ActionReviewerAppoint, partnership, ScopeAll},
	{ActionTermsOfReference, append(slices.Clone(partnership), RoleReviewer), ScopeAll},
	{ActionAgencyRequestSend, []Role{RoleCoordinator}, ScopeAll},
	{ActionAgencyRequestExtend, []Role{RoleCoordinator}, ScopeAll},
	{ActionAgencyRequestAccept, []Role{RoleCoordinator, RoleReviewer}, ScopeAll},
	{ActionAgencyRequestReturn, []Role{RoleCoordinator, RoleReviewer}, ScopeAll},
	{ActionAgencySubmission, agencyLeads, ScopeOwnAgency},
	{ActionChronologyEntry, []Role{RoleAgencyLead, RolePractitioner}, ScopeOwnAgency},
	{ActionLearningAnalysis, []Role{RoleReviewer}, ScopeAll},
	{ActionRecommendationCreate, append(slices.Clone(partnership), RoleReviewer), ScopeAll},
	{ActionActionCreate, append(slices.Clone(partnership), RoleReviewer), ScopeAll},
	{ActionActionProgress, agencyLeads, ScopeOwnAgency},
	{ActionActionVerify, partners, ScopeAll},
	// The reviewer drafts but cannot sign off; approvals are the partners' alone.
	{ActionApproval, partners, ScopeAll},
	{ActionPublication, partnership, ScopeAll},

	{ActionAuditRead, []Role{RoleCoordinator, RolePartnerLA, RolePartnerICB, RolePartnerPolice, RoleAuditor}, ScopeAll},
	{ActionAuditVerify, []Role{RoleAuditor}, ScopeAll},
	{ActionPublicRead, everyRole, ScopeAll},
	{ActionTokenManage, []Role{RoleCoordinator}, ScopeAll},
}

type grantKey struct {
	role   Role
	action Action
}

var matrix = buildMatrix()

func buildMatrix() map[grantKey]Scope {
	m := make(map[grantKey]Scope)
	for _, g := range grants {
		for _, role := range g.roles {
			k := grantKey{role, g.action}
			if _, dup := m[k]; dup {
				panic(fmt.Sprintf("auth: matrix grants %s to %s twice", g.action, role))
			}
			m[k] = g.scope
		}
	}
	return m
}

// Matrix returns every rule, role by role in Roles order, then in Actions order.
func Matrix() []Rule {
	var rules []Rule
	for _, role := range Roles() {
		for _, action := range Actions() {
			if scope, ok := matrix[grantKey{role, action}]; ok {
				rules = append(rules, Rule{Role: role, Action: action, Scope: scope})
			}
		}
	}
	return rules
}

// Can reports whether u may do a on r. It denies by default: an unknown role or action, an
// agency-scoped role without an agency, or a resource outside the user's agency is refused.
func Can(u User, a Action, r Resource) bool {
	scope, ok := matrix[grantKey{u.Role, a}]
	if !ok {
		return false
	}
	if u.Role.AgencyScoped() && u.Agency == "" {
		return false
	}
	switch scope {
	case ScopeAll, ScopeFilteredList:
		return true
	case ScopeOwnAgency:
		return r.Agency != "" && r.Agency == u.Agency
	case ScopeAgencyInCase:
		return (r.Agency != "" && r.Agency == u.Agency) || slices.Contains(r.Agencies, u.Agency)
	}
	return false
}
