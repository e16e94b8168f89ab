package report

import (
	"cmp"
	"html"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Offence is one occurrence of a child's or family's identifier in text meant for publication.
// It carries the identifier itself, so it is for the person fixing the text and must never be logged.
type Offence struct {
	Kind       string // the identifier's Kind
	Identifier string // the identifier's Value
	Offset     int    // byte offset in the checked text where the occurrence starts
	Line       int    // 1-based line of Offset in the checked text
	Passage    string // the visible text around the occurrence, to find it by
}

// passageRunes is how much visible text each side of an occurrence the passage shows.
const passageRunes = 40

// CheckRedaction returns every occurrence of the identifiers in text, sorted by offset. Matching
// ignores case, respects word boundaries (so "Ann" does not match "Annual", while "Jayden's" matches
// "Jayden"), and lets any run of whitespace stand for a space inside an identifier. HTML is matched
// as a reader sees it: tags are removed (inline ones without breaking the word they sit in),
// entities are decoded, and attribute values and comments, which are published too, are checked.
// An occurrence inside a longer one (a first name inside a full name) is reported once, as the longer.
func CheckRedaction(text string, ids []Identifier) []Offence {
	if text == "" || len(ids) == 0 {
		return nil
	}
	vt := visibleOf(text)
	type match struct {
		start, end int // rune indexes into vt.runes
		id         Identifier
	}
	var matches []match
	for _, id := range ids {
		needle := foldedNeedle(id.Value)
		if needle == "" {
			continue
		}
		first, _ := utf8.DecodeRuneInString(needle)
		last, _ := utf8.DecodeLastRuneInString(needle)
		nRunes := utf8.RuneCountInString(needle)
		for from := 0; from < len(vt.folded); {
			i := strings.Index(vt.folded[from:], needle)
			if i < 0 {
				break
			}
			at := from + i
			start := vt.runeAt[at]
			end := start + nRunes
			if (!isWordRune(first) || start == 0 || !isWordRune(vt.runes[start-1])) &&
				(!isWordRune(last) || end == len(vt.runes) || !isWordRune(vt.runes[end])) {
				matches = append(matches, match{start, end, id})
			}
			_, width := utf8.DecodeRuneInString(vt.folded[at:])
			from = at + width
		}
	}
	if len(matches) == 0 {
		return nil
	}
	slices.SortFunc(matches, func(a, b match) int {
		return cmp.Or(cmp.Compare(a.start, b.start), cmp.Compare(b.end, a.end),
			cmp.Compare(a.id.Kind, b.id.Kind), cmp.Compare(a.id.Value, b.id.Value))
	})
	lineStarts := []int{0}
	for i := range len(text) {
		if text[i] == '\n' {
			lineStarts = append(lineStarts, i+1)
		}
	}
	var out []Offence
	coveredTo := -1
	for _, m := range matches {
		if m.end <= coveredTo {
			continue
		}
		coveredTo = m.end
		offset := vt.offsets[m.start]
		from, to := max(0, m.start-passageRunes), min(len(vt.runes), m.end+passageRunes)
		out = append(out, Offence{
			Kind:       m.id.Kind,
			Identifier: m.id.Value,
			Offset:     offset,
			Line:       sort.SearchInts(lineStarts, offset+1),
			Passage:    strings.TrimSpace(string(vt.runes[from:to])),
		})
	}
	slices.SortStableFunc(out, func(a, b Offence) int { return cmp.Compare(a.Offset, b.Offset) })
	return out
}

// isSpace is unicode.IsSpace with a fast path for ASCII, which is nearly all of a report.
func isSpace(r rune) bool {
	if r < utf8.RuneSelf {
		return r == ' ' || '\t' <= r && r <= '\r'
	}
	return unicode.IsSpace(r)
}

// isWordRune reports whether r can be part of a word, so that a match next to it is not on a boundary.
func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

// foldedNeedle returns an identifier as it is searched for: lower case, whitespace runs as one space.
func foldedNeedle(value string) string {
	var b strings.Builder
	space := true // drops leading whitespace
	for _, r := range value {
		switch {
		case isSpace(r):
			if !space {
				b.WriteByte(' ')
			}
			space = true
		case unicode.Is(unicode.Cf, r):
		default:
			b.WriteRune(unicode.ToLower(r))
			space = false
		}
	}
	return strings.TrimSuffix(b.String(), " ")
}

// visibleText is text as a reader sees it, with each rune's byte offset in the source.
type visibleText struct {
	runes   []rune // original case; each whitespace run is one space; invisible format runes dropped
	offsets []int  // source byte offset of each rune
	folded  string // runes lower-cased, for searching
	runeAt  []int  // rune index of each byte of folded that starts a rune
}

func (vt *visibleText) emit(r rune, offset int) {
	if r >= utf8.RuneSelf && unicode.Is(unicode.Cf, r) {
		// Zero-width spaces and soft hyphens are invisible: "Jay\u00adden" reads as "Jayden".
		return
	}
	if isSpace(r) {
		if n := len(vt.runes); n > 0 && vt.runes[n-1] == ' ' {
			return
		}
		r = ' '
	}
	vt.runes = append(vt.runes, r)
	vt.offsets = append(vt.offsets, offset)
}

// visibleOf builds the visible text of plain text or of an HTML document.
func visibleOf(text string) *visibleText {
	vt := &visibleText{
		runes:   make([]rune, 0, len(text)),
		offsets: make([]int, 0, len(text)),
	}
	if looksLikeHTML(text) {
		vt.scanHTML(text)
	} else {
		vt.scanText(text, 0, true)
	}
	folded := make([]byte, 0, len(vt.runes))
	vt.runeAt = make([]int, 0, len(vt.runes))
	for i, r := range vt.runes {
		if r < utf8.RuneSelf {
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			folded = append(folded, byte(r))
			vt.runeAt = append(vt.runeAt, i)
			continue
		}
		before := len(folded)
		folded = utf8.AppendRune(folded, unicode.ToLower(r))
		for range len(folded) - before {
			vt.runeAt = append(vt.runeAt, i)
		}
	}
	vt.folded = string(folded)
	return vt
}

// scanText emits s, found at base in the source, decoding character references if entities is set.
func (vt *visibleText) scanText(s string, base int, entities bool) {
	for i := 0; i < len(s); {
		if entities && s[i] == '&' {
			if decoded, n := decodeEntity(s[i:]); n > 0 {
				for _, r := range decoded {
					vt.emit(r, base+i)
				}
				i += n
				continue
			}
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		vt.emit(r, base+i)
		i += n
	}
}

// decodeEntity decodes the character reference at the start of s, returning its text and length,
// or n == 0 when s does not start with one. It accepts what browsers accept: numeric references
// and named ones, with or without the closing semicolon.
func decodeEntity(s string) (string, int) {
	j := 1
	if j < len(s) && s[j] == '#' {
		j++
		hex := j < len(s) && (s[j] == 'x' || s[j] == 'X')
		if hex {
			j++
		}
		digits := j
		for j < len(s) && j-digits < 16 && (isDigit(s[j]) || hex && isHexLetter(s[j])) {
			j++
		}
		if j == digits {
			return "", 0
		}
	} else {
		for j < len(s) && j < 40 && (isDigit(s[j]) || isASCIILetter(s[j])) {
			j++
		}
		if j == 1 {
			return "", 0
		}
	}
	if j < len(s) && s[j] == ';' {
		j++
	}
	decoded := html.UnescapeString(s[:j])
	if decoded == s[:j] {
		return "", 0
	}
	return decoded, j
}

func isDigit(c byte) bool       { return '0' <= c && c <= '9' }
func isHexLetter(c byte) bool   { return 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }
func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// looksLikeHTML reports whether text has markup a browser would hide: a comment, a doctype or a tag
// of a known HTML element. Plain text such as "<Jayden>" or "age < 5" is then left as it is written.
func looksLikeHTML(text string) bool {
	for i := strings.IndexByte(text, '<'); i >= 0; {
		rest := text[i+1:]
		if strings.HasPrefix(rest, "!--") || len(rest) >= 8 && strings.EqualFold(rest[:8], "!doctype") {
			return true
		}
		rest = strings.TrimPrefix(rest, "/")
		n := 0
		for n < len(rest) && n < 12 && (isASCIILetter(rest[n]) || isDigit(rest[n])) {
			n++
		}
		if n > 0 && n < len(rest) && (rest[n] == '>' || rest[n] == '/' || rest[n] == ' ' || rest[n] == '\t' || rest[n] == '\n' || rest[n] == '\r') &&
			htmlElements[strings.ToLower(rest[:n])] != elementUnknown {
			return true
		}
		next := strings.IndexByte(text[i+1:], '<')
		if next < 0 {
			break
		}
		i += 1 + next
	}
	return false
}

// scanHTML emits the visible text of an HTML document. Attribute values and comments are not
// visible in place but are published with the page (alt text, titles, file names in links), so
// they are emitted after the body text, each as a separate passage.
func (vt *visibleText) scanHTML(s string) {
	type segment struct {
		text     string
		base     int
		entities bool
	}
	var hidden []segment
	textFrom := 0
	flush := func(to int) {
		vt.scanText(s[textFrom:to], textFrom, true)
	}
	for i := 0; i < len(s); {
		if s[i] != '<' {
			i++
			continue
		}
		if strings.HasPrefix(s[i:], "<!--") {
			flush(i)
			body := i + 4
			end := strings.Index(s[body:], "-->")
			next := len(s)
			if end >= 0 {
				next = body + end + 3
			} else {
				end = len(s) - body
			}
			hidden = append(hidden, segment{s[body : body+end], body, false})
			vt.emit(' ', i)
			i, textFrom = next, next
			continue
		}
		tag, ok := parseTag(s, i)
		if !ok {
			i++ // a lone "<" is text
			continue
		}
		flush(i)
		for _, a := range tag.values {
			hidden = append(hidden, segment{s[a[0]:a[1]], a[0], true})
		}
		if htmlElements[tag.name] != elementInline {
			// Block boundaries separate words: "Jayden</td><td>Smith" is two cells, not "JaydenSmith".
			vt.emit(' ', i)
		}
		i, textFrom = tag.end, tag.end
	}
	flush(len(s))
	for _, h := range hidden {
		// A bar, being neither space nor letter, stops a name matching across two segments.
		vt.emit(' ', h.base)
		vt.emit('|', h.base)
		vt.emit(' ', h.base)
		vt.scanText(h.text, h.base, h.entities)
	}
}

// htmlTag is a parsed start or end tag, doctype or processing instruction.
type htmlTag struct {
	name   string   // lower case; empty for doctypes and the like
	end    int      // source offset just past the closing ">"
	values [][2]int // source spans of attribute values
}

// parseTag parses the tag starting at s[i] == '<'. It fails for a "<" that does not open a tag,
// including one never closed, so that such text is still checked.
func parseTag(s string, i int) (htmlTag, bool) {
	j := i + 1
	if j >= len(s) {
		return htmlTag{}, false
	}
	if s[j] == '!' || s[j] == '?' {
		end := strings.IndexByte(s[j:], '>')
		if end < 0 {
			return htmlTag{}, false
		}
		return htmlTag{end: j + end + 1}, true
	}
	if s[j] == '/' {
		j++
	}
	if j >= len(s) || !isASCIILetter(s[j]) {
		return htmlTag{}, false
	}
	nameFrom := j
	for j < len(s) && !isTagSpace(s[j]) && s[j] != '>' && s[j] != '/' {
		j++
	}
	tag := htmlTag{name: strings.ToLower(s[nameFrom:j])}
	for j < len(s) {
		switch c := s[j]; {
		case c == '>':
			tag.end = j + 1
			return tag, true
		case isTagSpace(c) || c == '/':
			j++
		default:
			for j < len(s) && !isTagSpace(s[j]) && s[j] != '=' && s[j] != '>' && s[j] != '/' {
				j++
			}
			k := j
			for k < len(s) && isTagSpace(s[k]) {
				k++
			}
			if k >= len(s) || s[k] != '=' {
				continue
			}
			k++
			for k < len(s) && isTagSpace(s[k]) {
				k++
			}
			if k >= len(s) {
				return htmlTag{}, false
			}
			if q := s[k]; q == '"' || q == '\'' {
				end := strings.IndexByte(s[k+1:], q)
				if end < 0 {
					return htmlTag{}, false
				}
				tag.values = append(tag.values, [2]int{k + 1, k + 1 + end})
				j = k + 1 + end + 1
				continue
			}
			from := k
			for k < len(s) && !isTagSpace(s[k]) && s[k] != '>' {
				k++
			}
			tag.values = append(tag.values, [2]int{from, k})
			j = k
		}
	}
	return htmlTag{}, false
}

func isTagSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

type elementKind int

const (
	elementUnknown elementKind = iota
	elementBlock
	elementInline
)

// htmlElements are the elements looksLikeHTML recognises; inline ones do not break a word.
var htmlElements = map[string]elementKind{}

func init() {
	for _, name := range strings.Fields(`a abbr b bdi bdo cite code data del dfn em font i ins kbd label mark q
		s samp small span strong sub sup time u var wbr`) {
		htmlElements[name] = elementInline
	}
	for _, name := range strings.Fields(`address article aside blockquote body br caption col colgroup dd details
		div dl dt figcaption figure footer form h1 h2 h3 h4 h5 h6 head header hr html img li link main meta nav
		ol p pre section summary table tbody td tfoot th thead title tr ul`) {
		htmlElements[name] = elementBlock
	}
}
