package web

import (
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// errNotObject is returned by peekModel for a body that is not one JSON
// object.
var errNotObject = errors.New("the body is not a JSON object")

// peekModel returns the top-level "model" string of a JSON object body
// without decoding the rest, so the gateway can route a request whose
// bytes it forwards unchanged. Every top-level member is scanned (the last
// "model" wins, as in encoding/json); values are skipped by bracket and
// string structure. found is false when there is no "model" member or it
// is not a string. The scan is a structural check, not full validation:
// the upstream validates what it forwards.
func peekModel(b []byte) (model string, found bool, err error) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return "", false, errNotObject
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return "", false, trailing(b, i+1)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return "", false, errNotObject
		}
		ks := i
		i = skipString(b, i)
		if i < 0 {
			return "", false, errNotObject
		}
		key := b[ks:i]
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != ':' {
			return "", false, errNotObject
		}
		i = skipSpace(b, i+1)
		vs := i
		if i = skipValue(b, i, 0); i < 0 {
			return "", false, errNotObject
		}
		if isModelKey(key) {
			model, found = "", false
			if b[vs] == '"' {
				if m, ok := unquote(b[vs:i]); ok {
					model, found = m, true
				}
			}
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return "", false, errNotObject
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return model, found, trailing(b, i+1)
		default:
			return "", false, errNotObject
		}
	}
}

// isModelKey reports whether the quoted key is "model" (escaped spellings
// such as "mod\u0065l" included).
func isModelKey(q []byte) bool {
	if string(q) == `"model"` {
		return true
	}
	if len(q) > 7 && containsByte(q, '\\') {
		k, ok := unquote(q)
		return ok && k == "model"
	}
	return false
}

func containsByte(b []byte, c byte) bool {
	for _, x := range b {
		if x == c {
			return true
		}
	}
	return false
}

// unquote decodes a JSON string literal (quotes included).
func unquote(q []byte) (string, bool) {
	if !containsByte(q, '\\') && utf8.Valid(q) {
		return string(q[1 : len(q)-1]), true
	}
	var s string
	if err := json.Unmarshal(q, &s); err != nil {
		return "", false
	}
	return s, true
}

func trailing(b []byte, i int) error {
	if skipSpace(b, i) != len(b) {
		return errNotObject
	}
	return nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"',
// or -1 when it is unterminated or holds a raw control character.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c == '\\':
			i++
		case c < 0x20:
			return -1
		}
	}
	return -1
}

// maxDepth bounds nesting, as encoding/json does (10,000).
const maxDepth = 10000

// skipValue returns the index after the JSON value at b[i], or -1.
func skipValue(b []byte, i, depth int) int {
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '"':
		return skipString(b, i)
	case c == '{' || c == '[':
		if depth >= maxDepth {
			return -1
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == closer {
			return i + 1
		}
		for {
			if c == '{' {
				if i >= len(b) || b[i] != '"' {
					return -1
				}
				if i = skipString(b, i); i < 0 {
					return -1
				}
				i = skipSpace(b, i)
				if i >= len(b) || b[i] != ':' {
					return -1
				}
				i = skipSpace(b, i+1)
			}
			if i = skipValue(b, i, depth+1); i < 0 {
				return -1
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return -1
			}
			switch b[i] {
			case ',':
				i = skipSpace(b, i+1)
			case closer:
				return i + 1
			default:
				return -1
			}
		}
	case c == '-' || c >= '0' && c <= '9':
		j := i + 1
		for j < len(b) && (b[j] >= '0' && b[j] <= '9' || b[j] == '.' || b[j] == 'e' || b[j] == 'E' || b[j] == '+' || b[j] == '-') {
			j++
		}
		return j
	default:
		for _, lit := range [...]string{"true", "false", "null"} {
			if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
				return i + len(lit)
			}
		}
		return -1
	}
}
