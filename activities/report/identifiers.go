package report

import (
	"fmt"
	"strings"
	"time"
	"unicode"

	"casereview/calendar"
	"casereview/review"
)

// Identifier is one thing recorded about the children or family that must not appear in public text.
type Identifier struct {
	Kind  string
	Value string
}

// Identifier kinds.
const (
	KindChildName     = "child-name"
	KindChildNamePart = "child-name-part"
	KindDateOfBirth   = "child-date-of-birth"
	KindHomePlace     = "home-place"
	KindIncidentPlace = "incident-place"
	KindLinkedCase    = "linked-case"
)

// genericWords make up pseudonyms ("Child A", "Baby B") and descriptions of places ("the family
// home"): they identify nobody, and treating them as identifiers would flag every page of a report.
var genericWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`a an the of at in on and child children baby infant unborn sibling
		siblings twin boy girl unknown not known home family house flat address property hospital school
		nursery child's family's`) {
		genericWords[w] = true
	}
}

// Identifiers returns every identifier recorded for the children and family on the case's
// notification: each child's full name and each part of it of three or more letters, each date
// of birth in the forms people write it, the home and incident places with their parts, and
// linked case references. The order is that of the notification; values are unique regardless of case.
func Identifiers(c *review.Case) []Identifier {
	if c == nil {
		return nil
	}
	var ids []Identifier
	seen := map[string]bool{}
	add := func(kind, value string) {
		value = strings.Join(strings.Fields(value), " ")
		key := strings.ToLower(value)
		if value == "" || seen[key] {
			return
		}
		seen[key] = true
		ids = append(ids, Identifier{Kind: kind, Value: value})
	}
	n := c.Notification
	for _, child := range n.Children {
		if !isPseudonym(child.Name) {
			add(KindChildName, child.Name)
			for _, part := range nameParts(child.Name) {
				add(KindChildNamePart, part)
			}
		}
		for _, form := range dateForms(child.DateOfBirth) {
			add(KindDateOfBirth, form)
		}
	}
	for _, place := range placeParts(n.HomePlace) {
		add(KindHomePlace, place)
	}
	for _, place := range placeParts(n.IncidentPlace) {
		add(KindIncidentPlace, place)
	}
	for _, ref := range n.LinkedCases {
		add(KindLinkedCase, ref)
	}
	return ids
}

// trimPunct removes punctuation around a word, keeping apostrophes and hyphens inside it.
func trimPunct(w string) string {
	return strings.TrimFunc(w, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

func letters(w string) int {
	n := 0
	for _, r := range w {
		if unicode.IsLetter(r) {
			n++
		}
	}
	return n
}

// isPseudonym reports whether a recorded name is a pseudonym such as "Child A" or "Baby B1":
// a generic word with nothing else of three or more letters.
func isPseudonym(name string) bool {
	generic := false
	for _, w := range strings.Fields(name) {
		w = strings.ToLower(trimPunct(w))
		switch {
		case genericWords[w]:
			generic = true
		case letters(w) >= 3:
			return false
		}
	}
	return generic
}

// nameParts returns the parts of a name of three or more letters, and for a hyphenated part its
// pieces too, so that "Mary-Jane Smith" yields "Mary-Jane", "Mary", "Jane" and "Smith".
func nameParts(name string) []string {
	var parts []string
	for _, w := range strings.Fields(name) {
		w = trimPunct(w)
		if letters(w) < 3 || genericWords[strings.ToLower(w)] {
			continue
		}
		parts = append(parts, w)
		if strings.Contains(w, "-") {
			for _, piece := range strings.Split(w, "-") {
				if letters(piece) >= 3 && !genericWords[strings.ToLower(piece)] {
					parts = append(parts, piece)
				}
			}
		}
	}
	return parts
}

// dateForms returns a date as people write it in British records: ISO, "4 March 2019",
// "4th Mar 2019", "March 4, 2019", and numeric day-month-year with or without leading zeros and
// with a two- or four-digit year. A month and year alone identify nobody and are not included.
func dateForms(d calendar.Date) []string {
	if d.IsZero() {
		return nil
	}
	long := d.Month.String()
	short := long[:3]
	forms := []string{d.String()}
	days := []string{fmt.Sprint(d.Day)}
	if d.Day < 10 {
		days = append(days, fmt.Sprintf("%02d", d.Day))
	}
	months := []string{long, short}
	if d.Month == time.September {
		months = append(months, "Sept")
	}
	for _, month := range months {
		for _, day := range days {
			forms = append(forms, fmt.Sprintf("%s %s %d", day, month, d.Year))
		}
		forms = append(forms,
			fmt.Sprintf("%d%s %s %d", d.Day, ordinal(d.Day), month, d.Year),
			fmt.Sprintf("%d%s of %s %d", d.Day, ordinal(d.Day), month, d.Year),
			fmt.Sprintf("%s %d, %d", month, d.Day, d.Year),
			fmt.Sprintf("%s %d %d", month, d.Day, d.Year))
	}
	numMonths := []string{fmt.Sprint(int(d.Month))}
	if d.Month < 10 {
		numMonths = append(numMonths, fmt.Sprintf("%02d", int(d.Month)))
	}
	years := []string{fmt.Sprint(d.Year), fmt.Sprintf("%02d", d.Year%100)}
	for _, sep := range []string{"/", ".", "-"} {
		for _, year := range years {
			for _, day := range days {
				for _, month := range numMonths {
					forms = append(forms, day+sep+month+sep+year)
				}
			}
		}
	}
	return forms
}

func ordinal(day int) string {
	switch {
	case day == 11 || day == 12 || day == 13:
		return "th"
	case day%10 == 1:
		return "st"
	case day%10 == 2:
		return "nd"
	case day%10 == 3:
		return "rd"
	}
	return "th"
}

// placeParts returns a place as recorded and each comma- or line-separated part of it, with a
// street also without its house number, leaving out descriptions that identify nowhere ("home").
func placeParts(place string) []string {
	var out []string
	keep := func(p string) {
		p = strings.TrimSpace(p)
		if p != "" && !isGenericPlace(p) {
			out = append(out, p)
		}
	}
	keep(place)
	for _, part := range strings.FieldsFunc(place, func(r rune) bool { return r == ',' || r == '\n' || r == ';' }) {
		keep(part)
		fields := strings.Fields(part)
		if len(fields) > 1 && unicode.IsDigit([]rune(fields[0])[0]) {
			keep(strings.Join(fields[1:], " "))
		}
	}
	return out
}

// isGenericPlace reports whether a place is only generic words, or has too few letters to name
// anywhere (a bare house number).
func isGenericPlace(p string) bool {
	if letters(p) < 3 {
		return true
	}
	for _, w := range strings.Fields(p) {
		if w = strings.ToLower(trimPunct(w)); w != "" && !genericWords[w] {
			return false
		}
	}
	return true
}
