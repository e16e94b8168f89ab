package auth

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// OIDC signs people in through an OpenID Connect provider with the authorization-code flow,
// state, nonce and PKCE, and maps the ID token's claims to a User.
type OIDC struct {
	verifier    *oidc.IDTokenVerifier
	oauth       oauth2.Config
	roleClaim   string
	agencyClaim string
}

// flowLifetime bounds how long a person may take at the provider before the callback is refused.
const flowLifetime = 10 * time.Minute

// NewOIDC discovers the provider at issuerURL and returns a sign-in for the client registered there.
// roleClaim names the ID-token claim holding the casereview role (a string, or a list with exactly
// one casereview role); agencyClaim the claim holding the agency id of agency staff.
func NewOIDC(ctx context.Context, issuerURL, clientID, clientSecret, redirectURL, roleClaim, agencyClaim string) (*OIDC, error) {
	for _, f := range []struct{ name, value string }{
		{"issuer URL", issuerURL}, {"client ID", clientID}, {"redirect URL", redirectURL},
		{"role claim", roleClaim}, {"agency claim", agencyClaim},
	} {
		if strings.TrimSpace(f.value) == "" {
			return nil, fmt.Errorf("auth: OIDC %s is empty; set it from the identity provider's client registration", f.name)
		}
	}
	if u, err := url.Parse(redirectURL); err != nil || !u.IsAbs() {
		return nil, fmt.Errorf("auth: OIDC redirect URL %q must be absolute, e.g. https://casereview.example.org/auth/callback", redirectURL)
	}
	provider, err := oidc.NewProvider(ctx, issuerURL)
	if err != nil {
		return nil, fmt.Errorf("auth: discover OIDC provider %s: %w", issuerURL, err)
	}
	return &OIDC{
		verifier: provider.Verifier(&oidc.Config{ClientID: clientID}),
		oauth: oauth2.Config{
			ClientID:     clientID,
			ClientSecret: clientSecret,
			Endpoint:     provider.Endpoint(),
			RedirectURL:  redirectURL,
			Scopes:       []string{oidc.ScopeOpenID, "profile", "email"},
		},
		roleClaim:   roleClaim,
		agencyClaim: agencyClaim,
	}, nil
}

// CallbackPath is where the provider sends people back; register the redirect URL with this path.
const CallbackPath = "/auth/callback"

// Register mounts GET /signin (redirect to the provider), GET /auth/callback, POST /signout and
// GET /auth/me on mux. The mux must sit behind a.Middleware.
func (o *OIDC) Register(mux *http.ServeMux, a *Authenticator) {
	mux.Handle("GET "+SignInPath, o.SignIn(a))
	mux.Handle("GET "+CallbackPath, o.Callback(a))
	mux.HandleFunc("POST /signout", a.SignOut)
	mux.HandleFunc("GET /auth/me", a.Me)
}

func (a *Authenticator) flowCookieName() string {
	return a.cookieName + "-oidc"
}

// SignIn redirects to the provider. The state, nonce and PKCE verifier travel in a short-lived
// HttpOnly cookie rather than server memory, so any server instance can finish the flow.
func (o *OIDC) SignIn(a *Authenticator) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.allowAttempt(w, r, "") {
			return
		}
		state, err1 := randomString(32)
		nonce, err2 := randomString(32)
		if err := errors.Join(err1, err2); err != nil {
			a.internalError(w, r, err)
			return
		}
		verifier := oauth2.GenerateVerifier()
		next := base64.RawURLEncoding.EncodeToString([]byte(safeNext(r.URL.Query().Get("next"))))
		a.setCookie(w, a.flowCookieName(), strings.Join([]string{state, nonce, verifier, next}, "."), int(flowLifetime/time.Second))
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, o.oauth.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
	})
}

// Callback finishes the flow: it checks state, exchanges the code with the PKCE verifier, verifies
// the ID token and its nonce, maps the claims to a User and starts a session.
func (o *OIDC) Callback(a *Authenticator) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.allowAttempt(w, r, "") {
			return
		}
		fail := func(status int, detail string) {
			writeProblem(w, r, Problem{Type: ProblemSignInFailed, Title: "Sign-in failed", Status: status, SignIn: SignInPath, Detail: detail})
		}
		c, err := r.Cookie(a.flowCookieName())
		if err != nil {
			fail(http.StatusBadRequest, "The sign-in took longer than 10 minutes or the browser blocked cookies. Start again at "+SignInPath+".")
			return
		}
		a.setCookie(w, a.flowCookieName(), "", -1) // one use only
		parts := strings.Split(c.Value, ".")
		if len(parts) != 4 {
			fail(http.StatusBadRequest, "The sign-in cookie is damaged. Start again at "+SignInPath+".")
			return
		}
		state, nonce, verifier := parts[0], parts[1], parts[2]
		next, err := base64.RawURLEncoding.DecodeString(parts[3])
		if err != nil {
			next = []byte("/")
		}
		q := r.URL.Query()
		if e := q.Get("error"); e != "" {
			fail(http.StatusUnauthorized, fmt.Sprintf("The identity provider refused the sign-in (%s: %s).", e, q.Get("error_description")))
			return
		}
		if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
			fail(http.StatusBadRequest, "The sign-in state does not match this browser's. Start again at "+SignInPath+".")
			return
		}
		tok, err := o.oauth.Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			a.cfg.Logger.Warn().Err(err).Msg("OIDC code exchange failed")
			fail(http.StatusUnauthorized, "The identity provider did not accept the sign-in code. Start again at "+SignInPath+".")
			return
		}
		raw, _ := tok.Extra("id_token").(string)
		if raw == "" {
			fail(http.StatusUnauthorized, "The identity provider sent no ID token; check that the client is registered for OpenID Connect.")
			return
		}
		idt, err := o.verifier.Verify(r.Context(), raw)
		if err != nil {
			a.cfg.Logger.Warn().Err(err).Msg("OIDC ID token refused")
			fail(http.StatusUnauthorized, "The ID token could not be verified. Start again at "+SignInPath+".")
			return
		}
		if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
			fail(http.StatusUnauthorized, "The ID token was not issued for this sign-in (nonce mismatch). Start again at "+SignInPath+".")
			return
		}
		var claims map[string]any
		if err := idt.Claims(&claims); err != nil {
			a.internalError(w, r, fmt.Errorf("auth: decode ID token claims: %w", err))
			return
		}
		u, err := o.UserFromClaims(idt.Subject, claims)
		if err != nil {
			a.cfg.Logger.Warn().Err(err).Msg("OIDC sign-in denied")
			writeProblem(w, r, Problem{Type: ProblemForbidden, Title: "Sign-in denied", Status: http.StatusForbidden, Detail: err.Error()})
			return
		}
		if err := a.StartSession(w, r, u); err != nil {
			a.internalError(w, r, err)
			return
		}
		a.cfg.Logger.Info().Str("user", u.ID).Str("role", string(u.Role)).Msg("OIDC sign-in")
		http.Redirect(w, r, safeNext(string(next)), http.StatusSeeOther)
	})
}

// UserFromClaims maps ID-token claims to a User. A missing or unknown role, more than one
// casereview role, or agency staff without an agency is refused with ErrClaims.
func (o *OIDC) UserFromClaims(subject string, claims map[string]any) (User, error) {
	if subject == "" {
		return User{}, fmt.Errorf("%w: the ID token has no subject", ErrClaims)
	}
	var candidates []string
	switch v := claims[o.roleClaim].(type) {
	case string:
		candidates = []string{v}
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok {
				candidates = append(candidates, s)
			}
		}
	}
	var roles []Role
	for _, c := range candidates {
		if r := Role(c); r.Valid() && r != RolePublic {
			roles = append(roles, r)
		}
	}
	switch {
	case len(candidates) == 0:
		return User{}, fmt.Errorf("%w: your account has no %q claim; ask your administrator to give it one of the casereview roles %v",
			ErrClaims, o.roleClaim, Roles()[:len(Roles())-1])
	case len(roles) == 0:
		return User{}, fmt.Errorf("%w: your account's %q claim (%s) names no casereview role; ask your administrator to assign one of %v",
			ErrClaims, o.roleClaim, strings.Join(candidates, ", "), Roles()[:len(Roles())-1])
	case len(roles) > 1:
		return User{}, fmt.Errorf("%w: your account's %q claim names several casereview roles (%v); it must name exactly one",
			ErrClaims, o.roleClaim, roles)
	}
	u := User{ID: subject, Role: roles[0]}
	for _, k := range []string{"name", "preferred_username", "email"} {
		if s, ok := claims[k].(string); ok && s != "" {
			u.Name = s
			break
		}
	}
	if u.Name == "" {
		u.Name = subject
	}
	if u.Role.AgencyScoped() {
		u.Agency, _ = claims[o.agencyClaim].(string)
		if u.Agency == "" {
			return User{}, fmt.Errorf("%w: role %s needs an agency, but your account has no %q claim; ask your administrator to set it",
				ErrClaims, u.Role, o.agencyClaim)
		}
	}
	if err := u.Validate(); err != nil {
		return User{}, fmt.Errorf("%w: %w", ErrClaims, err)
	}
	return u, nil
}
