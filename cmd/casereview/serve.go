package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"go.temporal.io/sdk/client"

	"casereview/eventstore"
	"casereview/logging"
	"casereview/worker/payloadcrypt"
)

// externalFlags are the flags of the parts that run against an external Temporal and event store.
type externalFlags struct {
	temporal, namespace, events, keys, level string
}

func addExternalFlags(fs *flag.FlagSet) *externalFlags {
	var f externalFlags
	fs.StringVar(&f.temporal, "temporal", "127.0.0.1:7233", "Temporal frontend host:port")
	fs.StringVar(&f.namespace, "namespace", "default", "Temporal namespace")
	fs.StringVar(&f.events, "events", "", "event store: a SQLite file path or an esdb:// connection string (required)")
	fs.StringVar(&f.keys, "payload-keys", "", "payload encryption keyring file (JSON, mode 0600; required; every server and worker shares it)")
	fs.StringVar(&f.level, "log-level", "info", "log level: trace, debug, info, warn, error")
	return &f
}

// connect opens the external event store and dials Temporal with the shared payload keys.
func (st *stack) connect(ctx context.Context, ext *externalFlags) (eventstore.Store, client.Client, error) {
	store, err := st.openStore(ctx, ext.events)
	if err != nil {
		return nil, nil, err
	}
	kr, err := payloadcrypt.LoadKeyring(ext.keys)
	if err != nil {
		return nil, nil, err
	}
	c, err := st.dialTemporal(ctx, ext.temporal, ext.namespace, kr)
	if err != nil {
		return nil, nil, err
	}
	return store, c, nil
}

func (f *externalFlags) check() error {
	if f.events == "" {
		return fmt.Errorf("%w: --events is required: a SQLite file path or an esdb:// connection string", errUsage)
	}
	if f.keys == "" {
		return fmt.Errorf("%w: --payload-keys is required: the keyring file shared by servers and workers", errUsage)
	}
	return nil
}

func runServer(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("server [flags]", "Runs the HTTP API, the live feed and the pages, with read models built from the event\nstore, against an external Temporal.", stderr)
	ext := addExternalFlags(fs)
	var web webOptions
	fs.StringVar(&web.HTTPAddr, "http", "127.0.0.1:8080", "address of the HTTP server")
	readModels := fs.String("read-models", "./casereview-readmodels.db", "SQLite file for this instance's read models (rebuilt from the log when missing)")
	fs.StringVar(&web.AuthDB, "auth-db", "./casereview-auth.db", "SQLite file for sessions and API tokens (hashed)")
	fs.BoolVar(&web.DevSignIn, "dev-signin", false, "sign in as seeded demo users without a password (loopback only; never with real data)")
	fs.BoolVar(&web.AllowRemoteDev, "allow-non-loopback", false, "let --dev-signin listen on a non-loopback address")
	fs.StringVar(&web.OIDC.Issuer, "oidc-issuer", "", "OpenID Connect issuer URL")
	fs.StringVar(&web.OIDC.ClientID, "oidc-client-id", "", "OpenID Connect client ID")
	fs.StringVar(&web.OIDC.ClientSecret, "oidc-client-secret", "", "OpenID Connect client secret (prefer the environment variable)")
	fs.StringVar(&web.OIDC.RedirectURL, "oidc-redirect-url", "", "this server's /auth/callback URL as registered with the provider")
	fs.StringVar(&web.OIDC.RoleClaim, "oidc-role-claim", "casereview_role", "ID-token claim holding the user's casereview role")
	fs.StringVar(&web.OIDC.AgencyClaim, "oidc-agency-claim", "casereview_agency", "ID-token claim holding the user's agency id")
	origins := fs.String("allowed-origins", "", "comma-separated origins besides this server's own that may open the live feed")
	return runExternal(ctx, "server", fs, args, ext, stdout, stderr, func(ctx context.Context, st *stack) error {
		store, c, err := st.connect(ctx, ext)
		if err != nil {
			return err
		}
		db, err := st.openReadModels(ctx, *readModels, store)
		if err != nil {
			return err
		}
		for _, o := range strings.Split(*origins, ",") {
			if o = strings.TrimSpace(o); o != "" {
				web.AllowedOrigins = append(web.AllowedOrigins, o)
			}
		}
		if err := st.startServer(ctx, c, db, store, web); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "casereview server is ready at %s\n", st.url)
		return nil
	})
}

func runWorker(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("worker [flags]", "Runs the Temporal worker that executes case workflows and records their events.", stderr)
	ext := addExternalFlags(fs)
	nf := addNotifyFlags(fs, "./casereview-notify-ledger.db")
	return runExternal(ctx, "worker", fs, args, ext, stdout, stderr, func(ctx context.Context, st *stack) error {
		store, c, err := st.connect(ctx, ext)
		if err != nil {
			return err
		}
		if err := st.startWorker(ctx, c, store, nf); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "casereview worker is polling")
		return nil
	})
}

func runExternal(ctx context.Context, name string, fs *flag.FlagSet, args []string, ext *externalFlags, stdout, stderr io.Writer, start func(context.Context, *stack) error) int {
	if code, ok := flagResult(stderr, name, parseFlags(fs, args)); !ok {
		return code
	}
	if err := ext.check(); err != nil {
		return fail(stderr, name, err)
	}
	lvl, err := logging.ParseLevel(ext.level)
	if err != nil {
		return fail(stderr, name, fmt.Errorf("%w: %v", errUsage, err))
	}
	log := logging.New(stderr, lvl)
	st := newStack(log)
	if err := start(ctx, st); err != nil {
		st.Stop()
		return fail(stderr, name, err)
	}
	return st.wait(ctx)
}
