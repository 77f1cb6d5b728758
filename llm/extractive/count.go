package extractive

import (
	"strings"
	"sync"

	"github.com/tiktoken-go/tokenizer"
)

// pieceCounts counts cl100k_base tokens exactly as the codec does, faster
// on text whose words repeat (prompts built from the same corpus, the
// same system prompt on every request). The codec splits text into pieces
// with a regular expression and encodes each piece on its own, so a
// text's count is the sum of its pieces' counts: for plain ASCII text the
// split is done here by hand, and each piece's count is remembered.
// Stretches with other characters (non-ASCII, control characters) go to
// the codec.
type pieceCounts struct {
	mu sync.RWMutex
	m  map[string]int
}

// Bounds of the remembered pieces: a piece longer than maxPieceLen is
// counted every time; the table is emptied when it holds maxPieces.
const (
	maxPieceLen = 32
	maxPieces   = 1 << 16
)

// count returns the number of cl100k_base tokens in s, and false when the
// codec failed (the caller asks it again, whole). Plain ASCII is counted
// piecewise; a stretch around other characters goes to the codec, cut at
// boundaries every tokenization of s shares: a space between two ASCII
// letters ends the piece before it (a run of letters, or a contraction)
// and starts the next (the space and the word after it), and the pattern
// looks only forward, so the text on either side counts on its own.
func (pc *pieceCounts) count(codec tokenizer.Codec, s string) (int, bool) {
	n := 0
	for len(s) > 0 {
		x := 0
		for x < len(s) && plainASCII(s[x]) {
			x++
		}
		if x == len(s) {
			k, err := pc.ascii(codec, s)
			return n + k, err == nil
		}
		l, r := x, x+1
		for l > 0 && !wordGap(s, l) {
			l--
		}
		for r < len(s) && !wordGap(s, r) {
			r++
		}
		k, err := pc.ascii(codec, s[:l])
		if err != nil {
			return 0, false
		}
		m, err := codec.Count(s[l:r])
		if err != nil {
			return 0, false
		}
		n += k + m
		s = s[r:]
	}
	return n, true
}

// plainASCII reports whether c is split by nextPiece: printable ASCII,
// tab, line feed or carriage return.
func plainASCII(c byte) bool { return ' ' <= c && c <= '~' || c == '\t' || c == '\n' || c == '\r' }

// wordGap reports whether s[p] is a space between two ASCII letters: a
// piece boundary whatever comes before or after.
func wordGap(s string, p int) bool {
	return p > 0 && p+1 < len(s) && s[p] == ' ' && isLetter(s[p-1]) && isLetter(s[p+1])
}

// ascii counts plain ASCII text piece by piece.
func (pc *pieceCounts) ascii(codec tokenizer.Codec, s string) (int, error) {
	n := 0
	for i := 0; i < len(s); {
		j := nextPiece(s, i)
		k, err := pc.piece(codec, s[i:j])
		if err != nil {
			return 0, err
		}
		n += k
		i = j
	}
	return n, nil
}

func (pc *pieceCounts) piece(codec tokenizer.Codec, p string) (int, error) {
	if len(p) > maxPieceLen {
		return codec.Count(p)
	}
	pc.mu.RLock()
	n, ok := pc.m[p]
	pc.mu.RUnlock()
	if ok {
		return n, nil
	}
	n, err := codec.Count(p)
	if err != nil {
		return 0, err
	}
	pc.mu.Lock()
	if pc.m == nil || len(pc.m) >= maxPieces {
		pc.m = make(map[string]int, 1024)
	}
	pc.m[strings.Clone(p)] = n
	pc.mu.Unlock()
	return n, nil
}

// nextPiece returns the end of the piece that starts at i, splitting
// plain ASCII (printable, tab, line feed, carriage return) as
// cl100k_base's pattern does:
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//	 ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// trying the alternatives in order, as the regular expression does.
func nextPiece(s string, i int) int {
	c := s[i]
	if c == '\'' && i+1 < len(s) {
		switch lowerASCII(s[i+1]) {
		case 's', 't', 'm', 'd':
			return i + 2
		case 'r', 'v':
			if i+2 < len(s) && lowerASCII(s[i+2]) == 'e' {
				return i + 3
			}
		case 'l':
			if i+2 < len(s) && lowerASCII(s[i+2]) == 'l' {
				return i + 3
			}
		}
	}
	if isLetter(c) || c != '\r' && c != '\n' && !isDigit(c) && i+1 < len(s) && isLetter(s[i+1]) {
		j := i + 1
		for j < len(s) && isLetter(s[j]) {
			j++
		}
		return j
	}
	if isDigit(c) {
		j := i + 1
		for j < len(s) && j < i+3 && isDigit(s[j]) {
			j++
		}
		return j
	}
	k := i
	if c == ' ' && i+1 < len(s) && isPunct(s[i+1]) {
		k = i + 1
	}
	if isPunct(s[k]) {
		j := k + 1
		for j < len(s) && isPunct(s[j]) {
			j++
		}
		for j < len(s) && (s[j] == '\r' || s[j] == '\n') {
			j++
		}
		return j
	}
	// A run of whitespace, s[i:j].
	j := i
	last := -1 // the last line break in it
	for j < len(s) && isSpaceASCII(s[j]) {
		if s[j] == '\r' || s[j] == '\n' {
			last = j
		}
		j++
	}
	switch {
	case last >= 0: // \s*[\r\n]+
		return last + 1
	case j == len(s): // \s+(?!\S) at the end
		return j
	case j-i >= 2: // \s+(?!\S): all but the blank before the next word
		return j - 1
	}
	return j // \s+
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isLetter(c byte) bool     { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool      { return '0' <= c && c <= '9' }
func isSpaceASCII(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
func isPunct(c byte) bool      { return !isLetter(c) && !isDigit(c) && !isSpaceASCII(c) }
