package report

import (
	"slices"
	"strings"
	"testing"

	"casereview/review"
)

func TestIdentifiers(t *testing.T) {
	ids := Identifiers(fullCase(t))
	has := func(kind, value string) bool { return slices.Contains(ids, Identifier{kind, value}) }

	tests := []struct {
		kind, value string
		want        bool
	}{
		{KindChildName, "Jayden Smith", true},
		{KindChildNamePart, "Jayden", true},
		{KindChildNamePart, "Smith", true},
		{KindChildName, "Ann-Marie Lowe", true},
		{KindChildNamePart, "Ann-Marie", true},
		{KindChildNamePart, "Ann", true},
		{KindChildNamePart, "Marie", true},
		{KindChildNamePart, "Lowe", true},
		{KindDateOfBirth, "2019-03-04", true},
		{KindDateOfBirth, "4 March 2019", true},
		{KindDateOfBirth, "04 March 2019", true},
		{KindDateOfBirth, "4 Mar 2019", true},
		{KindDateOfBirth, "4th March 2019", true},
		{KindDateOfBirth, "March 4, 2019", true},
		{KindDateOfBirth, "04/03/2019", true},
		{KindDateOfBirth, "4/3/2019", true},
		{KindDateOfBirth, "4.3.19", true},
		{KindDateOfBirth, "21 Nov 2016", true},
		{KindDateOfBirth, "21/11/2016", true},
		{KindDateOfBirth, "March 2019", false}, // a month alone identifies nobody
		{KindDateOfBirth, "2019", false},
		{KindHomePlace, "14 Acacia Avenue, Leeds, LS1 4AB", true},
		{KindHomePlace, "14 Acacia Avenue", true},
		{KindHomePlace, "Acacia Avenue", true},
		{KindHomePlace, "Leeds", true},
		{KindHomePlace, "LS1 4AB", true},
		{KindHomePlace, "14", false},                  // a bare house number
		{KindIncidentPlace, "the family home", false}, // a description, not a place
		{KindLinkedCase, "LCSPR-2021-07", true},
	}
	for _, tt := range tests {
		if got := has(tt.kind, tt.value); got != tt.want {
			t.Errorf("identifier %s %q present = %v, want %v", tt.kind, tt.value, got, tt.want)
		}
	}

	seen := map[string]bool{}
	for _, id := range ids {
		key := strings.ToLower(id.Value)
		if seen[key] {
			t.Errorf("duplicate identifier %q", id.Value)
		}
		seen[key] = true
	}
	// Deterministic: the notification's order, the first child's identifiers first.
	if !slices.Equal(ids, Identifiers(fullCase(t))) {
		t.Error("two calls on the same case gave different identifiers")
	}
	if ids[0] != (Identifier{KindChildName, "Jayden Smith"}) || ids[len(ids)-1] != (Identifier{KindLinkedCase, "LCSPR-2021-07"}) {
		t.Errorf("order: first %v, last %v", ids[0], ids[len(ids)-1])
	}
}

func TestIdentifiersOfPseudonymsAndEmptyCases(t *testing.T) {
	tests := []struct {
		name     string
		children []review.Child
		want     []Identifier
	}{
		{"pseudonym", []review.Child{{Name: "Child A"}}, nil},
		{"pseudonym with number", []review.Child{{Name: "Baby B1"}}, nil},
		{"short real name", []review.Child{{Name: "Al Li"}}, []Identifier{{KindChildName, "Al Li"}}},
		{"name with extra spaces", []review.Child{{Name: "  Zoë   O'Neill "}},
			[]Identifier{{KindChildName, "Zoë O'Neill"}, {KindChildNamePart, "Zoë"}, {KindChildNamePart, "O'Neill"}}},
		{"siblings share a surname once", []review.Child{{Name: "Kai Jones"}, {Name: "Mia Jones"}},
			[]Identifier{{KindChildName, "Kai Jones"}, {KindChildNamePart, "Kai"}, {KindChildNamePart, "Jones"},
				{KindChildName, "Mia Jones"}, {KindChildNamePart, "Mia"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := notified(t)
			n.Children, n.HomePlace, n.IncidentPlace, n.LinkedCases = tt.children, "", "home", nil
			if got := Identifiers(replay(t, n)); !slices.Equal(got, tt.want) {
				t.Errorf("Identifiers = %v, want %v", got, tt.want)
			}
		})
	}
	if got := Identifiers(nil); got != nil {
		t.Errorf("Identifiers(nil) = %v, want nil", got)
	}
}
