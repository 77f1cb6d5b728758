package search

import (
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/kljensen/snowball/english"
	"golang.org/x/text/unicode/norm"
)

// AnalyzerOptions configures an Analyzer. The zero value is the analyzer the
// product indexes with: English stop words removed, Snowball English
// stemming, compound words emitted whole and in parts.
type AnalyzerOptions struct {
	// StopWords replaces the default English stop list (EnglishStopWords).
	// nil means the default; an empty non-nil slice keeps every word.
	// Entries are compared after case and accent folding.
	StopWords []string
	// NoStem disables stemming: terms are folded words.
	NoStem bool
	// NoParts disables emitting the parts of compounds (hyphenated words,
	// snake_case, camelCase, dotted.names); only the joined form is kept.
	NoParts bool
	// MaxTermBytes drops terms longer than this many bytes (hashes, base64
	// runs, line noise). 0 means 64.
	MaxTermBytes int
}

// EnglishStopWords is the default stop list: function words that carry
// almost no retrieval signal and cost the most postings to traverse.
var EnglishStopWords = []string{
	"a", "about", "above", "after", "again", "against", "all", "am", "an", "and",
	"any", "are", "as", "at", "be", "because", "been", "before", "being", "below",
	"between", "both", "but", "by", "can", "could", "did", "do", "does", "doing",
	"down", "during", "each", "few", "for", "from", "further", "had", "has",
	"have", "having", "he", "her", "here", "hers", "herself", "him", "himself",
	"his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just",
	"me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off",
	"on", "once", "only", "or", "other", "our", "ours", "ourselves", "out",
	"over", "own", "same", "she", "should", "so", "some", "such", "than", "that",
	"the", "their", "theirs", "them", "themselves", "then", "there", "these",
	"they", "this", "those", "through", "to", "too", "under", "until", "up",
	"very", "was", "we", "were", "what", "when", "where", "which", "while", "who",
	"whom", "why", "will", "with", "would", "you", "your", "yours", "yourself",
	"yourselves",
}

// Token is one term of analyzed text with the byte span of text it came
// from, so matches can be marked in the original.
type Token struct {
	Term     string // the indexed form: folded, stemmed
	Start    int    // byte offset of the span in the analyzed text
	End      int    // byte offset one past the span
	Position int    // word ordinal; a compound's parts share its position
}

// Analyzer turns text into index terms. It is safe for concurrent use.
//
// Contract, relied on by the index and by query parsing alike: the same
// text always yields the same terms, in text order. Words are found by
// Unicode category (letters, digits, combining marks); case is folded;
// accents and compatibility forms are folded (é→e, ﬁ→fi, ²→2); English stop
// words are dropped; words are stemmed with Snowball English. Numbers keep
// their decimal point and lose thousands separators ("2.5", "1,000"→"1000").
// A compound — words joined by '-', '_', '.' or written in camelCase — is
// emitted whole (hyphens removed: "covid-19"→"covid19", "os.path",
// "snake_case") and, unless NoParts, as its parts. Possessive 's is
// dropped and inner apostrophes removed ("don't"→"dont"). Ideographic
// scripts without spaces (Han, Hiragana, Katakana, Thai) yield one term per
// character.
type Analyzer struct {
	stop     map[string]struct{}
	noStem   bool
	noParts  bool
	maxBytes int

	seed   maphash.Seed
	stems  [stemShards]stemShard // memoised Snowball results
	nstems atomic.Int64          // entries in stems (bounded by stemCacheMax)
}

// stemShards spreads the stem memo over independently locked maps, so
// parallel analysis does not contend on one lock.
const stemShards = 64

type stemShard struct {
	mu sync.RWMutex
	m  map[string]string
}

// stemCacheMax bounds the memo of stems: the vocabulary of a large corpus
// fits; past it stems are computed each time.
const stemCacheMax = 1 << 18

// NewAnalyzer returns an Analyzer configured by o.
func NewAnalyzer(o AnalyzerOptions) *Analyzer {
	words := o.StopWords
	if words == nil {
		words = EnglishStopWords
	}
	a := &Analyzer{
		stop:     make(map[string]struct{}, len(words)),
		noStem:   o.NoStem,
		noParts:  o.NoParts,
		maxBytes: o.MaxTermBytes,
		seed:     maphash.MakeSeed(),
	}
	for i := range a.stems {
		a.stems[i].m = make(map[string]string)
	}
	if a.maxBytes <= 0 {
		a.maxBytes = 64
	}
	for _, w := range words {
		a.stop[fold(strings.ToLower(w))] = struct{}{}
	}
	return a
}

// Terms returns the index terms of text, in text order.
func (a *Analyzer) Terms(text string) []string {
	return a.AppendTerms(nil, text)
}

// AppendTerms appends the index terms of text to dst and returns it.
func (a *Analyzer) AppendTerms(dst []string, text string) []string {
	a.scan(text, func(term string, _, _, _ int) { dst = append(dst, term) })
	return dst
}

// Tokens returns the terms of text with the byte spans they came from.
func (a *Analyzer) Tokens(text string) []Token {
	var out []Token
	a.scan(text, func(term string, start, end, pos int) {
		out = append(out, Token{Term: term, Start: start, End: end, Position: pos})
	})
	return out
}

// segment is one word of a compound: text[start:end], and the connector
// that precedes it (0 for the first).
type segment struct {
	start, end int
	conn       rune
}

// asciiWord marks ASCII letters and digits.
var asciiWord = func() (t [utf8.RuneSelf]bool) {
	for c := range t {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
	}
	return t
}()

func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= 0 && asciiWord[r]
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r)
}

// isSolo reports runes of scripts written without spaces between words;
// each becomes a term of its own.
func isSolo(r rune) bool {
	return r >= 0x2E80 && (unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) ||
		unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Thai, r))
}

func isHyphen(r rune) bool { return r == '-' || r == '\u2010' || r == '\u2011' }

func isApostrophe(r rune) bool { return r == '\'' || r == '\u2019' || r == '\u02BC' }

func decode(text string, i int) (rune, int) {
	if i >= len(text) {
		return utf8.RuneError, 0
	}
	if c := text[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(text[i:])
}

// wordAt reports whether a word (non-solo) rune starts at i.
func wordAt(text string, i int) bool {
	r, n := decode(text, i)
	return n > 0 && isWordRune(r) && !isSolo(r)
}

// scan finds the compounds of text and emits their terms.
func (a *Analyzer) scan(text string, emit func(term string, start, end, pos int)) {
	var segs []segment
	pos := 0
	for i := 0; i < len(text); {
		r, n := decode(text, i)
		if !isWordRune(r) {
			i += n
			continue
		}
		if isSolo(r) {
			if t := fold(strings.ToLower(text[i : i+n])); t != "" {
				emit(t, i, i+n, pos)
				pos++
			}
			i += n
			continue
		}
		segs = segs[:0]
		var conn rune
		for {
			start := i
			// One segment: word runes, with apostrophes between letters.
			for i < len(text) {
				r, n := decode(text, i)
				if isWordRune(r) && !isSolo(r) {
					i += n
					continue
				}
				if isApostrophe(r) && i > start && wordAt(text, i+n) {
					// "John's" ends here when only "s" follows: possessive.
					if s, sn := decode(text, i+n); (s == 's' || s == 'S') && !wordAt(text, i+n+sn) {
						segs = append(segs, segment{start, i, conn})
						i += n + sn
						goto compoundDone
					}
					i += n
					continue
				}
				break
			}
			segs = append(segs, segment{start, i, conn})
			// A connector continues the compound only between word runes.
			c, cn := decode(text, i)
			if cn == 0 || !wordAt(text, i+cn) {
				break
			}
			switch {
			case isHyphen(c), c == '_', c == '.':
			case c == ',':
				// Thousands separator: digits, then exactly three digits.
				if !digitsOnly(text[start:i]) || !threeDigits(text, i+1) {
					goto compoundDone
				}
			default:
				goto compoundDone
			}
			conn = c
			i += cn
		}
	compoundDone:
		a.emitCompound(text, segs, pos, emit)
		pos++
	}
}

func digitsOnly(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// threeDigits reports whether text[i:] starts with exactly three ASCII
// digits not followed by another word rune.
func threeDigits(text string, i int) bool {
	if i+3 > len(text) || !digitsOnly(text[i:i+3]) {
		return false
	}
	return !wordAt(text, i+3)
}

// emitCompound emits the whole compound and, when it has several parts,
// each part. Runs of digit segments joined by '.' or ',' are one number.
func (a *Analyzer) emitCompound(text string, segs []segment, pos int, emit func(string, int, int, int)) {
	// Merge numbers: a digit segment joined to the previous digit segment
	// by '.' or ',' extends it.
	units := segs[:0:0]
	for _, s := range segs {
		if n := len(units); n > 0 && (s.conn == '.' || s.conn == ',') &&
			digitsOnly(text[s.start:s.end]) && isNumber(text[units[n-1].start:units[n-1].end]) {
			units[n-1].end = s.end
			continue
		}
		units = append(units, s)
	}
	start, end := units[0].start, units[len(units)-1].end
	if len(units) == 1 {
		w := text[start:end]
		if isNumber(w) {
			a.emitTerm(strings.ReplaceAll(w, ",", ""), false, start, end, pos, emit)
			return
		}
		a.emitTerm(w, true, start, end, pos, emit)
		a.emitParts(text, start, a.camelParts(w), pos, emit)
		return
	}
	var b strings.Builder
	identifier := false
	for _, u := range units {
		if u.conn == '_' || u.conn == '.' {
			b.WriteRune(u.conn)
			identifier = true
		}
		b.WriteString(strings.ReplaceAll(text[u.start:u.end], ",", ""))
	}
	a.emitTerm(b.String(), !identifier, start, end, pos, emit)
	if a.noParts {
		return
	}
	for _, u := range units {
		w := text[u.start:u.end]
		if isNumber(w) {
			a.emitTerm(strings.ReplaceAll(w, ",", ""), false, u.start, u.end, pos, emit)
			continue
		}
		a.emitTerm(w, true, u.start, u.end, pos, emit)
		a.emitParts(text, u.start, a.camelParts(w), pos, emit)
	}
}

// isNumber reports ASCII digits with '.' or ',' between them.
func isNumber(s string) bool {
	if s == "" || s[0] < '0' || s[0] > '9' || s[len(s)-1] < '0' || s[len(s)-1] > '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && c != '.' && c != ',' {
			return false
		}
	}
	return true
}

func (a *Analyzer) emitParts(text string, base int, parts [][2]int, pos int, emit func(string, int, int, int)) {
	if a.noParts || len(parts) < 2 {
		return
	}
	for _, p := range parts {
		a.emitTerm(text[base+p[0]:base+p[1]], true, base+p[0], base+p[1], pos, emit)
	}
}

// camelParts splits a word at case changes: "camelCase" → camel|Case,
// "HTTPServer" → HTTP|Server. It returns nil for words without inner case
// changes (including ALLCAPS and Capitalised words).
func (a *Analyzer) camelParts(w string) [][2]int {
	if a.noParts {
		return nil
	}
	var parts [][2]int
	start := 0
	var prev rune
	prevLen := 0
	for i, r := range w {
		if i > 0 && unicode.IsUpper(r) {
			next, _ := utf8.DecodeRuneInString(w[i+utf8.RuneLen(r):])
			switch {
			case unicode.IsLower(prev):
				// camel|Case
				parts = append(parts, [2]int{start, i})
				start = i
			case unicode.IsUpper(prev) && unicode.IsLower(next) && i-start > prevLen:
				// HTTP|Server: the last capital starts the next word.
				parts = append(parts, [2]int{start, i})
				start = i
			}
		}
		prev, prevLen = r, utf8.RuneLen(r)
	}
	if len(parts) == 0 {
		return nil
	}
	return append(parts, [2]int{start, len(w)})
}

// emitTerm folds word, drops stop words and overlong terms, stems when
// asked, and emits the result.
func (a *Analyzer) emitTerm(word string, stem bool, start, end, pos int, emit func(string, int, int, int)) {
	t := foldWord(word)
	if t == "" || len(t) > a.maxBytes {
		return
	}
	if _, ok := a.stop[t]; ok {
		return
	}
	if stem && !a.noStem {
		t = a.stem(t)
	}
	emit(t, start, end, pos)
}

// foldWord lowercases, folds accents and drops apostrophes.
func foldWord(w string) string {
	ascii := true
	lower := true
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c >= utf8.RuneSelf || c == '\'' {
			ascii = false
			break
		}
		if 'A' <= c && c <= 'Z' {
			lower = false
		}
	}
	if ascii {
		if lower {
			return w
		}
		return strings.ToLower(w)
	}
	w = strings.ToLower(w)
	w = fold(w)
	return strings.Map(func(r rune) rune {
		if isApostrophe(r) {
			return -1
		}
		return r
	}, w)
}

// fold removes diacritics and compatibility forms: NFKD, drop nonspacing
// marks, and spell out the few Latin letters that do not decompose.
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	d := norm.NFKD.String(s)
	var b strings.Builder
	b.Grow(len(d))
	for _, r := range d {
		switch {
		case unicode.Is(unicode.Mn, r):
		case r == 'ß':
			b.WriteString("ss")
		case r == 'æ':
			b.WriteString("ae")
		case r == 'œ':
			b.WriteString("oe")
		case r == 'ø':
			b.WriteByte('o')
		case r == 'ł':
			b.WriteByte('l')
		case r == 'đ':
			b.WriteByte('d')
		case r == 'ı':
			b.WriteByte('i')
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// stem applies Snowball English to ASCII words that contain a letter;
// numbers, identifiers and other scripts pass through.
func (a *Analyzer) stem(t string) string {
	letter := false
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c >= utf8.RuneSelf:
			return t
		case 'a' <= c && c <= 'z':
			letter = true
		case '0' <= c && c <= '9':
		default:
			return t
		}
	}
	if !letter || len(t) <= 2 {
		return t
	}
	sh := &a.stems[maphash.String(a.seed, t)%stemShards]
	sh.mu.RLock()
	s, ok := sh.m[t]
	sh.mu.RUnlock()
	if ok {
		return s
	}
	s = english.Stem(t, true)
	if s == "" {
		s = t
	}
	if a.nstems.Load() < stemCacheMax {
		sh.mu.Lock()
		if _, ok := sh.m[t]; !ok {
			sh.m[strings.Clone(t)] = s
			a.nstems.Add(1)
		}
		sh.mu.Unlock()
	}
	return s
}
