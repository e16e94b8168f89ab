package server

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"

	"go.temporal.io/api/serviceerror"
)

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type     string       `json:"type"`
	Title    string       `json:"title"`
	Status   int          `json:"status"`
	Detail   string       `json:"detail,omitempty"`
	Instance string       `json:"instance,omitempty"`
	Errors   []FieldError `json:"errors,omitempty"`
	// Rule is the stable ID of the rule a refused command broke.
	Rule string `json:"rule,omitempty"`
	// Offences lists the passages a redaction check found.
	Offences any `json:"offences,omitempty"`
}

// FieldError names one field at fault and what to do about it.
type FieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

func writeProblem(w http.ResponseWriter, r *http.Request, status int, title, detail string, fields ...FieldError) {
	p := Problem{
		Type:     "about:blank",
		Title:    title,
		Status:   status,
		Detail:   detail,
		Instance: r.URL.Path,
		Errors:   fields,
	}
	writeProblemDoc(w, p)
}

func writeProblemDoc(w http.ResponseWriter, p Problem) {
	if p.Type == "" {
		p.Type = "about:blank"
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}

// etag is a strong validator of a response body.
func etag(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

// isNotFound reports whether a Temporal call failed because the workflow does not exist.
func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
