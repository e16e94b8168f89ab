package report

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

var testIDs = []Identifier{
	{KindChildName, "Jayden Smith"},
	{KindChildNamePart, "Jayden"},
	{KindChildNamePart, "Smith"},
	{KindChildNamePart, "Ann"},
	{KindDateOfBirth, "4 March 2019"},
	{KindDateOfBirth, "4/3/2019"},
	{KindDateOfBirth, "04/03/2019"},
	{KindHomePlace, "Acacia Avenue"},
}

// found lists the identifiers CheckRedaction reports, in order, as kind:value.
func found(offences []Offence) []string {
	var out []string
	for _, o := range offences {
		out = append(out, o.Kind+":"+o.Identifier)
	}
	return out
}

func TestCheckRedactionRules(t *testing.T) {
	tests := []struct {
		rule, text string
		want       []string // nil: the text passes
	}{
		{"exact name", "Jayden was seen.", []string{"child-name-part:Jayden"}},
		{"no name", "The child was seen.", nil},
		{"case-insensitive", "JAYDEN was seen.", []string{"child-name-part:Jayden"}},
		{"case-insensitive lower", "seen by jayden's mother", []string{"child-name-part:Jayden"}},
		{"word boundary before", "Annual review held.", nil},
		{"word boundary after", "Joanna and Hannah", nil},
		{"word boundary: name inside another", "Smithson attended.", nil},
		{"word boundary: punctuation", "(Ann)", []string{"child-name-part:Ann"}},
		{"word boundary: hyphenated", "Ann-Marie", []string{"child-name-part:Ann"}},
		{"possessive", "Jayden's school", []string{"child-name-part:Jayden"}},
		{"possessive, typographic apostrophe", "Jayden’s school", []string{"child-name-part:Jayden"}},
		{"full name over its parts", "Jayden Smith was seen.", []string{"child-name:Jayden Smith"}},
		{"full name across a line break", "seen by Jayden\n   Smith today", []string{"child-name:Jayden Smith"}},
		{"full name across tabs and a non-breaking space", "Jayden\t\u00a0Smith", []string{"child-name:Jayden Smith"}},
		{"parts apart", "Jayden, and later Smith", []string{"child-name-part:Jayden", "child-name-part:Smith"}},
		{"date of birth long form", "born on 4 March 2019.", []string{"child-date-of-birth:4 March 2019"}},
		{"date of birth numeric", "DOB 04/03/2019", []string{"child-date-of-birth:04/03/2019"}},
		{"date of birth short numeric", "DOB 4/3/2019", []string{"child-date-of-birth:4/3/2019"}},
		{"another day is not the date", "on 14/3/2019 and 14 March 2019", nil},
		{"month and year pass", "in March 2019", nil},
		{"place", "lived on Acacia  Avenue", []string{"home-place:Acacia Avenue"}},
		{"HTML: tag inside a name", "<p>Jay<b>den</b> was seen</p>", []string{"child-name-part:Jayden"}},
		{"HTML: numeric entity", "<p>J&#97;yden</p>", []string{"child-name-part:Jayden"}},
		{"HTML: hex entity without semicolon", "<p>J&#x61yden</p>", []string{"child-name-part:Jayden"}},
		{"HTML: named entity in a possessive", "<p>Jayden&rsquo;s school</p>", []string{"child-name-part:Jayden"}},
		{"HTML: soft hyphen", "<p>Jay&shy;den</p>", []string{"child-name-part:Jayden"}},
		{"HTML: nbsp inside a full name", "<p>Jayden&nbsp;Smith</p>", []string{"child-name:Jayden Smith"}},
		{"HTML: full name across elements", "<p>Jayden <em>Smith</em></p>", []string{"child-name:Jayden Smith"}},
		{"HTML: cells are separate words", "<td>Jayden</td><td>Smithfield</td>", []string{"child-name-part:Jayden"}},
		{"HTML: attribute values are published", `<p><img alt="Jayden at school" src="a.png"></p>`, []string{"child-name-part:Jayden"}},
		{"HTML: file name in a link", `<p><a href="/files/jayden-smith.pdf">report</a></p>`, []string{"child-name-part:Jayden", "child-name-part:Smith"}},
		{"HTML: text and an attribute are not one name", `<p>Jayden <img alt="Smith"></p>`, []string{"child-name-part:Jayden", "child-name-part:Smith"}},
		{"HTML: comment", "<p>seen</p><!-- ask Jayden's school -->", []string{"child-name-part:Jayden"}},
		{"HTML: tag names are not text", `<p><span class="annotation">seen</span></p>`, nil},
		{"HTML: no names", "<p>The child&rsquo;s annual review</p>", nil},
		{"plain text in angle brackets is text", "<Jayden>", []string{"child-name-part:Jayden"}},
		{"plain text comparison is text", "age < 5 and Jayden > 3", []string{"child-name-part:Jayden"}},
		{"sorted by offset", "Smith, then Ann, then Jayden", []string{"child-name-part:Smith", "child-name-part:Ann", "child-name-part:Jayden"}},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			got := found(CheckRedaction(tt.text, testIDs))
			if !slices.Equal(got, tt.want) {
				t.Errorf("CheckRedaction(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

func TestCheckRedactionLocatesOffences(t *testing.T) {
	prefix := strings.Repeat("Ünïcödé padding ", 5) // multi-byte runes on both sides
	text := "first line\nsecond line\n" + prefix + "J&#97;yden's visit " + prefix + "\nlast line"
	html := "<p>" + strings.ReplaceAll(text, "\n", "<br>\n") + "</p>"
	for _, tt := range []struct {
		name, text, lookFor string
	}{
		{"plain", text, "J&#97;yden"},
		{"html", html, "J&#97;yden"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := CheckRedaction(tt.text, testIDs)
			if len(got) != 1 {
				t.Fatalf("got %d offences %v, want 1", len(got), found(got))
			}
			o := got[0]
			if want := strings.Index(tt.text, tt.lookFor); o.Offset != want {
				t.Errorf("Offset = %d, want %d", o.Offset, want)
			}
			if o.Line != 3 {
				t.Errorf("Line = %d, want 3", o.Line)
			}
			if !utf8.ValidString(o.Passage) || !strings.Contains(o.Passage, "Jayden's visit") {
				t.Errorf("Passage %q does not show the occurrence", o.Passage)
			}
			if n := utf8.RuneCountInString(o.Passage); n > len("Jayden")+2*passageRunes || n < 2*passageRunes {
				t.Errorf("Passage %q has %d runes, want about %d each side", o.Passage, n, passageRunes)
			}
		})
	}
}

func TestCheckRedactionEmptyInputs(t *testing.T) {
	if got := CheckRedaction("", testIDs); got != nil {
		t.Errorf("empty text: %v", got)
	}
	if got := CheckRedaction("Jayden", nil); got != nil {
		t.Errorf("no identifiers: %v", got)
	}
	if got := CheckRedaction("Jayden", []Identifier{{KindChildName, "  "}}); got != nil {
		t.Errorf("blank identifier: %v", got)
	}
}

func FuzzCheckRedaction(f *testing.F) {
	for _, seed := range []string{"", "Jayden", "<p>Jay<b>den</b></p>", "J&#97;yden", "&#x110000;", "<a href='x", "<!--",
		"Jayden\n Smith", "\xff\xfeJayden", "<p title=\"Ann\">&amp;&", "İstanbul Jayden ſmith"} {
		f.Add(seed, "Jayden")
	}
	f.Fuzz(func(t *testing.T, text, name string) {
		ids := append(slices.Clone(testIDs), Identifier{KindChildName, name})
		offences := CheckRedaction(text, ids)
		for i, o := range offences {
			if o.Offset < 0 || o.Offset >= len(text) {
				t.Fatalf("offence %d at offset %d, outside text of %d bytes", i, o.Offset, len(text))
			}
			if o.Line < 1 || o.Line > strings.Count(text, "\n")+1 {
				t.Fatalf("offence %d on line %d", i, o.Line)
			}
			if i > 0 && o.Offset < offences[i-1].Offset {
				t.Fatalf("offences not sorted: %d after %d", o.Offset, offences[i-1].Offset)
			}
			if !utf8.ValidString(o.Passage) {
				t.Fatalf("passage %q is not valid UTF-8", o.Passage)
			}
		}
	})
}

// benchmarkReport is a report of about 200 KB with 20 identifiers, a few of which occur in it.
func benchmarkReport() (string, []Identifier) {
	var ids []Identifier
	for i := range 20 {
		ids = append(ids, Identifier{KindChildNamePart, fmt.Sprintf("Name%c%c", 'a'+i, 'k'+i)})
	}
	ids[0].Value, ids[1].Value = "Jayden Smith", "Ann"
	var b strings.Builder
	for i := 0; b.Len() < 200_000; i++ {
		fmt.Fprintf(&b, "<tr><th scope=\"row\">%d May 2021</th><td>police-force</td><td>Call-out to the home; the annual review was missed and a lower priority given.</td></tr>\n", i%28+1)
		if i%500 == 0 {
			b.WriteString("<p>Jayden\n Smith was seen by Ann.</p>\n")
		}
	}
	return b.String(), ids
}

func BenchmarkCheckRedaction(b *testing.B) {
	text, ids := benchmarkReport()
	b.Run("CheckRedaction", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			if len(CheckRedaction(text, ids)) == 0 {
				b.Fatal("no offences found")
			}
		}
	})
	// The baseline is what a naive check would do: exact, case-sensitive, no boundaries, no HTML.
	b.Run("StringsContainsBaseline", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			n := 0
			for _, id := range ids {
				if strings.Contains(text, id.Value) {
					n++
				}
			}
			if n == 0 {
				b.Fatal("no identifier found")
			}
		}
	})
}
