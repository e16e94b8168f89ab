package calendar

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

//go:embed data/uk-bank-holidays.json
var embeddedData []byte

// embeddedName names the embedded data file in error messages.
const embeddedName = "calendar/data/uk-bank-holidays.json"

// ErrInvalidData is wrapped by every error about the contents of a holiday data or override file.
var ErrInvalidData = errors.New("invalid holiday data")

// ErrUnknownRegion is wrapped by the error for a region that has no calendar.
var ErrUnknownRegion = errors.New("unknown region")

// DataError says where in a holiday data or override file a problem is, so that whoever edits
// the file can go straight to it.
type DataError struct {
	File  string // path of the file, or the embedded file's name
	Line  int    // 1-based; 0 when not known
	Field string // e.g. "exceptions[3].date"; empty when the whole file is at fault
	Err   error
}

func (e *DataError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *DataError) Unwrap() []error { return []error{ErrInvalidData, e.Err} }

// Rule kinds in the data file.
const (
	kindFixed       = "fixed"        // month and day; moves forward to a free weekday when needed
	kindEaster      = "easter"       // offset in days from Easter Sunday
	kindFirstMonday = "first-monday" // first Monday of month
	kindLastMonday  = "last-monday"  // last Monday of month
)

type rule struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Month  int    `json:"month,omitempty"`
	Day    int    `json:"day,omitempty"`
	Offset int    `json:"offset,omitempty"`
	From   int    `json:"from,omitempty"`  // first year the rule applies; 0 for always
	Until  int    `json:"until,omitempty"` // last year the rule applies; 0 for still in force
	Source string `json:"source"`
}

func (r rule) appliesIn(year int) bool {
	return (r.From == 0 || year >= r.From) && (r.Until == 0 || year <= r.Until)
}

type regionData struct {
	Name  string `json:"name"`
	Rules []rule `json:"rules"`
}

// Exception actions.
const (
	actionAdd    = "add"
	actionRemove = "remove"
)

// exception adds or removes one day in the listed regions, as a royal proclamation does.
type exception struct {
	Date    Date     `json:"date"`
	Action  string   `json:"action"`
	Regions []string `json:"regions"`
	Name    string   `json:"name"`
	Source  string   `json:"source"`

	// Where the exception came from, for error messages.
	file  string
	line  int
	index int
}

func (x exception) errorf(format string, args ...any) error {
	return &DataError{File: x.file, Line: x.line, Field: fmt.Sprintf("exceptions[%d]", x.index),
		Err: fmt.Errorf("%s %s: %s", x.Action, x.Date, fmt.Sprintf(format, args...))}
}

type dataset struct {
	Version    string
	Comment    string
	Regions    map[string]regionData
	Exceptions []exception
}

// parseFile decodes a data file whose top-level object may hold only the keys in allowed.
// It streams the exceptions array so that each error names the line of the entry at fault.
func parseFile(file string, data []byte, allowed []string) (*dataset, error) {
	// Unmarshal into an empty interface first: its syntax errors carry offsets into the whole file.
	var probe any
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, jsonError(file, data, "", 0, err)
	}
	if _, ok := probe.(map[string]any); !ok {
		return nil, &DataError{File: file, Line: 1, Err: errors.New("want a JSON object {...} at the top level")}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if _, err := dec.Token(); err != nil { // the opening brace, checked above
		return nil, jsonError(file, data, "", 0, err)
	}
	ds := &dataset{}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, jsonError(file, data, "", 0, err)
		}
		key, _ := tok.(string)
		at := valueStart(data, dec.InputOffset())
		if !slices.Contains(allowed, key) {
			return nil, &DataError{File: file, Line: lineAt(data, at), Field: key,
				Err: fmt.Errorf("unknown field; allowed top-level fields are %s", strings.Join(allowed, ", "))}
		}
		if seen[key] {
			return nil, &DataError{File: file, Line: lineAt(data, at), Field: key, Err: errors.New("field given twice")}
		}
		seen[key] = true
		switch key {
		case "version":
			err = dec.Decode(&ds.Version)
		case "comment":
			err = dec.Decode(&ds.Comment)
		case "regions":
			err = dec.Decode(&ds.Regions)
		case "exceptions":
			ds.Exceptions, err = decodeExceptions(file, data, dec)
			if err != nil {
				return nil, err
			}
		}
		if err != nil {
			return nil, jsonError(file, data, key, at, err)
		}
	}
	return ds, nil
}

func decodeExceptions(file string, data []byte, dec *json.Decoder) ([]exception, error) {
	start := valueStart(data, dec.InputOffset())
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonError(file, data, "exceptions", start, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, &DataError{File: file, Line: lineAt(data, start), Field: "exceptions",
			Err: errors.New("want an array [...] of {\"date\", \"action\", \"regions\", \"name\", \"source\"} objects")}
	}
	var out []exception
	for i := 0; dec.More(); i++ {
		at := valueStart(data, dec.InputOffset())
		x := exception{file: file, line: lineAt(data, at), index: i}
		if err := dec.Decode(&x); err != nil {
			return nil, jsonError(file, data, fmt.Sprintf("exceptions[%d]", i), at, err)
		}
		out = append(out, x)
	}
	if _, err := dec.Token(); err != nil { // the closing bracket
		return nil, jsonError(file, data, "exceptions", start, err)
	}
	return out, nil
}

// jsonError turns an encoding/json error into a DataError with the best line number known.
func jsonError(file string, data []byte, field string, at int64, err error) error {
	line := lineAt(data, at)
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		line = lineAt(data, syn.Offset)
		err = fmt.Errorf("JSON syntax: %w", err)
	case errors.As(err, &typ):
		if typ.Field != "" {
			if field != "" {
				field += "."
			}
			field += typ.Field
		}
		err = fmt.Errorf("wrong type: got JSON %s, want %s", typ.Value, typ.Type)
	}
	return &DataError{File: file, Line: line, Field: field, Err: err}
}

// valueStart skips the whitespace, commas and colons after offset to reach the next value.
func valueStart(data []byte, offset int64) int64 {
	for offset < int64(len(data)) && strings.IndexByte(" \t\r\n,:", data[offset]) >= 0 {
		offset++
	}
	return offset
}

func lineAt(data []byte, offset int64) int {
	if offset <= 0 {
		return 1
	}
	return bytes.Count(data[:min(offset, int64(len(data)))], []byte{'\n'}) + 1
}

// validateRules checks a region's rules once, so that building a year's table cannot fail.
func validateRules(file, region string, rd regionData) error {
	if len(rd.Rules) == 0 {
		return &DataError{File: file, Field: "regions." + region + ".rules", Err: errors.New("no rules")}
	}
	for i, r := range rd.Rules {
		field := fmt.Sprintf("regions.%s.rules[%d]", region, i)
		bad := func(format string, args ...any) error {
			return &DataError{File: file, Field: field, Err: fmt.Errorf("%q: "+format, append([]any{r.Name}, args...)...)}
		}
		if r.Name == "" {
			return bad("name is empty")
		}
		if r.Until != 0 && r.Until < r.From {
			return bad("until %d is before from %d", r.Until, r.From)
		}
		switch r.Kind {
		case kindFixed:
			if r.Month < 1 || r.Month > 12 || r.Day < 1 || r.Day > daysInMonth(time.Month(r.Month), 2000) {
				return bad("month %d day %d is not a date", r.Month, r.Day)
			}
			// A substitute must land in the same year so that years can be built independently.
			if r.Month == 12 && r.Day > 26 {
				return bad("fixed dates after 26 December are not supported: a substitute day could fall in the next year")
			}
		case kindEaster:
			if r.Offset < -60 || r.Offset > 60 {
				return bad("offset %d days from Easter Sunday is out of range -60..60", r.Offset)
			}
		case kindFirstMonday, kindLastMonday:
			if r.Month < 1 || r.Month > 12 {
				return bad("month %d is not 1..12", r.Month)
			}
		default:
			return bad("kind %q unknown; want %s, %s, %s or %s", r.Kind, kindFixed, kindEaster, kindFirstMonday, kindLastMonday)
		}
	}
	return nil
}

func daysInMonth(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// validateExceptions checks each exception on its own; whether it fits the calendar (a removed
// day must be a holiday, an added one must not) is checked when the calendar is built.
func validateExceptions(xs []exception, regions []string) error {
	seen := map[string]int{}
	for _, x := range xs {
		field := fmt.Sprintf("exceptions[%d]", x.index)
		bad := func(sub string, err error) error {
			return &DataError{File: x.file, Line: x.line, Field: field + sub, Err: err}
		}
		if x.Date.IsZero() {
			return bad(".date", errors.New("missing; want \"YYYY-MM-DD\""))
		}
		switch x.Action {
		case actionAdd:
			if x.Name == "" {
				return bad(".name", fmt.Errorf("missing for the day added on %s; give the holiday's name", x.Date))
			}
			if isWeekend(dayNumber(x.Date)) {
				return bad(".date", fmt.Errorf("%s is a %s: a weekend holiday changes no working day; add the weekday it is observed on", x.Date, x.Date.Weekday()))
			}
		case actionRemove:
		default:
			return bad(".action", fmt.Errorf("%q for %s; want \"add\" or \"remove\"", x.Action, x.Date))
		}
		if len(x.Regions) == 0 {
			return bad(".regions", fmt.Errorf("empty for %s; list one or more of %s", x.Date, strings.Join(regions, ", ")))
		}
		for _, r := range x.Regions {
			if !slices.Contains(regions, r) {
				return bad(".regions", fmt.Errorf("%w %q for %s; valid regions are %s", ErrUnknownRegion, r, x.Date, strings.Join(regions, ", ")))
			}
			key := r + " " + x.Date.String()
			if prev, dup := seen[key]; dup {
				return bad("", fmt.Errorf("%s in %s is also changed by exceptions[%d]; give each day once per file", x.Date, r, prev))
			}
			seen[key] = x.index
		}
		if strings.TrimSpace(x.Source) == "" {
			return bad(".source", fmt.Errorf("missing for %s; name the proclamation or notice, e.g. \"royal proclamation of ...; gov.uk bank holidays\"", x.Date))
		}
	}
	return nil
}

// embedded parses and checks the embedded data once.
var embedded = sync.OnceValues(func() (*dataset, error) {
	ds, err := parseFile(embeddedName, embeddedData, []string{"version", "comment", "regions", "exceptions"})
	if err != nil {
		return nil, err
	}
	if ds.Version == "" {
		return nil, &DataError{File: embeddedName, Field: "version", Err: errors.New("missing")}
	}
	if len(ds.Regions) == 0 {
		return nil, &DataError{File: embeddedName, Field: "regions", Err: errors.New("no regions")}
	}
	regions := make([]string, 0, len(ds.Regions))
	for name, rd := range ds.Regions {
		if err := validateRules(embeddedName, name, rd); err != nil {
			return nil, err
		}
		regions = append(regions, name)
	}
	sort.Strings(regions)
	if err := validateExceptions(ds.Exceptions, regions); err != nil {
		return nil, err
	}
	return ds, nil
})
