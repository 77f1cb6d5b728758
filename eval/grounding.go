package eval

import (
	"math"
	"slices"
	"strings"

	"github.com/sextant-ai/sextant"
)

// DefaultThreshold is the support score below which the built-in scorer
// calls a claim unsupported. It was chosen on the development set (the
// SciFact-derived dev set of GroundingSets) as the threshold of best
// balanced accuracy (Youden's J, which unlike F1 does not depend on how
// many unsupported examples a set happens to hold), in steps of 0.05.
const DefaultThreshold = 0.6

// ScorerOptions configures a Scorer. The zero value is the scorer as
// benchmarked in docs/evaluation.md.
type ScorerOptions struct {
	// Threshold is the support score below which a claim is unsupported;
	// 0 means DefaultThreshold.
	Threshold float64
}

// Scorer is the built-in groundedness scorer: it rates how well passages
// support a claim without any model. It is safe for concurrent use.
//
// The score combines coverage — the weighted share of the claim's content
// words found in the passages, by stem, spelling variant, synonym, compound
// or character-trigram similarity, taken both over all passages and over
// the best-aligned sentence pair — with checks that catch what coverage
// misses: numbers absent from the passages, names absent from the
// passages, negation that differs between the claim and the aligned
// sentences, and antonyms of claim words in the aligned sentences.
type Scorer struct {
	tb        *tables
	stems     *stemCache
	threshold float64
}

// NewScorer returns a Scorer configured by o.
func NewScorer(o ScorerOptions) *Scorer {
	t := o.Threshold
	if t <= 0 || t > 1 || math.IsNaN(t) {
		t = DefaultThreshold
	}
	return &Scorer{tb: loadTables(), stems: &stemCache{m: map[string]string{}}, threshold: t}
}

// Threshold returns the score below which a claim is unsupported.
func (s *Scorer) Threshold() float64 { return s.threshold }

// Evidence is a set of passages analysed once for scoring many claims.
type Evidence struct {
	passages []evPassage
	byKey    map[string][]occ // matching key → occurrences
	byNorm   map[string][]occ // folded word → occurrences (fuzzy matches)
	compound map[string][]occ // stem of two hyphen-joined words written as one
	vocab    []fuzzyWord      // distinct content words, for fuzzy matching
	numbers  []gtok           // every number in the passages
}

type evPassage struct {
	text  string
	toks  []gtok
	sents [][2]int // token index ranges, one per sentence
}

// occ is one occurrence of a word: passage p, token t.
type occ struct{ p, t int32 }

type fuzzyWord struct {
	norm string
	tri  []uint64
}

// Evidence analyses passages for Support.
func (s *Scorer) Evidence(passages ...string) *Evidence {
	ev := &Evidence{byKey: map[string][]occ{}, byNorm: map[string][]occ{}, compound: map[string][]occ{}}
	seen := map[string]bool{}
	for pi, text := range passages {
		toks := s.tb.analyze(text, s.stems)
		p := evPassage{text: text, toks: toks}
		for ti := range toks {
			t := &toks[ti]
			if ti == 0 || t.sent != toks[ti-1].sent {
				p.sents = append(p.sents, [2]int{ti, ti})
			}
			p.sents[len(p.sents)-1][1] = ti + 1
			o := occ{int32(pi), int32(ti)}
			if t.isNum {
				ev.numbers = append(ev.numbers, *t)
				continue
			}
			if t.norm == "" {
				continue
			}
			ev.byKey[t.key] = append(ev.byKey[t.key], o)
			if t.key != t.stem {
				ev.byKey[t.stem] = append(ev.byKey[t.stem], o)
			}
			ev.byNorm[t.norm] = append(ev.byNorm[t.norm], o)
			if t.joined && ti > 0 && !toks[ti-1].isNum {
				c := s.stems.stem(toks[ti-1].norm + t.norm)
				ev.compound[c] = append(ev.compound[c], o)
			}
			if !t.stop && !seen[t.norm] && len(t.norm) >= 4 {
				seen[t.norm] = true
				ev.vocab = append(ev.vocab, fuzzyWord{t.norm, trigramSet(t.norm)})
			}
		}
		ev.passages = append(ev.passages, p)
	}
	return ev
}

// Support is the built-in scorer's verdict on one claim.
type Support struct {
	// Score is the support in [0, 1]: 1 fully supported, 0 unsupported or
	// contradicted.
	Score float64
	// Supported is Score >= the scorer's threshold.
	Supported bool
	// Checkable is false when the claim has no content words or numbers
	// ("Yes.", "Here is what I found:"); such a claim scores 1.
	Checkable bool
	// Coverage is the weighted share of the claim's content found in the
	// passages (the mean of global and best-aligned coverage).
	Coverage float64
	// Penalties, each in [0, 1): the share of the score removed by a check.
	Negation float64 // negation differs in the aligned sentences
	Antonym  float64 // an antonym of a claim word stands in the aligned sentences
	Number   float64 // numbers of the claim absent from the passages
	Entity   float64 // names of the claim absent from the passages
	// Passage and Span locate the best-aligned sentences: the index of the
	// passage and the byte span within it (Passage is -1 if nothing aligned).
	Passage int
	Span    [2]int
	// Missing lists claim words and numbers found nowhere in the passages.
	Missing []string
}

// claimTok is a content token of a claim with its weight and matches.
type claimTok struct {
	gtok
	w      float64
	inQ    bool    // the question contains it
	global float64 // best credit anywhere
	occs   []occ   // occurrences that match exactly (stem, synonym, compound)
	syn    []bool  // occs[i] matched through a synonym only
	fuzzy  []occ   // occurrences of the best fuzzy match
	fcred  float64 // credit of fuzzy occurrences
}

const (
	synonymCredit = 0.9
	fuzzyMin      = 0.72 // Dice similarity below which words differ
	questionScale = 0.5  // weight of claim words the question already contains

	// A number or a name that the passages do not contain is the most
	// direct sign of a fabricated claim; each one multiplies the score by
	// its factor.
	missingNumberFactor = 0.4
	missingEntityFactor = 0.5

	// editPenalty is the share of the score removed by a negation or
	// antonym edit found by the aligned diff.
	editPenalty = 0.6
)

// Support scores how well the evidence supports claim. question, when not
// empty, is the user's question: words and numbers the claim shares with it
// weigh less and are not held against the claim when missing, since
// restating the question is not a hallucination.
func (s *Scorer) Support(claim, question string, ev *Evidence) Support {
	res := Support{Passage: -1}
	var ed edits
	qkeys := map[string]bool{}
	var qnums []gtok
	if question != "" {
		for _, t := range s.tb.analyze(question, s.stems) {
			if t.isNum {
				qnums = append(qnums, t)
			} else if t.norm != "" {
				qkeys[t.key] = true
				qkeys[t.stem] = true
			}
		}
	}
	var cts []claimTok
	seen := map[string]bool{}
	var directional []gtok // function words with antonyms ("more", "before")
	claimToks := s.tb.analyze(claim, s.stems)
	for _, t := range claimToks {
		if !t.isNum && !t.content() {
			if !t.cue && len(s.tb.antonyms[t.key]) > 0 {
				directional = append(directional, t)
			}
			continue
		}
		id := t.key
		if t.isNum {
			id = "#" + t.norm
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		ct := claimTok{gtok: t, w: s.weight(&t)}
		if (t.isNum && numberIn(t, qnums)) || (!t.isNum && (qkeys[t.key] || qkeys[t.stem])) {
			ct.w *= questionScale
			ct.inQ = true
		}
		cts = append(cts, ct)
	}
	var total float64
	for i := range cts {
		total += cts[i].w
	}
	if total == 0 {
		res.Score, res.Supported, res.Coverage = 1, true, 1
		return res
	}
	res.Checkable = true

	// Matches of each claim word anywhere in the evidence.
	for i := range cts {
		s.match(&cts[i], ev)
	}
	var global float64
	for i := range cts {
		global += cts[i].w * cts[i].global
	}
	global /= total

	// Best-aligned window: one sentence or two consecutive ones.
	bestCov, bestP, bestLo, bestHi := -1.0, -1, 0, 0
	credit := make([]float64, len(cts))
	for pi, p := range ev.passages {
		for si := range p.sents {
			for width := 1; width <= 2 && si+width <= len(p.sents); width++ {
				lo, hi := p.sents[si][0], p.sents[si+width-1][1]
				var cov float64
				for i := range cts {
					cov += cts[i].w * windowCredit(&cts[i], pi, lo, hi)
				}
				if cov/total > bestCov+1e-12 {
					bestCov, bestP, bestLo, bestHi = cov/total, pi, lo, hi
				}
			}
		}
	}
	local := math.Max(bestCov, 0)
	res.Coverage = 0.5*global + 0.5*local
	score := res.Coverage

	if bestP >= 0 {
		p := ev.passages[bestP]
		res.Passage = bestP
		res.Span = [2]int{p.toks[bestLo].start, p.toks[bestHi-1].end}
		for i := range cts {
			credit[i] = windowCredit(&cts[i], bestP, bestLo, bestHi)
		}
		res.Negation = s.negationPenalty(cts, credit, p.toks, bestP, bestLo, bestHi)
		res.Antonym = s.antonymPenalty(cts, credit, directional, p.toks, bestLo, bestHi, total)
		// The diff reads sentences of the window on their own: a claim's
		// words can also occur in the neighbouring sentence, and aligning
		// across both would hide a substitution. It reads the best-covered
		// sentence, and any other that covers nearly as much of the claim
		// (so a tie does not hide a contradiction), taking the most edits
		// of each kind.
		var sentCov []float64
		var sentRange [][2]int
		bestSent := 0.0
		for _, sr := range p.sents {
			if sr[0] < bestLo || sr[1] > bestHi {
				continue
			}
			var cov float64
			for i := range cts {
				cov += cts[i].w * windowCredit(&cts[i], bestP, sr[0], sr[1])
			}
			sentCov = append(sentCov, cov)
			sentRange = append(sentRange, sr)
			bestSent = math.Max(bestSent, cov)
		}
		for k, sr := range sentRange {
			if sentCov[k] < 0.85*bestSent {
				continue
			}
			e := s.tb.diff(claimToks, p.toks[sr[0]:sr[1]], func(t *gtok) bool { return numberIn(*t, qnums) })
			ed.negation = max(ed.negation, e.negation)
			ed.antonym = max(ed.antonym, e.antonym)
			ed.number = max(ed.number, e.number)
			ed.entity = max(ed.entity, e.entity)
		}
		if ed.negation > 0 {
			res.Negation = math.Max(res.Negation, editPenalty)
		}
		if ed.antonym > 0 {
			res.Antonym = math.Max(res.Antonym, editPenalty)
		}
	}

	// Numbers and names found nowhere.
	missingNum, missingEnt, offWindowNum := 0, 0, 0
	for i := range cts {
		c := &cts[i]
		if c.isNum && c.global > 0 && !c.inQ && bestP >= 0 && credit[i] == 0 {
			offWindowNum++ // in the passages, but not where the claim aligns
		}
		switch {
		case c.isNum && c.global == 0 && !c.inQ:
			missingNum++
			res.Missing = append(res.Missing, claim[c.start:c.end])
		case c.entity && c.global < 0.85 && !c.inQ:
			missingEnt++
			res.Missing = append(res.Missing, claim[c.start:c.end])
		case !c.isNum && c.global == 0:
			res.Missing = append(res.Missing, claim[c.start:c.end])
		}
	}
	missingNum += ed.number
	missingEnt += ed.entity
	res.Number = 1 - math.Pow(missingNumberFactor, float64(missingNum))*math.Pow(0.8, float64(offWindowNum))
	res.Entity = 1 - math.Pow(missingEntityFactor, float64(missingEnt))

	score *= (1 - res.Negation) * (1 - res.Antonym) * (1 - res.Number) * (1 - res.Entity)
	res.Score = clamp01(score)
	res.Supported = res.Score >= s.threshold
	return res
}

func clamp01(x float64) float64 {
	switch {
	case x < 0 || math.IsNaN(x):
		return 0
	case x > 1:
		return 1
	}
	return x
}

// weight is a claim word's importance: numbers and names count most,
// frequent words least.
func (s *Scorer) weight(t *gtok) float64 {
	switch {
	case t.isNum:
		return 1.5
	case t.entity:
		return 1.5
	case t.common:
		return 0.5
	}
	return 1
}

func numberIn(t gtok, nums []gtok) bool {
	for _, n := range nums {
		if numbersAgree(t, n) {
			return true
		}
	}
	return false
}

// numbersAgree reports whether claim number c agrees with passage number p
// to the precision c is written with ("76%" agrees with "76.3%").
func numbersAgree(c, p gtok) bool {
	tol := c.tol
	if tol == 0 {
		tol = 1e-9
	}
	return math.Abs(c.num-p.num) <= tol*(1+1e-9)
}

// match finds the occurrences of c in the evidence and its best credit.
func (s *Scorer) match(c *claimTok, ev *Evidence) {
	if c.isNum {
		for _, n := range ev.numbers {
			if numbersAgree(c.gtok, n) {
				c.global = 1
				break
			}
		}
		if c.global == 1 {
			for pi, p := range ev.passages {
				for ti, t := range p.toks {
					if t.isNum && numbersAgree(c.gtok, t) {
						c.occs = append(c.occs, occ{int32(pi), int32(ti)})
						c.syn = append(c.syn, false)
					}
				}
			}
		}
		return
	}
	add := func(os []occ, syn bool) {
		for _, o := range os {
			c.occs = append(c.occs, o)
			c.syn = append(c.syn, syn)
		}
	}
	add(ev.byKey[c.stem], false)
	if c.key != c.stem {
		for _, o := range ev.byKey[c.key] {
			if !slices.Contains(c.occs, o) {
				c.occs = append(c.occs, o)
				c.syn = append(c.syn, true)
			}
		}
	}
	add(ev.compound[c.stem], false)
	if len(c.occs) > 0 {
		c.global = synonymCredit
		for _, syn := range c.syn {
			if !syn {
				c.global = 1
				break
			}
		}
		return
	}
	// Fuzzy: the most similar word of the passages by character trigrams.
	if len(c.norm) < 4 {
		return
	}
	tri := trigramSet(c.norm)
	best, bestNorm := 0.0, ""
	for _, v := range ev.vocab {
		if l := float64(len(v.norm)) / float64(len(c.norm)); l < 0.6 || l > 1.67 {
			continue
		}
		if d := dice(tri, v.tri); d > best {
			best, bestNorm = d, v.norm
		}
	}
	if best >= fuzzyMin {
		c.fcred = best
		c.fuzzy = ev.byNorm[bestNorm]
		c.global = best
	}
}

// windowCredit is c's best credit among its occurrences in passage p,
// tokens [lo, hi).
func windowCredit(c *claimTok, p, lo, hi int) float64 {
	best := 0.0
	for i, o := range c.occs {
		if int(o.p) == p && int(o.t) >= lo && int(o.t) < hi {
			if !c.syn[i] {
				return 1
			}
			best = synonymCredit
		}
	}
	if best > 0 {
		return best
	}
	for _, o := range c.fuzzy {
		if int(o.p) == p && int(o.t) >= lo && int(o.t) < hi {
			return c.fcred
		}
	}
	return 0
}

// negationPenalty compares the negation of matched words: the weighted
// share of matched claim words whose every occurrence in the window has
// the opposite polarity.
func (s *Scorer) negationPenalty(cts []claimTok, credit []float64, toks []gtok, p, lo, hi int) float64 {
	// A negated claim word whose antonym stands un-negated in the window
	// ("did not increase" against "lowered") agrees with it.
	for i := range cts {
		c := &cts[i]
		for _, a := range s.tb.antonyms[c.key] {
			for t := lo; t < hi; t++ {
				if toks[t].key == a && toks[t].neg != c.neg {
					return 0
				}
			}
		}
	}
	var matched, flipped float64
	for i := range cts {
		c := &cts[i]
		if credit[i] < 0.7 {
			continue
		}
		same, opposite := false, false
		for _, os := range [][]occ{c.occs, c.fuzzy} {
			for _, o := range os {
				if int(o.p) != p || int(o.t) < lo || int(o.t) >= hi {
					continue
				}
				if toks[o.t].neg == c.neg {
					same = true
				} else {
					opposite = true
				}
			}
		}
		matched += c.w
		if opposite && !same {
			flipped += c.w
		}
	}
	if matched == 0 || flipped == 0 {
		return 0
	}
	return math.Min(0.85, 0.3+flipped/matched)
}

// antonymPenalty finds claim words absent from the window whose antonym is
// present there with the same polarity ("increased" against "decreased",
// but not "did not increase" against "decreased").
func (s *Scorer) antonymPenalty(cts []claimTok, credit []float64, directional []gtok, toks []gtok, lo, hi int, total float64) float64 {
	var contra float64
	check := func(c *gtok) bool {
		ants := s.tb.antonyms[c.key]
		if len(ants) == 0 {
			return false
		}
		present := false
		for t := lo; t < hi; t++ {
			if toks[t].key == c.key {
				return false
			}
			present = present || (slices.Contains(ants, toks[t].key) && toks[t].neg == c.neg)
		}
		return present
	}
	for i := range cts {
		c := &cts[i]
		if !c.isNum && credit[i] < 1 && check(&c.gtok) {
			contra += math.Max(c.w, 1)
		}
	}
	for i := range directional {
		if check(&directional[i]) {
			contra++
		}
	}
	if contra == 0 {
		return 0
	}
	return math.Min(0.85, 0.4+contra/total)
}

// AnswerScore is the support of a whole answer against a context, as the
// grounding benchmark computes it: the answer is split into claims, each
// is scored against the context's paragraphs, and the answer's score is
// the mean of its weakest claim's score and the mean claim score (an
// answer is as unsupported as its worst claim, softened by the rest). An
// answer without checkable claims scores 0.5.
func (s *Scorer) AnswerScore(context, question, answer string) float64 {
	ev := s.Evidence(splitParagraphs(context)...)
	claims := Claims(answer)
	if len(claims) == 0 {
		claims = []sextant.Claim{{Text: answer}}
	}
	minScore, sum, n, refusals := 1.0, 0.0, 0, 0
	for _, c := range claims {
		if IsRefusal(c.Text) {
			refusals++ // declining to answer asserts nothing
			continue
		}
		sup := s.Support(c.Text, question, ev)
		if !sup.Checkable {
			continue
		}
		minScore = math.Min(minScore, sup.Score)
		sum += sup.Score
		n++
	}
	if n == 0 && refusals > 0 {
		return 1
	}
	if n == 0 {
		// A bare "Yes." or "No." asserts the question's proposition, or
		// its negation: score that instead.
		if claim, ok := yesNoClaim(question, answer); ok {
			if sup := s.Support(claim, "", ev); sup.Checkable {
				return sup.Score
			}
		}
		return 0.5
	}
	return 0.5*minScore + 0.5*sum/float64(n)
}

var auxiliaries = set("is are was were do does did can could will would should has have had may might must")

// yesNoClaim turns a bare yes/no answer to a question into the claim it
// makes: the question itself for "yes", with "not" after its first
// auxiliary verb (or before it) for "no".
func yesNoClaim(question, answer string) (string, bool) {
	a := strings.ToLower(strings.Trim(strings.TrimSpace(answer), ".!,; "))
	q := strings.TrimSpace(strings.TrimRight(strings.TrimSpace(question), "?"))
	if q == "" {
		return "", false
	}
	switch a {
	case "yes", "yes it is", "yes it does", "correct", "true":
		return q, true
	case "no", "no it is not", "no it does not", "incorrect", "false":
		words := strings.Fields(q)
		for i, w := range words {
			if auxiliaries[strings.ToLower(w)] {
				return strings.Join(append(words[:i+1:i+1], append([]string{"not"}, words[i+1:]...)...), " "), true
			}
		}
		return "not " + q, true
	}
	return "", false
}

// splitParagraphs splits a context at blank lines into passages.
func splitParagraphs(s string) []string {
	var out []string
	for _, p := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n\n") {
		if strings.TrimSpace(p) != "" {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		out = []string{s}
	}
	return out
}
