package auth

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Cookie names. The __Host- prefix makes the browser refuse the cookie unless it is Secure, has
// Path=/ and no Domain, so a sibling subdomain cannot plant or overwrite it.
const (
	SessionCookie         = "__Host-casereview"
	InsecureSessionCookie = "casereview"
)

// SignInPath is where the sign-in flow starts, in dev mode and with OIDC alike; 401 problems point there.
const SignInPath = "/signin"

// Config configures an Authenticator.
type Config struct {
	Store *Store
	// InsecureCookies drops the Secure attribute and the __Host- prefix. Browsers do not send
	// Secure cookies over plain http (they make an exception for localhost, but not for 127.0.0.1
	// in every browser), so dev mode on a loopback address without TLS needs this to sign in at all.
	// Never set it when the server is reachable from another machine.
	InsecureCookies bool
	// IdleTimeout ends a session nobody used for this long; 1 hour when zero.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends every session this long after sign-in, however busy; 12 hours when zero.
	AbsoluteTimeout time.Duration
	// IPLimiter limits sign-in attempts (and failed API tokens) per client IP; 10 at once, then one
	// every 6 seconds, when nil.
	IPLimiter *RateLimiter
	// NameLimiter limits sign-in attempts per user name; 5 at once, then one every 30 seconds, when nil.
	NameLimiter *RateLimiter
	// ClientIP returns the client address a request came from; the host of RemoteAddr when nil.
	// Behind a reverse proxy, supply one that trusts only that proxy's forwarding header.
	ClientIP func(*http.Request) string
	Logger   zerolog.Logger
	Now      func() time.Time // the clock; time.Now when nil
}

// Authenticator resolves who is behind each request and guards state-changing requests.
type Authenticator struct {
	cfg         Config
	cookieName  string
	crossOrigin *http.CrossOriginProtection
}

// New returns an Authenticator over cfg.Store.
func New(cfg Config) (*Authenticator, error) {
	if cfg.Store == nil {
		return nil, errors.New("auth: Config.Store is nil; open one with OpenStore")
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = time.Hour
	}
	if cfg.AbsoluteTimeout == 0 {
		cfg.AbsoluteTimeout = 12 * time.Hour
	}
	if cfg.IdleTimeout < 0 || cfg.AbsoluteTimeout < 0 || cfg.IdleTimeout > cfg.AbsoluteTimeout {
		return nil, fmt.Errorf("auth: IdleTimeout %s and AbsoluteTimeout %s must be positive, idle no longer than absolute",
			cfg.IdleTimeout, cfg.AbsoluteTimeout)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.IPLimiter == nil {
		cfg.IPLimiter = NewRateLimiter(1.0/6, 10, cfg.Now)
	}
	if cfg.NameLimiter == nil {
		cfg.NameLimiter = NewRateLimiter(1.0/30, 5, cfg.Now)
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = remoteHost
	}
	a := &Authenticator{cfg: cfg, cookieName: SessionCookie, crossOrigin: http.NewCrossOriginProtection()}
	if cfg.InsecureCookies {
		a.cookieName = InsecureSessionCookie
	}
	return a, nil
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Store returns the session and token store, for token management handlers.
func (a *Authenticator) Store() *Store { return a.cfg.Store }

// CookieName is the name of the session cookie this Authenticator sets.
func (a *Authenticator) CookieName() string { return a.cookieName }

type (
	csrfKey     struct{}
	viaTokenKey struct{}
)

// ViaAPIToken reports whether the request's user was resolved from an API token rather than a
// person's session.
func ViaAPIToken(ctx context.Context) bool {
	v, _ := ctx.Value(viaTokenKey{}).(bool)
	return v
}

// CSRFToken returns the CSRF token of the request's session, for pages to put in their forms as
// csrf_token or for scripts to send as X-CSRF-Token; "" when the request has no session.
func CSRFToken(ctx context.Context) string {
	s, _ := ctx.Value(csrfKey{}).(string)
	return s
}

func unsafeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	return true
}

// Middleware resolves the user from a Bearer token or the session cookie, leaving Public when there
// is neither, and refuses a state-changing request that came from another origin or that rides on
// a session cookie without the session's CSRF token. Bearer requests need no CSRF token: a browser
// never attaches a bearer token on its own, so a forged cross-site request cannot carry one.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if h := r.Header.Get("Authorization"); h != "" {
			u, ok := a.bearerUser(w, r, h)
			if !ok {
				return
			}
			ctx = context.WithValue(WithUser(ctx, u), viaTokenKey{}, true)
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}

		user := Public
		var sess *Session
		if c, err := r.Cookie(a.cookieName); err == nil {
			s, err := a.cfg.Store.LookupSession(ctx, c.Value, a.cfg.IdleTimeout)
			switch {
			case err == nil:
				user, sess = s.User, &s
			case errors.Is(err, ErrNoSession), errors.Is(err, ErrSessionExpired):
				a.clearCookie(w)
			default:
				a.internalError(w, r, err)
				return
			}
		}

		if unsafeMethod(r.Method) {
			if err := a.crossOrigin.Check(r); err != nil {
				writeProblem(w, r, Problem{Type: ProblemCSRF, Title: "Cross-origin request refused", Status: http.StatusForbidden,
					Detail: "This request came from another site. Submit the form from casereview's own pages."})
				return
			}
			if sess != nil && !csrfTokenMatches(r, sess.CSRFToken) {
				writeProblem(w, r, Problem{Type: ProblemCSRF, Title: "Missing or wrong CSRF token", Status: http.StatusForbidden,
					Detail: "A state-changing request made with a session cookie must carry the session's CSRF token in the X-CSRF-Token header or a csrf_token form field. Reload the page and try again."})
				return
			}
		}

		ctx = WithUser(ctx, user)
		if sess != nil {
			ctx = context.WithValue(ctx, csrfKey{}, sess.CSRFToken)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (a *Authenticator) bearerUser(w http.ResponseWriter, r *http.Request, header string) (User, bool) {
	scheme, token, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="casereview"`)
		writeProblem(w, r, Problem{Type: ProblemInvalidToken, Title: "Unsupported Authorization header", Status: http.StatusUnauthorized,
			Detail: "Send an API token as \"Authorization: Bearer " + TokenPrefix + "...\"."})
		return User{}, false
	}
	u, err := a.cfg.Store.AuthenticateToken(r.Context(), strings.TrimSpace(token))
	if err == nil {
		return u, true
	}
	if !errors.Is(err, ErrInvalidToken) && !errors.Is(err, ErrTokenExpired) && !errors.Is(err, ErrTokenRevoked) {
		a.internalError(w, r, err)
		return User{}, false
	}
	// Failed tokens count against the client's sign-in budget, so guessing tokens is as slow as
	// guessing sign-ins.
	if ok, wait := a.cfg.IPLimiter.Allow(a.cfg.ClientIP(r)); !ok {
		tooManyAttempts(w, r, wait)
		return User{}, false
	}
	detail := "The API token is not valid. Ask a coordinator for a new one."
	switch {
	case errors.Is(err, ErrTokenExpired):
		detail = "The API token has expired. Ask a coordinator for a new one."
	case errors.Is(err, ErrTokenRevoked):
		detail = "The API token has been revoked. Ask a coordinator for a new one."
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="casereview", error="invalid_token"`)
	writeProblem(w, r, Problem{Type: ProblemInvalidToken, Title: "Invalid API token", Status: http.StatusUnauthorized, Detail: detail})
	return User{}, false
}

func csrfTokenMatches(r *http.Request, want string) bool {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		// Only forms carry the field; parsing any other body here would consume it for nothing.
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if ct == "application/x-www-form-urlencoded" || ct == "multipart/form-data" {
			got = r.PostFormValue("csrf_token")
		}
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// Require answers 401 when nobody is signed in and the public may not do a, 403 when the signed-in
// user may not do a on the resource, and otherwise calls next. resource extracts the resource from
// the request (path values, a read-model look-up); nil means Resource{}.
func Require(a Action, resource func(*http.Request) Resource, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := UserFrom(r.Context())
		if !ok {
			u = Public
		}
		var res Resource
		if resource != nil {
			res = resource(r)
		}
		if Can(u, a, res) {
			next.ServeHTTP(w, r)
			return
		}
		if u.Role == RolePublic {
			writeSignInRequired(w, r)
			return
		}
		writeProblem(w, r, Problem{Type: ProblemForbidden, Title: "Not allowed", Status: http.StatusForbidden, Action: a,
			Detail: fmt.Sprintf("Your role (%s) may not do %s here.", u.Role, a)})
	})
}

// RequireSignIn answers 401 unless someone is signed in, for routes that need a user but whose
// handler decides per item what that user sees (the live feed).
func RequireSignIn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !SignedIn(r.Context()) {
			writeSignInRequired(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeSignInRequired(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="casereview"`)
	writeProblem(w, r, Problem{Type: ProblemSignInRequired, Title: "Sign-in required", Status: http.StatusUnauthorized, SignIn: SignInPath,
		Detail: "Sign in at " + SignInPath + ", or send an API token as \"Authorization: Bearer " + TokenPrefix + "...\"."})
}

func tooManyAttempts(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	secs := int((wait + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeProblem(w, r, Problem{Type: ProblemRateLimited, Title: "Too many sign-in attempts", Status: http.StatusTooManyRequests,
		Detail: fmt.Sprintf("Too many sign-in attempts from here or for this user. Try again in %d seconds.", secs)})
}

// allowAttempt takes a sign-in attempt from the client's and, when name is not empty, the user
// name's bucket, answering 429 when either is empty.
func (a *Authenticator) allowAttempt(w http.ResponseWriter, r *http.Request, name string) bool {
	if ok, wait := a.cfg.IPLimiter.Allow(a.cfg.ClientIP(r)); !ok {
		a.cfg.Logger.Warn().Str("reason", "ip").Msg("sign-in rate limited")
		tooManyAttempts(w, r, wait)
		return false
	}
	if name != "" {
		if ok, wait := a.cfg.NameLimiter.Allow(name); !ok {
			a.cfg.Logger.Warn().Str("reason", "name").Msg("sign-in rate limited")
			tooManyAttempts(w, r, wait)
			return false
		}
	}
	return true
}

func (a *Authenticator) internalError(w http.ResponseWriter, r *http.Request, err error) {
	a.cfg.Logger.Error().Err(err).Str("path", r.URL.Path).Msg("auth request failed")
	writeProblem(w, r, Problem{Type: ProblemInternal, Title: "Internal error", Status: http.StatusInternalServerError,
		Detail: "The server could not complete the request; it has been logged."})
}

func (a *Authenticator) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		Secure:   !a.cfg.InsecureCookies,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
}

func (a *Authenticator) clearCookie(w http.ResponseWriter) {
	a.setCookie(w, a.cookieName, "", -1)
}

// StartSession signs u in: it ends the request's previous session, if any, stores a new one and
// sets its cookie. The cookie has no Max-Age, so it dies with the browser; the server enforces the
// idle and absolute expiry either way.
func (a *Authenticator) StartSession(w http.ResponseWriter, r *http.Request, u User) error {
	if c, err := r.Cookie(a.cookieName); err == nil {
		if err := a.cfg.Store.DeleteSession(r.Context(), c.Value); err != nil {
			return err
		}
	}
	id, _, err := a.cfg.Store.CreateSession(r.Context(), u, a.cfg.IdleTimeout, a.cfg.AbsoluteTimeout)
	if err != nil {
		return err
	}
	a.setCookie(w, a.cookieName, id, 0)
	return nil
}

// SignOut deletes the session and its cookie, then sends browsers to "/" and API clients a 204.
// Mount it as POST /signout behind Middleware, which demands the CSRF token.
func (a *Authenticator) SignOut(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(a.cookieName); err == nil {
		if err := a.cfg.Store.DeleteSession(r.Context(), c.Value); err != nil {
			a.internalError(w, r, err)
			return
		}
	}
	a.clearCookie(w)
	w.Header().Set("Cache-Control", "no-store")
	if wantsHTML(r) {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func wantsHTML(r *http.Request) bool {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return ct == "application/x-www-form-urlencoded" || strings.Contains(r.Header.Get("Accept"), "text/html")
}

// Me answers who is signed in, with the CSRF token scripts must send; 401 when nobody is.
func (a *Authenticator) Me(w http.ResponseWriter, r *http.Request) {
	u, _ := UserFrom(r.Context())
	if u.Role == "" || u.Role == RolePublic {
		writeSignInRequired(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(struct {
		User
		CSRFToken string `json:"csrfToken,omitempty"`
	}{u, CSRFToken(r.Context())})
}

// safeNext returns next when it is a path on this site, else "/": a sign-in that redirects wherever
// a link says would make the sign-in page an open redirect.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.ContainsAny(next, "\r\n") {
		return "/"
	}
	return next
}
