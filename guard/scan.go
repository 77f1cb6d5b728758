package guard

import (
	"bytes"
	"strings"
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
}

func (sc *scan) reset(s *Scanner, text string, final bool) {
	sc.s = s
	sc.text = text
	sc.final = final
	sc.hold = len(text)
	sc.out = sc.out[:0]
	sc.words = sc.words[:0]
	sc.wordsDone = false
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
