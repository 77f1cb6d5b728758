package guard

import (
	_ "embed"
	"maps"
	"strings"
	"sync"
	"unicode/utf8"
)

//go:embed names.txt
var namesFile string

const (
	nFirst uint8 = 1 << iota
	nLast
	nAmbiguous
)

// nameSet maps lower-case names to their nFirst/nLast/nAmbiguous flags.
// It is immutable once built.
type nameSet struct{ m map[string]uint8 }

// defaultNames parses the embedded list once; the result is shared and
// never modified.
var defaultNames = sync.OnceValue(func() *nameSet {
	ns := &nameSet{m: make(map[string]uint8, 4096)}
	for line := range strings.Lines(namesFile) {
		kind, list, ok := strings.Cut(line, ":")
		if !ok || strings.HasPrefix(kind, "#") {
			continue
		}
		var f uint8
		switch strings.TrimSpace(kind) {
		case "first":
			f = nFirst
		case "last":
			f = nLast
		case "ambiguous":
			f = nAmbiguous
		default:
			continue
		}
		for _, n := range strings.Fields(list) {
			ns.m[n] |= f
		}
	}
	return ns
})

// with returns a copy of ns that also knows extra names (as first names
// and surnames).
func (ns *nameSet) with(extra []string) *nameSet {
	out := &nameSet{m: maps.Clone(ns.m)}
	for _, n := range extra {
		if n = strings.ToLower(strings.TrimSpace(n)); n != "" {
			out.m[n] |= nFirst | nLast
		}
	}
	return out
}

// lookup returns the flags of a word, case-insensitively. Only ASCII and
// short words are folded without allocating.
func (ns *nameSet) lookup(w string) uint8 {
	var buf [32]byte
	if len(w) <= len(buf) {
		ascii := true
		for i := 0; i < len(w); i++ {
			c := w[i]
			if c >= utf8.RuneSelf {
				ascii = false
				break
			}
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			buf[i] = c
		}
		if ascii {
			return ns.m[string(buf[:len(w)])]
		}
	}
	return ns.m[strings.ToLower(w)]
}
