package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"go.temporal.io/sdk/client"

	"casereview/access"
	"casereview/activities"
	"casereview/auth"
	"casereview/devtemporal"
	"casereview/eventstore"
	"casereview/eventstore/connect"
	"casereview/eventstore/embedded"
	"casereview/projections"
	"casereview/server"
	"casereview/worker"
	"casereview/worker/payloadcrypt"
	"casereview/workflows"
)

// stack is a set of running parts, stopped in the reverse of the order they started.
type stack struct {
	log      zerolog.Logger
	stops    []func()
	url      string // the HTTP server's base URL, once it listens
	temporal string // the embedded Temporal frontend's host:port, in dev mode
	errc     chan error
}

func newStack(log zerolog.Logger) *stack { return &stack{log: log, errc: make(chan error, 4)} }

func (s *stack) onStop(f func()) { s.stops = append(s.stops, f) }

// Stop stops every part, last started first.
func (s *stack) Stop() {
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
	s.stops = nil
}

// fail reports a part that stopped; only the first matters, the process stops on it.
func (s *stack) fail(err error) {
	select {
	case s.errc <- err:
	default:
		s.log.Error().Err(err).Msg("another part failed")
	}
}

// wait runs until ctx ends or a part fails, stops every part, and returns the exit status.
func (s *stack) wait(ctx context.Context) int {
	var err error
	select {
	case <-ctx.Done():
		s.log.Info().Msg("stopping")
	case err = <-s.errc:
		s.log.Error().Err(err).Msg("a part failed; stopping")
	}
	s.Stop()
	if err != nil {
		return exitFailure
	}
	return 0
}

// background runs f until ctx ends; its failure is reported on Err.
func (s *stack) background(ctx context.Context, name string, f func(context.Context) error) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := f(ctx); err != nil && ctx.Err() == nil {
			s.fail(fmt.Errorf("%s: %w", name, err))
		}
	}()
	s.onStop(func() { cancel(); <-done })
}

// lockDataDir holds an exclusive lock on dir for the life of the process: two processes on one
// Temporal SQLite file fight over its shards.
func (s *stack) lockDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data directory %s: %w", dir, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("data directory lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return fmt.Errorf("data directory %s is in use by another casereview process; stop it or choose another --data: %w", dir, err)
	}
	s.onStop(func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() })
	return nil
}

func (s *stack) startTemporal(ctx context.Context, dbFile, addr, namespace string) (string, error) {
	srv, err := devtemporal.Start(ctx, devtemporal.Options{
		DatabaseFile:     dbFile,
		FrontendAddr:     addr,
		Namespace:        namespace,
		SearchAttributes: workflows.SearchAttributes,
		Logger:           s.log,
	})
	if err != nil {
		return "", err
	}
	s.onStop(func() {
		if err := srv.Stop(); err != nil {
			s.log.Warn().Err(err).Msg("stop temporal")
		}
	})
	s.temporal = srv.HostPort()
	s.log.Info().Str("address", srv.HostPort()).Msg("temporal server started")
	return srv.HostPort(), nil
}

func (s *stack) openStore(ctx context.Context, conn string) (eventstore.Store, error) {
	store, err := connect.Open(ctx, conn)
	if err != nil {
		return nil, err
	}
	s.onStop(func() { store.Close() })
	return store, nil
}

func (s *stack) dialTemporal(ctx context.Context, hostPort, namespace string, kr *payloadcrypt.Keyring) (client.Client, error) {
	var c client.Client
	var err error
	// An external Temporal may still be starting (compose brings everything up at once).
	for attempt := 0; attempt < 30; attempt++ {
		c, err = client.DialContext(ctx, worker.ClientOptions(hostPort, namespace, kr, s.log))
		if err == nil || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s (namespace %s): %w", hostPort, namespace, err)
	}
	s.onStop(c.Close)
	return c, nil
}

func (s *stack) startWorker(ctx context.Context, c client.Client, store eventstore.Store, nf *notifyFlags) error {
	n, err := nf.notifier(ctx, s)
	if err != nil {
		return err
	}
	acts := &activities.Activities{Store: store, BaseURL: strings.TrimRight(nf.baseURL, "/"), Log: &s.log}
	if n != nil {
		acts.Notifier = n
	}
	s.background(ctx, "worker", func(ctx context.Context) error { return worker.Run(ctx, c, acts) })
	return nil
}

func (s *stack) openReadModels(ctx context.Context, path string, store eventstore.Store) (*projections.DB, error) {
	// The embedded store numbers events 1, 2, 3…, so a missing position is a fault to stop on;
	// EventStoreDB's commit positions have holes by design.
	_, contiguous := store.(*embedded.Store)
	db, err := projections.OpenWith(path, projections.Options{ContiguousPositions: contiguous})
	if err != nil {
		return nil, err
	}
	s.onStop(func() { db.Close() })
	s.background(ctx, "projections", func(ctx context.Context) error { return db.Run(ctx, store, s.log) })
	return db, nil
}

func (s *stack) startHTTP(addr string, h http.Handler) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s (choose another with --http): %w", addr, err)
	}
	// No WriteTimeout: the live feed holds its connections open and sets its own write deadlines.
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.fail(fmt.Errorf("http: %w", err))
		}
	}()
	s.url = "http://" + l.Addr().String()
	s.onStop(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return nil
}

// webOptions configure the HTTP server's sign-in and origins.
type webOptions struct {
	HTTPAddr       string
	AuthDB         string // SQLite file for sessions and API tokens
	DevSignIn      bool   // sign in as seeded users, without a password
	AllowRemoteDev bool   // let dev sign-in listen on a non-loopback address
	OIDC           oidcOptions
	AllowedOrigins []string
}

type oidcOptions struct {
	Issuer, ClientID, ClientSecret, RedirectURL, RoleClaim, AgencyClaim string
}

func (s *stack) startServer(ctx context.Context, c client.Client, db *projections.DB, store eventstore.Store, o webOptions) error {
	var signIn server.SignIn
	switch {
	case o.DevSignIn:
		if err := auth.CheckDevBind(o.HTTPAddr, o.AllowRemoteDev); err != nil {
			return err
		}
		d, err := auth.NewDevSignIn(nil)
		if err != nil {
			return err
		}
		signIn = d
	case o.OIDC.Issuer != "":
		p, err := auth.NewOIDC(ctx, o.OIDC.Issuer, o.OIDC.ClientID, o.OIDC.ClientSecret, o.OIDC.RedirectURL, o.OIDC.RoleClaim, o.OIDC.AgencyClaim)
		if err != nil {
			return err
		}
		signIn = p
	default:
		return fmt.Errorf("%w: no sign-in configured: give --oidc-issuer (with its client flags) or, on loopback only, --dev-signin", errUsage)
	}
	authStore, err := auth.OpenStore(ctx, o.AuthDB, time.Now)
	if err != nil {
		return err
	}
	s.onStop(func() { authStore.Close() })
	a, err := auth.New(auth.Config{Store: authStore, InsecureCookies: o.DevSignIn, Logger: s.log})
	if err != nil {
		return err
	}
	rec, err := access.NewRecorder(access.Config{Flush: server.AccessFlusher(store), Logger: s.log})
	if err != nil {
		return err
	}
	s.onStop(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		rec.Close(ctx)
	})
	srv := server.New(server.Config{
		Cases: workflows.Cases{Client: c}, ReadModels: db, Store: store, Auth: a, SignIn: signIn, Access: rec,
		AllowedOrigins: o.AllowedOrigins, Logger: s.log,
	})
	if err := s.startHTTP(o.HTTPAddr, srv); err != nil {
		return err
	}
	s.onStop(srv.Close)
	return nil
}
