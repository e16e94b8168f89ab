package auth

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func newTestAuthenticator(t *testing.T, cfg Config) *Authenticator {
	t.Helper()
	if cfg.Store == nil {
		cfg.Store, _ = newTestStore(t, cfg.Now)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// testApp is a small API behind the middleware: create a case, read a case that health-visiting
// takes part in, read the public register.
func testApp(a *Authenticator) http.Handler {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := UserFrom(r.Context())
		io.WriteString(w, "ok "+u.ID)
	})
	mux := http.NewServeMux()
	mux.Handle("POST /api/v1/cases", Require(ActionCaseCreate, nil, ok))
	mux.Handle("GET /api/v1/cases/{id}", Require(ActionCaseRead, func(r *http.Request) Resource {
		return Resource{CaseID: r.PathValue("id"), Agencies: []string{"health-visiting"}}
	}, ok))
	mux.Handle("GET /register", Require(ActionPublicRead, nil, ok))
	mux.Handle("GET /api/v1/live", RequireSignIn(ok))
	mux.HandleFunc("GET /auth/me", a.Me)
	return a.Middleware(mux)
}

// signIn creates a session for u directly in the store and returns its cookie and CSRF token.
func signIn(t *testing.T, a *Authenticator, u User) (*http.Cookie, string) {
	t.Helper()
	id, sess, err := a.Store().CreateSession(context.Background(), u, time.Hour, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Cookie{Name: a.CookieName(), Value: id}, sess.CSRFToken
}

func decodeProblem(t *testing.T, res *http.Response) Problem {
	t.Helper()
	if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	var p Problem
	if err := json.NewDecoder(res.Body).Decode(&p); err != nil {
		t.Fatalf("decode problem: %v", err)
	}
	if p.Status != res.StatusCode || p.Type == "" || p.Title == "" || p.Detail == "" || p.Instance == "" {
		t.Errorf("problem %+v lacks a field or disagrees with status %d", p, res.StatusCode)
	}
	return p
}

func TestCSRF(t *testing.T) {
	a := newTestAuthenticator(t, Config{})
	app := testApp(a)
	cookie, csrf := signIn(t, a, dana)
	token, err := a.Store().CreateToken(context.Background(), dana, "ci", time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		method  string
		header  map[string]string
		form    url.Values
		cookie  bool
		want    int
		problem string
	}{
		{"GET needs no token", "GET", nil, nil, true, 200, ""},
		{"POST without token", "POST", nil, nil, true, 403, ProblemCSRF},
		{"POST with wrong header", "POST", map[string]string{"X-CSRF-Token": "wrong"}, nil, true, 403, ProblemCSRF},
		{"POST with wrong form field", "POST", nil, url.Values{"csrf_token": {"wrong"}}, true, 403, ProblemCSRF},
		{"POST with right header", "POST", map[string]string{"X-CSRF-Token": csrf}, nil, true, 200, ""},
		{"POST with right form field", "POST", nil, url.Values{"csrf_token": {csrf}}, true, 200, ""},
		{"POST with right token from another site", "POST", map[string]string{"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"}, nil, true, 403, ProblemCSRF},
		{"POST with right token, foreign Origin", "POST", map[string]string{"X-CSRF-Token": csrf, "Origin": "https://evil.example"}, nil, true, 403, ProblemCSRF},
		{"POST with right token, same-origin fetch", "POST", map[string]string{"X-CSRF-Token": csrf, "Sec-Fetch-Site": "same-origin"}, nil, true, 200, ""},
		{"bearer POST needs no CSRF token", "POST", map[string]string{"Authorization": "Bearer " + token}, nil, false, 200, ""},
		{"anonymous POST", "POST", nil, nil, false, 401, ProblemSignInRequired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/api/v1/cases"
			if tt.method == "GET" {
				path = "/api/v1/cases/c1"
			}
			var body io.Reader
			if tt.form != nil {
				body = strings.NewReader(tt.form.Encode())
			}
			req := httptest.NewRequest(tt.method, "https://casereview.test"+path, body)
			if tt.form != nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			if tt.cookie {
				req.AddCookie(cookie)
			}
			rec := httptest.NewRecorder()
			app.ServeHTTP(rec, req)
			res := rec.Result()
			if res.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d; body %s", res.StatusCode, tt.want, rec.Body)
			}
			if tt.problem != "" {
				if p := decodeProblem(t, res); p.Type != tt.problem {
					t.Errorf("problem type = %q, want %q", p.Type, tt.problem)
				}
			} else if got := rec.Body.String(); got != "ok "+dana.ID {
				t.Errorf("body = %q, want the handler to see %s", got, dana.ID)
			}
		})
	}
}

func TestRequireAnswers401And403WithProblems(t *testing.T) {
	a := newTestAuthenticator(t, Config{})
	app := testApp(a)
	practitioner := User{ID: "p1", Name: "Pat", Role: RolePractitioner, Agency: "health-visiting"}
	otherLead := User{ID: "l2", Name: "Noah", Role: RoleAgencyLead, Agency: "police-north"}
	ownLead := User{ID: "l1", Name: "Hana", Role: RoleAgencyLead, Agency: "health-visiting"}

	tests := []struct {
		name       string
		user       *User
		method     string
		path       string
		want       int
		wantType   string
		wantAction Action
	}{
		{"public reads a case", nil, "GET", "/api/v1/cases/c1", 401, ProblemSignInRequired, ""},
		{"public opens the live feed", nil, "GET", "/api/v1/live", 401, ProblemSignInRequired, ""},
		{"public reads the register", nil, "GET", "/register", 200, "", ""},
		{"practitioner creates a case", &practitioner, "POST", "/api/v1/cases", 403, ProblemForbidden, ActionCaseCreate},
		{"other agency's lead reads the case", &otherLead, "GET", "/api/v1/cases/c1", 403, ProblemForbidden, ActionCaseRead},
		{"own agency's lead reads the case", &ownLead, "GET", "/api/v1/cases/c1", 200, "", ""},
		{"signed-in user opens the live feed", &otherLead, "GET", "/api/v1/live", 200, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, nil)
			if tt.user != nil {
				cookie, csrf := signIn(t, a, *tt.user)
				req.AddCookie(cookie)
				req.Header.Set("X-CSRF-Token", csrf)
			}
			rec := httptest.NewRecorder()
			app.ServeHTTP(rec, req)
			res := rec.Result()
			if res.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d; body %s", res.StatusCode, tt.want, rec.Body)
			}
			if tt.wantType == "" {
				return
			}
			p := decodeProblem(t, res)
			if p.Type != tt.wantType || p.Action != tt.wantAction || p.Instance != tt.path {
				t.Errorf("problem = %+v, want type %s, action %q, instance %s", p, tt.wantType, tt.wantAction, tt.path)
			}
			if tt.want == 401 {
				if p.SignIn != SignInPath {
					t.Errorf("401 problem points to %q, want %s", p.SignIn, SignInPath)
				}
				if res.Header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
			}
			if tt.want == 403 && !strings.Contains(p.Detail, string(tt.wantAction)) {
				t.Errorf("403 detail %q does not name the action", p.Detail)
			}
		})
	}
}

func TestBearerTokens(t *testing.T) {
	clock := newFakeClock()
	a := newTestAuthenticator(t, Config{Now: clock.Now})
	app := testApp(a)
	ctx := context.Background()
	live, err := a.Store().CreateToken(ctx, dana, "live", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	revoked, _ := a.Store().CreateToken(ctx, dana, "revoked", 24*time.Hour)
	id, _ := TokenID(revoked)
	if err := a.Store().RevokeToken(ctx, id); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, header string
		want         int
		detail       string
	}{
		{"live token", "Bearer " + live, 200, ""},
		{"lower-case scheme", "bearer " + live, 200, ""},
		{"revoked token", "Bearer " + revoked, 401, "revoked"},
		{"made-up token", "Bearer crt_0123456789abcdef_nope", 401, "not valid"},
		{"basic auth", "Basic ZGFuYTpwdw==", 401, "Bearer"},
	}
	for _, tt := range tests {
		req := httptest.NewRequest("GET", "/api/v1/cases/c1", nil)
		req.Header.Set("Authorization", tt.header)
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("%s: status = %d, want %d; body %s", tt.name, rec.Code, tt.want, rec.Body)
			continue
		}
		if tt.want == 401 {
			if p := decodeProblem(t, rec.Result()); p.Type != ProblemInvalidToken || !strings.Contains(p.Detail, tt.detail) {
				t.Errorf("%s: problem = %+v, want invalid-token mentioning %q", tt.name, p, tt.detail)
			}
		}
	}
}

func TestExpiredSessionIsPublicAndCookieCleared(t *testing.T) {
	clock := newFakeClock()
	a := newTestAuthenticator(t, Config{Now: clock.Now, IdleTimeout: time.Hour, AbsoluteTimeout: 2 * time.Hour})
	app := testApp(a)
	cookie, _ := signIn(t, a, dana)
	clock.Advance(3 * time.Hour)
	req := httptest.NewRequest("GET", "/api/v1/cases/c1", nil)
	req.AddCookie(cookie)
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, req)
	if rec.Code != 401 {
		t.Fatalf("status = %d, want 401", rec.Code)
	}
	cleared := false
	for _, c := range rec.Result().Cookies() {
		if c.Name == a.CookieName() && c.MaxAge < 0 {
			cleared = true
		}
	}
	if !cleared {
		t.Error("the expired session's cookie was not cleared")
	}
}

func TestMe(t *testing.T) {
	a := newTestAuthenticator(t, Config{})
	app := testApp(a)
	cookie, csrf := signIn(t, a, dana)
	req := httptest.NewRequest("GET", "/auth/me", nil)
	req.AddCookie(cookie)
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, req)
	var me struct {
		ID, Role, CSRFToken string
	}
	if err := json.NewDecoder(rec.Body).Decode(&me); err != nil || me.ID != dana.ID || me.Role != "coordinator" || me.CSRFToken != csrf {
		t.Errorf("me = %+v, %v; want dana with her CSRF token", me, err)
	}
	rec = httptest.NewRecorder()
	app.ServeHTTP(rec, httptest.NewRequest("GET", "/auth/me", nil))
	if rec.Code != 401 {
		t.Errorf("anonymous /auth/me = %d, want 401", rec.Code)
	}
}

func TestSessionCookieAttributes(t *testing.T) {
	tests := []struct {
		insecure bool
		name     string
		secure   bool
	}{
		{false, "__Host-casereview", true},
		{true, "casereview", false},
	}
	for _, tt := range tests {
		a := newTestAuthenticator(t, Config{InsecureCookies: tt.insecure})
		rec := httptest.NewRecorder()
		if err := a.StartSession(rec, httptest.NewRequest("POST", "/signin", nil), dana); err != nil {
			t.Fatal(err)
		}
		cookies := rec.Result().Cookies()
		if len(cookies) != 1 {
			t.Fatalf("StartSession set %d cookies, want 1", len(cookies))
		}
		c := cookies[0]
		if c.Name != tt.name || c.Secure != tt.secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" || c.MaxAge != 0 {
			t.Errorf("insecure=%v: cookie %s, want name %s, Secure=%v, HttpOnly, SameSite=Lax, Path=/, no Domain, no Max-Age",
				tt.insecure, rec.Header().Get("Set-Cookie"), tt.name, tt.secure)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	s, _ := newTestStore(t, nil)
	for _, cfg := range []Config{
		{},
		{Store: s, IdleTimeout: 3 * time.Hour, AbsoluteTimeout: time.Hour},
		{Store: s, IdleTimeout: -time.Minute},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) = nil error", cfg)
		}
	}
}
