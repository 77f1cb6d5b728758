package eval

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/kljensen/snowball/english"
	"github.com/sextant-ai/sextant"
	"golang.org/x/text/unicode/norm"
)

// This file is the text analysis behind the groundedness scorer: a
// tokenizer that keeps what support checking needs and a search analyzer
// throws away — negation words and their scope, numbers with their values
// and precision, capitalisation, clause boundaries — plus the folding that
// lets paraphrases match (stems, spelling variants, synonyms, numbers
// written as words).

// gtok is one token of analysed text.
type gtok struct {
	start, end int     // byte span in the text
	norm       string  // lowercased, accent-folded, spelling-folded surface
	key        string  // matching key: stem, or a synonym group's key
	stem       string  // Snowball stem of norm
	num        float64 // value, for numbers
	tol        float64 // rounding half-unit of the number as written
	isNum      bool
	stop       bool // function word: not content
	common     bool // very frequent content word: low weight
	entity     bool // capitalised name, acronym or letter-digit identifier
	neg        bool // inside a negation's scope (or a negated form like "unchanged")
	negForm    bool // a negated form ("unchanged" read as negated "changed")
	cue        bool // the negation cue itself
	sent       int  // sentence index within the text
	joined     bool // written joined to the previous token by a hyphen or slash
}

// content reports whether t counts toward coverage.
func (t *gtok) content() bool { return !t.stop && !t.cue && t.norm != "" }

// stemCache memoises Snowball stems; stemming dominates analysis time.
type stemCache struct {
	mu sync.RWMutex
	m  map[string]string
}

const stemCacheLimit = 1 << 17

func (c *stemCache) stem(w string) string {
	c.mu.RLock()
	s, ok := c.m[w]
	c.mu.RUnlock()
	if ok {
		return s
	}
	s = english.Stem(w, false)
	c.mu.Lock()
	if len(c.m) < stemCacheLimit {
		c.m[w] = s
	}
	c.mu.Unlock()
	return s
}

// analyze tokenizes text. Sentence-initial capitals do not make a word an
// entity, so names are recognised only mid-sentence or by their shape
// (ALLCAPS, letters mixed with digits, inner capitals).
func (tb *tables) analyze(text string, sc *stemCache) []gtok {
	var toks []gtok
	sent := 0
	sentStart := true // next word starts a sentence
	negLeft := 0      // tokens left in the current negation scope
	negPar := false   // whether that scope negates (false after a double negation)
	cueAt := 0        // index of the cue that opened the current scope
	lastEnd := -1
	i := 0
	for i < len(text) {
		r, n := utf8.DecodeRuneInString(text[i:])
		if !isWordRuneG(r) && !(r == '.' && i+1 < len(text) && isASCIIDigit(text[i+1]) && (i == 0 || !isWordByteBefore(text, i))) {
			switch r {
			case '.', '!', '?', ';', ':', '。', '！', '？':
				negLeft = 0
				if r != ';' && r != ':' {
					if r != '.' || !looksLikeAbbrevEnd(text, i) {
						sent++
						sentStart = true
					}
				}
			case ',', '(', ')', '[', ']', '"', '\u201c', '\u201d':
				negLeft = 0
			}
			i += n
			continue
		}
		// Scan one word: letters, digits and marks, with inner apostrophes,
		// and number punctuation between digits.
		j := i
		for j < len(text) {
			r, n := utf8.DecodeRuneInString(text[j:])
			switch {
			case isWordRuneG(r):
				j += n
				continue
			case (r == '\'' || r == '\u2019') && j+n < len(text):
				if r2, _ := utf8.DecodeRuneInString(text[j+n:]); unicode.IsLetter(r2) && j > i {
					j += n
					continue
				}
			case (r == ',' || r == '.') && j > i && j+1 < len(text) && isASCIIDigit(text[j-1]) && isASCIIDigit(text[j+1]):
				// 1,000 and 2.5 stay whole; a comma must group three digits.
				if r == ',' && !(j+4 <= len(text) && allDigits(text[j+1:j+4]) && (j+4 == len(text) || !isASCIIDigit(text[j+4]))) {
					break
				}
				j += n
				continue
			case r == '.' && j == i:
				j += n // leading decimal point: ".5"
				continue
			}
			break
		}
		word := text[i:j]
		joined := lastEnd >= 0 && lastEnd < i && i-lastEnd == 1 && (text[lastEnd] == '-' || text[lastEnd] == '/')
		for _, t := range tb.words(word, i, sc) {
			t.sent = sent
			t.joined = joined
			joined = false
			if sentStart {
				t.entity = t.entity && shapeEntity(text[t.start:t.end])
			}
			if t.cue && answerParticle(text, t.end) {
				// "No, ..." answers a question; it negates nothing in the
				// sentence.
				t.cue = false
			}
			switch {
			case t.cue:
				// A cue inside another's scope cancels it ("not absent").
				negPar = !(negLeft > 0 && negPar)
				negLeft = negationScope
				cueAt = len(toks)
			case t.norm == "unless" && negLeft > 0 && negPar:
				// "not refunded unless damaged" is "refunded only if
				// damaged": the negation is a condition, not a denial.
				toks[cueAt].cue = false
				for k := cueAt + 1; k < len(toks); k++ {
					toks[k].neg = !toks[k].neg
				}
				negLeft = 0
			case tb.scopeBreak[t.norm]:
				negLeft = 0
			case negLeft > 0:
				t.neg = t.neg != negPar
				negLeft--
			}
			toks = append(toks, t)
		}
		sentStart = false
		lastEnd = j
		i = j
	}
	tb.scaleNumbers(toks)
	return toks
}

// answerParticle reports a cue word standing alone before punctuation, as
// "No," or "No." at the start of an answer.
func answerParticle(text string, end int) bool {
	for end < len(text) && (text[end] == ' ' || text[end] == '\t') {
		end++
	}
	return end < len(text) && strings.IndexByte(",.!;:", text[end]) >= 0
}

// negationScope is how many tokens after a cue it reaches, at most; a
// clause boundary ends it sooner (NegEx uses a similar window).
const negationScope = 8

func isWordRuneG(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r)
}

func isASCIIDigit(c byte) bool { return c >= '0' && c <= '9' }

func isWordByteBefore(s string, i int) bool {
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return isWordRuneG(r)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isASCIIDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// looksLikeAbbrevEnd reports a period that does not end a sentence: after
// a single letter or a known abbreviation, or before a lowercase word.
func looksLikeAbbrevEnd(s string, i int) bool {
	if sextant.EndsAbbreviation(s, i) {
		return true
	}
	k := strings.IndexFunc(s[i+1:], func(r rune) bool { return !unicode.IsSpace(r) })
	if k < 0 {
		return false
	}
	r, _ := utf8.DecodeRuneInString(s[i+1+k:])
	return unicode.IsLower(r)
}

// shapeEntity reports words whose shape marks a name even at the start of
// a sentence: ALLCAPS of two or more letters, inner capitals, or letters
// mixed with digits.
func shapeEntity(w string) bool {
	upper, lower, digit, inner := 0, 0, 0, false
	for k, r := range w {
		switch {
		case unicode.IsUpper(r):
			upper++
			if k > 0 {
				inner = true
			}
		case unicode.IsLower(r):
			lower++
		case unicode.IsDigit(r):
			digit++
		}
	}
	return (upper >= 2 && lower == 0) || inner || (digit > 0 && upper+lower > 0)
}

// words turns one scanned word into tokens: numbers, contractions
// ("doesn't" → does + not), number-unit pairs ("40mg" → 40 + mg).
func (tb *tables) words(w string, start int, sc *stemCache) []gtok {
	end := start + len(w)
	// Contractions and possessives.
	lw := strings.ToLower(w)
	if k := strings.LastIndexAny(w, "'\u2019"); k > 1 && (w[k-1] == 'n' || w[k-1] == 'N') && strings.EqualFold(w[k+utf8RuneLen(w, k):], "t") {
		base := w[:k-1]
		switch strings.ToLower(base) {
		case "ca":
			base = w[:k] // can't → can
		case "wo":
			base = "will"
		}
		out := tb.words(base, start, sc)
		return append(out, gtok{start: start + k - 1, end: end, norm: "not", key: "not", stem: "not", stop: true, cue: true})
	}
	if k := strings.IndexAny(w, "'\u2019"); k >= 0 {
		w = w[:k] // possessive 's, 're, 'll, 'd: keep the base
		lw = strings.ToLower(w)
		end = start + k
		if w == "" {
			return nil
		}
	}
	// Numbers, with a leading decimal point or thousands separators.
	if isNumberWord(w) {
		v, dec := parseNumber(w)
		return []gtok{{start: start, end: end, norm: strconv.FormatFloat(v, 'g', -1, 64), isNum: true, num: v, tol: halfUnit(dec)}}
	}
	// 40mg, 5kg, 10x: a number with a unit suffix.
	if k := leadingNumber(w); k > 0 && k < len(w) && !isOrdinal(lw) {
		if _, err := strconv.ParseFloat(strings.ReplaceAll(w[:k], ",", ""), 64); err == nil {
			out := tb.words(w[:k], start, sc)
			return append(out, tb.words(w[k:], start+k, sc)...)
		}
	}
	t := gtok{start: start, end: end}
	t.entity = isCapitalised(w) || shapeEntity(w)
	n := foldWord(lw)
	if v, ok := tb.numberWords[n]; ok {
		return []gtok{{start: start, end: end, norm: strconv.FormatFloat(v, 'g', -1, 64), isNum: true, num: v, tol: 0.5}}
	}
	if base, ok := tb.negatedForms[n]; ok {
		// "unchanged" is "changed" under negation.
		n = base
		t.neg = true
		t.negForm = true
	}
	t.norm = n
	if tb.cues[n] {
		t.cue = true
		t.stop = true
	}
	t.stop = t.stop || tb.stop[n]
	t.common = tb.common[n]
	if t.stop {
		t.entity = false
	}
	t.stem = sc.stem(n)
	t.key = t.stem
	if g, ok := tb.synonyms[t.stem]; ok {
		t.key = g
	}
	return []gtok{t}
}

func isCapitalised(w string) bool {
	r, _ := utf8.DecodeRuneInString(w)
	return unicode.IsUpper(r)
}

func isOrdinal(lw string) bool {
	for _, s := range []string{"st", "nd", "rd", "th"} {
		if strings.HasSuffix(lw, s) && allDigits(lw[:len(lw)-2]) {
			return true
		}
	}
	return false
}

// isNumberWord reports digits with optional thousands commas and one
// decimal point.
func isNumberWord(w string) bool {
	digits, dots := 0, 0
	for i := 0; i < len(w); i++ {
		switch c := w[i]; {
		case isASCIIDigit(c):
			digits++
		case c == '.':
			dots++
		case c == ',':
		default:
			return false
		}
	}
	return digits > 0 && dots <= 1
}

func leadingNumber(w string) int {
	k := 0
	for k < len(w) && (isASCIIDigit(w[k]) || ((w[k] == '.' || w[k] == ',') && k > 0 && k+1 < len(w) && isASCIIDigit(w[k+1]))) {
		k++
	}
	return k
}

// parseNumber parses a number word and returns its value and the number of
// decimals written.
func parseNumber(w string) (float64, int) {
	w = strings.ReplaceAll(w, ",", "")
	v, err := strconv.ParseFloat(w, 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, 0
	}
	dec := 0
	if k := strings.IndexByte(w, '.'); k >= 0 {
		dec = len(w) - k - 1
	}
	return v, dec
}

// halfUnit is half the unit of the last written digit: a claim's "76"
// agrees with a passage's "76.3".
func halfUnit(dec int) float64 { return 0.5 * math.Pow(10, -float64(dec)) }

// scaleNumbers applies scale words ("2.5 million") and joins compound
// number words ("twenty five").
func (tb *tables) scaleNumbers(toks []gtok) {
	for i := 0; i+1 < len(toks); i++ {
		if !toks[i].isNum {
			continue
		}
		if s, ok := tb.scales[toks[i+1].norm]; ok {
			toks[i].num *= s
			toks[i].tol *= s
			toks[i].norm = strconv.FormatFloat(toks[i].num, 'g', -1, 64)
			toks[i+1].stop = true
			continue
		}
		if toks[i+1].isNum && toks[i].num >= 20 && toks[i].num < 100 && math.Mod(toks[i].num, 10) == 0 &&
			toks[i+1].num > 0 && toks[i+1].num < 10 && toks[i].tol == 0.5 && toks[i+1].tol == 0.5 {
			toks[i].num += toks[i+1].num
			toks[i].norm = strconv.FormatFloat(toks[i].num, 'g', -1, 64)
			toks[i+1].stop = true
			toks[i+1].isNum = false
		}
	}
}

// foldWord folds accents and British spellings, so "tumour" and "tumor",
// "anaemia" and "anemia", "analyse" and "analyze" share a form. Both sides
// of a comparison are folded alike, so a rare collision costs little.
func foldWord(w string) string {
	if !isASCII(w) {
		var b strings.Builder
		for _, r := range norm.NFKD.String(w) {
			if !unicode.Is(unicode.Mn, r) {
				b.WriteRune(r)
			}
		}
		w = b.String()
	}
	if len(w) <= 5 {
		return w
	}
	w = strings.ReplaceAll(w, "ae", "e")
	w = strings.ReplaceAll(w, "oe", "e")
	for _, p := range [][2]string{
		{"isation", "ization"}, {"ising", "izing"}, {"ised", "ized"}, {"ises", "izes"}, {"ise", "ize"},
		{"yse", "yze"}, {"ysed", "yzed"}, {"ysing", "yzing"},
		{"our", "or"}, {"ours", "ors"}, {"tre", "ter"}, {"tres", "ters"}, {"ogue", "og"},
	} {
		if strings.HasSuffix(w, p[0]) {
			return w[:len(w)-len(p[0])] + p[1]
		}
	}
	return w
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// trigramSet returns the sorted distinct character trigrams of " w " as
// packed integers, for fuzzy matching of word variants.
func trigramSet(w string) []uint64 {
	rs := []rune(" " + w + " ")
	if len(rs) < 3 {
		return nil
	}
	out := make([]uint64, 0, len(rs)-2)
	for i := 0; i+3 <= len(rs); i++ {
		out = append(out, uint64(rs[i])<<42|uint64(rs[i+1])<<21|uint64(rs[i+2]))
	}
	sortUniq(&out)
	return out
}

func sortUniq(p *[]uint64) {
	slices.Sort(*p)
	*p = slices.Compact(*p)
}

// utf8RuneLen is the byte length of the rune at s[i].
func utf8RuneLen(s string, i int) int {
	_, n := utf8.DecodeRuneInString(s[i:])
	return n
}

// dice is the Dice coefficient of two sorted sets.
func dice(a, b []uint64) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	i, j, common := 0, 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			common++
			i++
			j++
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	return 2 * float64(common) / float64(len(a)+len(b))
}
