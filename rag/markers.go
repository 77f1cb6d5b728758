package rag

import (
	"strconv"
	"strings"

	"github.com/sextant-ai/sextant"
)

// maxMarkerBytes bounds how much text after a '[' is held back while the
// filter decides whether it starts a citation marker.
const maxMarkerBytes = 48

// markerFilter rewrites citation markers in a streamed answer: numbers that
// name no source (above n) are removed, and a marker left with none is
// dropped with the space before it — unless keep is set, which leaves
// markers as written for the cite stage to flag. Text after a '[' is held
// back until the marker is complete or cannot be one, and trailing spaces
// until the next word, so streamed text equals the final text. (Nested
// brackets such as "[[7]1]" can join into a new marker when the inner one
// is removed; the cite stage flags such a marker as invalid.)
type markerFilter struct {
	n       int
	keep    bool
	buf     []byte // held back: starts with spaces and/or a possible marker
	dropped int    // source numbers removed
}

// Write takes the next piece and returns what may be shown now.
func (f *markerFilter) Write(s string) string {
	if f.keep {
		return s
	}
	f.buf = append(f.buf, s...)
	return f.drain(false)
}

// Close returns everything still held back.
func (f *markerFilter) Close() string {
	if f.keep {
		return ""
	}
	return f.drain(true)
}

func (f *markerFilter) drain(final bool) string {
	var out strings.Builder
	b := f.buf
	i := 0
	for i < len(b) {
		c := b[i]
		if c == '[' {
			end, ok := markerEnd(b[i:], final)
			if !ok { // undecided: hold from here
				break
			}
			if end == 0 { // not a marker
				out.WriteByte('[')
				i++
				continue
			}
			out.WriteString(f.rewrite(string(b[i:i+end]), &out))
			i += end
			continue
		}
		if c == ' ' && !final {
			// Hold a run of spaces until what follows is known: a
			// dropped marker takes its leading space with it.
			j := i
			for j < len(b) && b[j] == ' ' {
				j++
			}
			if j == len(b) {
				break
			}
			if b[j] == '[' {
				// Spaces before an undecided marker wait with it; a
				// marker that will be dropped takes them along.
				end, ok := markerEnd(b[j:], final)
				if !ok {
					break
				}
				if end > 0 && f.allInvalid(string(b[j:j+end])) {
					i = j
					continue
				}
			}
			out.Write(b[i:j])
			i = j
			continue
		}
		out.WriteByte(c)
		i++
	}
	f.buf = append(f.buf[:0], b[i:]...)
	return out.String()
}

// markerEnd decides whether b (starting with '[') starts a marker: it
// returns the marker's length, 0 when it cannot be one, or ok false when
// more text is needed.
func markerEnd(b []byte, final bool) (int, bool) {
	for j := 1; j < len(b) && j < maxMarkerBytes; j++ {
		c := b[j]
		switch {
		case c == ']':
			ms := sextant.ParseCitations(string(b[:j+1]))
			if len(ms) == 1 && ms[0].Start == 0 && ms[0].End == j+1 {
				return j + 1, true
			}
			return 0, true
		case c >= '0' && c <= '9' || c == ',' || c == ';' || c == ' ' || c == '\t' || c == '-' || c >= 0x80:
			// digits, separators, dashes (en/em dashes are multi-byte)
		default:
			return 0, true
		}
	}
	if len(b) >= maxMarkerBytes || final {
		return 0, true
	}
	return 0, false
}

// rewrite returns the marker with only valid numbers, or "" (and trims
// the space already written before it) when none is valid.
func (f *markerFilter) rewrite(marker string, out *strings.Builder) string {
	ms := sextant.ParseCitations(marker)
	var valid []int
	for _, n := range ms[0].Sources {
		if n <= f.n {
			valid = append(valid, n)
		} else {
			f.dropped++
		}
	}
	if len(valid) == len(ms[0].Sources) {
		return marker
	}
	if len(valid) == 0 {
		if s := out.String(); strings.HasSuffix(s, " ") {
			t := strings.TrimRight(s, " ")
			out.Reset()
			out.WriteString(t)
		}
		return ""
	}
	parts := make([]string, len(valid))
	for i, n := range valid {
		parts[i] = strconv.Itoa(n)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// allInvalid reports whether a marker names no valid source.
func (f *markerFilter) allInvalid(marker string) bool {
	for _, n := range sextant.ParseCitations(marker)[0].Sources {
		if n <= f.n {
			return false
		}
	}
	return true
}
