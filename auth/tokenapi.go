package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// RegisterTokenAPI mounts the API-token management endpoints on mux, each requiring token.manage:
//
//	POST   /api/v1/tokens       {"name", "user": {"id","name","role","agency"}, "lifetimeDays"} → 201, the token shown once
//	GET    /api/v1/tokens       every token, without secrets
//	DELETE /api/v1/tokens/{id}  revoke → 204
//
// The mux must sit behind Middleware.
func (a *Authenticator) RegisterTokenAPI(mux *http.ServeMux) {
	mux.Handle("POST /api/v1/tokens", Require(ActionTokenManage, nil, http.HandlerFunc(a.createToken)))
	mux.Handle("GET /api/v1/tokens", Require(ActionTokenManage, nil, http.HandlerFunc(a.listTokens)))
	mux.Handle("DELETE /api/v1/tokens/{id}", Require(ActionTokenManage, nil, http.HandlerFunc(a.revokeToken)))
}

type tokenJSON struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	User      User       `json:"user"`
	CreatedAt time.Time  `json:"createdAt"`
	ExpiresAt time.Time  `json:"expiresAt"`
	RevokedAt *time.Time `json:"revokedAt,omitempty"`
	Token     string     `json:"token,omitempty"` // only in the answer to creation
}

func toTokenJSON(info TokenInfo) tokenJSON {
	t := tokenJSON{ID: info.ID, Name: info.Name, User: info.User, CreatedAt: info.CreatedAt.UTC(), ExpiresAt: info.ExpiresAt.UTC()}
	if !info.RevokedAt.IsZero() {
		revoked := info.RevokedAt.UTC()
		t.RevokedAt = &revoked
	}
	return t
}

func badRequest(w http.ResponseWriter, r *http.Request, detail string) {
	writeProblem(w, r, Problem{Type: "about:blank", Title: "Bad request", Status: http.StatusBadRequest, Detail: detail})
}

func (a *Authenticator) createToken(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name         string `json:"name"`
		User         User   `json:"user"`
		LifetimeDays int    `json:"lifetimeDays"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		badRequest(w, r, fmt.Sprintf("The body must be JSON {\"name\", \"user\": {\"id\", \"name\", \"role\", \"agency\"}, \"lifetimeDays\"}: %v", err))
		return
	}
	plaintext, err := a.cfg.Store.CreateToken(r.Context(), in.User, in.Name, time.Duration(in.LifetimeDays)*24*time.Hour)
	switch {
	case errors.Is(err, ErrInvalidUser), errors.Is(err, ErrBadTokenRequest):
		badRequest(w, r, err.Error())
		return
	case err != nil:
		a.internalError(w, r, err)
		return
	}
	id, _ := TokenID(plaintext)
	info, _, err := a.cfg.Store.token(r.Context(), id)
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	out := toTokenJSON(info)
	out.Token = plaintext
	by, _ := UserFrom(r.Context())
	a.cfg.Logger.Info().Str("token_id", id).Str("for_user", info.User.ID).Str("by", by.ID).Msg("API token created")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(out)
}

func (a *Authenticator) listTokens(w http.ResponseWriter, r *http.Request) {
	infos, err := a.cfg.Store.ListTokens(r.Context(), "")
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	out := make([]tokenJSON, 0, len(infos))
	for _, info := range infos {
		out = append(out, toTokenJSON(info))
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(out)
}

func (a *Authenticator) revokeToken(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	err := a.cfg.Store.RevokeToken(r.Context(), id)
	switch {
	case errors.Is(err, ErrInvalidToken):
		writeProblem(w, r, Problem{Type: "about:blank", Title: "No such token", Status: http.StatusNotFound,
			Detail: fmt.Sprintf("No API token has id %q; list them with GET /api/v1/tokens.", id)})
		return
	case err != nil:
		a.internalError(w, r, err)
		return
	}
	by, _ := UserFrom(r.Context())
	a.cfg.Logger.Info().Str("token_id", id).Str("by", by.ID).Msg("API token revoked")
	w.WriteHeader(http.StatusNoContent)
}
