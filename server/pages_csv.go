package server

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"casereview/calendar"
	"casereview/review"
)

// ErrBadChronologyCSV is matched by every error about an uploaded chronology file.
var ErrBadChronologyCSV = errors.New("the chronology file is not valid")

// ChronologyColumns is the column layout of a chronology upload, in order, as its header row
// must name them.
var ChronologyColumns = []string{"entry_id", "date", "source_ref", "description", "child_seen", "child_views_sought", "significance"}

// maxChronologyRows bounds one upload; a chronology larger than this is sent in parts.
const maxChronologyRows = 2000

// parseEventDate reads a chronology date as precise as its source: YYYY-MM-DD (a day), YYYY-MM (a
// month), ~YYYY-MM or ~YYYY (approximate).
func parseEventDate(s string) (review.EventDate, error) {
	s = strings.TrimSpace(s)
	approx := strings.HasPrefix(s, "~")
	body := strings.TrimPrefix(s, "~")
	bad := fmt.Errorf("%q is not a date: write YYYY-MM-DD for a day, YYYY-MM for a month, or ~YYYY-MM or ~YYYY when approximate", s)
	parts := strings.Split(body, "-")
	nums := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || (i == 0 && len(p) != 4) || (i > 0 && len(p) != 2) {
			return review.EventDate{}, bad
		}
		nums[i] = n
	}
	var d review.EventDate
	switch {
	case approx && len(nums) == 1:
		d = review.Around(nums[0], 0)
	case approx && len(nums) == 2:
		d = review.Around(nums[0], time.Month(nums[1]))
	case !approx && len(nums) == 2:
		d = review.InMonth(nums[0], time.Month(nums[1]))
	case !approx && len(nums) == 3:
		day, err := calendar.ParseDate(body)
		if err != nil {
			return review.EventDate{}, fmt.Errorf("%q is not a real date", s)
		}
		d = review.OnDay(day)
	default:
		return review.EventDate{}, bad
	}
	if err := d.Validate(); err != nil {
		return review.EventDate{}, fmt.Errorf("%q: %v", s, err)
	}
	return d, nil
}

// yesNo reads a yes/no column.
func yesNo(column, v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "yes", "y":
		return true, nil
	case "no", "n", "":
		return false, nil
	}
	return false, fmt.Errorf("%s must be yes or no, not %q", column, v)
}

// RowError is what is wrong with one row of an upload; Row counts from 1 for the header row, as a
// spreadsheet numbers it.
type RowError struct {
	Row     int
	Column  string
	Message string
}

func (e RowError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("row %d: %s", e.Row, e.Message)
	}
	return fmt.Sprintf("row %d, %s: %s", e.Row, e.Column, e.Message)
}

// chronologyEntry builds one entry from its column values (keyed by column name) for an agency,
// returning every problem with it.
func chronologyEntry(agency string, v map[string]string) (review.ChronologyEntry, []RowError) {
	var errs []RowError
	bad := func(col, format string, args ...any) {
		errs = append(errs, RowError{Column: col, Message: fmt.Sprintf(format, args...)})
	}
	e := review.ChronologyEntry{Agency: agency, EntryID: strings.TrimSpace(v["entry_id"]), SourceRef: strings.TrimSpace(v["source_ref"]),
		Description: strings.TrimSpace(v["description"]), Significance: strings.ToLower(strings.TrimSpace(v["significance"]))}
	if e.EntryID == "" {
		bad("entry_id", "is required: a reference unique within your agency's chronology, such as PN-001")
	}
	if strings.TrimSpace(v["date"]) == "" {
		bad("date", "is required: YYYY-MM-DD, YYYY-MM, or ~YYYY-MM when approximate")
	} else if d, err := parseEventDate(v["date"]); err != nil {
		bad("date", "%v", err)
	} else {
		e.Date = d
	}
	if e.Description == "" {
		bad("description", "is required: what happened, as the record says")
	}
	var err error
	if e.ChildSeen, err = yesNo("child_seen", v["child_seen"]); err != nil {
		bad("child_seen", "must be yes or no, not %q", v["child_seen"])
	}
	if e.ChildViewsSought, err = yesNo("child_views_sought", v["child_views_sought"]); err != nil {
		bad("child_views_sought", "must be yes or no, not %q", v["child_views_sought"])
	}
	if e.Significance != review.SignificanceKey && e.Significance != review.SignificanceBackground {
		bad("significance", "must be key or background, not %q", v["significance"])
	}
	return e, errs
}

// parseChronologyCSV reads a whole upload. It returns the entries only when every row is good;
// otherwise it returns every row's problems, so that one upload shows them all.
func parseChronologyCSV(agency string, r io.Reader) ([]review.ChronologyEntry, []RowError, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // a short or long row is reported as a row error, not a failed file
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("%w: the file is empty; its first row must name the columns %s", ErrBadChronologyCSV, strings.Join(ChronologyColumns, ","))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBadChronologyCSV, err)
	}
	for i := range header {
		header[i] = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(header[i], "\ufeff")))
	}
	if !slices.Equal(header, ChronologyColumns) {
		return nil, nil, fmt.Errorf("%w: the first row must name the columns %s in that order; it names %s",
			ErrBadChronologyCSV, strings.Join(ChronologyColumns, ","), strings.Join(header, ","))
	}
	var entries []review.ChronologyEntry
	var rowErrs []RowError
	seen := map[string]int{}
	for row := 2; ; row++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				rowErrs = append(rowErrs, RowError{Row: pe.Line, Message: pe.Err.Error()})
				continue
			}
			return nil, nil, fmt.Errorf("%w: %v", ErrBadChronologyCSV, err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line
		}
		if row-1 > maxChronologyRows {
			return nil, nil, fmt.Errorf("%w: more than %d entries; send the chronology in parts", ErrBadChronologyCSV, maxChronologyRows)
		}
		if len(rec) != len(ChronologyColumns) {
			rowErrs = append(rowErrs, RowError{Row: row, Message: fmt.Sprintf("has %d columns; every row needs %d: %s",
				len(rec), len(ChronologyColumns), strings.Join(ChronologyColumns, ","))})
			continue
		}
		values := map[string]string{}
		for i, col := range ChronologyColumns {
			values[col] = rec[i]
		}
		e, errs := chronologyEntry(agency, values)
		if prev, dup := seen[e.EntryID]; dup && e.EntryID != "" {
			errs = append(errs, RowError{Column: "entry_id", Message: fmt.Sprintf("%q is used on row %d too; each entry needs its own", e.EntryID, prev)})
		} else if e.EntryID != "" {
			seen[e.EntryID] = row
		}
		for _, re := range errs {
			re.Row = row
			rowErrs = append(rowErrs, re)
		}
		entries = append(entries, e)
	}
	if len(rowErrs) > 0 {
		return nil, rowErrs, nil
	}
	if len(entries) == 0 {
		return nil, nil, fmt.Errorf("%w: the file has a header row but no entries", ErrBadChronologyCSV)
	}
	return entries, nil, nil
}
