package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"casereview/auth"
	"casereview/calendar"
	"casereview/review"
)

// formField is one field of a command form, derived from the command's JSON fields so that every
// command people may send has a form without one being written by hand.
type formField struct {
	ID, Name, Label, Kind, Hint string
	Value                       string
	Checked                     bool
	Error                       string
	Options                     []string // for a choice of fixed values
}

// fieldOf makes a field of a hand-written form from its state. For kind "a,b,c" the field is a
// choice of those values; prefix, if given, makes the element ID unique on the page.
func fieldOf(form formState, name, label, kind, hint string, prefix ...string) formField {
	f := formField{ID: strings.Join(prefix, "") + name, Name: name, Label: label, Kind: kind, Hint: hint,
		Value: form.Values[name], Error: form.Errors[name]}
	if strings.Contains(kind, ",") {
		f.Kind, f.Options = "choice", strings.Split(kind, ",")
	}
	return f
}

// DescribedBy lists the hint and error that describe the field, for aria-describedby.
func (f formField) DescribedBy() string {
	var ids []string
	if f.Hint != "" {
		ids = append(ids, f.ID+"-hint")
	}
	if f.Error != "" {
		ids = append(ids, f.ID+"-error")
	}
	return strings.Join(ids, " ")
}

// commandForm is a form for one command on one case.
type commandForm struct {
	Name, Title, Action string
	Fields              []formField
	Error               string
	Open                bool // the form just failed: show it opened, with its errors
}

var (
	byType           = reflect.TypeFor[review.By]()
	headerType       = reflect.TypeFor[review.Header]()
	calendarDateType = reflect.TypeFor[calendar.Date]()
	eventDateType    = reflect.TypeFor[review.EventDate]()
)

// longTextFields are written in a text area rather than a one-line box.
var longTextFields = []string{"facts", "summary", "description", "rationale", "comments", "text", "note", "evidence",
	"reason", "detail", "publicText", "document", "statement", "inThisCase", "scope", "justification", "measureOfSuccess",
	"independence", "inequalitiesNoted", "whyItMatters", "notPeculiar", "governance", "timescales", "familyEngagement"}

const eventDateHint = "YYYY-MM-DD for a day, YYYY-MM for a month, ~YYYY-MM or ~YYYY when approximate"

// commandFields lists the fields of a command type, nested structs as dotted names ("entry.date").
func commandFields(cmd, t reflect.Type, prefix string) []formField {
	var out []formField
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Type == byType || sf.Type == headerType || !sf.IsExported() {
			continue
		}
		if sf.Anonymous && sf.Type.Kind() == reflect.Struct {
			out = append(out, commandFields(cmd, sf.Type, prefix)...)
			continue
		}
		tag, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		name := prefix + tag
		f := formField{ID: "f-" + cmd.Name() + "-" + strings.ReplaceAll(name, ".", "-"), Name: name, Label: humanize(tag)}
		switch {
		case sf.Type == calendarDateType:
			f.Kind = "date"
		case sf.Type == eventDateType:
			f.Kind, f.Hint = "eventdate", eventDateHint
		case sf.Type.Kind() == reflect.Struct:
			out = append(out, commandFields(cmd, sf.Type, name+".")...)
			continue
		case sf.Type.Kind() == reflect.String:
			f.Kind = "text"
			if slices.Contains(longTextFields, tag) {
				f.Kind = "textarea"
			}
		case sf.Type.Kind() == reflect.Bool:
			f.Kind = "checkbox"
		case sf.Type.Kind() == reflect.Int:
			f.Kind = "number"
		case sf.Type.Kind() == reflect.Slice && sf.Type.Elem().Kind() == reflect.String:
			f.Kind, f.Hint = "list", "One per line."
		default:
			continue // a type no form can carry; the command works without it or says what is missing
		}
		out = append(out, f)
	}
	return out
}

// commandType returns the struct type of a command name, from a decoded empty command.
func commandType(name string) (reflect.Type, bool) {
	cmd, err := review.DecodeCommand(name, review.Actor{}, nil)
	if err != nil {
		return nil, false
	}
	return reflect.TypeOf(cmd), true
}

// newCommandForm builds the empty form of a command, with the user's agency filled in where the
// command names one: agency staff only ever act for their own agency.
func newCommandForm(caseID, name string, u auth.User) (commandForm, bool) {
	t, ok := commandType(name)
	if !ok {
		return commandForm{}, false
	}
	f := commandForm{Name: name, Title: humanize(name), Action: "/cases/" + caseID + "/commands/" + name + "#form-" + name, Fields: commandFields(t, t, "")}
	for i := range f.Fields {
		if strings.HasSuffix(f.Fields[i].Name, "agency") && u.Role.AgencyScoped() {
			f.Fields[i].Value = u.Agency
		}
	}
	return f, true
}

// setPath sets a dotted path in nested maps.
func setPath(m map[string]any, path string, v any) {
	head, rest, nested := strings.Cut(path, ".")
	if !nested {
		m[head] = v
		return
	}
	sub, ok := m[head].(map[string]any)
	if !ok {
		sub = map[string]any{}
		m[head] = sub
	}
	setPath(sub, rest, v)
}

// read fills the form from the posted values and returns the command's JSON payload; it records
// errors beside the fields whose values cannot be read at all.
func (f *commandForm) read(r *http.Request) []byte {
	payload := map[string]any{}
	for i := range f.Fields {
		fd := &f.Fields[i]
		v := strings.TrimSpace(r.PostFormValue(fd.Name))
		fd.Value = v
		switch fd.Kind {
		case "checkbox":
			fd.Checked = v != ""
			setPath(payload, fd.Name, fd.Checked)
		case "list":
			var items []string
			for _, line := range strings.Split(v, "\n") {
				if line = strings.TrimSpace(line); line != "" {
					items = append(items, line)
				}
			}
			if len(items) > 0 {
				setPath(payload, fd.Name, items)
			}
		case "date":
			if v == "" {
				continue
			}
			if _, err := calendar.ParseDate(v); err != nil {
				fd.Error = fmt.Sprintf("%q is not a date: write it as YYYY-MM-DD", v)
				continue
			}
			setPath(payload, fd.Name, v)
		case "eventdate":
			if v == "" {
				continue
			}
			d, err := parseEventDate(v)
			if err != nil {
				fd.Error = err.Error()
				continue
			}
			setPath(payload, fd.Name, d)
		case "number":
			if v == "" {
				continue
			}
			n, err := strconv.Atoi(v)
			if err != nil {
				fd.Error = fmt.Sprintf("%q is not a whole number", v)
				continue
			}
			setPath(payload, fd.Name, n)
		default:
			if v != "" {
				setPath(payload, fd.Name, v)
			}
		}
	}
	b, _ := json.Marshal(payload) // maps of strings, bools, numbers and dates always encode
	return b
}

// failed reports whether any field carries an error.
func (f *commandForm) failed() bool {
	return slices.ContainsFunc(f.Fields, func(fd formField) bool { return fd.Error != "" }) || f.Error != ""
}

// fieldError puts a refusal's message beside the field it names ("entryId" matches
// "entry.entryId"), or above the form when it names none the form has.
func (f *commandForm) fieldError(field, message string) {
	f.Open = true
	if field != "" {
		for i := range f.Fields {
			n := f.Fields[i].Name
			if n == field || strings.HasSuffix(n, "."+field) || strings.HasPrefix(field, n+".") {
				f.Fields[i].Error = message
				return
			}
		}
	}
	f.Error = strings.TrimSpace(f.Error + " " + message)
}

// refusal words an error from decoding or deciding a command for the form.
func (f *commandForm) refusal(err error) {
	var re *review.RuleError
	if errors.As(err, &re) {
		f.fieldError(re.Field, re.Message)
		return
	}
	f.fieldError("", err.Error())
}
