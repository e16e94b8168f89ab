// Package server is casereview's HTTP front door: the JSON API, the live websocket feed and the web pages.
package server

import (
	"context"
	"embed"
	"net/http"
	"time"

	"github.com/rs/zerolog"
	_ "time/tzdata" // Europe/London must resolve on machines without zoneinfo

	"casereview/access"
	"casereview/auth"
	"casereview/eventstore"
	"casereview/projections"
	"casereview/workflows"
)

var london = mustLoadLocation("Europe/London")

func mustLoadLocation(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

//go:embed web
var webFS embed.FS

// Cases starts, commands and queries case workflows.
type Cases interface {
	StartCase(ctx context.Context, in workflows.ReviewInput) error
	Command(ctx context.Context, caseID string, req workflows.CommandRequest) (workflows.CommandResult, error)
	Status(ctx context.Context, caseID string) (workflows.ReviewStatus, error)
}

// SignIn mounts a sign-in flow (dev users or OpenID Connect) on the router.
type SignIn interface {
	Register(mux *http.ServeMux, a *auth.Authenticator)
}

// Config holds the server's dependencies.
type Config struct {
	Cases      Cases
	ReadModels *projections.DB
	Store      eventstore.Store // for auditors: verification and replay
	Auth       *auth.Authenticator
	SignIn     SignIn
	Access     *access.Recorder // nil: reads are not recorded (tests of other things only)
	// AllowedOrigins may open the live feed; empty means the server's own origin only.
	AllowedOrigins []string
	Logger         zerolog.Logger
	Now            func() time.Time // the clock; time.Now when nil
}

// Server serves the API, the live feed and the pages.
type Server struct {
	cfg      Config
	mux      *http.ServeMux
	handler  http.Handler
	stopping chan struct{} // closed by Close: live connections say goodbye
}

// Close tells live connections the server is stopping.
func (s *Server) Close() { close(s.stopping) }

// New returns a Server ready to serve.
func New(cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), stopping: make(chan struct{})}
	s.routes()
	if cfg.SignIn != nil {
		cfg.SignIn.Register(s.mux, cfg.Auth)
	}
	s.handler = cfg.Auth.Middleware(s.mux)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.pageRoutes()
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, http.StatusNotFound, "No such endpoint", "See the API documentation in README.md for the endpoints.")
	})
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	s.handler.ServeHTTP(w, r)
}

func (s *Server) internalError(w http.ResponseWriter, r *http.Request, err error) {
	s.cfg.Logger.Error().Err(err).Str("path", r.URL.Path).Msg("request failed")
	writeProblem(w, r, http.StatusInternalServerError, "Internal error", "The server could not complete the request; it has been logged.")
}
