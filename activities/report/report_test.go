package report

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"casereview/review"
)

var sectionHeadings = []string{
	">1. What happened</h2>",
	">2. Why did it happen</h2>",
	">3. What should have happened</h2>",
	">4. What will prevent it happening again</h2>",
}

func render(t *testing.T, c *review.Case, v View) string {
	t.Helper()
	doc, err := Render(c, v)
	if err != nil {
		t.Fatalf("Render(%s): %v", v, err)
	}
	return doc
}

func TestRenderFourQuestionsInOrder(t *testing.T) {
	c := fullCase(t)
	for _, v := range []View{Internal, Public} {
		t.Run(string(v), func(t *testing.T) {
			doc := render(t, c, v)
			last := -1
			for _, h := range sectionHeadings {
				i := strings.Index(doc, h)
				if i < 0 {
					t.Fatalf("heading %q missing", h)
				}
				if i < last {
					t.Errorf("heading %q out of order", h)
				}
				last = i
			}
			for _, want := range []string{
				`<html lang="en-GB">`,
				"<caption>Multi-agency chronology: 3 events",
				// Dates only as precise as the records: the merged row keeps the day, others do not invent one.
				`<time datetime="2021-05-14">14 May 2021</time>`,
				`<time datetime="2021-05">May 2021</time>`,
				`<th scope="row">c. 2020</th>`,
				"police-force: Call-out to the home after a neighbour&#39;s call",
				"health-trust: Told of the police call-out",
				"health-trust: Annual health review missed; lower priority given",
				"Response to the May 2021 call-out",
				"<h4>Inter-agency team</h4>", "<h4>Family</h4>",
				"Finding 1: Call-outs are not shared with health",
				"Three other reviews found the same",
				"How does the partnership know call-outs are shared?",
				"A strategy discussion should have been held",
				"Share police call-outs with health",
				"<caption>Actions for recommendation 1</caption>",
				"30 June 2023", "Audit shows 90% of call-outs shared", "Not started",
				"(lcspr/wt2023)</dd>", "2023.1", "16 September 2022", "20 September 2022", "3 October 2022",
			} {
				if !strings.Contains(doc, want) {
					t.Errorf("document lacks %q", want)
				}
			}
			if i, j := strings.Index(doc, "<h4>Inter-agency team</h4>"), strings.Index(doc, "<h4>Family</h4>"); j > i {
				t.Error("factors are not in SCIE's category order (family first)")
			}
			if strings.Contains(doc, "Not yet answered") {
				t.Error("a full case shows a question not yet answered")
			}
		})
	}
}

func TestRenderViewsDiffer(t *testing.T) {
	before := fullCase(t)
	agreed := replay(t, slices.Concat([]review.Event{notified(t)}, reviewEvents(t), approvals(t))...)
	tests := []struct {
		name    string
		c       *review.Case
		v       View
		present []string
		absent  []string
	}{
		{"internal", before, Internal,
			[]string{"Children named on the notification", "POL-1", "HV-22", "no referral was made to children&#39;s social care",
				"not yet agreed by the partnership", "Named nurse to audit call-out notices internally", "named nurse lead", "LCSPR-2021-07"},
			[]string{"Health will audit how call-outs are shared"}},
		{"public before agreement", before, Public,
			[]string{"Health will audit how call-outs are shared"},
			[]string{"Children named on the notification", "POL-1", "HV-22", "no referral was made", "Missed opportunit",
				"Named nurse to audit", "named nurse lead", "LCSPR-2021-07", "admitted to hospital"}},
		{"public after agreement", agreed, Public,
			[]string{"Missed opportunities", "no referral was made to children&#39;s social care"},
			[]string{"not yet agreed", "POL-1", "Children named on the notification"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := render(t, tt.c, tt.v)
			for _, s := range tt.present {
				if !strings.Contains(doc, s) {
					t.Errorf("lacks %q", s)
				}
			}
			for _, s := range tt.absent {
				if strings.Contains(doc, s) {
					t.Errorf("shows %q", s)
				}
			}
		})
	}
}

// TestRenderRedaction proves the views differ where it matters: the public report of a case whose
// chronology names nobody passes the redaction check, and the internal one does not.
func TestRenderRedaction(t *testing.T) {
	c := fullCase(t)
	ids := Identifiers(c)
	if offences := CheckRedaction(render(t, c, Public), ids); len(offences) != 0 {
		t.Errorf("public view: %d offences, first %+v", len(offences), offences[0])
	}
	offences := CheckRedaction(render(t, c, Internal), ids)
	kinds := map[string]bool{}
	for _, o := range offences {
		kinds[o.Kind] = true
	}
	for _, k := range []string{KindChildName, KindDateOfBirth, KindHomePlace, KindLinkedCase} {
		if !kinds[k] {
			t.Errorf("internal view: no %s offence among %v", k, found(offences))
		}
	}

	// A name slipped into a chronology entry is caught in the public view too.
	leaky := replay(t, slices.Concat([]review.Event{notified(t)}, reviewEvents(t), []review.Event{
		review.ChronologyEntryRecorded{Header: at(t, "2022-10-19"), ChronologyEntry: review.ChronologyEntry{EntryID: "e9",
			Agency: "school", Date: review.InMonth(2021, 9), Description: "Jayden's teacher raised a concern",
			Significance: review.SignificanceKey}},
	})...)
	if got := found(CheckRedaction(render(t, leaky, Public), ids)); !slices.Equal(got, []string{"child-name-part:Jayden"}) {
		t.Errorf("public view with a named entry: offences %v, want one for Jayden", got)
	}
}

func TestRenderNotYetAnswered(t *testing.T) {
	tests := []struct {
		name       string
		events     []review.Event
		unanswered int
		partly     []string
	}{
		{"notification only", nil, 4, nil},
		{"chronology only", reviewEvents(t)[3:5], 3, nil},
		{"finding without a factor", []review.Event{review.FindingRecorded{Header: at(t, "2022-10-18"), FindingID: "fd1",
			Statement: "A finding", InThisCase: "how"}}, 3, []string{"Missing: no finding cites a recorded contributory factor."}},
		{"recommendation without an action", []review.Event{review.RecommendationMade{Header: at(t, "2022-10-21"),
			RecommendationID: "rec1", Text: "a recommendation"}}, 3, []string{"Missing: recommendations without an owned action: [rec1].",
			"No actions are recorded for this recommendation yet."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := replay(t, append([]review.Event{notified(t)}, tt.events...)...)
			for _, v := range []View{Internal, Public} {
				doc := render(t, c, v)
				if n := strings.Count(doc, "<strong>Not yet answered.</strong>"); n != tt.unanswered {
					t.Errorf("%s: %d questions not yet answered, want %d", v, n, tt.unanswered)
				}
				for _, s := range tt.partly {
					if !strings.Contains(doc, s) {
						t.Errorf("%s: lacks %q", v, s)
					}
				}
				checkWellFormed(t, doc)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name string
		c    *review.Case
		v    View
		want error
	}{
		{"nil case", nil, Public, ErrNoCase},
		{"case never notified", &review.Case{}, Public, ErrNoCase},
		{"no view", fullCase(t), "", ErrUnknownView},
		{"misspelt view", fullCase(t), "Public", ErrUnknownView},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Render(tt.c, tt.v)
			if !errors.Is(err, tt.want) || doc != "" {
				t.Errorf("Render = %q, %v; want error %v", doc, err, tt.want)
			}
		})
	}
}

// voidElements have no end tag.
var voidElements = map[string]bool{"area": true, "base": true, "br": true, "col": true, "embed": true, "hr": true,
	"img": true, "input": true, "link": true, "meta": true, "source": true, "track": true, "wbr": true}

// checkWellFormed fails the test for each problem wellFormed finds.
func checkWellFormed(t *testing.T, doc string) {
	t.Helper()
	for _, p := range wellFormed(doc) {
		t.Error(p)
	}
}

// wellFormed returns the document's problems: elements not closed, or closed out of order, and
// tables that are not accessible (no caption, or a header cell without a scope).
func wellFormed(doc string) []string {
	var problems []string
	if !strings.HasPrefix(doc, "<!DOCTYPE html>\n") {
		problems = append(problems, "no doctype")
	}
	z := html.NewTokenizer(strings.NewReader(doc))
	var open []string
	tables, captions := 0, 0
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if !errors.Is(z.Err(), io.EOF) {
				problems = append(problems, "tokenise: "+z.Err().Error())
			}
			break
		}
		tok := z.Token()
		switch tt {
		case html.StartTagToken:
			switch tok.Data {
			case "table":
				tables++
			case "caption":
				captions++
			case "th":
				scoped := slices.ContainsFunc(tok.Attr, func(a html.Attribute) bool {
					return a.Key == "scope" && (a.Val == "col" || a.Val == "row")
				})
				if !scoped {
					problems = append(problems, "header cell without scope: "+tok.String())
				}
			}
			if !voidElements[tok.Data] {
				open = append(open, tok.Data)
			}
		case html.EndTagToken:
			if len(open) == 0 || open[len(open)-1] != tok.Data {
				return append(problems, fmt.Sprintf("</%s> closes %v", tok.Data, open))
			}
			open = open[:len(open)-1]
		case html.SelfClosingTagToken:
			problems = append(problems, "self-closing tag in an HTML document: "+tok.String())
		}
	}
	if len(open) != 0 {
		problems = append(problems, fmt.Sprintf("elements never closed: %v", open))
	}
	if tables != captions {
		problems = append(problems, fmt.Sprintf("%d tables but %d captions", tables, captions))
	}
	return problems
}

func TestWellFormedCatchesBrokenDocuments(t *testing.T) {
	const head = "<!DOCTYPE html>\n<html lang=\"en-GB\"><body>"
	tests := []struct {
		name, doc string
		ok        bool
	}{
		{"good", head + "<p>a<br>b</p></body></html>", true},
		{"unclosed", head + "<p>a</body></html>", false},
		{"misnested", head + "<p><b>a</p></b></body></html>", false},
		{"never closed", head + "<section>", false},
		{"no caption", head + "<table><tr><th scope=\"col\">a</th></tr></table></body></html>", false},
		{"no scope", head + "<table><caption>c</caption><tr><th>a</th></tr></table></body></html>", false},
		{"no doctype", "<html><body></body></html>", false},
	}
	for _, tt := range tests {
		if got := wellFormed(tt.doc); (len(got) == 0) != tt.ok {
			t.Errorf("%s: problems %v, want ok=%v", tt.name, got, tt.ok)
		}
	}
}

func TestRenderWellFormed(t *testing.T) {
	agreed := replay(t, slices.Concat([]review.Event{notified(t)}, reviewEvents(t), approvals(t))...)
	for _, c := range []*review.Case{fullCase(t), agreed} {
		for _, v := range []View{Internal, Public} {
			t.Run(string(v), func(t *testing.T) {
				doc := render(t, c, v)
				checkWellFormed(t, doc)
				if strings.Count(doc, "<h1>") != 1 || strings.Count(doc, "<main>") != 1 {
					t.Error("want exactly one h1 and one main")
				}
			})
		}
	}
}
