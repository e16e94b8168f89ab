// Package server is casereview's HTTP front door: the JSON API, the live websocket feed and the web pages.
package server

import (
	"context"
	"embed"
	"html/template"
	"net/http"
	"time"

	"github.com/rs/zerolog"
	_ "time/tzdata" // Europe/London must resolve on machines without zoneinfo

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

var pages = template.Must(template.ParseFS(webFS, "web/*.html"))

// CaseStarter starts a case's workflow.
type CaseStarter interface {
	StartCase(ctx context.Context, in workflows.ReviewInput) error
}

// Config holds the server's dependencies.
type Config struct {
	Cases      CaseStarter
	ReadModels *projections.DB
	Logger     zerolog.Logger
	Now        func() time.Time // the clock; time.Now when nil
}

// Server serves the API, the live feed and the pages.
type Server struct {
	cfg Config
	mux *http.ServeMux
}

// New returns a Server ready to serve.
func New(cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux()}
	s.mux.HandleFunc("POST /api/v1/cases", s.createCase)
	s.mux.HandleFunc("GET /api/v1/cases", s.listCases)
	s.mux.HandleFunc("GET /api/v1/cases/{id}", s.getCase)
	s.mux.HandleFunc("GET /api/v1/live", s.live)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.Handle("GET /static/", http.FileServerFS(webFS))
	s.mux.HandleFunc("GET /{$}", s.boardPage)
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, http.StatusNotFound, "No such endpoint", "See the API documentation in README.md for the endpoints.")
	})
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	s.mux.ServeHTTP(w, r)
}

func (s *Server) internalError(w http.ResponseWriter, r *http.Request, err error) {
	s.cfg.Logger.Error().Err(err).Str("path", r.URL.Path).Msg("request failed")
	writeProblem(w, r, http.StatusInternalServerError, "Internal error", "The server could not complete the request; it has been logged.")
}

func (s *Server) boardPage(w http.ResponseWriter, r *http.Request) {
	cases, err := s.cfg.ReadModels.ListCases(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	cp, err := s.cfg.ReadModels.Checkpoint(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; connect-src 'self'; style-src 'self'")
	if err := pages.ExecuteTemplate(w, "board.html", struct {
		Position uint64
		Cases    []projections.CaseSummary
	}{cp, cases}); err != nil {
		s.cfg.Logger.Error().Err(err).Msg("render board")
	}
}
