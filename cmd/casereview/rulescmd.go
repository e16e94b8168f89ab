package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"casereview/review"
)

func runRules(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const help = "Usage: casereview rules list\n       casereview rules show FRAMEWORK   (e.g. lcspr/wt2023)"
	if len(args) == 0 {
		fmt.Fprintln(stderr, help)
		return exitUsage
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, help)
		return 0
	case "list":
		for _, f := range review.Frameworks() {
			rs, err := review.Rules(f)
			if err != nil {
				return fail(stderr, "rules list", err)
			}
			fmt.Fprintf(stdout, "%-32s %s (version %s)\n", f, rs.Title, rs.Version)
		}
		return 0
	case "show":
		if len(args) != 2 {
			fmt.Fprintf(stderr, "casereview rules show: name one framework: %s\n", strings.Join(review.Frameworks(), ", "))
			return exitUsage
		}
		rs, err := review.Rules(args[1])
		if err != nil {
			return fail(stderr, "rules show", fmt.Errorf("%w: %v", errUsage, err))
		}
		if err := rs.WriteProcessMap(stdout); err != nil {
			return fail(stderr, "rules show", err)
		}
		return 0
	}
	fmt.Fprintf(stderr, "casereview rules: unknown subcommand %q\n%s\n", args[0], help)
	return exitUsage
}
