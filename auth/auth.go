// Package auth signs people and machine clients in to casereview and decides what each may do.
package auth

import (
	"context"
	"fmt"
)

// Role is what a person does in the partnership; permissions hang off roles, never off people.
type Role string

// The roles of lifecycle.md §5. A safeguarding partner may also chair the partnership; chairing adds
// no permission of its own, so it is not a role.
const (
	RoleCoordinator   Role = "coordinator"    // partnership business unit
	RolePartnerLA     Role = "partner-la"     // safeguarding partner: local authority
	RolePartnerICB    Role = "partner-icb"    // safeguarding partner: integrated care board
	RolePartnerPolice Role = "partner-police" // safeguarding partner: police
	RoleReviewer      Role = "reviewer"       // independent (lead) reviewer
	RoleAgencyLead    Role = "agency-lead"    // answers for one agency
	RolePractitioner  Role = "practitioner"   // case-group member from one agency
	RoleAuditor       Role = "auditor"        // reads and verifies everything, changes nothing
	RolePublic        Role = "public"         // anyone not signed in
)

// Roles lists every role, in the order documents show them.
func Roles() []Role {
	return []Role{
		RoleCoordinator, RolePartnerLA, RolePartnerICB, RolePartnerPolice, RoleReviewer,
		RoleAgencyLead, RolePractitioner, RoleAuditor, RolePublic,
	}
}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool {
	for _, known := range Roles() {
		if r == known {
			return true
		}
	}
	return false
}

// AgencyScoped reports whether people in this role belong to one agency and see only its work.
func (r Role) AgencyScoped() bool {
	return r == RoleAgencyLead || r == RolePractitioner
}

// User is the person or machine client behind a request.
type User struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Role   Role   `json:"role"`
	Agency string `json:"agency,omitempty"` // the agency id, for agency-lead and practitioner only
}

// Public is the anonymous user: what a request is when nobody signed in.
var Public = User{Role: RolePublic}

// Validate checks that u is a user the rest of the package can reason about.
func (u User) Validate() error {
	switch {
	case !u.Role.Valid():
		return fmt.Errorf("%w: role %q is not one of %v", ErrInvalidUser, u.Role, Roles())
	case u.Role == RolePublic:
		return fmt.Errorf("%w: the public role cannot sign in", ErrInvalidUser)
	case u.ID == "":
		return fmt.Errorf("%w: user id is empty", ErrInvalidUser)
	case u.Role.AgencyScoped() && u.Agency == "":
		return fmt.Errorf("%w: role %s needs an agency id", ErrInvalidUser, u.Role)
	case !u.Role.AgencyScoped() && u.Agency != "":
		return fmt.Errorf("%w: role %s works for the partnership and takes no agency id (got %q)", ErrInvalidUser, u.Role, u.Agency)
	}
	return nil
}

type userKey struct{}

// WithUser returns a context carrying u.
func WithUser(ctx context.Context, u User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom returns the user the middleware resolved; ok is false when no middleware ran.
// A request nobody signed in to carries Public, with ok true.
func UserFrom(ctx context.Context) (User, bool) {
	u, ok := ctx.Value(userKey{}).(User)
	return u, ok
}

// SignedIn reports whether ctx carries a user other than Public.
func SignedIn(ctx context.Context) bool {
	u, ok := UserFrom(ctx)
	return ok && u.Role != RolePublic
}
