package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"casereview/calendar"
)

func runCalendar(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const help = "Usage: casereview calendar add --from YYYY-MM-DD --working-days N [--region R]\n" +
		"       casereview calendar holidays --year YYYY [--region R]\n" +
		"       casereview calendar between --from YYYY-MM-DD --to YYYY-MM-DD [--region R]"
	if len(args) == 0 {
		fmt.Fprintln(stderr, help)
		return exitUsage
	}
	sub, args := args[0], args[1:]
	fs := newFlags("calendar "+sub+" [flags]", "Working-day arithmetic on the embedded, versioned bank-holiday calendars.", stderr)
	region := fs.String("region", "england-and-wales", "calendar region: "+strings.Join(calendar.Regions(), ", "))
	overrides := fs.String("calendar-overrides", "", "JSON file adding or removing holidays (future proclamations)")
	from := fs.String("from", "", "start date, YYYY-MM-DD (day 0)")
	to := fs.String("to", "", "end date, YYYY-MM-DD")
	n := fs.Int("working-days", 0, "number of working days to add (negative goes back)")
	year := fs.Int("year", 0, "year whose holidays to list")
	switch sub {
	case "add", "holidays", "between":
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, help)
		return 0
	default:
		fmt.Fprintf(stderr, "casereview calendar: unknown subcommand %q\n%s\n", sub, help)
		return exitUsage
	}
	if code, ok := flagResult(stderr, "calendar", parseFlags(fs, args)); !ok {
		return code
	}
	cal, err := calendar.Load(*region, *overrides)
	if err != nil {
		return fail(stderr, "calendar", fmt.Errorf("%w: %v", errUsage, err))
	}
	date := func(name, v string) (calendar.Date, error) {
		if v == "" {
			return calendar.Date{}, fmt.Errorf("%w: --%s is required (YYYY-MM-DD)", errUsage, name)
		}
		d, err := calendar.ParseDate(v)
		if err != nil {
			return d, fmt.Errorf("%w: --%s: %v", errUsage, name, err)
		}
		return d, nil
	}
	switch sub {
	case "add":
		start, err := date("from", *from)
		if err != nil {
			return fail(stderr, "calendar add", err)
		}
		fmt.Fprintln(stdout, cal.AddWorkingDays(start, *n))
	case "between":
		a, err := date("from", *from)
		if err != nil {
			return fail(stderr, "calendar between", err)
		}
		b, err := date("to", *to)
		if err != nil {
			return fail(stderr, "calendar between", err)
		}
		fmt.Fprintln(stdout, strconv.Itoa(cal.WorkingDaysBetween(a, b)))
	case "holidays":
		if *year < 1 || *year > 9999 {
			return fail(stderr, "calendar holidays", fmt.Errorf("%w: --year is required, e.g. --year 2022", errUsage))
		}
		for _, h := range cal.Holidays(*year) {
			fmt.Fprintf(stdout, "%s %s\n", h.Date, h.Name)
		}
	}
	return 0
}
