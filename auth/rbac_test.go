package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// wantMatrix restates the access-control matrix independently of rbac.go: for each action, which
// roles hold it and how far. "*" is every role.
var wantMatrix = map[Action]map[Role]Scope{
	ActionCaseCreate: {RoleCoordinator: ScopeAll},
	ActionCaseRead: {RoleCoordinator: ScopeAll, RolePartnerLA: ScopeAll, RolePartnerICB: ScopeAll, RolePartnerPolice: ScopeAll,
		RoleReviewer: ScopeAll, RoleAuditor: ScopeAll, RoleAgencyLead: ScopeAgencyInCase, RolePractitioner: ScopeAgencyInCase},
	ActionCaseList: {RoleCoordinator: ScopeAll, RolePartnerLA: ScopeAll, RolePartnerICB: ScopeAll, RolePartnerPolice: ScopeAll,
		RoleReviewer: ScopeAll, RoleAuditor: ScopeAll, RoleAgencyLead: ScopeFilteredList, RolePractitioner: ScopeFilteredList},
	ActionNotification:       {RoleCoordinator: ScopeAll, RolePartnerLA: ScopeAll},
	ActionRapidReviewSignOff: {RolePartnerLA: ScopeAll, RolePartnerICB: ScopeAll, RolePartnerPolice: ScopeAll},
	ActionDecision:           {RoleCoordinator: ScopeAll, RolePartnerLA: ScopeAll, RolePartnerICB: ScopeAll, RolePartnerPolice: ScopeAll},
	ActionReviewerAppoint:    {RoleCoordinator: ScopeAll, RolePartnerLA: ScopeAll, RolePartnerICB: ScopeAll, RolePartnerPolice: ScopeAll},
	ActionTermsOfReference: {RoleCoordinator: ScopeAll, RolePartnerLA: ScopeAll, RolePartnerICB: ScopeAll, RolePartnerPolice: ScopeAll,
		RoleReviewer: ScopeAll},
	ActionAgencyRequestSend:   {RoleCoordinator: ScopeAll},
	ActionAgencyRequestExtend: {RoleCoordinator: ScopeAll},
	ActionAgencyRequestAccept: {RoleCoordinator: ScopeAll, RoleReviewer: ScopeAll},
	ActionAgencyRequestReturn: {RoleCoordinator: ScopeAll, RoleReviewer: ScopeAll},
	ActionAgencySubmission:    {RoleAgencyLead: ScopeOwnAgency},
	ActionChronologyEntry:     {RoleAgencyLead: ScopeOwnAgency, RolePractitioner: ScopeOwnAgency},
	ActionLearningAnalysis:    {RoleReviewer: ScopeAll},
	ActionRecommendationCreate: {RoleCoordinator: ScopeAll, RolePartnerLA: ScopeAll, RolePartnerICB: ScopeAll, RolePartnerPolice: ScopeAll,
		RoleReviewer: ScopeAll},
	ActionActionCreate: {RoleCoordinator: ScopeAll, RolePartnerLA: ScopeAll, RolePartnerICB: ScopeAll, RolePartnerPolice: ScopeAll,
		RoleReviewer: ScopeAll},
	ActionActionProgress: {RoleAgencyLead: ScopeOwnAgency},
	ActionActionVerify:   {RolePartnerLA: ScopeAll, RolePartnerICB: ScopeAll, RolePartnerPolice: ScopeAll},
	ActionApproval:       {RolePartnerLA: ScopeAll, RolePartnerICB: ScopeAll, RolePartnerPolice: ScopeAll},
	ActionPublication:    {RoleCoordinator: ScopeAll, RolePartnerLA: ScopeAll, RolePartnerICB: ScopeAll, RolePartnerPolice: ScopeAll},
	ActionAuditRead: {RoleCoordinator: ScopeAll, RolePartnerLA: ScopeAll, RolePartnerICB: ScopeAll, RolePartnerPolice: ScopeAll,
		RoleAuditor: ScopeAll},
	ActionAuditVerify: {RoleAuditor: ScopeAll},
	ActionPublicRead:  {"*": ScopeAll},
	ActionTokenManage: {RoleCoordinator: ScopeAll},
}

func wantScope(a Action, r Role) (Scope, bool) {
	roles := wantMatrix[a]
	if s, ok := roles["*"]; ok {
		return s, true
	}
	s, ok := roles[r]
	return s, ok
}

// userFor returns a user in role r; agency staff work for health-visiting.
func userFor(r Role) User {
	u := User{ID: "u-" + string(r), Name: "Test " + string(r), Role: r}
	if r.AgencyScoped() {
		u.Agency = "health-visiting"
	}
	return u
}

// TestMatrixEveryRoleEveryAction checks Can for every role and action against four resources:
// the user's own agency's thing, another agency's thing, a case the user's agency takes part in,
// and a case it does not.
func TestMatrixEveryRoleEveryAction(t *testing.T) {
	if len(wantMatrix) != len(Actions()) {
		t.Fatalf("the test's matrix covers %d actions, the package has %d: add the new action to wantMatrix", len(wantMatrix), len(Actions()))
	}
	resources := []struct {
		name      string
		res       Resource
		ownAgency bool // the resource belongs to the user's agency
		inCase    bool // the user's agency takes part in the case
	}{
		{"own agency's item", Resource{CaseID: "c1", Agency: "health-visiting"}, true, true},
		{"other agency's item", Resource{CaseID: "c1", Agency: "police-north"}, false, false},
		{"case with own agency", Resource{CaseID: "c1", Agencies: []string{"police-north", "health-visiting"}}, false, true},
		{"case without own agency", Resource{CaseID: "c2", Agencies: []string{"police-north"}}, false, false},
		{"nothing named", Resource{}, false, false},
	}
	for _, role := range Roles() {
		u := userFor(role)
		for _, action := range Actions() {
			scope, granted := wantScope(action, role)
			for _, rc := range resources {
				var want bool
				switch {
				case !granted:
					want = false
				case scope == ScopeAll, scope == ScopeFilteredList:
					want = true
				case scope == ScopeOwnAgency:
					want = rc.ownAgency
				case scope == ScopeAgencyInCase:
					want = rc.inCase
				default:
					t.Fatalf("test does not know scope %q", scope)
				}
				if got := Can(u, action, rc.res); got != want {
					t.Errorf("Can(%s, %s, %s) = %v, want %v", role, action, rc.name, got, want)
				}
			}
		}
	}
}

func TestMatrixListsEveryGrantOnce(t *testing.T) {
	var want []string
	for _, role := range Roles() {
		for _, action := range Actions() {
			if s, ok := wantScope(action, role); ok {
				want = append(want, fmt.Sprintf("%s %s %s", role, action, s))
			}
		}
	}
	var got []string
	for _, r := range Matrix() {
		got = append(got, fmt.Sprintf("%s %s %s", r.Role, r.Action, r.Scope))
	}
	if !slices.Equal(got, want) {
		t.Errorf("Matrix() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestMatrixInvariants(t *testing.T) {
	for _, r := range Matrix() {
		switch {
		case r.Role == RoleAuditor && !r.Action.ReadOnly():
			t.Errorf("auditor may %s, which changes something; the auditor changes nothing", r.Action)
		case r.Role == RolePublic && r.Action != ActionPublicRead:
			t.Errorf("public may %s; the public sees only what is published", r.Action)
		case r.Role.AgencyScoped() && r.Scope == ScopeAll && r.Action != ActionPublicRead:
			t.Errorf("%s may %s on every agency's work; agencies see only their own", r.Role, r.Action)
		case r.Role == RoleReviewer && (r.Action == ActionApproval || r.Action == ActionRapidReviewSignOff):
			t.Errorf("reviewer may %s; the reviewer drafts but cannot sign off", r.Action)
		case (r.Scope == ScopeOwnAgency || r.Scope == ScopeAgencyInCase || r.Scope == ScopeFilteredList) && !r.Role.AgencyScoped():
			t.Errorf("%s has agency scope on %s but belongs to no agency", r.Role, r.Action)
		}
	}
}

func TestCanDeniesByDefault(t *testing.T) {
	own := Resource{CaseID: "c1", Agency: "health-visiting", Agencies: []string{"health-visiting"}}
	tests := []struct {
		name   string
		user   User
		action Action
		res    Resource
	}{
		{"unknown role", User{ID: "x", Role: "superuser"}, ActionCaseRead, own},
		{"empty role", User{ID: "x"}, ActionPublicRead, own},
		{"unknown action", userFor(RoleCoordinator), "case.delete", own},
		{"agency lead without agency, own-agency action", User{ID: "x", Role: RoleAgencyLead}, ActionAgencySubmission, Resource{}},
		{"agency lead without agency, case read", User{ID: "x", Role: RoleAgencyLead}, ActionCaseRead, Resource{Agencies: []string{""}}},
		{"practitioner submitting for the agency", userFor(RolePractitioner), ActionAgencySubmission, own},
		{"agency lead verifying its own action", userFor(RoleAgencyLead), ActionActionVerify, own},
		{"public reading a case", Public, ActionCaseRead, own},
	}
	for _, tt := range tests {
		if Can(tt.user, tt.action, tt.res) {
			t.Errorf("%s: Can = true, want false", tt.name)
		}
	}
}

func TestUserValidate(t *testing.T) {
	tests := []struct {
		user User
		ok   bool
	}{
		{User{ID: "a", Role: RoleCoordinator}, true},
		{User{ID: "a", Role: RoleAgencyLead, Agency: "police-north"}, true},
		{User{ID: "a", Role: RoleAgencyLead}, false},
		{User{ID: "a", Role: RoleReviewer, Agency: "police-north"}, false},
		{User{ID: "a", Role: RolePublic}, false},
		{User{ID: "a", Role: "admin"}, false},
		{User{Role: RoleAuditor}, false},
	}
	for _, tt := range tests {
		err := tt.user.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("Validate(%+v) = %v, want ok=%v", tt.user, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidUser) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalidUser", tt.user, err)
		}
	}
}
