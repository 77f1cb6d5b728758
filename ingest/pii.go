package ingest

// Replacement is one rewrite a PIIFunc made in a text: the bytes
// [Start, End) of the original became Len bytes.
type Replacement struct {
	Start, End, Len int
}

// PIIFunc applies a collection's personal-data policy to a document's text
// before it is chunked and stored (redact, mask, hash or allow per type):
// it returns the text to store and the replacements it made, sorted by
// Start and disjoint, so the offsets of the document's sections can be
// carried over. It must be safe for concurrent use.
type PIIFunc func(text string) (string, []Replacement)

// shiftOffset maps byte offset off of the original text to the rewritten
// one: an offset inside a replaced span maps to the start of its
// replacement, the end of a replaced span to the end of the replacement.
func shiftOffset(reps []Replacement, off int) int {
	d := 0
	for _, r := range reps {
		switch {
		case off < r.Start:
			return off + d
		case off < r.End:
			return r.Start + d
		}
		d += r.Len - (r.End - r.Start)
	}
	return off + d
}

// applyPII rewrites ex with f, carrying the sections' offsets over.
func applyPII(f PIIFunc, ex *Extracted) {
	text, reps := f(ex.Text)
	if len(reps) == 0 {
		return
	}
	ex.Text = text
	for i := range ex.Sections {
		s := &ex.Sections[i]
		s.Start, s.Body, s.End = shiftOffset(reps, s.Start), shiftOffset(reps, s.Body), shiftOffset(reps, s.End)
	}
}
