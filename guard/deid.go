package guard

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// Edit is one replacement made in a text: the bytes [Start, End) of the
// original became Len bytes. Edits are returned sorted and disjoint, so
// offsets into the original can be carried over (Shift).
type Edit struct {
	Start, End, Len int
}

// Shift maps byte offset off of an original text to the text the edits
// produced. An offset inside a replaced span maps to the start of its
// replacement; the end of a replaced span maps to the end of the
// replacement.
func Shift(edits []Edit, off int) int {
	d := 0
	for _, e := range edits {
		switch {
		case off < e.Start:
			return off + d
		case off < e.End:
			return e.Start + d
		}
		d += e.Len - (e.End - e.Start)
	}
	return off + d
}

// ApplyEdits is Apply that also reports the edits it made, for callers
// that must carry offsets over (section spans of an ingested document).
func (r *Redactor) ApplyEdits(text string, fs []Finding) (string, []Edit) {
	if len(fs) == 0 {
		return text, nil
	}
	var b strings.Builder
	b.Grow(len(text))
	var edits []Edit
	last := 0
	for _, f := range fs {
		if f.Start < last || f.End > len(text) || f.Start < 0 {
			continue
		}
		b.WriteString(text[last:f.Start])
		v := text[f.Start:f.End]
		rep := r.replacement(f.Type, v)
		if rep != v {
			edits = append(edits, Edit{Start: f.Start, End: f.End, Len: len(rep)})
		}
		b.WriteString(rep)
		last = f.End
	}
	b.WriteString(text[last:])
	return b.String(), edits
}

// Deidentify replaces every occurrence of a value the vault holds by its
// placeholder — the inverse of Restore — and reports the edits. It is how
// an answer shown to the user with real values is stored with
// placeholders only. Values are matched exactly (longest first where two
// overlap); it runs in time linear in len(text) times the number of
// values.
func (v *Vault) Deidentify(text string) (string, []Edit) {
	v.mu.Lock()
	type pv struct{ p, val string }
	pairs := make([]pv, 0, len(v.values))
	for p, val := range v.values {
		if val != "" {
			pairs = append(pairs, pv{p, val})
		}
	}
	v.mu.Unlock()
	if len(pairs) == 0 {
		return text, nil
	}
	type hit struct {
		start, end int
		p          string
	}
	var hits []hit
	for _, x := range pairs {
		for from := 0; from < len(text); {
			i := strings.Index(text[from:], x.val)
			if i < 0 {
				break
			}
			i += from
			from = i + 1
			// A value is replaced only as a whole token: the name "Al"
			// stays inside "Also".
			if (i > 0 && isWordByte(text[i-1]) && isWordByte(x.val[0])) ||
				(i+len(x.val) < len(text) && isWordByte(text[i+len(x.val)]) && isWordByte(x.val[len(x.val)-1])) {
				continue
			}
			hits = append(hits, hit{i, i + len(x.val), x.p})
			from = i + len(x.val)
		}
	}
	if len(hits) == 0 {
		return text, nil
	}
	slices.SortFunc(hits, func(a, b hit) int {
		if a.start != b.start {
			return a.start - b.start
		}
		return (b.end - b.start) - (a.end - a.start)
	})
	var b strings.Builder
	b.Grow(len(text))
	var edits []Edit
	last := 0
	for _, h := range hits {
		if h.start < last {
			continue
		}
		b.WriteString(text[last:h.start])
		b.WriteString(h.p)
		edits = append(edits, Edit{Start: h.start, End: h.end, Len: len(h.p)})
		last = h.end
	}
	b.WriteString(text[last:])
	return b.String(), edits
}

// Reserve notes the numbered placeholders already present in text
// ([EMAIL_3]) so that the vault numbers new values after them. A
// conversation whose vault was lost (a restart) keeps its stored
// placeholders unambiguous: a new value never reuses an old number.
func (v *Vault) Reserve(text string) {
	for i := 0; i < len(text); i++ {
		if text[i] != '[' {
			continue
		}
		j := i + 1
		for j < len(text) && j-i < maxPlaceholder && (isUpper(text[j]) || isDigit(text[j]) || text[j] == '_') {
			j++
		}
		if j >= len(text) || text[j] != ']' {
			continue
		}
		body := text[i+1 : j]
		k := strings.LastIndexByte(body, '_')
		if k <= 0 {
			continue
		}
		t := Type(body[:k])
		n, err := strconv.Atoi(body[k+1:])
		if err != nil || n <= 0 || typeIndex(t) < 0 {
			continue
		}
		v.mu.Lock()
		if n > v.counts[t] {
			v.counts[t] = n
		}
		v.mu.Unlock()
		i = j
	}
}

// RestoreJSON is Restore for placeholders inside JSON string values (tool
// call arguments): each value is inserted JSON-escaped, so the result is
// still valid JSON.
func (v *Vault) RestoreJSON(text string) string {
	out, _ := v.restoreWith(text, true, func(s string) string {
		b, err := json.Marshal(s)
		if err != nil || len(b) < 2 {
			return s
		}
		return string(b[1 : len(b)-1])
	})
	return out
}
