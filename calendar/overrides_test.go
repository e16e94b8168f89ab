package calendar

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "overrides.json")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const goodOverrides = `{
  "comment": "a made-up proclamation for the test",
  "exceptions": [
    {"date": "2027-06-07", "action": "add", "regions": ["england-and-wales", "scotland"],
     "name": "Test jubilee", "source": "test proclamation"},
    {"date": "2027-05-31", "action": "remove", "regions": ["england-and-wales"],
     "name": "Spring bank holiday", "source": "test proclamation"}
  ]
}
`

func TestLoadOverrides(t *testing.T) {
	path := writeFile(t, goodOverrides)
	c, err := Load(ew, path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(goodOverrides))
	if want := "uk-bank-holidays/2026.1+overrides:" + hex.EncodeToString(sum[:6]); c.Version() != want {
		t.Errorf("Version() = %q, want %q", c.Version(), want)
	}
	if name, ok := c.IsHoliday(mustDate(t, "2027-06-07")); !ok || name != "Test jubilee" {
		t.Errorf("added day: IsHoliday = %q, %v", name, ok)
	}
	if _, ok := c.IsHoliday(mustDate(t, "2027-05-31")); ok {
		t.Error("removed day is still a holiday")
	}
	if !c.IsWorkingDay(mustDate(t, "2027-05-31")) || c.IsWorkingDay(mustDate(t, "2027-06-07")) {
		t.Error("IsWorkingDay does not follow the overrides")
	}
	if got := c.AddWorkingDays(mustDate(t, "2027-05-28"), 1); got.String() != "2027-05-31" {
		t.Errorf("AddWorkingDays(2027-05-28, 1) = %s, want 2027-05-31", got)
	}
	if got := c.AddWorkingDays(mustDate(t, "2027-06-04"), 1); got.String() != "2027-06-08" {
		t.Errorf("AddWorkingDays(2027-06-04, 1) = %s, want 2027-06-08", got)
	}
	// The embedded one-offs still apply.
	if _, ok := c.IsHoliday(mustDate(t, "2022-09-19")); !ok {
		t.Error("2022-09-19 lost with overrides loaded")
	}

	// Scotland gets only its own entries, but the version still names the file.
	s, err := Load(sc, path)
	if err != nil {
		t.Fatal(err)
	}
	if s.Version() != c.Version() {
		t.Errorf("scotland Version() = %q, want %q", s.Version(), c.Version())
	}
	if _, ok := s.IsHoliday(mustDate(t, "2027-06-07")); !ok {
		t.Error("scotland: added day missing")
	}
	if _, ok := s.IsHoliday(mustDate(t, "2027-05-31")); !ok {
		t.Error("scotland: a removal for england-and-wales removed Scotland's holiday")
	}

	// Northern Ireland is not named, so it is unchanged.
	n, err := Load(ni, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := n.IsHoliday(mustDate(t, "2027-06-07")); ok {
		t.Error("northern-ireland: picked up an override for other regions")
	}

	// A different file gives a different version.
	other, err := Load(ew, writeFile(t, strings.Replace(goodOverrides, "Test jubilee", "Other jubilee", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if other.Version() == c.Version() {
		t.Error("two different override files give the same version")
	}
	plain := mustRegion(t, ew)
	if _, ok := plain.IsHoliday(mustDate(t, "2027-05-31")); !ok {
		t.Error("loading overrides changed a calendar loaded without them")
	}
}

func TestLoadOverridesErrors(t *testing.T) {
	entry := func(fields string) string {
		return "{\n  \"exceptions\": [\n    " + fields + "\n  ]\n}\n"
	}
	ok := `{"date": "2027-06-07", "action": "add", "regions": ["england-and-wales"], "name": "X", "source": "s"}`
	tests := []struct {
		name    string
		content string
		line    int      // want DataError.Line; 0 to skip
		field   string   // want DataError.Field
		says    []string // substrings of the message
	}{
		{"syntax", "{\n  \"exceptions\": [\n    {\"date\": \"2027-06-07\",,}\n  ]\n}\n", 3, "", []string{"JSON syntax"}},
		{"top level not an object", "[]", 1, "", []string{"JSON object"}},
		{"unknown top-level field", "{\n  \"version\": \"mine\"\n}", 2, "version", []string{"allowed", "comment, exceptions"}},
		{"exceptions not an array", "{\"exceptions\": {}}", 1, "exceptions", []string{"array"}},
		{"unknown entry field", entry(`{"date": "2027-06-07", "colour": "red"}`), 3, "exceptions[0]", []string{"colour"}},
		{"bad date", entry(ok + ",\n    " + `{"date": "2027-02-30", "action": "add"}`), 4, "exceptions[1]", []string{"2027-02-30", "YYYY-MM-DD"}},
		{"wrong type", entry(`{"date": "2027-06-07", "regions": "scotland"}`), 3, "exceptions[0].regions", []string{"wrong type"}},
		{"missing date", entry(`{"action": "add", "regions": ["scotland"], "name": "X", "source": "s"}`), 3, "exceptions[0].date", []string{"missing"}},
		{"bad action", entry(`{"date": "2027-06-07", "action": "move", "regions": ["scotland"], "source": "s"}`), 3, "exceptions[0].action", []string{`"move"`, "add", "remove"}},
		{"unknown region", entry(`{"date": "2027-06-07", "action": "add", "regions": ["wales"], "name": "X", "source": "s"}`), 3, "exceptions[0].regions", []string{`"wales"`, "england-and-wales, northern-ireland, scotland"}},
		{"no regions", entry(`{"date": "2027-06-07", "action": "add", "name": "X", "source": "s"}`), 3, "exceptions[0].regions", []string{"empty"}},
		{"no name", entry(`{"date": "2027-06-07", "action": "add", "regions": ["scotland"], "source": "s"}`), 3, "exceptions[0].name", []string{"2027-06-07"}},
		{"no source", entry(`{"date": "2027-06-07", "action": "add", "regions": ["scotland"], "name": "X"}`), 3, "exceptions[0].source", []string{"2027-06-07"}},
		{"weekend", entry(`{"date": "2027-06-05", "action": "add", "regions": ["scotland"], "name": "X", "source": "s"}`), 3, "exceptions[0].date", []string{"Saturday"}},
		{"duplicate", entry(ok + ",\n    " + ok), 4, "exceptions[1]", []string{"exceptions[0]"}},
		{"remove a working day", entry(`{"date": "2027-06-01", "action": "remove", "regions": ["england-and-wales"], "source": "s"}`), 3, "exceptions[0]", []string{"remove 2027-06-01", "no holiday"}},
		{"add an existing holiday", entry(`{"date": "2027-05-31", "action": "add", "regions": ["england-and-wales"], "name": "X", "source": "s"}`), 3, "exceptions[0]", []string{"add 2027-05-31", "already a holiday", "Spring bank holiday"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.content)
			_, err := Load(ew, path)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if !errors.Is(err, ErrInvalidData) {
				t.Errorf("error %q does not wrap ErrInvalidData", err)
			}
			t.Log(err)
			var de *DataError
			if !errors.As(err, &de) {
				t.Fatalf("error %q is not a *DataError", err)
			}
			if de.File != path {
				t.Errorf("File = %q, want %q", de.File, path)
			}
			if tt.line != 0 && de.Line != tt.line {
				t.Errorf("Line = %d, want %d (%v)", de.Line, tt.line, err)
			}
			if de.Field != tt.field {
				t.Errorf("Field = %q, want %q (%v)", de.Field, tt.field, err)
			}
			for _, s := range tt.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
		})
	}
}

func TestLoadOverridesMissingFile(t *testing.T) {
	_, err := Load(ew, filepath.Join(t.TempDir(), "absent.json"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
}

func TestLoadUnknownRegionWithOverrides(t *testing.T) {
	_, err := Load("wales", writeFile(t, goodOverrides))
	if !errors.Is(err, ErrUnknownRegion) {
		t.Fatalf("err = %v, want ErrUnknownRegion", err)
	}
}

// TestEmbeddedDataChecks makes sure the checks that guard the embedded data reject bad rules.
func TestEmbeddedDataChecks(t *testing.T) {
	tests := []struct {
		name string
		rule rule
		says string
	}{
		{"unknown kind", rule{Name: "X", Kind: "third-tuesday"}, "kind"},
		{"no name", rule{Kind: kindEaster}, "name is empty"},
		{"not a date", rule{Name: "X", Kind: kindFixed, Month: 2, Day: 30}, "not a date"},
		{"late December", rule{Name: "X", Kind: kindFixed, Month: 12, Day: 31}, "next year"},
		{"bad month", rule{Name: "X", Kind: kindLastMonday, Month: 13}, "month 13"},
		{"until before from", rule{Name: "X", Kind: kindEaster, From: 2000, Until: 1990}, "before from"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validateRules("test.json", "somewhere", regionData{Rules: []rule{tt.rule}})
			if !errors.Is(err, ErrInvalidData) || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("validateRules = %v, want an ErrInvalidData saying %q", err, tt.says)
			}
		})
	}
	ds, err := embedded()
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range ds.Exceptions {
		if x.Source == "" || len(x.Regions) != 3 {
			t.Errorf("embedded exception %s: want a source and all three regions", x.Date)
		}
	}
}
