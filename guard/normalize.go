package guard

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text normalization for injection scoring: invisible and direction-control
// characters are removed (and counted), look-alike letters from other
// scripts are folded to Latin, Unicode tag characters (invisible ASCII
// smuggling) are decoded, and the text is lower-cased and split into words.

// normStats counts what normalization removed or changed.
type normStats struct {
	zeroWidth  int // zero-width and soft-hyphen characters removed
	bidi       int // bidirectional controls removed
	tags       int // Unicode tag characters decoded
	homoglyphs int // look-alike letters folded inside Latin words
	fullwidth  int // fullwidth / mathematical letters folded
}

// homoglyphs maps Cyrillic and Greek letters that look like Latin ones.
var homoglyphs = map[rune]rune{
	'а': 'a', 'е': 'e', 'о': 'o', 'р': 'p', 'с': 'c', 'у': 'y', 'х': 'x', 'і': 'i', 'ј': 'j', 'ѕ': 's', 'һ': 'h',
	'ԁ': 'd', 'ԛ': 'q', 'ԝ': 'w', 'ӏ': 'l', 'А': 'A', 'В': 'B', 'Е': 'E', 'К': 'K', 'М': 'M', 'Н': 'H', 'О': 'O',
	'Р': 'P', 'С': 'C', 'Т': 'T', 'Х': 'X', 'У': 'Y', 'І': 'I', 'Ј': 'J', 'Ѕ': 'S',
	'α': 'a', 'ο': 'o', 'ρ': 'p', 'ν': 'v', 'τ': 't', 'ι': 'i', 'κ': 'k', 'υ': 'u', 'χ': 'x', 'ε': 'e',
	'Α': 'A', 'Β': 'B', 'Ε': 'E', 'Ζ': 'Z', 'Η': 'H', 'Ι': 'I', 'Κ': 'K', 'Μ': 'M', 'Ν': 'N', 'Ο': 'O', 'Ρ': 'P',
	'Τ': 'T', 'Υ': 'Y', 'Χ': 'X', 'ɑ': 'a', 'ɡ': 'g', 'ı': 'i', 'ℓ': 'l',
}

func isZeroWidth(r rune) bool {
	switch r {
	case 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD, 0x180E, 0x2061, 0x2062, 0x2063, 0x2064:
		return true
	}
	return false
}

func isBidi(r rune) bool {
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) || r == 0x200E || r == 0x200F || r == 0x061C
}

// foldRune maps fullwidth forms and mathematical alphanumerics to ASCII.
func foldRune(r rune) (rune, bool) {
	switch {
	case r >= 0xFF01 && r <= 0xFF5E: // fullwidth ASCII
		return r - 0xFF01 + '!', true
	case r >= 0x1D400 && r <= 0x1D6A3: // mathematical alphanumeric letters
		off := (r - 0x1D400) % 52
		if off < 26 {
			return 'A' + off, true
		}
		return 'a' + off - 26, true
	case r >= 0x1D7CE && r <= 0x1D7FF: // mathematical digits
		return '0' + (r-0x1D7CE)%10, true
	case r >= 0x24B6 && r <= 0x24CF: // circled capitals
		return 'a' + r - 0x24B6, true
	case r >= 0x24D0 && r <= 0x24E9: // circled small letters
		return 'a' + r - 0x24D0, true
	}
	return r, false
}

// normalize returns the folded, lower-cased text and what it removed. Words
// that mix Latin letters with look-alikes count as homoglyph obfuscation.
// It reuses buf.
func normalize(buf []byte, text string) ([]byte, normStats) {
	var st normStats
	out := buf[:0]
	var tagText []byte
	// Words are buffered so look-alikes are folded only inside words that
	// also contain Latin letters: Cyrillic text stays Cyrillic.
	var word [64]rune
	wn, latin, alike := 0, false, 0
	flush := func() {
		fold := latin && alike > 0
		if fold {
			st.homoglyphs += alike
		}
		for _, r := range word[:wn] {
			if r < utf8.RuneSelf {
				out = append(out, byte(r)) // already lower-cased
				continue
			}
			if f, ok := homoglyphs[r]; ok && fold {
				r = f
			}
			out = utf8.AppendRune(out, unicode.ToLower(r))
		}
		wn, latin, alike = 0, false, 0
	}
	for i := 0; i < len(text); {
		if c := text[i]; c < utf8.RuneSelf {
			i++
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if isAlnum(c) {
				if wn == len(word) {
					flush()
				}
				word[wn] = rune(c)
				wn++
				latin = latin || isAlpha(c)
				continue
			}
			flush()
			out = append(out, c)
			continue
		}
		r, n := utf8.DecodeRuneInString(text[i:])
		i += n
		switch {
		case isZeroWidth(r):
			st.zeroWidth++
			continue
		case isBidi(r):
			st.bidi++
			continue
		case r >= 0xE0020 && r <= 0xE007E: // tag characters carry ASCII
			st.tags++
			tagText = append(tagText, byte(r-0xE0000))
			continue
		case r >= 0xE0000 && r <= 0xE007F:
			st.tags++
			continue
		}
		if f, ok := foldRune(r); ok {
			st.fullwidth++
			r = f
		}
		if _, ok := homoglyphs[r]; ok {
			alike++
		} else {
			r = unicode.ToLower(r)
		}
		if r < utf8.RuneSelf && isAlpha(byte(r)) {
			latin = true
		}
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) {
			if wn == len(word) {
				flush()
			}
			word[wn] = r
			wn++
			continue
		}
		flush()
		out = utf8.AppendRune(out, r)
	}
	flush()
	if len(tagText) > 0 {
		out = append(out, '\n')
		out = append(out, strings.ToLower(string(tagText))...)
	}
	return out, st
}

// lineBreak is the token tokenizeLower puts at a line start.
const lineBreak = "^\n"

// tokenizeLower splits normalized text into words: runs of letters, digits
// and combining marks; apostrophes inside words are dropped ("don't" →
// "dont"). A "^" token marks each sentence start and lineBreak each line
// start, so patterns can anchor there; a pattern's gap never reaches
// across a line break (a table or a list is not one sentence). Words are substrings of t unless an apostrophe was
// dropped. It appends to dst.
func tokenizeLower(dst []string, t string) []string {
	dst = append(dst, "^")
	start, apos := -1, false
	flush := func(end int) {
		if start >= 0 {
			w := t[start:end]
			if apos {
				w = strings.NewReplacer("'", "", "’", "").Replace(w)
			}
			dst = append(dst, w)
		}
		start, apos = -1, false
	}
	for i := 0; i < len(t); {
		c := t[i]
		r, n := rune(c), 1
		if c >= utf8.RuneSelf {
			r, n = utf8.DecodeRuneInString(t[i:])
		}
		switch {
		case c < utf8.RuneSelf && isAlnum(c), c >= utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)):
			if start < 0 {
				start = i
			}
		case (r == '\'' || r == '’') && start >= 0 && i+n < len(t) && isAlpha(t[i+n]):
			apos = true // dropped inside the word
		default:
			flush(i)
			switch r {
			case '\n':
				if last := dst[len(dst)-1]; last == "^" {
					dst[len(dst)-1] = lineBreak
				} else if last != lineBreak {
					dst = append(dst, lineBreak)
				}
			case '.', '!', '?', ':', ';', '"', '“', '”':
				if last := dst[len(dst)-1]; last != "^" && last != lineBreak {
					dst = append(dst, "^")
				}
			}
		}
		i += n
	}
	flush(len(t))
	return dst
}

// deleet maps leetspeak digits and symbols inside a word to letters; ok
// is false when the word has no letters or nothing changed.
func deleet(w string) (string, bool) {
	letters, leet := 0, 0
	for i := 0; i < len(w); i++ {
		switch w[i] {
		case '0', '1', '3', '4', '5', '7', '8', '@', '$', '9':
			leet++
		default:
			if isAlpha(w[i]) {
				letters++
			}
		}
	}
	if leet == 0 || letters == 0 {
		return w, false
	}
	b := []byte(w)
	for i, c := range b {
		switch c {
		case '0':
			b[i] = 'o'
		case '1':
			b[i] = 'i'
		case '3':
			b[i] = 'e'
		case '4', '@':
			b[i] = 'a'
		case '5', '$':
			b[i] = 's'
		case '7':
			b[i] = 't'
		case '8':
			b[i] = 'b'
		case '9':
			b[i] = 'g'
		}
	}
	return string(b), true
}

// rot13 applies ROT13 to ASCII letters.
func rot13(w string) string {
	b := []byte(w)
	for i, c := range b {
		switch {
		case 'a' <= c && c <= 'z':
			b[i] = 'a' + (c-'a'+13)%26
		case 'A' <= c && c <= 'Z':
			b[i] = 'A' + (c-'A'+13)%26
		}
	}
	return string(b)
}
