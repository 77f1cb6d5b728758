package eval

import (
	"math"
	"slices"
)

// The aligned diff: the claim and its best-aligned passage sentences are
// aligned word by word (longest common subsequence of content words,
// numbers, negation cues and direction words), and each pair of unaligned
// stretches between two anchors is read as an edit. A minimal edit is how a
// true sentence becomes a false one — a negation inserted or dropped, a
// direction reversed, a number or a name replaced — and the diff finds
// these even when the replacement word occurs elsewhere in the passage,
// where bag-of-words checks cannot.

// edits counts the contradicting edits between claim and passage window.
type edits struct {
	negation int // negation added or removed, not compensated by an antonym
	antonym  int // a word replaced by its antonym under the same polarity
	number   int // a number replaced by a different number
	entity   int // a name replaced by a different name
}

// maxGap bounds the unaligned stretches read as one edit: longer ones are
// rewrites, not substitutions.
const maxGap = 4

// diffTok reports whether a token takes part in the alignment.
func (tb *tables) diffTok(t *gtok) bool {
	return t.isNum || t.content() || t.cue || len(tb.antonyms[t.key]) > 0
}

func sameWord(a, b *gtok) bool {
	if a.isNum || b.isNum {
		return a.isNum && b.isNum && numbersAgree(*a, *b)
	}
	if a.cue || b.cue {
		return a.cue && b.cue
	}
	return a.key == b.key || a.stem == b.stem
}

// diff aligns claim tokens with passage tokens and counts contradicting
// edits. inQuestion reports claim numbers the question already contains.
func (tb *tables) diff(claim, passage []gtok, inQuestion func(*gtok) bool) edits {
	var c, p []*gtok
	for i := range claim {
		if tb.diffTok(&claim[i]) {
			c = append(c, &claim[i])
		}
	}
	for i := range passage {
		if tb.diffTok(&passage[i]) {
			p = append(p, &passage[i])
		}
	}
	if len(c) == 0 || len(p) == 0 {
		return edits{}
	}
	pairs := lcsPairs(c, p)
	if len(pairs) == 0 {
		return edits{}
	}
	var e edits
	for _, pr := range pairs {
		a, b := c[pr[0]], p[pr[1]]
		if a.neg != b.neg && (a.negForm || b.negForm) {
			e.negation++ // "dependent" against "independent"
		}
	}
	for k := 0; k <= len(pairs); k++ {
		cLo, pLo := 0, 0
		if k > 0 {
			cLo, pLo = pairs[k-1][0]+1, pairs[k-1][1]+1
		}
		cHi, pHi := len(c), len(p)
		if k < len(pairs) {
			cHi, pHi = pairs[k][0], pairs[k][1]
		}
		// Before the first and after the last anchor, only the passage
		// words next to the anchor can be the counterpart of claim words.
		if k == 0 {
			pLo = max(pLo, pHi-maxGap)
		}
		if k == len(pairs) {
			pHi = min(pHi, pLo+maxGap)
		}
		cg, pg := c[cLo:cHi], p[pLo:pHi]
		if len(cg) == 0 && len(pg) == 0 || len(cg) > maxGap || len(pg) > 2*maxGap {
			continue
		}
		tb.readGap(cg, pg, k == 0 || k == len(pairs), inQuestion, func(a *gtok) bool { return inSeq(a, p) }, &e)
	}
	return e
}

// readGap classifies one pair of unaligned stretches.
//
// At the edges a claim word that the sentence contains elsewhere was moved,
// not replaced, so only internal stretches (between two anchors) count a
// present number or name as a substitution.
func (tb *tables) readGap(cg, pg []*gtok, edge bool, inQuestion, inSentence func(*gtok) bool, e *edits) {
	cues := func(g []*gtok) int {
		n := 0
		for _, t := range g {
			if t.cue {
				n++
			}
		}
		return n
	}
	// Antonym pairs: same polarity contradicts; opposite polarity ("did
	// not increase" against "decreased") agrees and cancels the negation.
	ant, compensated := false, false
	for _, a := range cg {
		for _, b := range pg {
			if slices.Contains(tb.antonyms[a.key], b.key) {
				if a.neg == b.neg {
					ant = true
				} else {
					compensated = true
				}
			}
		}
	}
	if ant {
		e.antonym++
	}
	// A negation cue on one side only, when the stretches are otherwise
	// (nearly) empty: the edit is the negation itself. At the edges the
	// passage side is only context, so a cue there counts only when the
	// claim side has one too few while adding nothing else.
	cc, pc := cues(cg), cues(pg)
	if (cc%2 != pc%2) && !compensated && !ant {
		otherC, otherP := len(cg)-cc, len(pg)-pc
		if otherC <= 1 && otherP <= 1 && !(edge && cc == 0) {
			e.negation++
		}
	}
	// Numbers and names replaced by different ones.
	for _, a := range cg {
		if edge && (a.isNum || a.entity) && inSentence(a) {
			continue
		}
		if a.isNum && !inQuestion(a) {
			found, other := false, false
			for _, b := range pg {
				if b.isNum {
					if numbersAgree(*a, *b) {
						found = true
					} else {
						other = true
					}
				}
			}
			if other && !found {
				e.number++
			}
		}
		if a.entity && !a.isNum {
			for _, b := range pg {
				if b.entity && !b.isNum && !sameWord(a, b) && dice(trigramSet(a.norm), trigramSet(b.norm)) < fuzzyMin {
					e.entity++
					break
				}
			}
		}
	}
}

func inSeq(a *gtok, p []*gtok) bool {
	for _, b := range p {
		if sameWord(a, b) {
			return true
		}
	}
	return false
}

// lcsPairs aligns c and p: the most sameWord pairs in order, and among
// alignments with as many pairs the most compact one in the passage (each
// passage word skipped inside the alignment costs a little), so that a
// claim aligns with one clause rather than with words scattered over two
// sentences.
func lcsPairs(c, p []*gtok) [][2]int {
	const skip = 1e-3
	n, m := len(c), len(p)
	f := make([]float64, (n+1)*(m+1))
	at := func(i, j int) *float64 { return &f[i*(m+1)+j] }
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			best := math.Max(*at(i+1, j), *at(i, j+1)-skip)
			if sameWord(c[i], p[j]) {
				best = math.Max(best, 1+*at(i+1, j+1))
			}
			*at(i, j) = best
		}
	}
	// Leading passage words are free: start where the alignment is best.
	start, bestStart := 0, math.Inf(-1)
	for j := 0; j < m; j++ {
		if v := *at(0, j); v > bestStart+1e-12 {
			start, bestStart = j, v
		}
	}
	var pairs [][2]int
	for i, j := 0, start; i < n && j < m; {
		v := *at(i, j)
		switch {
		case sameWord(c[i], p[j]) && math.Abs(v-(1+*at(i+1, j+1))) < 1e-9:
			pairs = append(pairs, [2]int{i, j})
			i++
			j++
		case math.Abs(v-*at(i+1, j)) < 1e-9:
			i++
		default:
			j++
		}
	}
	return pairs
}
