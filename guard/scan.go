package guard

import (
	"bytes"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// scan is the per-call scratch state shared by the detectors.
type scan struct {
	s     *Scanner
	text  string
	lower []byte // text with ASCII letters lower-cased; same offsets
	final bool   // text is complete (not a stream prefix)
	hold  int    // see Scanner.scan
	out   []Finding

	words     []word // tokens, computed on first use
	wordsDone bool

	// Names confirmed once stay known for the rest of the text: a lone
	// name from the name list is a person when the full name came earlier
	// ("Maria Gonzalez ... Maria"). A stream rescans only a window, so it
	// carries what earlier windows confirmed in names (see nameMemory).
	names *nameMemory
	found []foundName // words of names confirmed in this scan, in text order
}

// maxKnownNames caps how many distinct name words a text (or a stream)
// remembers as confirmed: the memory of a stream stays bounded, and a
// bare name is checked against at most this many words.
const maxKnownNames = 64

// foundName is a word of a confirmed name in the scanned text: its bytes
// in sc.lower, and where the name it belongs to starts.
type foundName struct{ name, start, end int }

// nameMemory is what a Stream's scans share about names: the words of
// names confirmed in text already emitted, and where the window that is
// scanned now starts counting (names starting before from are in prior
// already, or were decided in a window that lacked their left context).
type nameMemory struct {
	prior []string    // distinct lower-case words, at most maxKnownNames
	from  int         // offset in the scanned text
	found []foundName // out: see Scanner.scan
}

// commit adds to prior the words in found of names that start before
// hold: those a stream has emitted, and so decided for good. text is the
// scanned text; only its ASCII letters are folded, as in scan.lower.
func (m *nameMemory) commit(text string, hold int) {
	for _, f := range m.found {
		if f.name >= hold || len(m.prior) >= maxKnownNames {
			break // found is in text order
		}
		var buf [32]byte
		lw := asciiLower(buf[:0], text[f.start:f.end])
		if !slices.Contains(m.prior, string(lw)) {
			m.prior = append(m.prior, string(lw))
		}
	}
}

// asciiLower appends s to dst with ASCII letters lower-cased.
func asciiLower(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// knownName reports whether lw, a lower-cased word, belongs to a name
// confirmed earlier in the text.
func (sc *scan) knownName(lw string) bool {
	if sc.names != nil && slices.Contains(sc.names.prior, lw) {
		return true
	}
	for _, f := range sc.found {
		if string(sc.lower[f.start:f.end]) == lw {
			return true
		}
	}
	return false
}

// confirmName remembers word w of a confirmed name starting at name,
// unless the memory is full or already has it.
func (sc *scan) confirmName(name int, w word) {
	n := len(sc.found)
	if sc.names != nil {
		if name < sc.names.from {
			return
		}
		n += len(sc.names.prior)
	}
	if n >= maxKnownNames || sc.knownName(string(sc.lower[w.start:w.end])) {
		return
	}
	sc.found = append(sc.found, foundName{name, w.start, w.end})
}

func (sc *scan) reset(s *Scanner, text string, final bool) {
	sc.s = s
	sc.text = text
	sc.final = final
	sc.hold = len(text)
	sc.out = sc.out[:0]
	sc.words = sc.words[:0]
	sc.wordsDone = false
	sc.names = nil
	sc.found = sc.found[:0]
	sc.lower = append(sc.lower[:0], text...)
	for i, c := range sc.lower {
		if 'A' <= c && c <= 'Z' {
			sc.lower[i] = c + 'a' - 'A'
		}
	}
}

// add records a finding if its type is enabled.
func (sc *scan) add(t Type, start, end int, conf float64, det string) {
	if i := typeIndex(t); i < 0 || !sc.s.enabled[i] || start >= end {
		return
	}
	if conf > 1 {
		conf = 1
	}
	sc.out = append(sc.out, Finding{Type: t, Start: start, End: end, Confidence: conf, Detector: det})
}

// pend marks a candidate starting at start as undecided: more stream text
// could change it. It is a no-op on final text.
func (sc *scan) pend(start int) {
	if !sc.final && start < sc.hold {
		sc.hold = start
	}
}

// open reports whether a candidate [start,end) touches the end of a stream
// prefix (only blanks, line breaks included, follow it), so it could still grow; if so it pends.
func (sc *scan) open(start, end int) bool {
	if sc.final {
		return false
	}
	for i := end; i < len(sc.text); i++ {
		if !isBlank(sc.text[i]) {
			return false
		}
	}
	sc.pend(start)
	return true
}

// openWith is open for candidates that may continue over bytes in cont
// (separators): a candidate followed only by blanks and such bytes up to
// the end of a stream prefix pends.
func (sc *scan) openWith(start, end int, cont string) bool {
	if sc.final {
		return false
	}
	for i := end; i < len(sc.text); i++ {
		if c := sc.text[i]; !isBlank(c) && strings.IndexByte(cont, c) < 0 {
			return false
		}
	}
	sc.pend(start)
	return true
}

// before returns up to n lower-cased bytes ending at start.
func (sc *scan) before(start, n int) []byte {
	return sc.lower[max(0, start-n):start]
}

// after returns up to n lower-cased bytes starting at end. On a stream
// prefix, a window cut short by the end of the text pends cand: the
// missing bytes could change the decision about the candidate.
func (sc *scan) after(end, n, cand int) []byte {
	if end+n > len(sc.lower) {
		sc.pend(cand)
		return sc.lower[end:]
	}
	return sc.lower[end : end+n]
}

// holdTrailingRun pends the last run of non-blank bytes when it reaches
// the end of a stream prefix: any token can still grow into a finding.
func (sc *scan) holdTrailingRun() {
	i := len(sc.text)
	for i > 0 && !isBlank(sc.text[i-1]) {
		i--
	}
	if i < len(sc.text) {
		sc.pend(i)
	}
}

// Byte classes.
const (
	cDigit = 1 << iota
	cUpper
	cLower
	cHex
	cSpace
	cB64 // base64 / base64url alphabet and padding
)

var class = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] |= cDigit | cHex | cB64
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] |= cUpper | cB64
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] |= cLower | cB64
	}
	for _, c := range "abcdefABCDEF" {
		t[c] |= cHex
	}
	for _, c := range " \t\n\r\f\v" {
		t[c] |= cSpace
	}
	for _, c := range "+/=-_" {
		t[c] |= cB64
	}
	return t
}()

func isDigit(c byte) bool  { return class[c]&cDigit != 0 }
func isAlpha(c byte) bool  { return class[c]&(cUpper|cLower) != 0 }
func isAlnum(c byte) bool  { return class[c]&(cUpper|cLower|cDigit) != 0 }
func isHex(c byte) bool    { return class[c]&cHex != 0 }
func isBlank(c byte) bool  { return class[c]&cSpace != 0 }
func isUpper(c byte) bool  { return class[c]&cUpper != 0 }
func isLowerc(c byte) bool { return class[c]&cLower != 0 }

// isWordByte reports whether c can be part of a word for cue matching:
// ASCII letters and digits, and every byte of a multi-byte UTF-8 letter.
func isWordByte(c byte) bool { return isAlnum(c) || c >= 0x80 }

// Token boundaries. Scientific and technical text glues letters, digits
// and joining punctuation into one token — "CX3CR1", "HNF1A/TCF1",
// "CD45.1", "IL-6", "H2A.Z", "Burrows–Wheeler", "APC(Min)" — and a
// finding that starts or ends inside such a token is a piece of a symbol,
// not personal data. tokenStart and tokenEnd are the checks the word-level
// detectors (addresses, names, dates) share.

// isJoiner reports punctuation that joins the alphanumerics around it into
// one token.
func isJoiner(r rune) bool {
	switch r {
	case '-', '.', '/', '_', '+', '(', '‐', '‑', '‒', '–', '—':
		return true
	}
	return false
}

func isAlnumRune(r rune) bool {
	return r < utf8.RuneSelf && isAlnum(byte(r)) || r >= utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r))
}

// tokenStart reports whether a finding may start at byte i of t: the rune
// before it is no letter or digit, nor a joiner glued to one ("CX3CR1" has
// no boundary before its "3", "IL-6" none before its "6").
func tokenStart(t string, i int) bool {
	if i <= 0 {
		return true
	}
	r, n := utf8.DecodeLastRuneInString(t[:i])
	if isAlnumRune(r) {
		return false
	}
	if isJoiner(r) {
		if p, _ := utf8.DecodeLastRuneInString(t[:i-n]); i-n > 0 && isAlnumRune(p) {
			return false
		}
	}
	return true
}

// tokenEnd reports whether a finding may end at byte e of t: the rune at e
// is no letter or digit, nor a joiner followed by one ("3CR1-deficient"
// ends inside a token; "Street." and "Street, London" do not).
func tokenEnd(t string, e int) bool {
	if e >= len(t) {
		return true
	}
	r, n := utf8.DecodeRuneInString(t[e:])
	if isAlnumRune(r) {
		return false
	}
	if isJoiner(r) && e+n < len(t) {
		if q, _ := utf8.DecodeRuneInString(t[e+n:]); isAlnumRune(q) {
			return false
		}
	}
	return true
}

// hasCue reports whether window contains one of cues as a word: a cue
// must start at a word boundary and, unless it ends in '*' (a prefix cue),
// end at one. Cues are lower-case.
func hasCue(window []byte, cues []string) bool {
	for _, cue := range cues {
		prefix := strings.HasSuffix(cue, "*")
		if prefix {
			cue = cue[:len(cue)-1]
		}
		from := 0
		for from+len(cue) <= len(window) {
			i := indexBytes(window[from:], cue)
			if i < 0 {
				break
			}
			i += from
			j := i + len(cue)
			startOK := i == 0 || !isWordByte(window[i-1]) || !isWordByte(cue[0])
			endOK := prefix || j == len(window) || !isWordByte(window[j]) || !isWordByte(cue[len(cue)-1])
			if startOK && endOK {
				return true
			}
			from = i + 1
		}
	}
	return false
}

// lastCue returns the offset in window of the last word-bounded
// occurrence of any of cues (as hasCue matches them), or -1.
func lastCue(window []byte, cues []string) int {
	last := -1
	for _, cue := range cues {
		prefix := strings.HasSuffix(cue, "*")
		if prefix {
			cue = cue[:len(cue)-1]
		}
		from := 0
		for from+len(cue) <= len(window) {
			i := indexBytes(window[from:], cue)
			if i < 0 {
				break
			}
			i += from
			j := i + len(cue)
			startOK := i == 0 || !isWordByte(window[i-1]) || !isWordByte(cue[0])
			endOK := prefix || j == len(window) || !isWordByte(window[j]) || !isWordByte(cue[len(cue)-1])
			if startOK && endOK && i > last {
				last = i
			}
			from = i + 1
		}
	}
	return last
}

// indexBytes is strings.Index for a byte slice without converting (and
// so allocating): windows and cues are short.
func indexBytes(b []byte, s string) int {
	if len(s) == 0 {
		return 0
	}
	for i := 0; i+len(s) <= len(b); i++ {
		j := bytes.IndexByte(b[i:len(b)-len(s)+1], s[0])
		if j < 0 {
			return -1
		}
		i += j
		if string(b[i:i+len(s)]) == s {
			return i
		}
	}
	return -1
}

// digitsOf appends the ASCII digits of s to dst.
func digitsOf(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			dst = append(dst, s[i])
		}
	}
	return dst
}
