package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"casereview/logging"
	"casereview/worker/payloadcrypt"
)

type devConfig struct {
	DataDir        string
	HTTPAddr       string
	TemporalAddr   string
	Namespace      string
	Demo           bool
	AllowRemoteDev bool
	Notify         *notifyFlags
}

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("dev [flags]", "Runs the whole system in one process: an embedded Temporal server, the embedded\nevent store, the worker and the HTTP server, all keeping their state in --data.", stderr)
	var cfg devConfig
	fs.StringVar(&cfg.DataDir, "data", "./casereview-data", "directory for all state (Temporal, events, read models, payload keys)")
	fs.StringVar(&cfg.HTTPAddr, "http", "127.0.0.1:8080", "address of the HTTP server (API, live feed, pages)")
	fs.StringVar(&cfg.TemporalAddr, "temporal-listen", "127.0.0.1:7233", "address of the embedded Temporal frontend (port 0 picks a free one)")
	fs.StringVar(&cfg.Namespace, "namespace", "default", "Temporal namespace")
	fs.BoolVar(&cfg.Demo, "demo", false, "seed a fictional case (invented names only) so there is something to see")
	fs.BoolVar(&cfg.AllowRemoteDev, "allow-non-loopback", false, "let the password-less dev sign-in listen on a non-loopback address (never with real data)")
	level := fs.String("log-level", "info", "log level: trace, debug, info, warn, error")
	cfg.Notify = addNotifyFlags(fs, "")
	if code, ok := flagResult(stderr, "dev", parseFlags(fs, args)); !ok {
		return code
	}
	lvl, err := logging.ParseLevel(*level)
	if err != nil {
		return fail(stderr, "dev", fmt.Errorf("%w: %v", errUsage, err))
	}
	log := logging.New(stderr, lvl)
	st, err := startDev(ctx, cfg, log)
	if err != nil {
		return fail(stderr, "dev", err)
	}
	fmt.Fprintf(stdout, "casereview is ready at %s (data in %s). Press Ctrl-C to stop.\n", st.url, cfg.DataDir)
	return st.wait(ctx)
}

// startDev starts every part in order: Temporal, event store, keys, worker, projections, HTTP.
func startDev(ctx context.Context, cfg devConfig, log zerolog.Logger) (_ *stack, err error) {
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("data directory %q: %w", cfg.DataDir, err)
	}
	log.Info().Str("data", dir).Msg("starting casereview dev")
	st := newStack(log)
	defer func() {
		if err != nil {
			st.Stop()
		}
	}()
	if err := st.lockDataDir(dir); err != nil {
		return nil, err
	}
	hostPort, err := st.startTemporal(ctx, filepath.Join(dir, "temporal.db"), cfg.TemporalAddr, cfg.Namespace)
	if err != nil {
		return nil, err
	}
	store, err := st.openStore(ctx, filepath.Join(dir, "events.db"))
	if err != nil {
		return nil, err
	}
	kr, created, err := payloadcrypt.EnsureKeyring(filepath.Join(dir, "payload-keys.json"))
	if err != nil {
		return nil, err
	}
	if created {
		log.Info().Str("active_key", kr.ActiveKeyID()).Msg("generated a payload encryption key")
	}
	c, err := st.dialTemporal(ctx, hostPort, cfg.Namespace, kr)
	if err != nil {
		return nil, err
	}
	nf := cfg.Notify
	if nf == nil {
		nf = &notifyFlags{}
	}
	if nf.ledger == "" {
		nf.ledger = filepath.Join(dir, "notify-ledger.db")
	}
	if nf.baseURL == "" || nf.baseURL == "http://127.0.0.1:8080" {
		nf.baseURL = "http://" + cfg.HTTPAddr
	}
	if err := st.startWorker(ctx, c, store, nf); err != nil {
		return nil, err
	}
	db, err := st.openReadModels(ctx, filepath.Join(dir, "readmodels.db"), store)
	if err != nil {
		return nil, err
	}
	web := webOptions{HTTPAddr: cfg.HTTPAddr, AuthDB: filepath.Join(dir, "auth.db"), DevSignIn: true, AllowRemoteDev: cfg.AllowRemoteDev}
	if err := st.startServer(ctx, c, db, store, web); err != nil {
		return nil, err
	}
	if cfg.Demo {
		if err := seedDemo(ctx, c, time.Now()); err != nil {
			return nil, fmt.Errorf("seed demo case: %w", err)
		}
	}
	log.Info().Str("url", st.url).Msg("casereview ready")
	return st, nil
}
