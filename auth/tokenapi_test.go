package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestTokenAPI(t *testing.T) {
	a := newTestAuthenticator(t, Config{})
	mux := http.NewServeMux()
	a.RegisterTokenAPI(mux)
	mux.Handle("GET /api/v1/cases/{id}", Require(ActionCaseRead, func(r *http.Request) Resource {
		return Resource{CaseID: r.PathValue("id"), Agencies: []string{"police-north"}}
	}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ViaAPIToken(r.Context()) {
			t.Error("ViaAPIToken = false for a bearer request")
		}
	})))
	srv := httptest.NewServer(a.Middleware(mux))
	defer srv.Close()
	admin, err := a.Store().CreateToken(context.Background(), dana, "admin script", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	auditorToken, _ := a.Store().CreateToken(context.Background(), User{ID: "aud", Name: "Ada", Role: RoleAuditor}, "audit export", time.Hour)

	do := func(method, path, bearer string, body any) *http.Response {
		t.Helper()
		var buf bytes.Buffer
		if body != nil {
			json.NewEncoder(&buf).Encode(body)
		}
		req, _ := http.NewRequest(method, srv.URL+path, &buf)
		req.Header.Set("Authorization", "Bearer "+bearer)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return res
	}

	if res := do("GET", "/api/v1/tokens", auditorToken, nil); res.StatusCode != 403 {
		t.Errorf("auditor listing tokens = %d, want 403", res.StatusCode)
	}
	for _, bad := range []any{
		map[string]any{"name": "x", "user": map[string]any{"id": "s", "role": "agency-lead"}, "lifetimeDays": 30},
		map[string]any{"name": "x", "user": map[string]any{"id": "s", "role": "auditor"}, "lifetimeDays": 0},
		map[string]any{"name": "x", "user": map[string]any{"id": "s", "role": "auditor"}, "lifetimeDays": 30, "scope": "all"},
	} {
		if res := do("POST", "/api/v1/tokens", admin, bad); res.StatusCode != 400 {
			t.Errorf("POST %v = %d, want 400", bad, res.StatusCode)
		}
	}

	res := do("POST", "/api/v1/tokens", admin, map[string]any{
		"name": "police-north case system", "lifetimeDays": 90,
		"user": map[string]any{"id": "svc-pn", "name": "Police North system", "role": "agency-lead", "agency": "police-north"},
	})
	var created tokenJSON
	if err := json.NewDecoder(res.Body).Decode(&created); err != nil || res.StatusCode != 201 || created.Token == "" {
		t.Fatalf("create = %d %+v %v, want 201 with the token", res.StatusCode, created, err)
	}
	if res := do("GET", "/api/v1/cases/c1", created.Token, nil); res.StatusCode != 200 {
		t.Errorf("new agency token reading its case = %d, want 200", res.StatusCode)
	}

	res = do("GET", "/api/v1/tokens", admin, nil)
	var list []tokenJSON
	json.NewDecoder(res.Body).Decode(&list)
	if len(list) != 3 {
		t.Fatalf("listed %d tokens, want 3", len(list))
	}
	for _, tok := range list {
		if tok.Token != "" {
			t.Error("listing shows a token's secret")
		}
	}

	if res := do("DELETE", "/api/v1/tokens/"+created.ID, admin, nil); res.StatusCode != 204 {
		t.Errorf("revoke = %d, want 204", res.StatusCode)
	}
	if res := do("DELETE", "/api/v1/tokens/0000000000000000", admin, nil); res.StatusCode != 404 {
		t.Errorf("revoke unknown = %d, want 404", res.StatusCode)
	}
	if res := do("GET", "/api/v1/cases/c1", created.Token, nil); res.StatusCode != 401 {
		t.Errorf("revoked token = %d, want 401", res.StatusCode)
	}
}
