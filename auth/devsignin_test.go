package auth

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// devServer runs dev sign-in and testApp's routes behind the middleware over real HTTP(S).
func devServer(t *testing.T, cfg Config, tls bool) (*httptest.Server, *http.Client) {
	t.Helper()
	a := newTestAuthenticator(t, cfg)
	d, err := NewDevSignIn(nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	d.Register(mux, a)
	mux.Handle("GET /{$}", RequireSignIn(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := UserFrom(r.Context())
		io.WriteString(w, "board for "+u.ID)
	})))
	mux.Handle("POST /api/v1/cases", Require(ActionCaseCreate, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})))
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(a.Middleware(mux))
	} else {
		srv = httptest.NewServer(a.Middleware(mux))
	}
	t.Cleanup(srv.Close)
	client := srv.Client()
	client.Jar, _ = cookiejar.New(nil)
	return srv, client
}

func TestDevSignInOverHTTP(t *testing.T) {
	for _, tls := range []bool{true, false} {
		name := "https with __Host- cookie"
		if !tls {
			name = "plain http loopback with insecure cookie"
		}
		t.Run(name, func(t *testing.T) {
			srv, client := devServer(t, Config{InsecureCookies: !tls}, tls)

			res, err := client.Get(srv.URL + "/signin")
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(res.Body)
			res.Body.Close()
			for _, want := range []string{`<html lang="en">`, "Sign in as Dana Coordinator", `name="user" value="dev-auditor"`, "<button", "agency police-north"} {
				if !strings.Contains(string(page), want) {
					t.Errorf("sign-in page lacks %q", want)
				}
			}
			if got := len(regexp.MustCompile(`<form method="post" action="/signin">`).FindAll(page, -1)); got != len(DevUsers()) {
				t.Errorf("sign-in page has %d forms, want one per dev user (%d)", got, len(DevUsers()))
			}

			res, err = client.PostForm(srv.URL+"/signin", url.Values{"user": {"dev-coordinator"}, "next": {"/"}})
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || string(body) != "board for dev-coordinator" {
				t.Fatalf("after sign-in: %d %q, want the board for dev-coordinator", res.StatusCode, body)
			}

			res, err = client.Get(srv.URL + "/auth/me")
			if err != nil {
				t.Fatal(err)
			}
			var me struct{ CSRFToken string }
			json.NewDecoder(res.Body).Decode(&me)
			res.Body.Close()
			if me.CSRFToken == "" {
				t.Fatal("/auth/me gave no CSRF token")
			}

			res, err = client.Get(srv.URL + "/signin")
			if err != nil {
				t.Fatal(err)
			}
			page, _ = io.ReadAll(res.Body)
			res.Body.Close()
			if !strings.Contains(string(page), `name="csrf_token" value="`+me.CSRFToken+`"`) {
				t.Error("the sign-in page shown to a signed-in user lacks the session's CSRF token, so switching user would fail")
			}

			post := func(path, csrf string) int {
				req, _ := http.NewRequest("POST", srv.URL+path, nil)
				if csrf != "" {
					req.Header.Set("X-CSRF-Token", csrf)
				}
				res, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				return res.StatusCode
			}
			if got := post("/api/v1/cases", ""); got != 403 {
				t.Errorf("create case without CSRF token = %d, want 403", got)
			}
			if got := post("/api/v1/cases", me.CSRFToken); got != 201 {
				t.Errorf("create case with CSRF token = %d, want 201", got)
			}
			if got := post("/signout", ""); got != 403 {
				t.Errorf("sign out without CSRF token = %d, want 403", got)
			}
			if got := post("/signout", me.CSRFToken); got != 204 {
				t.Errorf("sign out = %d, want 204", got)
			}
			if got := post("/api/v1/cases", me.CSRFToken); got != 401 {
				t.Errorf("create case after sign-out = %d, want 401", got)
			}
		})
	}
}

func TestDevSignInRejectsUnknownUserAndOpenRedirect(t *testing.T) {
	srv, client := devServer(t, Config{}, true)
	res, err := client.PostForm(srv.URL+"/signin", url.Values{"user": {"mallory"}})
	if err != nil {
		t.Fatal(err)
	}
	if p := decodeProblem(t, res); res.StatusCode != 400 || !strings.Contains(p.Detail, "mallory") {
		t.Errorf("unknown user: %d %+v, want 400 naming the user", res.StatusCode, p)
	}
	res.Body.Close()

	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	client.Jar = nil // each attempt a fresh browser, or the second would need the first session's CSRF token
	for _, next := range []string{"https://evil.example/", "//evil.example/", "/\\evil.example"} {
		res, err := client.PostForm(srv.URL+"/signin", url.Values{"user": {"dev-auditor"}, "next": {next}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if loc := res.Header.Get("Location"); loc != "/" {
			t.Errorf("next=%q redirected to %q, want /", next, loc)
		}
	}
}

func TestNewDevSignInRejectsBadUsers(t *testing.T) {
	for _, users := range [][]User{
		{{ID: "a", Role: RoleAgencyLead}},
		{{ID: "a", Role: RoleCoordinator}, {ID: "a", Role: RoleAuditor}},
	} {
		if _, err := NewDevSignIn(users); !errors.Is(err, ErrInvalidUser) {
			t.Errorf("NewDevSignIn(%+v) = %v, want ErrInvalidUser", users, err)
		}
	}
}

func TestDevUsersCoverEveryRole(t *testing.T) {
	seen := map[Role]int{}
	for _, u := range DevUsers() {
		if err := u.Validate(); err != nil {
			t.Errorf("dev user %s: %v", u.ID, err)
		}
		seen[u.Role]++
	}
	for _, r := range Roles() {
		if r != RolePublic && seen[r] == 0 {
			t.Errorf("no dev user has role %s", r)
		}
	}
	if seen[RoleAgencyLead] != 2 {
		t.Errorf("%d agency leads, want 2 (police-north, health-visiting)", seen[RoleAgencyLead])
	}
}

func TestCheckDevBind(t *testing.T) {
	tests := []struct {
		addr  string
		allow bool
		ok    bool
	}{
		{"127.0.0.1:8080", false, true},
		{"127.0.0.53:8080", false, true},
		{"[::1]:8080", false, true},
		{"localhost:8080", false, true},
		{":8080", false, false},
		{"0.0.0.0:8080", false, false},
		{"[::]:8080", false, false},
		{"192.168.1.20:8080", false, false},
		{"casereview.example.org:443", false, false},
		{"127.0.0.1", false, false}, // no port: not a listen address
		{"0.0.0.0:8080", true, true},
		{":8080", true, true},
	}
	for _, tt := range tests {
		err := CheckDevBind(tt.addr, tt.allow)
		if (err == nil) != tt.ok {
			t.Errorf("CheckDevBind(%q, %v) = %v, want ok=%v", tt.addr, tt.allow, err, tt.ok)
		}
		if err != nil && (!errors.Is(err, ErrNotLoopback) || !strings.Contains(err.Error(), "127.0.0.1")) {
			t.Errorf("CheckDevBind(%q) error %q should wrap ErrNotLoopback and say what to use instead", tt.addr, err)
		}
	}
}
