package guard

import "slices"

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
type Stream struct {
	c       *OutputChecker
	r       *Redactor
	ctx     string // the last emitted bytes, kept as left context for detectors
	pending string // received, not yet emitted
	base    int    // offset of pending in the whole answer
}

// streamContext is how many emitted bytes are kept as left context: more
// than any detector looks back (48 bytes), and enough for a prompt-leak
// run of words.
const streamContext = 256

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
	s.pending += delta
	return s.step(false)
}

// Flush ends the answer and returns everything still held back.
func (s *Stream) Flush() (string, []Finding) { return s.step(true) }

// Held reports how many bytes are held back.
func (s *Stream) Held() int { return len(s.pending) }

func (s *Stream) step(final bool) (string, []Finding) {
	text := s.ctx + s.pending
	off := len(s.ctx)
	fs, h2 := s.c.extraHold(nil, text, final)
	nx := len(fs)
	fs, hold := s.c.s.scan(fs, text, final)
	fs = append(fs[:nx], s.c.allowPII(fs[nx:], text)...)
	hold = min(hold, h2)
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
	n := 0
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
	local := make([]Finding, len(fs))
	for i, f := range fs {
		local[i] = f
		local[i].Start -= off
		local[i].End -= off
		fs[i].Start += s.base - off
		fs[i].End += s.base - off
	}
	out := s.r.Apply(text[off:hold], local)
	emitted := text[:hold]
	if len(emitted) > streamContext {
		emitted = emitted[len(emitted)-streamContext:]
	}
	s.ctx = emitted
	s.pending = text[hold:]
	s.base += hold - off
	if len(fs) == 0 {
		fs = nil
	}
	return out, fs
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
