package eval

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// The reference implementations of several metrics are Python programs.
// Their text handling (str.lower, str.split, the re module's \w) differs from
// Go's strings package in small ways that change scores on real text, so
// the metrics use these faithful equivalents.

// pyIsSpace reports whether Python's str.split() splits on r: Unicode
// White_Space plus the ASCII information separators U+001C–U+001F.
func pyIsSpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// pyFields splits s like Python's s.split() with no argument.
func pyFields(s string) []string {
	return strings.FieldsFunc(s, pyIsSpace)
}

// pyRStrip trims trailing whitespace like Python's s.rstrip().
func pyRStrip(s string) string {
	return strings.TrimRightFunc(s, pyIsSpace)
}

// pyIsWord reports whether r matches Python's \w in a str pattern: letters,
// numbers and the underscore.
func pyIsWord(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r)
}

// pyLower lowercases s like Python's str.lower(): Unicode full case mapping,
// which differs from strings.ToLower for U+0130 (İ → "i̇", two code points)
// and for the final form of capital sigma (Σ → ς at the end of a word).
func pyLower(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i, r := range s {
		switch r {
		case '\u0130':
			b.WriteString("i\u0307")
		case 'Σ':
			if finalSigma(s, i) {
				b.WriteRune('ς')
			} else {
				b.WriteRune('σ')
			}
		case utf8.RuneError:
			// Invalid UTF-8 has no Python equivalent (the bytes could not
			// have been decoded); keep the replacement character.
			b.WriteRune(r)
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// finalSigma implements the Unicode Final_Sigma condition for the Σ at
// byte offset i of s: preceded by a cased letter (skipping case-ignorable
// characters) and not followed by one.
func finalSigma(s string, i int) bool {
	before := false
	for j := i; j > 0; {
		r, n := utf8.DecodeLastRuneInString(s[:j])
		j -= n
		if caseIgnorable(r) {
			continue
		}
		before = cased(r)
		break
	}
	if !before {
		return false
	}
	for j := i + len("Σ"); j < len(s); {
		r, n := utf8.DecodeRuneInString(s[j:])
		j += n
		if caseIgnorable(r) {
			continue
		}
		return !cased(r)
	}
	return true
}

func cased(r rune) bool {
	return unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r)
}

func caseIgnorable(r rune) bool {
	switch r {
	case '\'', '.', ':', '·', '\u2018', '\u2019', '\u2024', '\u2027', '\u05F4', '\uFE13', '\uFE52', '\uFE55', '\uFF07', '\uFF0E', '\uFF1A':
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}
