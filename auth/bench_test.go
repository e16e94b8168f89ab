package auth

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkMiddlewareSession measures what a cookie-authenticated request costs: one SQLite read.
func BenchmarkMiddlewareSession(b *testing.B) {
	s, err := OpenStore(b.Context(), b.TempDir()+"/auth.db", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	a, err := New(Config{Store: s})
	if err != nil {
		b.Fatal(err)
	}
	id, _, err := s.CreateSession(b.Context(), dana, a.cfg.IdleTimeout, a.cfg.AbsoluteTimeout)
	if err != nil {
		b.Fatal(err)
	}
	h := a.Middleware(Require(ActionCaseRead, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})))
	cookie := &http.Cookie{Name: a.CookieName(), Value: id}
	for b.Loop() {
		req := httptest.NewRequest("GET", "/api/v1/cases/c1", nil)
		req.AddCookie(cookie)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

func BenchmarkCan(b *testing.B) {
	u := User{ID: "l", Role: RoleAgencyLead, Agency: "health-visiting"}
	res := Resource{CaseID: "c1", Agencies: []string{"police-north", "health-visiting"}}
	for b.Loop() {
		if !Can(u, ActionCaseRead, res) {
			b.Fatal("denied")
		}
	}
}
