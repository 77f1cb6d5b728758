package web

import (
	"encoding/json"
	"strconv"
)

// usageJSON is the part of OpenAI's usage object the gateway records.
type usageJSON struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	Details          struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
}

// decodeUsage decodes a usage object exactly as json.Unmarshal into
// usageJSON does (ok is false where Unmarshal returns an error), without
// reflection: it ran on every gateway request and took 3–6 µs in
// encoding/json. What the fast reader does not handle — escapes in
// strings, keys with upper-case or non-ASCII letters (Unmarshal matches
// keys case-insensitively), very deep nesting — goes to json.Unmarshal.
func decodeUsage(b []byte) (usageJSON, bool) {
	r := usageReader{b: b}
	r.ws()
	if r.p < len(b) && b[r.p] == '{' {
		r.object(0, r.top)
	} else {
		r.state = fastOdd // not an object (null, say): Unmarshal's rules
	}
	r.ws()
	if r.p != len(b) && r.state == fastOK {
		r.state = fastBad
	}
	switch r.state {
	case fastOK:
		return r.u, true
	case fastBad:
		return usageJSON{}, false
	}
	var u usageJSON
	if err := json.Unmarshal(b, &u); err != nil {
		return usageJSON{}, false
	}
	return u, true
}

// usageReader states: still fine, Unmarshal would fail, or ask Unmarshal.
const (
	fastOK = iota
	fastBad
	fastOdd
)

type usageReader struct {
	b     []byte
	p     int
	state int
	u     usageJSON
}

// fastMaxDepth bounds the reader's recursion; deeper goes to Unmarshal.
const fastMaxDepth = 32

func (r *usageReader) fail(state int) {
	if r.state == fastOK {
		r.state = state
	}
}

func (r *usageReader) ws() {
	for r.p < len(r.b) {
		switch r.b[r.p] {
		case ' ', '\t', '\n', '\r':
			r.p++
		default:
			return
		}
	}
}

// top handles a member of the usage object.
func (r *usageReader) top(key []byte, depth int) {
	switch string(key) {
	case "prompt_tokens":
		r.int(&r.u.PromptTokens, depth)
	case "completion_tokens":
		r.int(&r.u.CompletionTokens, depth)
	case "prompt_tokens_details":
		switch {
		case r.p < len(r.b) && r.b[r.p] == '{':
			r.object(depth, func(key []byte, depth int) {
				if string(key) == "cached_tokens" {
					r.int(&r.u.Details.CachedTokens, depth)
					return
				}
				r.value(depth)
			})
		case r.literal("null"):
		default:
			r.value(depth)
			r.fail(fastBad) // not an object: a type error
		}
	default:
		r.value(depth)
	}
}

// int reads an integer field: a number without fraction or exponent that
// fits 64 bits, or null (no change); anything else is a type error.
func (r *usageReader) int(dst *int, depth int) {
	if r.literal("null") {
		return
	}
	start := r.p
	if r.p < len(r.b) && (r.b[r.p] == '-' || r.b[r.p] >= '0' && r.b[r.p] <= '9') {
		whole := r.number()
		if r.state != fastOK {
			return
		}
		n, err := strconv.ParseInt(string(r.b[start:r.p]), 10, 64)
		if !whole || err != nil {
			r.fail(fastBad)
			return
		}
		*dst = int(n)
		return
	}
	r.value(depth)
	r.fail(fastBad)
}

// value skips any JSON value.
func (r *usageReader) value(depth int) {
	if r.state != fastOK {
		return
	}
	if r.p >= len(r.b) {
		r.fail(fastBad)
		return
	}
	switch c := r.b[r.p]; {
	case c == '{':
		r.object(depth, func(_ []byte, depth int) { r.value(depth) })
	case c == '[':
		if depth >= fastMaxDepth {
			r.fail(fastOdd)
			return
		}
		r.p++
		r.ws()
		if r.p < len(r.b) && r.b[r.p] == ']' {
			r.p++
			return
		}
		for r.state == fastOK {
			r.value(depth + 1)
			r.ws()
			if r.p >= len(r.b) {
				r.fail(fastBad)
				return
			}
			switch r.b[r.p] {
			case ',':
				r.p++
				r.ws()
			case ']':
				r.p++
				return
			default:
				r.fail(fastBad)
			}
		}
	case c == '"':
		r.string()
	case c == '-' || c >= '0' && c <= '9':
		r.number()
	case r.literal("true"), r.literal("false"), r.literal("null"):
	default:
		r.fail(fastBad)
	}
}

// object reads an object, calling member for each member with the
// position at its value.
func (r *usageReader) object(depth int, member func(key []byte, depth int)) {
	if r.state != fastOK {
		return
	}
	if depth >= fastMaxDepth {
		r.fail(fastOdd)
		return
	}
	if r.p >= len(r.b) || r.b[r.p] != '{' {
		r.fail(fastBad)
		return
	}
	r.p++
	r.ws()
	if r.p < len(r.b) && r.b[r.p] == '}' {
		r.p++
		return
	}
	for r.state == fastOK {
		if r.p >= len(r.b) || r.b[r.p] != '"' {
			r.fail(fastBad)
			return
		}
		key := r.string()
		for _, c := range key {
			if c >= 'A' && c <= 'Z' || c >= 0x80 {
				r.fail(fastOdd) // Unmarshal folds case: let it decide
			}
		}
		r.ws()
		if r.state != fastOK || r.p >= len(r.b) || r.b[r.p] != ':' {
			r.fail(fastBad)
			return
		}
		r.p++
		r.ws()
		member(key, depth+1)
		r.ws()
		if r.p >= len(r.b) {
			r.fail(fastBad)
			return
		}
		switch r.b[r.p] {
		case ',':
			r.p++
			r.ws()
		case '}':
			r.p++
			return
		default:
			r.fail(fastBad)
		}
	}
}

// string reads a string and returns its bytes between the quotes.
func (r *usageReader) string() []byte {
	start := r.p + 1
	for i := start; i < len(r.b); i++ {
		switch c := r.b[i]; {
		case c == '"':
			r.p = i + 1
			return r.b[start:i]
		case c == '\\':
			r.fail(fastOdd)
			return nil
		case c < 0x20:
			r.fail(fastBad)
			return nil
		}
	}
	r.fail(fastBad)
	return nil
}

// number reads a number as JSON writes it and reports whether it had
// neither fraction nor exponent.
func (r *usageReader) number() bool {
	b, p := r.b, r.p
	digits := func() int {
		n := 0
		for p < len(b) && b[p] >= '0' && b[p] <= '9' {
			p++
			n++
		}
		return n
	}
	if p < len(b) && b[p] == '-' {
		p++
	}
	switch {
	case p < len(b) && b[p] == '0':
		p++
	case digits() == 0:
		r.fail(fastBad)
		return false
	}
	whole := true
	if p < len(b) && b[p] == '.' {
		p++
		whole = false
		if digits() == 0 {
			r.fail(fastBad)
			return false
		}
	}
	if p < len(b) && (b[p] == 'e' || b[p] == 'E') {
		p++
		whole = false
		if p < len(b) && (b[p] == '+' || b[p] == '-') {
			p++
		}
		if digits() == 0 {
			r.fail(fastBad)
			return false
		}
	}
	r.p = p
	return whole
}

// literal consumes word if it comes next.
func (r *usageReader) literal(word string) bool {
	if len(r.b)-r.p >= len(word) && string(r.b[r.p:r.p+len(word)]) == word {
		r.p += len(word)
		return true
	}
	return false
}
