package guard

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// Stream checks and redacts an answer while it is being generated. Write
// returns the part of the text that no pending finding can still cover,
// with findings already redacted; the rest is held back until more text
// arrives or Flush is called. What a Stream emits in total equals what
// Check and Redactor.Apply produce on the whole answer, with one
// exception: PROMPT_LEAK findings never hold text back (that would delay
// every answer by a dozen words); they are reported, and redacted, only
// when the copied run fits in the unemitted text plus the last 256 emitted
// bytes. A caller that sees one should stop the stream.
//
// A Stream is not safe for concurrent use; use one per answer.
//
// The work per delta is bounded, not proportional to the answer so far:
// the detectors of personal data and secrets rescan only the held text
// plus piiContext emitted bytes (cut at a blank, so no word is split),
// and the output checks (canary, links, denylist, prompt leak) the held
// text plus the last streamContext emitted bytes. What a detector decides
// from text further back is carried instead: the words of the names
// confirmed so far (at most maxKnownNames of them), which make a later
// lone "Maria" a person as they do in the whole answer.
type Stream struct {
	c     *OutputChecker
	r     *Redactor
	text  string // the last emitted bytes (left context), then the held ones
	off   int    // where the held bytes start in text
	base  int    // offset of the held bytes in the whole answer
	local []Finding
	names nameMemory // names confirmed in the emitted text
}

// streamContext is how many emitted bytes are kept as left context for
// the output checks: enough for a prompt-leak run of words.
const streamContext = 256

// piiContext is how many emitted bytes, at least, the PII and secret
// detectors rescan as left context: more than any of them looks back (48
// bytes of cue window, a firm list of five words, the word before a
// name).
const piiContext = 96

// Stream starts checking a streamed answer. r applies the actions to
// findings; nil means a Redactor that redacts everything. Set r.Actions
// for Link, Denied or PromptLeak to ActionAllow to only report them.
func (c *OutputChecker) Stream(r *Redactor) *Stream {
	if r == nil {
		r = &Redactor{}
	}
	return &Stream{c: c, r: r}
}

// Write adds a delta and returns the text safe to emit now, plus the
// findings in it (offsets relative to the whole answer, in the original
// text).
func (s *Stream) Write(delta string) (string, []Finding) {
	s.text += delta
	return s.step(false)
}

// Flush ends the answer and returns everything still held back.
func (s *Stream) Flush() (string, []Finding) { return s.step(true) }

// Held reports how many bytes are held back.
func (s *Stream) Held() int { return len(s.text) - s.off }

func (s *Stream) step(final bool) (string, []Finding) {
	text, off := s.text, s.off
	if !final {
		// Detectors never see half a rune: a cut letter would read as
		// punctuation and end a name or word early.
		text = text[:len(text)-partialRune(text)]
	}
	fs, hold := s.c.extraHold(nil, text, final)
	nx := len(fs)
	// The PII detectors rescan from a blank at least piiContext bytes
	// before the held text, not the whole left context.
	w := piiWindow(text, off)
	s.names.from = off - w
	fs, h := s.c.s.scan(fs, text[w:], final, &s.names)
	hold = min(hold, h+w)
	n := nx
	for _, f := range fs[nx:] {
		f.Start += w
		f.End += w
		// A finding wholly in emitted text can neither be emitted again
		// nor move hold past off (see below): skip the source lookup.
		if f.End <= off {
			continue
		}
		if !f.Type.IsSecret() && s.c.piiAllowed(f, text) {
			continue
		}
		fs[n] = f
		n++
	}
	fs = fs[:n]
	// A finding that straddles the hold point waits whole.
	for moved := true; moved; {
		moved = false
		for _, f := range fs {
			if f.Start < hold && f.End > hold {
				hold, moved = f.Start, true
			}
		}
	}
	hold = max(off, hold)
	// The names that start in the text emitted now are decided: keep
	// their words for the rest of the answer, which the window no longer
	// reaches.
	s.names.commit(text[w:], hold-w)
	n = 0
	for _, f := range fs {
		if f.Start >= off && f.End <= hold {
			fs[n] = f
			n++
		}
	}
	fs = fs[:n]
	sortByStart(fs)
	fs = resolveOrdered(fs)
	// Apply works on the emitted slice; shift spans there and back.
	s.local = s.local[:0]
	for i, f := range fs {
		f.Start -= off
		f.End -= off
		s.local = append(s.local, f)
		fs[i].Start += s.base - off
		fs[i].End += s.base - off
	}
	out := s.r.Apply(s.text[off:hold], s.local)
	if len(fs) > 0 || len(out) != hold-off {
		out = strings.Clone(out)
	}
	// Keep at most streamContext emitted bytes; the string is rebuilt by
	// the next Write anyway, so slicing it here costs nothing.
	from := max(0, hold-streamContext)
	s.text = s.text[from:]
	s.off = hold - from
	s.base += hold - off
	if len(fs) == 0 {
		fs = nil
	}
	return out, fs
}

// piiWindow returns where the PII detectors' view of text starts: just
// after a blank at least piiContext bytes before off, or 0.
func piiWindow(text string, off int) int {
	for i := off - piiContext - 1; i >= 0; i-- {
		if isBlank(text[i]) {
			return i + 1
		}
	}
	return 0
}

// partialRune returns the length of an incomplete UTF-8 sequence at the
// end of t (0 if t ends with a whole rune or with invalid bytes).
func partialRune(t string) int {
	for n := 1; n <= min(utf8.UTFMax-1, len(t)); n++ {
		c := t[len(t)-n]
		if c < utf8.RuneSelf {
			return 0
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRuneInString(t[len(t)-n:]) {
				return n
			}
			return 0
		}
	}
	return 0
}

// resolveOrdered drops findings that overlap an earlier one; fs must be
// sorted by Start (output-check findings may overlap PII findings).
func resolveOrdered(fs []Finding) []Finding {
	n, end := 0, -1
	for _, f := range fs {
		if f.Start >= end {
			fs[n] = f
			n++
			end = f.End
		}
	}
	return fs[:n]
}

func sortByStart(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int { return a.Start - b.Start })
}
