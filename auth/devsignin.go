package auth

import (
	"fmt"
	"html/template"
	"net"
	"net/http"
	"strings"
)

// DevUsers returns the seeded dev-mode users, one or more per role. The names are invented.
func DevUsers() []User {
	return []User{
		{ID: "dev-coordinator", Name: "Dana Coordinator", Role: RoleCoordinator},
		{ID: "dev-partner-la", Name: "Lucy Lambert (local authority partner, chair)", Role: RolePartnerLA},
		{ID: "dev-partner-icb", Name: "Ibrahim Carter (ICB partner)", Role: RolePartnerICB},
		{ID: "dev-partner-police", Name: "Petra Owens (police partner)", Role: RolePartnerPolice},
		{ID: "dev-reviewer", Name: "Riya Reviewer", Role: RoleReviewer},
		{ID: "dev-lead-police-north", Name: "Noah Lead (Police North)", Role: RoleAgencyLead, Agency: "police-north"},
		{ID: "dev-lead-health-visiting", Name: "Hana Lead (Health Visiting)", Role: RoleAgencyLead, Agency: "health-visiting"},
		{ID: "dev-practitioner", Name: "Pat Practitioner (Health Visiting)", Role: RolePractitioner, Agency: "health-visiting"},
		{ID: "dev-auditor", Name: "Ada Auditor", Role: RoleAuditor},
	}
}

// CheckDevBind refuses to let dev sign-in (which asks for no password) listen on anything but a
// loopback address, unless allowNonLoopback says the operator has accepted that risk. addr is a
// listen address such as "127.0.0.1:8080".
func CheckDevBind(addr string, allowNonLoopback bool) error {
	if allowNonLoopback {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w: listen address %q is not host:port (%v); use e.g. 127.0.0.1:8080", ErrNotLoopback, addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	what := fmt.Sprintf("%q", host)
	if host == "" || host == "0.0.0.0" || host == "::" {
		what = "every network interface"
	}
	return fmt.Errorf("%w: dev mode signs anyone in without a password, and %q would listen on %s; "+
		"listen on 127.0.0.1 or localhost instead, or allow non-loopback addresses explicitly if this network is yours alone",
		ErrNotLoopback, addr, what)
}

var devSignInPage = template.Must(template.New("signin").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in (development mode) – casereview</title>
</head>
<body>
<main>
<h1>Sign in (development mode)</h1>
<p><strong>Development mode:</strong> no password is asked. Choose whom to act as.</p>
{{if .Error}}<p role="alert">{{.Error}}</p>{{end}}
<ul>
{{range .Users}}<li>
<form method="post" action="/signin">
<input type="hidden" name="user" value="{{.ID}}">
<input type="hidden" name="next" value="{{$.Next}}">
{{if $.CSRFToken}}<input type="hidden" name="csrf_token" value="{{$.CSRFToken}}">{{end}}
<button type="submit" aria-describedby="role-{{.ID}}">Sign in as {{.Name}}</button>
<span id="role-{{.ID}}">role {{.Role}}{{if .Agency}}, agency {{.Agency}}{{end}}</span>
</form>
</li>
{{end}}</ul>
</main>
</body>
</html>
`))

// DevSignIn is the password-free sign-in of dev mode. Pair it with CheckDevBind.
type DevSignIn struct {
	users []User
	byID  map[string]User
}

// NewDevSignIn returns a dev sign-in offering users (DevUsers when nil).
func NewDevSignIn(users []User) (*DevSignIn, error) {
	if users == nil {
		users = DevUsers()
	}
	d := &DevSignIn{users: users, byID: make(map[string]User, len(users))}
	for _, u := range users {
		if err := u.Validate(); err != nil {
			return nil, fmt.Errorf("auth: dev user %q: %w", u.ID, err)
		}
		if _, dup := d.byID[u.ID]; dup {
			return nil, fmt.Errorf("%w: dev user id %q appears twice", ErrInvalidUser, u.ID)
		}
		d.byID[u.ID] = u
	}
	return d, nil
}

// Register mounts GET /signin (the page), POST /signin (form field user) and POST /signout on mux,
// and GET /auth/me. The mux must sit behind a.Middleware.
func (d *DevSignIn) Register(mux *http.ServeMux, a *Authenticator) {
	mux.Handle("GET "+SignInPath, d.Page())
	mux.Handle("POST "+SignInPath, d.SignIn(a))
	mux.HandleFunc("POST /signout", a.SignOut)
	mux.HandleFunc("GET /auth/me", a.Me)
}

type devPageData struct {
	Users     []User
	Next      string
	CSRFToken string
	Error     string
}

// Page serves the sign-in page.
func (d *DevSignIn) Page() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.render(w, r, http.StatusOK, "")
	})
}

func (d *DevSignIn) render(w http.ResponseWriter, r *http.Request, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'")
	w.WriteHeader(status)
	devSignInPage.Execute(w, devPageData{
		Users:     d.users,
		Next:      safeNext(r.FormValue("next")),
		CSRFToken: CSRFToken(r.Context()),
		Error:     msg,
	})
}

// SignIn signs in the user named by the form field user and redirects to the form's next path.
func (d *DevSignIn) SignIn(a *Authenticator) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimSpace(r.PostFormValue("user"))
		if !a.allowAttempt(w, r, id) {
			return
		}
		u, ok := d.byID[id]
		if !ok {
			writeProblem(w, r, Problem{Type: ProblemSignInFailed, Title: "Unknown dev user", Status: http.StatusBadRequest,
				Detail: fmt.Sprintf("The form field user must be one of the dev users listed at %s; got %q.", SignInPath, id)})
			return
		}
		if err := a.StartSession(w, r, u); err != nil {
			a.internalError(w, r, err)
			return
		}
		a.cfg.Logger.Info().Str("user", u.ID).Str("role", string(u.Role)).Msg("dev sign-in")
		http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
	})
}
