package rag

import (
	"slices"
	"strings"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/search"
)

// cite maps the answer's markers to sources and checks every sentence
// against the sources it cites, quoting the best supporting span with its
// byte offsets in the document.
func (r *run) cite() {
	res := r.res
	res.Sources = r.sources
	n := len(r.sources)
	res.Citations = res.Citations[:0]
	for _, m := range sextant.ParseCitations(res.Text) {
		valid := m.Sources[len(m.Sources)-1] <= n
		res.Citations = append(res.Citations, Citation{Start: m.Start, End: m.End, Sources: m.Sources, Valid: valid})
	}
	var passages []*passage // analysed lazily, per source
	if r.p.opts.Support == nil {
		passages = make([]*passage, n)
	}
	quoted := make([]bool, n)
	res.Sentences = res.Sentences[:0]
	for _, s := range sextant.SplitSentences(res.Text) {
		as := sextant.AnswerSentence{Start: s.Start, End: s.End, Text: s.Text}
		for _, c := range s.Citations {
			if c <= n {
				as.Citations = append(as.Citations, c)
			}
		}
		claim := r.p.claimOf(s.Text, r.question)
		if claim.empty() {
			as.Supported, as.Support = true, 1
		}
		for _, c := range as.Citations {
			src := &r.sources[c-1]
			var score float64
			var lo, hi int
			if passages != nil {
				if passages[c-1] == nil {
					passages[c-1] = r.p.analyzePassage(src.Text)
				}
				score, lo, hi = claim.support(passages[c-1])
			} else {
				score, lo, hi = r.p.support(s.Text, r.question, src.Text)
				lo, hi = max(0, min(lo, len(src.Text))), max(0, min(hi, len(src.Text)))
				lo = min(lo, hi)
			}
			ev := sextant.Evidence{N: c, Score: score, Start: src.Start + lo, End: src.Start + hi, Quote: src.Text[lo:hi]}
			as.Evidence = append(as.Evidence, ev)
			if score > as.Support || claim.empty() {
				as.Support = max(as.Support, score)
			}
			if !quoted[c-1] && score >= r.p.threshold {
				quoted[c-1] = true
				src.Quote = ev.Quote
			}
		}
		slices.SortStableFunc(as.Evidence, func(a, b sextant.Evidence) int {
			switch {
			case a.Score > b.Score:
				return -1
			case a.Score < b.Score:
				return 1
			}
			return 0
		})
		if !claim.empty() {
			as.Supported = as.Support >= r.p.threshold
		}
		res.Sentences = append(res.Sentences, as)
	}
}

// The built-in support check is lexical: the share of a sentence's terms
// (search analyzer: folded, stemmed, stop words dropped) found in the cited
// passage — taken over the whole passage and over the best window of one
// or two consecutive passage sentences, averaged — with terms the question
// already contains weighing half, and a number absent from the passage
// halving the score. The best window is the quote. Generated text that
// copies or closely paraphrases its source scores near 1; a sentence that
// brings words, names or numbers the source lacks scores low.

// claim is an analysed sentence.
type claim struct {
	terms   []string
	weights []float64
	total   float64
	numbers []bool
}

func (c *claim) empty() bool { return c.total == 0 }

func (p *Pipeline) claimOf(sentence, question string) claim {
	var c claim
	var q []string
	if question != "" {
		q = p.analyzer.Terms(question)
	}
	for _, t := range p.analyzer.Terms(sentence) {
		if slices.Contains(c.terms, t) {
			continue
		}
		w := 1.0
		if slices.Contains(q, t) {
			w = 0.5
		}
		c.terms = append(c.terms, t)
		c.weights = append(c.weights, w)
		c.numbers = append(c.numbers, isNumeric(t))
		c.total += w
	}
	return c
}

func isNumeric(t string) bool {
	for i := 0; i < len(t); i++ {
		if (t[i] < '0' || t[i] > '9') && t[i] != '.' {
			return false
		}
	}
	return t != ""
}

// passage is an analysed source text: its sentences' spans and term sets.
type passage struct {
	all   map[string]bool
	spans [][2]int
	sets  []map[string]bool
}

func (p *Pipeline) analyzePassage(text string) *passage {
	ps := &passage{all: map[string]bool{}}
	toks := p.analyzer.Tokens(text)
	k := 0
	for _, s := range passageUnits(text) {
		set := map[string]bool{}
		for k < len(toks) && toks[k].Start < s[1] {
			if toks[k].Start >= s[0] {
				set[toks[k].Term] = true
			}
			ps.all[toks[k].Term] = true
			k++
		}
		ps.spans = append(ps.spans, s)
		ps.sets = append(ps.sets, set)
	}
	for ; k < len(toks); k++ {
		ps.all[toks[k].Term] = true
	}
	return ps
}

// support scores c against ps and returns the best window's span.
func (c *claim) support(ps *passage) (float64, int, int) {
	if c.empty() {
		return 1, 0, 0
	}
	var global float64
	missingNumber := false
	for i, t := range c.terms {
		if ps.all[t] {
			global += c.weights[i]
		} else if c.numbers[i] {
			missingNumber = true
		}
	}
	// Single sentences first: a pair is quoted only when it covers more.
	best, lo, hi := -1.0, 0, 0
	for w := 1; w <= 2; w++ {
		for j := 0; j+w <= len(ps.sets); j++ {
			var cov float64
			for i, t := range c.terms {
				if ps.sets[j][t] || (w == 2 && ps.sets[j+1][t]) {
					cov += c.weights[i]
				}
			}
			if cov > best+1e-9 {
				best, lo, hi = cov, ps.spans[j][0], ps.spans[j+w-1][1]
			}
		}
	}
	if best < 0 {
		best = 0
	}
	score := (global + best) / (2 * c.total)
	if missingNumber {
		score *= 0.5
	}
	return score, lo, hi
}

// lexicalSupport is the built-in check as a SupportFunc.
func lexicalSupport(a *search.Analyzer) SupportFunc {
	p := &Pipeline{analyzer: a}
	return func(sentence, question, text string) (float64, int, int) {
		c := p.claimOf(sentence, question)
		return c.support(p.analyzePassage(text))
	}
}

// passageUnits returns the byte spans of a passage's quotable units, in
// order: the sentences of its prose, and each line of its tables and fenced
// code blocks (which have no sentence punctuation, and whose lines are
// what an answer quotes).
func passageUnits(text string) [][2]int {
	var out [][2]int
	para := -1 // start of the prose run being collected
	flush := func(end int) {
		if para < 0 {
			return
		}
		for _, s := range sextant.SplitSentences(text[para:end]) {
			out = append(out, [2]int{para + s.Start, para + s.End})
		}
		para = -1
	}
	fence := false
	off := 0
	for line := range strings.Lines(text) {
		start := off
		off += len(line)
		l := strings.TrimSpace(line)
		isFence := strings.HasPrefix(l, "```") || strings.HasPrefix(l, "~~~")
		if isFence || fence || strings.HasPrefix(l, "|") {
			flush(start)
			if isFence {
				fence = !fence
			} else if l != "" {
				lo := start + strings.Index(line, l)
				out = append(out, [2]int{lo, lo + len(l)})
			}
			continue
		}
		if para < 0 {
			para = start
		}
	}
	flush(len(text))
	return out
}
