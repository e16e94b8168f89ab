package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"casereview/projections"
)

const projectionsHelp = `Usage: casereview projections rebuild [--events CONN] [--read-models PATH] [--only NAME,...]
       casereview projections list

rebuild replays the whole log from position 0 into fresh tables and swaps them in atomically.
Run it against a stopped server's read-model file, or let a running server rebuild a model whose
code version changed by itself at start.`

func runProjections(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, projectionsHelp)
		return exitUsage
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "list":
		for _, m := range projections.ModelNames() {
			fmt.Fprintln(stdout, m)
		}
		return 0
	case "rebuild":
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, projectionsHelp)
		return 0
	default:
		fmt.Fprintf(stderr, "casereview projections: unknown subcommand %q\n%s\n", sub, projectionsHelp)
		return exitUsage
	}
	fs := newFlags("projections rebuild [flags]", "Rebuilds read models from the event log.", stderr)
	events := fs.String("events", "./casereview-data/events.db", "event store: a SQLite file path or an esdb:// connection string")
	readModels := fs.String("read-models", "./casereview-data/readmodels.db", "the read-model SQLite file to rebuild")
	only := fs.String("only", "", "comma-separated read models to rebuild (default all): "+strings.Join(projections.ModelNames(), ", "))
	if code, ok := flagResult(stderr, "projections rebuild", parseFlags(fs, args)); !ok {
		return code
	}
	var names []string
	for _, n := range strings.Split(*only, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	store, err := openExisting(ctx, *events)
	if err != nil {
		return fail(stderr, "projections rebuild", err)
	}
	defer store.Close()
	start := time.Now()
	if err := projections.Rebuild(ctx, *readModels, store, names); err != nil {
		if errors.Is(err, projections.ErrUnknownModel) {
			err = fmt.Errorf("%w: %v", errUsage, err)
		}
		return fail(stderr, "projections rebuild", err)
	}
	fmt.Fprintf(stdout, "rebuilt %s in %s\n", strings.Join(orAll(names), ", "), time.Since(start).Round(time.Millisecond))
	return 0
}

func orAll(names []string) []string {
	if len(names) == 0 {
		return []string{"all read models"}
	}
	return names
}
