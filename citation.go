package sextant

// Citation markers and answer sentences. The answer pipeline (rag) maps the
// markers of a generated answer to its sources with these functions, and
// evaluation reads answers the same way, so both agree on what a marker and
// a sentence are.

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxSourceNumber is the largest source number a citation marker may name;
// bracketed numbers above it ("[2024]") are not citations.
const MaxSourceNumber = 999

// maxRange bounds the width of a range marker such as "[1-3]".
const maxRange = 50

// CitationMarker is one bracketed citation in an answer: "[1]", "[1, 3]",
// "[2;4]" or "[1-3]". Adjacent markers ("[1][2]") are separate markers.
type CitationMarker struct {
	Start, End int   // byte span of the marker in the text, brackets included
	Sources    []int // cited source numbers, ascending, without duplicates
}

// ParseCitations returns the citation markers of text in order. A marker is
// '[' then numbers from 1 to MaxSourceNumber separated by ',' or ';', each
// optionally a range "a-b" (a ≤ b, hyphen or en/em dash, at most 50 wide),
// then ']'; spaces may surround the numbers. Anything else in brackets
// (links, years, "[citation needed]") is ordinary text.
func ParseCitations(text string) []CitationMarker {
	var out []CitationMarker
	for i := 0; i < len(text); i++ {
		if text[i] != '[' {
			continue
		}
		if m, ok := parseMarker(text, i); ok {
			out = append(out, m)
			i = m.End - 1
		}
	}
	return out
}

// parseMarker parses a marker starting at text[start] == '['.
func parseMarker(text string, start int) (CitationMarker, bool) {
	i := start + 1
	var nums []int
	skip := func() {
		for i < len(text) && (text[i] == ' ' || text[i] == '\t') {
			i++
		}
	}
	number := func() (int, bool) {
		j, n := i, 0
		for j < len(text) && j-i < 4 && text[j] >= '0' && text[j] <= '9' {
			n = n*10 + int(text[j]-'0')
			j++
		}
		if j == i || (j < len(text) && text[j] >= '0' && text[j] <= '9') || n < 1 || n > MaxSourceNumber {
			return 0, false
		}
		i = j
		return n, true
	}
	for {
		skip()
		a, ok := number()
		if !ok {
			return CitationMarker{}, false
		}
		skip()
		if d := dashAt(text, i); d > 0 {
			i += d
			skip()
			b, ok := number()
			if !ok || b < a || b-a > maxRange {
				return CitationMarker{}, false
			}
			for n := a; n <= b; n++ {
				nums = append(nums, n)
			}
			skip()
		} else {
			nums = append(nums, a)
		}
		if i >= len(text) {
			return CitationMarker{}, false
		}
		switch text[i] {
		case ',', ';':
			i++
			continue
		case ']':
			slices.Sort(nums)
			return CitationMarker{Start: start, End: i + 1, Sources: slices.Compact(nums)}, true
		}
		return CitationMarker{}, false
	}
}

// dashAt returns the byte length of a range dash at text[i], or 0.
func dashAt(text string, i int) int {
	if i < len(text) && text[i] == '-' {
		return 1
	}
	for _, d := range []string{"\u2013", "\u2014"} {
		if strings.HasPrefix(text[i:], d) {
			return len(d)
		}
	}
	return 0
}

// CitedSentence is one sentence of an answer with the citations attached to
// it.
type CitedSentence struct {
	Text       string // the sentence without citation markers or list bullets, spaces collapsed
	Start, End int    // byte span in the answer, including its trailing markers
	Citations  []int  // source numbers cited anywhere in the sentence, ascending
}

// Claim is one checkable statement: a sentence, or a clause of a compound
// sentence.
type Claim struct {
	Text       string // the claim without markers, bullets or a leading conjunction
	Sentence   int    // index of its sentence in Sentences(answer)
	Start, End int    // byte span in the answer
	// Citations are the sources cited inside the clause; a clause without
	// markers of its own carries its sentence's citations.
	Citations []int
}

// SplitSentences splits an answer into sentences. A sentence ends at '.', '!'
// or '?' (with any closing quotes or brackets and citation markers that
// follow) when whitespace and then a non-lowercase character or the end of
// the text follow, except after common abbreviations and initials; at a
// blank line; and before a line that starts a list item or heading.
// Markers standing alone after a sentence ("... done.\n[1][2]") attach to
// it. Sentences without any letter or digit are dropped.
func SplitSentences(answer string) []CitedSentence {
	markers := ParseCitations(answer)
	var out []CitedSentence
	start := 0
	flush := func(end int) {
		s := strings.TrimSpace(answer[start:end])
		if s == "" {
			start = end
			return
		}
		lo := start + strings.Index(answer[start:end], s)
		hi := lo + len(s)
		start = end
		text, cites := stripMarkers(answer, lo, hi, markers)
		text = stripBullet(text)
		if !hasWordRune(text) {
			if len(out) > 0 && len(cites) > 0 {
				prev := &out[len(out)-1]
				prev.End = hi
				prev.Citations = mergeInts(prev.Citations, cites)
			}
			return
		}
		out = append(out, CitedSentence{Text: text, Start: lo, End: hi, Citations: cites})
	}
	mi := 0 // next marker not yet passed
	for i := 0; i < len(answer); {
		for mi < len(markers) && markers[mi].End <= i {
			mi++
		}
		if mi < len(markers) && markers[mi].Start == i {
			i = markers[mi].End
			continue
		}
		c := answer[i]
		switch {
		case c == '\n':
			if lineBreakEndsSentence(answer, i) {
				flush(i)
			}
			i++
		case c == '.' || c == '!' || c == '?':
			j := i + 1
			for j < len(answer) && (answer[j] == '.' || answer[j] == '!' || answer[j] == '?') {
				j++
			}
			j = skipClosers(answer, j)
			j = skipMarkers(answer, j, markers)
			if c == '.' && j-i == 1 && EndsAbbreviation(answer, i) {
				i = j
				continue
			}
			if sentenceFollows(answer, j) {
				flush(j)
			}
			i = j
		default:
			if r, n := utf8.DecodeRuneInString(answer[i:]); r == '。' || r == '！' || r == '？' {
				flush(skipMarkers(answer, skipClosers(answer, i+n), markers))
				i = start
			} else {
				i += n
			}
		}
	}
	flush(len(answer))
	return out
}

// skipClosers skips closing quotes and brackets after terminal punctuation.
func skipClosers(s string, j int) int {
	for j < len(s) {
		r, n := utf8.DecodeRuneInString(s[j:])
		switch r {
		case '"', '\'', ')', '\u201d', '\u2019', '*', '_':
			j += n
			continue
		}
		return j
	}
	return j
}

// skipMarkers skips spaces and citation markers that directly follow a
// sentence end, so "done. [1] Next" keeps [1] with "done.".
func skipMarkers(s string, j int, markers []CitationMarker) int {
	for {
		k := j
		for k < len(s) && (s[k] == ' ' || s[k] == '\t') {
			k++
		}
		idx, found := slices.BinarySearchFunc(markers, k, func(m CitationMarker, k int) int { return m.Start - k })
		if !found {
			return j
		}
		j = markers[idx].End
	}
}

// sentenceFollows reports whether a sentence boundary may be placed at j:
// the text ends, or whitespace follows and the next visible character is
// not a lowercase letter.
func sentenceFollows(s string, j int) bool {
	if j >= len(s) {
		return true
	}
	r, _ := utf8.DecodeRuneInString(s[j:])
	if !unicode.IsSpace(r) {
		return false
	}
	k := strings.IndexFunc(s[j:], func(r rune) bool { return !unicode.IsSpace(r) })
	if k < 0 {
		return true
	}
	r, _ = utf8.DecodeRuneInString(s[j+k:])
	return !unicode.IsLower(r)
}

// abbreviations that end with a period but rarely end a sentence.
var abbreviations = map[string]bool{
	"e.g": true, "i.e": true, "al": true, "vs": true, "cf": true, "approx": true,
	"mr": true, "mrs": true, "ms": true, "dr": true, "prof": true, "sr": true,
	"jr": true, "st": true, "fig": true, "figs": true, "no": true, "vol": true,
	"pp": true, "eq": true, "ref": true, "refs": true, "inc": true, "ltd": true,
	"co": true, "corp": true, "u.s": true, "u.k": true, "dept": true, "est": true,
	"ca": true, "resp": true, "sec": true, "ch": true, "jan": true, "feb": true,
	"mar": true, "apr": true, "jun": true, "jul": true, "aug": true, "sep": true,
	"sept": true, "oct": true, "nov": true, "dec": true,
}

// EndsAbbreviation reports whether the period at s[i] ends an abbreviation
// ("e.g.", "Fig.", "Dr.") or an initial ("J. Smith") rather than a
// sentence. Sentence splitters of answers and claims share it.
func EndsAbbreviation(s string, i int) bool {
	j := i
	for j > 0 && i-j < 12 {
		r, n := utf8.DecodeLastRuneInString(s[:j])
		if !(unicode.IsLetter(r) || r == '.') {
			break
		}
		j -= n
	}
	w := s[j:i]
	if w == "" {
		return false
	}
	if utf8.RuneCountInString(w) == 1 {
		r, _ := utf8.DecodeRuneInString(w)
		return unicode.IsUpper(r)
	}
	return abbreviations[strings.ToLower(w)]
}

// lineBreakEndsSentence reports whether the newline at s[i] separates
// sentences: a blank line, or a next line that starts a list item or a
// heading, or a current line that ends with ':'.
func lineBreakEndsSentence(s string, i int) bool {
	line := s[strings.LastIndexByte(s[:i], '\n')+1 : i]
	if strings.HasSuffix(strings.TrimSpace(line), ":") {
		return true
	}
	next := s[i+1:]
	if k := strings.IndexByte(next, '\n'); k >= 0 {
		next = next[:k]
	}
	next = strings.TrimSpace(next)
	return next == "" || strings.TrimSpace(line) == "" || bulletLen(next) > 0 || strings.HasPrefix(next, "#")
}

// bulletLen returns the byte length of a list bullet ("- ", "* ", "• ",
// "1. ", "2) ") or heading marker ("## ") at the start of s, or 0.
func bulletLen(s string) int {
	for _, b := range []string{"- ", "* ", "+ ", "• "} {
		if strings.HasPrefix(s, b) {
			return len(b)
		}
	}
	j := 0
	for j < len(s) && j < 3 && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j > 0 && j+1 < len(s) && (s[j] == '.' || s[j] == ')') && s[j+1] == ' ' {
		return j + 2
	}
	k := 0
	for k < len(s) && s[k] == '#' {
		k++
	}
	if k > 0 && k < len(s) && s[k] == ' ' {
		return k + 1
	}
	return 0
}

func stripBullet(s string) string {
	if n := bulletLen(s); n > 0 {
		return strings.TrimSpace(s[n:])
	}
	return s
}

// stripMarkers returns answer[lo:hi] without citation markers, spaces
// collapsed, and the sources its markers cite.
func stripMarkers(answer string, lo, hi int, markers []CitationMarker) (string, []int) {
	var b strings.Builder
	var cites []int
	i := lo
	first, _ := slices.BinarySearchFunc(markers, lo, func(m CitationMarker, lo int) int { return m.Start - lo })
	for _, m := range markers[first:] {
		if m.Start >= hi {
			break
		}
		if m.End > hi {
			continue
		}
		b.WriteString(answer[i:m.Start])
		b.WriteByte(' ')
		cites = append(cites, m.Sources...)
		i = m.End
	}
	b.WriteString(answer[i:hi])
	slices.Sort(cites)
	return collapseSpaces(b.String()), slices.Compact(cites)
}

// collapseSpaces trims s and replaces runs of whitespace by one space, and
// drops a space before closing punctuation left by a removed marker.
func collapseSpaces(s string) string {
	f := strings.Fields(s)
	out := strings.Join(f, " ")
	for _, p := range []string{" .", " ,", " ;", " :", " !", " ?", " )"} {
		out = strings.ReplaceAll(out, p, p[1:])
	}
	return out
}

func hasWordRune(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) >= 0
}

func mergeInts(a, b []int) []int {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}
