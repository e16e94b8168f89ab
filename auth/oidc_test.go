package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// testProvider is a minimal OpenID Connect provider: discovery, JWKS, an authorization endpoint that
// consents at once, and a token endpoint that checks PKCE and signs ID tokens with an RSA key.
type testProvider struct {
	t        *testing.T
	srv      *httptest.Server
	key      *rsa.PrivateKey
	clientID string
	secret   string

	mu     sync.Mutex
	claims map[string]any // extra claims for the next ID token
	nonce  string         // when set, replaces the nonce the client sent
	codes  map[string]grant
}

type grant struct{ nonce, challenge, redirectURI string }

func newTestProvider(t *testing.T) *testProvider {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &testProvider{t: t, key: key, clientID: "casereview", secret: "s3cret", codes: map[string]grant{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                p.srv.URL,
			"authorization_endpoint":                p.srv.URL + "/authorize",
			"token_endpoint":                        p.srv.URL + "/token",
			"jwks_uri":                              p.srv.URL + "/jwks",
			"response_types_supported":              []string{"code"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"code_challenge_methods_supported":      []string{"S256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *testProvider) setClaims(c map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.claims = c
}

func (p *testProvider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("response_type") != "code" || q.Get("client_id") != p.clientID || q.Get("code_challenge_method") != "S256" ||
		q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") == "" || !strings.Contains(q.Get("scope"), "openid") {
		http.Error(w, "bad authorization request: "+r.URL.RawQuery, http.StatusBadRequest)
		return
	}
	code := rand.Text()
	p.mu.Lock()
	p.codes[code] = grant{nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirectURI: q.Get("redirect_uri")}
	p.mu.Unlock()
	back, _ := url.Parse(q.Get("redirect_uri"))
	v := url.Values{"code": {code}, "state": {q.Get("state")}}
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (p *testProvider) token(w http.ResponseWriter, r *http.Request) {
	tokenError := func(msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": msg})
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
	}
	if id != p.clientID || secret != p.secret {
		tokenError("bad client credentials")
		return
	}
	p.mu.Lock()
	g, found := p.codes[r.PostFormValue("code")]
	delete(p.codes, r.PostFormValue("code"))
	claims, nonceOverride := p.claims, p.nonce
	p.mu.Unlock()
	if !found || r.PostFormValue("redirect_uri") != g.redirectURI {
		tokenError("unknown code or redirect_uri")
		return
	}
	sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
	if base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
		tokenError("PKCE verifier does not match the challenge")
		return
	}
	now := time.Now()
	body := map[string]any{"iss": p.srv.URL, "sub": "user-42", "aud": p.clientID, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "nonce": g.nonce}
	if nonceOverride != "" {
		body["nonce"] = nonceOverride
	}
	for k, v := range claims {
		body[k] = v
	}
	payload, _ := json.Marshal(body)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: p.key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		p.t.Error(err)
		return
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		p.t.Error(err)
		return
	}
	idToken, _ := jws.CompactSerialize()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"access_token": "at-" + rand.Text(), "token_type": "Bearer", "expires_in": 3600, "id_token": idToken})
}

// oidcApp runs casereview's OIDC sign-in against provider p over real HTTP.
func oidcApp(t *testing.T, p *testProvider) (*httptest.Server, *http.Client) {
	t.Helper()
	var handler http.Handler
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(app.Close)
	o, err := NewOIDC(context.Background(), p.srv.URL, p.clientID, p.secret, app.URL+CallbackPath, "casereview_role", "casereview_agency")
	if err != nil {
		t.Fatal(err)
	}
	a := newTestAuthenticator(t, Config{InsecureCookies: true})
	mux := http.NewServeMux()
	o.Register(mux, a)
	mux.Handle("GET /cases/{id}", RequireSignIn(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := UserFrom(r.Context())
		json.NewEncoder(w).Encode(u)
	})))
	handler = a.Middleware(mux)
	client := &http.Client{}
	client.Jar, _ = cookiejar.New(nil)
	return app, client
}

func TestOIDCSignInEndToEnd(t *testing.T) {
	p := newTestProvider(t)
	app, client := oidcApp(t, p)
	p.setClaims(map[string]any{"name": "Hana Lead", "casereview_role": "agency-lead", "casereview_agency": "health-visiting"})

	res, err := client.Get(app.URL + "/signin?next=" + url.QueryEscape("/cases/c1"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("after the flow: %d %s", res.StatusCode, b)
	}
	if res.Request.URL.Path != "/cases/c1" {
		t.Errorf("landed on %s, want the next path /cases/c1", res.Request.URL.Path)
	}
	var u User
	if err := json.NewDecoder(res.Body).Decode(&u); err != nil {
		t.Fatal(err)
	}
	want := User{ID: "user-42", Name: "Hana Lead", Role: RoleAgencyLead, Agency: "health-visiting"}
	if u != want {
		t.Errorf("signed in as %+v, want %+v", u, want)
	}
}

func TestOIDCRefusals(t *testing.T) {
	tests := []struct {
		name       string
		claims     map[string]any
		nonce      string
		tamper     func(flow *http.Cookie) // changes the flow cookie before the provider redirects back
		wantStatus int
		wantDetail string
	}{
		{name: "unknown role", claims: map[string]any{"casereview_role": "superuser"}, wantStatus: 403, wantDetail: "names no casereview role"},
		{name: "no role claim", claims: map[string]any{"groups": []string{"staff"}}, wantStatus: 403, wantDetail: "has no \"casereview_role\" claim"},
		{name: "agency lead without agency", claims: map[string]any{"casereview_role": "agency-lead"}, wantStatus: 403, wantDetail: "casereview_agency"},
		{name: "nonce replayed from another sign-in", claims: map[string]any{"casereview_role": "auditor"}, nonce: "stolen-nonce", wantStatus: 401, wantDetail: "nonce"},
		{name: "PKCE verifier swapped", claims: map[string]any{"casereview_role": "auditor"}, wantStatus: 401, wantDetail: "did not accept",
			tamper: func(c *http.Cookie) {
				parts := strings.Split(c.Value, ".")
				parts[2] = strings.Repeat("x", 43)
				c.Value = strings.Join(parts, ".")
			}},
		{name: "state from another browser", claims: map[string]any{"casereview_role": "auditor"}, wantStatus: 400, wantDetail: "state",
			tamper: func(c *http.Cookie) {
				parts := strings.Split(c.Value, ".")
				parts[0] = "someone-elses-state"
				c.Value = strings.Join(parts, ".")
			}},
		{name: "no flow cookie", claims: map[string]any{"casereview_role": "auditor"}, wantStatus: 400, wantDetail: "Start again",
			tamper: func(c *http.Cookie) { c.MaxAge = -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestProvider(t)
			p.setClaims(tt.claims)
			p.nonce = tt.nonce
			app, client := oidcApp(t, p)
			appURL, _ := url.Parse(app.URL)
			if tt.tamper != nil {
				client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
					if req.URL.Host == appURL.Host && req.URL.Path == CallbackPath {
						for _, c := range client.Jar.Cookies(appURL) {
							if strings.HasSuffix(c.Name, "-oidc") {
								c.Path = "/"
								tt.tamper(c)
								client.Jar.SetCookies(appURL, []*http.Cookie{c})
							}
						}
					}
					return nil
				}
			}
			res, err := client.Get(app.URL + "/signin")
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != tt.wantStatus {
				b, _ := io.ReadAll(res.Body)
				t.Fatalf("status = %d, want %d; body %s", res.StatusCode, tt.wantStatus, b)
			}
			if pr := decodeProblem(t, res); !strings.Contains(pr.Detail, tt.wantDetail) {
				t.Errorf("detail %q does not mention %q", pr.Detail, tt.wantDetail)
			}
			res, err = client.Get(app.URL + "/cases/c1")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 401 {
				t.Errorf("after a refused sign-in, a protected page answered %d, want 401", res.StatusCode)
			}
		})
	}
}

func TestOIDCProviderError(t *testing.T) {
	p := newTestProvider(t)
	app, client := oidcApp(t, p)
	// Start the flow for its cookie, then come back as the provider would after the person declined.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := client.Get(app.URL + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	res, err = client.Get(app.URL + CallbackPath + "?error=access_denied&error_description=declined")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if pr := decodeProblem(t, res); res.StatusCode != 401 || !strings.Contains(pr.Detail, "access_denied") {
		t.Errorf("provider error: %d %+v, want 401 naming access_denied", res.StatusCode, pr)
	}
}

func TestUserFromClaims(t *testing.T) {
	o := &OIDC{roleClaim: "roles", agencyClaim: "agency"}
	tests := []struct {
		name    string
		sub     string
		claims  map[string]any
		want    User
		wantErr bool
	}{
		{"string role", "s1", map[string]any{"roles": "reviewer", "name": "Riya"}, User{ID: "s1", Name: "Riya", Role: RoleReviewer}, false},
		{"list with one casereview role", "s1", map[string]any{"roles": []any{"staff", "auditor"}, "email": "a@example.org"}, User{ID: "s1", Name: "a@example.org", Role: RoleAuditor}, false},
		{"partner's agency claim ignored", "s1", map[string]any{"roles": "partner-icb", "agency": "icb"}, User{ID: "s1", Name: "s1", Role: RolePartnerICB}, false},
		{"practitioner with agency", "s1", map[string]any{"roles": "practitioner", "agency": "health-visiting", "preferred_username": "pat"}, User{ID: "s1", Name: "pat", Role: RolePractitioner, Agency: "health-visiting"}, false},
		{"two casereview roles", "s1", map[string]any{"roles": []any{"auditor", "coordinator"}}, User{}, true},
		{"public is not a role to sign in with", "s1", map[string]any{"roles": "public"}, User{}, true},
		{"unknown role", "s1", map[string]any{"roles": "admin"}, User{}, true},
		{"role of the wrong type", "s1", map[string]any{"roles": 7}, User{}, true},
		{"no subject", "", map[string]any{"roles": "auditor"}, User{}, true},
	}
	for _, tt := range tests {
		got, err := o.UserFromClaims(tt.sub, tt.claims)
		if tt.wantErr {
			if !errors.Is(err, ErrClaims) {
				t.Errorf("%s: err = %v, want ErrClaims", tt.name, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
}

func TestNewOIDCRejectsBadInput(t *testing.T) {
	p := newTestProvider(t)
	ctx := context.Background()
	tests := []struct{ name, issuer, client, redirect, role string }{
		{"no client id", p.srv.URL, "", "https://app.example/auth/callback", "role"},
		{"relative redirect", p.srv.URL, "c", "/auth/callback", "role"},
		{"no role claim", p.srv.URL, "c", "https://app.example/auth/callback", ""},
		{"issuer not serving discovery", p.srv.URL + "/nothing-here", "c", "https://app.example/auth/callback", "role"},
	}
	for _, tt := range tests {
		if _, err := NewOIDC(ctx, tt.issuer, tt.client, "", tt.redirect, tt.role, "agency"); err == nil {
			t.Errorf("%s: NewOIDC = nil error", tt.name)
		}
	}
}
