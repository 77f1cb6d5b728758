package eval

import (
	"slices"
	"strings"
	"unicode"

	"github.com/sextant-ai/sextant"
)

// Claims are split from answers read the way the answer pipeline reads
// them: citation markers and sentences come from the root package
// (sextant.ParseCitations, sextant.SplitSentences), so evaluation and rag
// agree on what a marker and a sentence are. This file adds only the split
// of compound sentences into clauses.

// clauseBreaks are the connectives at which a compound sentence is split
// into clauses, each preceded by a comma (or a semicolon, which splits on
// its own).
var clauseBreaks = []string{
	", and ", ", but ", ", while ", ", whereas ", ", yet ", ", so ", ", although ",
	", though ", ", however, ", ", which ", ", who ", ", thereby ", ", whilst ",
}

// leadingConnectives are dropped from the start of a clause.
var leadingConnectives = []string{
	"and ", "but ", "while ", "whereas ", "yet ", "so ", "although ", "though ",
	"however, ", "thereby ", "whilst ", "also, ", "additionally, ", "moreover, ",
	"furthermore, ",
}

// minClauseWords is the fewest words either side of a split must have, so
// that lists ("A, B, and C") stay whole.
const minClauseWords = 3

// Claims splits an answer into claims: its sentences (sextant.SplitSentences),
// with compound sentences split into clauses at ';' and at a comma followed
// by a coordinating or contrasting connective (", and", ", but", ", while",
// ", whereas", ", which", ...) when both sides have at least three words.
// A clause carries its own citation markers, or its sentence's when it has
// none.
func Claims(answer string) []sextant.Claim {
	markers := sextant.ParseCitations(answer)
	var out []sextant.Claim
	for si, s := range sextant.SplitSentences(answer) {
		for _, sp := range splitClauses(answer, s.Start, s.End, markers) {
			text, cites := clauseText(answer[sp[0]:sp[1]])
			text = stripConnective(text)
			if !hasWordRune(text) {
				continue
			}
			if len(cites) == 0 {
				cites = s.Citations
			}
			out = append(out, sextant.Claim{Text: text, Sentence: si, Start: sp[0], End: sp[1], Citations: cites})
		}
	}
	return out
}

// clauseText returns a clause without citation markers or a list bullet,
// spaces collapsed, and the sources its markers cite. It reads the clause
// with the sentence splitter, so the text is normalised exactly as a
// sentence's is; clause spans never cut through a marker.
func clauseText(clause string) (string, []int) {
	ss := sextant.SplitSentences(clause)
	switch len(ss) {
	case 0:
		return "", nil
	case 1:
		return ss[0].Text, ss[0].Citations
	}
	texts := make([]string, len(ss))
	var cites []int
	for i, s := range ss {
		texts[i] = s.Text
		cites = append(cites, s.Citations...)
	}
	slices.Sort(cites)
	return strings.Join(texts, " "), slices.Compact(cites)
}

// splitClauses returns the clause spans of answer[lo:hi].
func splitClauses(answer string, lo, hi int, markers []sextant.CitationMarker) [][2]int {
	s := answer[lo:hi]
	lower := strings.ToLower(s)
	var cuts []int  // offsets in s where a new clause starts
	var words []int // offsets in s where a word starts (markers excluded)
	inWord := false
	for i := 0; i < len(s); i++ {
		if inMarker(lo+i, markers) {
			inWord = false
			continue
		}
		c := s[i]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			inWord = false
		} else if !inWord {
			inWord = true
			if hasWordRune(s[i : i+wordEnd(s[i:])]) {
				words = append(words, i)
			}
		}
		if c == ';' {
			cuts = append(cuts, i+1)
			continue
		}
		if c != ',' {
			continue
		}
		for _, br := range clauseBreaks {
			if strings.HasPrefix(lower[i:], br) {
				cuts = append(cuts, i+1)
				break
			}
		}
	}
	// wordsIn counts the words starting in s[a:b].
	wordsIn := func(a, b int) int {
		x, _ := slices.BinarySearch(words, a)
		y, _ := slices.BinarySearch(words, b)
		return y - x
	}
	var spans [][2]int
	prev := 0
	for k, c := range cuts {
		next := len(s)
		if k+1 < len(cuts) {
			next = cuts[k+1]
		}
		if wordsIn(prev, c) >= minClauseWords && wordsIn(c, next) >= minClauseWords {
			spans = append(spans, trimSpan(answer, lo+prev, lo+c-1))
			prev = c
		}
	}
	return append(spans, trimSpan(answer, lo+prev, hi))
}

// wordEnd returns the length of the whitespace-free run at the start of s.
func wordEnd(s string) int {
	if k := strings.IndexAny(s, " \t\n\r"); k >= 0 {
		return k
	}
	return len(s)
}

func inMarker(i int, markers []sextant.CitationMarker) bool {
	k, found := slices.BinarySearchFunc(markers, i, func(m sextant.CitationMarker, i int) int { return m.Start - i })
	if found {
		return true
	}
	return k > 0 && i < markers[k-1].End
}

func trimSpan(s string, lo, hi int) [2]int {
	for lo < hi && (s[lo] == ' ' || s[lo] == '\t' || s[lo] == '\n' || s[lo] == '\r') {
		lo++
	}
	for hi > lo && (s[hi-1] == ' ' || s[hi-1] == '\t' || s[hi-1] == '\n' || s[hi-1] == '\r') {
		hi--
	}
	return [2]int{lo, hi}
}

func stripConnective(s string) string {
	l := strings.ToLower(s)
	for _, c := range leadingConnectives {
		if strings.HasPrefix(l, c) {
			return strings.TrimSpace(s[len(c):])
		}
	}
	return s
}

func hasWordRune(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) >= 0
}
