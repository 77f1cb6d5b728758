package search

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// SnippetOptions shapes a snippet. The zero value gives about 240 bytes
// marked with « and ».
type SnippetOptions struct {
	// Width is the target snippet length in bytes; 0 means 240.
	Width int
	// Open and Close surround each matched span; "" means « and ».
	Open, Close string
}

// Snippet returns the window of text (about o.Width bytes) holding the
// most distinct query terms, with every span whose term is among terms
// marked. The window starts and ends at word boundaries; "…" shows cuts.
// Text without matches yields its beginning, unmarked.
func Snippet(a *Analyzer, text string, terms []string, o SnippetOptions) string {
	if o.Width <= 0 {
		o.Width = 240
	}
	if o.Open == "" && o.Close == "" {
		o.Open, o.Close = "«", "»"
	}
	want := make(map[string]bool, len(terms))
	for _, t := range terms {
		want[t] = true
	}
	// Matched spans in text order, merging overlaps (a compound and its
	// parts can both match).
	var spans [][2]int
	var spanTerm []string
	for _, tk := range a.Tokens(text) {
		if !want[tk.Term] {
			continue
		}
		if n := len(spans); n > 0 && tk.Start < spans[n-1][1] {
			spans[n-1][1] = max(spans[n-1][1], tk.End)
			continue
		}
		spans = append(spans, [2]int{tk.Start, tk.End})
		spanTerm = append(spanTerm, tk.Term)
	}
	// Best window: most distinct terms, then most spans (two pointers).
	start, end := 0, min(len(text), o.Width)
	if len(spans) > 0 {
		best, bestSpans := -1, 0
		count := map[string]int{}
		j := 0
		for i := range spans {
			for j < len(spans) && spans[j][1]-spans[i][0] <= o.Width {
				count[spanTerm[j]]++
				j++
			}
			if j == i { // a single span wider than the window
				j++
				count[spanTerm[i]]++
			}
			if d := len(count); d > best || (d == best && j-i > bestSpans) {
				best, bestSpans = d, j-i
				// Centre the matches in the window.
				mid := (spans[i][0] + spans[j-1][1]) / 2
				start = max(0, mid-o.Width/2)
				end = min(len(text), start+o.Width)
				start = max(0, end-o.Width)
			}
			if count[spanTerm[i]]--; count[spanTerm[i]] == 0 {
				delete(count, spanTerm[i])
			}
		}
	}
	start, end = wordStart(text, start), wordEnd(text, end)
	var b strings.Builder
	b.Grow(end - start + 16)
	if start > 0 {
		b.WriteString("…")
	}
	pos := start
	for _, s := range spans {
		if s[1] <= start || s[0] >= end {
			continue
		}
		s0, s1 := max(s[0], start), min(s[1], end)
		b.WriteString(clean(text[pos:s0]))
		b.WriteString(o.Open)
		b.WriteString(clean(text[s0:s1]))
		b.WriteString(o.Close)
		pos = s1
	}
	b.WriteString(clean(text[pos:end]))
	if end < len(text) {
		b.WriteString("…")
	}
	return strings.TrimSpace(b.String())
}

// wordStart moves i back to the start of the word it is inside.
func wordStart(text string, i int) int {
	for i > 0 && i < len(text) {
		r, _ := utf8.DecodeLastRuneInString(text[:i])
		if !isWordRune(r) {
			break
		}
		i -= utf8.RuneLen(r)
		if i < 0 {
			return 0
		}
	}
	for i > 0 && !utf8.RuneStart(text[i]) {
		i--
	}
	return i
}

// wordEnd moves i forward to the end of the word it is inside.
func wordEnd(text string, i int) int {
	for i < len(text) {
		r, n := utf8.DecodeRuneInString(text[i:])
		if !isWordRune(r) {
			break
		}
		i += n
	}
	return i
}

// clean folds runs of whitespace (newlines in the source) to one space.
func clean(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r != ' ' && unicode.IsSpace(r) }) && !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}
