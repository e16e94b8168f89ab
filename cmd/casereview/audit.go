package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"casereview/caselog"
	"casereview/eventstore"
	"casereview/eventstore/connect"
	"casereview/review"
	"casereview/workflows"
)

const auditHelp = `Usage: casereview audit verify [--events CONN]
       casereview audit export [--events CONN] [--stream NAME] [--from POSITION]
       casereview audit replay --case ID [--as-of TIME] [--events CONN]`

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, auditHelp)
		return exitUsage
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "verify", "export", "replay":
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, auditHelp)
		return 0
	default:
		fmt.Fprintf(stderr, "casereview audit: unknown subcommand %q\n%s\n", sub, auditHelp)
		return exitUsage
	}
	name := "audit " + sub
	fs := newFlags(name+" [flags]", "Reads the event log without changing it.", stderr)
	events := fs.String("events", "./casereview-data/events.db", "event store: a SQLite file path or an esdb:// connection string")
	stream := fs.String("stream", "", "export only this stream (default: the whole log)")
	from := fs.Uint64("from", 0, "export events after this global position")
	caseID := fs.String("case", "", "case ID to replay, e.g. CR-7F3K9QXM")
	expectHead := fs.String("expect-head", "", "verify: POSITION:HASH of a head printed by an earlier verify; fails if the log no longer has it (rewritten or cut short)")
	asOf := fs.String("as-of", "", "replay the case as it stood at this instant (RFC 3339, or YYYY-MM-DD for the end of that day in London); default now")
	if code, ok := flagResult(stderr, name, parseFlags(fs, args)); !ok {
		return code
	}
	if sub == "replay" && *caseID == "" {
		return fail(stderr, name, fmt.Errorf("%w: --case is required", errUsage))
	}
	var asOfTime time.Time
	if sub == "replay" {
		var err error
		if asOfTime, err = parseAsOf(*asOf, time.Now()); err != nil {
			return fail(stderr, name, err)
		}
	}
	store, err := openExisting(ctx, *events)
	if err != nil {
		return fail(stderr, name, err)
	}
	defer store.Close()
	switch sub {
	case "verify":
		res, err := eventstore.Verify(ctx, store, store.ChainScope())
		var ce *eventstore.ChainError
		if errors.As(err, &ce) {
			fmt.Fprintf(stderr, "casereview audit verify: FAILED at position %d (stream %s, revision %d): %s\n", ce.Position, ce.Stream, ce.Revision, ce.Reason)
			fmt.Fprintf(stderr, "%d events before it verified\n", res.Events)
			return exitFailure
		}
		if err != nil {
			return fail(stderr, name, err)
		}
		if *expectHead != "" {
			if err := checkHead(ctx, store, *expectHead); err != nil {
				fmt.Fprintf(stderr, "casereview audit verify: FAILED: %v\n", err)
				return exitFailure
			}
		}
		fmt.Fprintf(stdout, "verified %d events\nhead position %d\nhead hash %s\n", res.Events, res.HeadPosition, res.HeadHash)
	case "export":
		w := bufio.NewWriter(stdout)
		n, err := eventstore.Export(ctx, store, w, *stream, *from)
		if ferr := w.Flush(); err == nil {
			err = ferr
		}
		if err != nil {
			return fail(stderr, name, err)
		}
		fmt.Fprintf(stderr, "exported %d events\n", n)
	case "replay":
		c, err := replayCase(ctx, store, *caseID, asOfTime)
		if err != nil {
			return fail(stderr, name, err)
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(c); err != nil {
			return fail(stderr, name, err)
		}
	}
	return 0
}

// parseAsOf reads an RFC 3339 instant, or a date meaning the end of that day in London.
func parseAsOf(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return now, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseInLocation(time.DateOnly, s, londonTZ()); err == nil {
		return d.AddDate(0, 0, 1).Add(-time.Nanosecond), nil
	}
	return time.Time{}, fmt.Errorf("%w: --as-of %q: want RFC 3339 (2024-03-01T17:00:00Z) or a date (2024-03-01)", errUsage, s)
}

// replayCase folds a case's stream as it stood at asOf, with the rule-set version its events recorded.
func replayCase(ctx context.Context, store eventstore.Store, caseID string, asOf time.Time) (*review.Case, error) {
	c, err := caselog.AsOf(ctx, store, caseID, asOf)
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return nil, fmt.Errorf("no case %q in the event log (stream %s is empty)", caseID, workflows.CaseStream(caseID))
	}
	return c, err
}

// openExisting opens an event store that must already exist: an auditor's mistyped path must not
// create an empty log and report it verified.
func openExisting(ctx context.Context, conn string) (eventstore.Store, error) {
	if conn != "" && !strings.Contains(conn, "://") {
		if _, err := os.Stat(conn); err != nil {
			return nil, fmt.Errorf("%w: --events %s: no event store there (%v)", errUsage, conn, err)
		}
	}
	return connect.Open(ctx, conn)
}

// checkHead compares the log with a head recorded earlier (and kept outside the database, where
// whoever could rewrite the log cannot reach it). A chain re-sealed after an edit, or a log cut
// short, no longer has that hash at that position.
func checkHead(ctx context.Context, store eventstore.Store, expect string) error {
	posText, hash, ok := strings.Cut(expect, ":")
	pos, err := strconv.ParseUint(posText, 10, 64)
	if !ok || err != nil || pos == 0 || len(hash) != 64 {
		return fmt.Errorf("%w: --expect-head %q: want POSITION:HASH as printed by audit verify", errUsage, expect)
	}
	found := false
	err = store.ReadAll(ctx, pos-1, func(e eventstore.RecordedEvent) error {
		if e.Position == pos {
			found = true
			if e.Hash != hash {
				return fmt.Errorf("the event at position %d has hash %s, not the %s recorded earlier: the log was rewritten", pos, e.Hash, hash)
			}
		}
		return errStopRead
	})
	if err != nil && !errors.Is(err, errStopRead) {
		return err
	}
	if !found {
		return fmt.Errorf("the log has no event at position %d any more: it was cut short", pos)
	}
	return nil
}

var errStopRead = errors.New("stop reading")
