package auth

import (
	"encoding/json"
	"net/http"
)

// Problem is an RFC 9457 problem document, the body of every error this package answers with.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// SignIn points a client that must sign in to where it can.
	SignIn string `json:"signIn,omitempty"`
	// Action names the action a forbidden request asked for.
	Action Action `json:"action,omitempty"`
}

// Problem types, relative URIs the server may document.
const (
	ProblemSignInRequired = "/problems/sign-in-required"
	ProblemForbidden      = "/problems/forbidden"
	ProblemCSRF           = "/problems/csrf"
	ProblemInvalidToken   = "/problems/invalid-token"
	ProblemRateLimited    = "/problems/rate-limited"
	ProblemSignInFailed   = "/problems/sign-in-failed"
	ProblemInternal       = "/problems/internal"
)

func writeProblem(w http.ResponseWriter, r *http.Request, p Problem) {
	p.Instance = r.URL.Path
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}
