package guard

import (
	"unicode"
	"unicode/utf8"
)

// word is a token of the text for the word-level detectors (names,
// addresses, dates): a run of letters (with inner apostrophes and
// hyphens), a run of digits, a line break, or one punctuation byte.
type word struct {
	start, end int
	kind       uint8
	upper      bool // first letter upper-case
	allUpper   bool // every letter upper-case (and at least two)
}

const (
	wLetters uint8 = iota + 1
	wDigits
	wNewline
	wPunct
)

// tokenize appends the words of t to dst. It is a single linear pass.
func tokenize(dst []word, t string) []word {
	for i := 0; i < len(t); {
		c := t[i]
		switch {
		case c == '\n':
			dst = append(dst, word{start: i, end: i + 1, kind: wNewline})
			i++
		case isBlank(c):
			i++
		case isDigit(c):
			j := i
			for j < len(t) && isDigit(t[j]) {
				j++
			}
			dst = append(dst, word{start: i, end: j, kind: wDigits})
			i = j
		case c < utf8.RuneSelf && !isAlpha(c):
			dst = append(dst, word{start: i, end: i + 1, kind: wPunct})
			i++
		default:
			r, n := utf8.DecodeRuneInString(t[i:])
			if !unicode.IsLetter(r) {
				dst = append(dst, word{start: i, end: i + n, kind: wPunct})
				i += n
				continue
			}
			w := word{start: i, kind: wLetters, upper: unicode.IsUpper(r), allUpper: unicode.IsUpper(r)}
			letters := 0
			j := i
			for j < len(t) {
				r, n := utf8.DecodeRuneInString(t[j:])
				if unicode.IsLetter(r) || unicode.Is(unicode.Mn, r) {
					if unicode.IsLower(r) {
						w.allUpper = false
					}
					letters++
					j += n
					continue
				}
				// Inner apostrophe or hyphen followed by a letter, but
				// not a possessive "'s".
				if (r == '\'' || r == '-' || r == '’') && j+n < len(t) {
					r2, n2 := utf8.DecodeRuneInString(t[j+n:])
					possessive := r != '-' && (r2 == 's' || r2 == 'S') && (j+n+n2 == len(t) || !isAlnum(t[j+n+n2]))
					if unicode.IsLetter(r2) && !possessive {
						j += n
						continue
					}
				}
				break
			}
			w.end = j
			w.allUpper = w.allUpper && letters > 1
			dst = append(dst, w)
			i = j
		}
	}
	return dst
}

// text returns the word's bytes.
func (w word) text(t string) string { return t[w.start:w.end] }
