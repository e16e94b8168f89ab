// Command casereview runs multi-agency safeguarding case reviews: the whole system, its parts, and tools for auditors.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// exitUsage is the status for bad command-line input; exitFailure for a command that failed.
const (
	exitUsage   = 2
	exitFailure = 1
)

// command is one subcommand: it returns the process exit status.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"dev", "run the whole system in one process on embedded defaults", runDev},
		{"server", "run the HTTP API, live feed and pages against external Temporal and event store", runServer},
		{"worker", "run the Temporal worker against external Temporal and event store", runWorker},
		{"audit", "verify, export and replay the event log (verify | export | replay)", runAudit},
		{"projections", "rebuild read models from the event log (rebuild | list)", runProjections},
		{"calendar", "working-day arithmetic (add | holidays | between)", runCalendar},
		{"rules", "show a framework's rule set as a process map (list | show)", runRules},
	}
}

func main() {
	// Everything casereview writes (the event log, read models, sessions, keys) is about children:
	// no file it creates is readable by other users of the machine.
	syscall.Umask(0o077)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "casereview: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "casereview runs multi-agency safeguarding case reviews end to end.")
	fmt.Fprintln(w, "\nUsage:\n  casereview <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'casereview <command> --help' for a command's flags. Every flag can also be set")
	fmt.Fprintln(w, "with an environment variable: CASEREVIEW_ and the flag's name in capitals, - as _.")
}

// errUsage marks an error in the command line rather than in the work.
var errUsage = errors.New("usage")

// fail prints err and returns the matching exit status.
func fail(stderr io.Writer, name string, err error) int {
	fmt.Fprintf(stderr, "casereview %s: %v\n", name, err)
	if errors.Is(err, errUsage) {
		return exitUsage
	}
	return exitFailure
}
