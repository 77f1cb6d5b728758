package eval

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"strings"

	"github.com/sextant-ai/sextant"
)

func errorf(format string, args ...any) error {
	return sextant.Errorf(sextant.EINTERNAL, format, args...)
}

// Grounder scores answers for groundedness: it splits an answer into
// claims, scores each against the passages it cites and against all
// retrieved passages, checks every citation, and, when a Judge is set, asks
// it for the claim's verdict. The zero value uses the built-in scorer only.
type Grounder struct {
	// Scorer is the built-in scorer; nil means NewScorer(ScorerOptions{}).
	Scorer *Scorer
	// Judge, when set, decides whether each claim is supported by the
	// retrieved passages; the built-in scores are still reported. Wrap it
	// in a CachedJudge to reuse verdicts.
	Judge Judge
}

// AnswerInput is one answer to ground.
type AnswerInput struct {
	Question string
	Answer   string
	// Sources are the numbered passages the answer was written from; an
	// answer's "[n]" cites the source with N == n. All of them count as
	// retrieved.
	Sources []sextant.Source
}

// ClaimGrounding is the outcome for one claim.
type ClaimGrounding struct {
	sextant.Claim
	// Retrieved is the built-in support against all sources.
	Retrieved Support
	// Cited is the built-in support against the sources the claim cites
	// (nil when it cites none that exist).
	Cited *Support
	// Verdict is the judge's decision, when a judge is configured.
	Verdict *Verdict
	// Score is the claim's support: the judge's when it judged, else the
	// built-in support against all sources.
	Score float64
	// Supported is the final decision: the judge's label is supported, or
	// without a judge Score reaches the scorer's threshold. Claims without
	// checkable content count as supported.
	Supported bool
	// GroundedCitations lists the cited source numbers whose passage alone
	// supports the claim.
	GroundedCitations []int
}

// AnswerGrounding is the outcome for one answer.
type AnswerGrounding struct {
	Claims []ClaimGrounding
	// Counts behind the rates; a GroundingSummary adds them up.
	Sentences         int // sentences of the answer
	CitedSentences    int // sentences with at least one citation marker
	Citations         int // distinct (sentence, source number) citations
	GroundedCitations int // citations whose passage supports a claim of their sentence
	Checkable         int // claims with checkable content
	Unsupported       int // checkable claims not supported
	SupportSum        float64
}

// Groundedness is the mean support of the answer's checkable claims (1 if
// it has none).
func (a *AnswerGrounding) Groundedness() float64 { return ratio(a.SupportSum, a.Checkable, 1) }

// HallucinationRate is the share of checkable claims that are unsupported.
func (a *AnswerGrounding) HallucinationRate() float64 {
	return ratio(float64(a.Unsupported), a.Checkable, 0)
}

// CitationCoverage is the share of sentences that cite a source.
func (a *AnswerGrounding) CitationCoverage() float64 {
	return ratio(float64(a.CitedSentences), a.Sentences, 0)
}

// GroundedCitationRate is the share of citations whose passage supports
// the sentence citing it (1 when there are no citations).
func (a *AnswerGrounding) GroundedCitationRate() float64 {
	return ratio(float64(a.GroundedCitations), a.Citations, 1)
}

func ratio(num float64, den int, empty float64) float64 {
	if den == 0 {
		return empty
	}
	return num / float64(den)
}

// Ground scores one answer. It fails only when the judge fails or ctx is
// done; a source number cited but absent from Sources counts as an
// ungrounded citation.
func (g *Grounder) Ground(ctx context.Context, in AnswerInput) (AnswerGrounding, error) {
	s := g.Scorer
	if s == nil {
		s = NewScorer(ScorerOptions{})
	}
	byN := map[int]int{} // source number → index in in.Sources
	texts := make([]string, len(in.Sources))
	for i, src := range in.Sources {
		texts[i] = src.Text
		byN[src.N] = i
	}
	all := s.Evidence(texts...)
	single := map[int]*Evidence{}
	evidenceOf := func(ns []int) (*Evidence, bool) {
		var ts []string
		for _, n := range ns {
			if i, ok := byN[n]; ok {
				ts = append(ts, texts[i])
			}
		}
		if len(ts) == 0 {
			return nil, false
		}
		if len(ns) == 1 {
			if ev, ok := single[ns[0]]; ok {
				return ev, true
			}
			ev := s.Evidence(ts...)
			single[ns[0]] = ev
			return ev, true
		}
		return s.Evidence(ts...), true
	}

	var out AnswerGrounding
	sents := sextant.SplitSentences(in.Answer)
	out.Sentences = len(sents)
	grounded := map[[2]int]bool{} // (sentence, n) → grounded
	for si, sent := range sents {
		if len(sent.Citations) > 0 {
			out.CitedSentences++
		}
		for _, n := range sent.Citations {
			grounded[[2]int{si, n}] = false
		}
	}
	for _, c := range Claims(in.Answer) {
		if err := ctx.Err(); err != nil {
			return AnswerGrounding{}, err
		}
		cg := ClaimGrounding{Claim: c, Retrieved: s.Support(c.Text, in.Question, all)}
		if IsRefusal(c.Text) {
			// Declining to answer asserts nothing that could be unsupported.
			cg.Retrieved = Support{Score: 1, Supported: true, Coverage: 1, Passage: -1}
		}
		if ev, ok := evidenceOf(c.Citations); ok {
			sup := s.Support(c.Text, in.Question, ev)
			cg.Cited = &sup
		}
		for _, n := range c.Citations {
			ev, ok := evidenceOf([]int{n})
			if ok && s.Support(c.Text, in.Question, ev).Supported {
				cg.GroundedCitations = append(cg.GroundedCitations, n)
				grounded[[2]int{c.Sentence, n}] = true
			}
		}
		cg.Score, cg.Supported = cg.Retrieved.Score, cg.Retrieved.Supported
		if g.Judge != nil && cg.Retrieved.Checkable {
			v, err := g.Judge.JudgeClaim(ctx, JudgeRequest{Question: in.Question, Claim: c.Text, Passages: texts})
			if err != nil {
				return AnswerGrounding{}, fmt.Errorf("judging claim %q: %w", c.Text, err)
			}
			if err := validVerdict(v); err != nil {
				return AnswerGrounding{}, err
			}
			cg.Verdict = &v
			cg.Score, cg.Supported = v.Support, v.Label == VerdictSupported
		}
		if cg.Retrieved.Checkable {
			out.Checkable++
			out.SupportSum += cg.Score
			if !cg.Supported {
				out.Unsupported++
			}
		}
		out.Claims = append(out.Claims, cg)
	}
	out.Citations = len(grounded)
	for _, ok := range grounded {
		if ok {
			out.GroundedCitations++
		}
	}
	return out, nil
}

// GroundingSummary adds up answer groundings for a suite run or for live
// traffic. The zero value is empty and ready to use; it is not safe for
// concurrent use.
type GroundingSummary struct {
	Answers                int     `json:"answers"`
	AnswersWithUnsupported int     `json:"answers_with_unsupported"`
	Claims                 int     `json:"claims"` // checkable claims
	UnsupportedClaims      int     `json:"unsupported_claims"`
	SupportSum             float64 `json:"support_sum"`
	Sentences              int     `json:"sentences"`
	CitedSentences         int     `json:"cited_sentences"`
	Citations              int     `json:"citations"`
	GroundedCitations      int     `json:"grounded_citations"`
}

// Add counts one answer.
func (s *GroundingSummary) Add(a AnswerGrounding) {
	s.Answers++
	if a.Unsupported > 0 {
		s.AnswersWithUnsupported++
	}
	s.Claims += a.Checkable
	s.UnsupportedClaims += a.Unsupported
	s.SupportSum += a.SupportSum
	s.Sentences += a.Sentences
	s.CitedSentences += a.CitedSentences
	s.Citations += a.Citations
	s.GroundedCitations += a.GroundedCitations
}

// Merge adds the counts of o.
func (s *GroundingSummary) Merge(o GroundingSummary) {
	s.Answers += o.Answers
	s.AnswersWithUnsupported += o.AnswersWithUnsupported
	s.Claims += o.Claims
	s.UnsupportedClaims += o.UnsupportedClaims
	s.SupportSum += o.SupportSum
	s.Sentences += o.Sentences
	s.CitedSentences += o.CitedSentences
	s.Citations += o.Citations
	s.GroundedCitations += o.GroundedCitations
}

// Groundedness is the mean support over all checkable claims (1 when there
// are none).
func (s GroundingSummary) Groundedness() float64 { return ratio(s.SupportSum, s.Claims, 1) }

// HallucinationRate is the share of checkable claims that are unsupported.
func (s GroundingSummary) HallucinationRate() float64 {
	return ratio(float64(s.UnsupportedClaims), s.Claims, 0)
}

// AnswerHallucinationRate is the share of answers with at least one
// unsupported claim.
func (s GroundingSummary) AnswerHallucinationRate() float64 {
	return ratio(float64(s.AnswersWithUnsupported), s.Answers, 0)
}

// CitationCoverage is the share of sentences that carry a citation.
func (s GroundingSummary) CitationCoverage() float64 {
	return ratio(float64(s.CitedSentences), s.Sentences, 0)
}

// GroundedCitationRate is the share of citations whose passage supports
// the sentence citing it (1 when there are no citations).
func (s GroundingSummary) GroundedCitationRate() float64 {
	return ratio(float64(s.GroundedCitations), s.Citations, 1)
}

// Metrics returns the summary's rates by the names suites and gates use.
func (s GroundingSummary) Metrics() map[string]float64 {
	return map[string]float64{
		"groundedness":              s.Groundedness(),
		"hallucination_rate":        s.HallucinationRate(),
		"answer_hallucination_rate": s.AnswerHallucinationRate(),
		"citation_coverage":         s.CitationCoverage(),
		"grounded_citation_rate":    s.GroundedCitationRate(),
	}
}

// refusalRE matches answers that decline to answer.
var refusalRE = regexp.MustCompile(`(?i)^\W*(?:i (?:do not|don't|cannot|can't|could not|couldn't) (?:know|find|answer|say|tell|determine)|(?:sorry|unfortunately),?\s+(?:but\s+)?(?:i|we)\b|there is (?:no|not enough) information|the (?:provided |given )?(?:context|sources?|documents?|passages?) (?:do(?:es)? not|don't|doesn't) (?:contain|provide|mention|say|include))`)

// IsRefusal reports whether an answer declines to answer ("I don't know",
// "The sources do not mention ...").
func IsRefusal(answer string) bool { return refusalRE.MatchString(strings.TrimSpace(answer)) }

// Relevance is the built-in answer relevance in [0, 1]: the weighted share
// of the question's content words (by stem, synonym, spelling variant and
// character-trigram similarity, numbers by value) that the answer takes
// up. A refusal scores 0. It measures whether the answer addresses what was
// asked, not whether it is right; an LLM judge or embeddings
// (EmbeddingRelevance) capture paraphrase better.
func (s *Scorer) Relevance(question, answer string) float64 {
	if IsRefusal(answer) {
		return 0
	}
	sup := s.Support(question, "", s.Evidence(answer))
	if !sup.Checkable {
		return 0
	}
	return sup.Coverage
}

// EmbeddingRelevance is answer relevance from embeddings: the cosine
// similarity of the question's and the answer's vectors, clipped to
// [0, 1]. A refusal scores 0.
func EmbeddingRelevance(ctx context.Context, embed sextant.EmbedFunc, question, answer string) (float64, error) {
	if IsRefusal(answer) {
		return 0, nil
	}
	vs, err := embed(ctx, []string{question, answer})
	if err != nil {
		return 0, fmt.Errorf("embedding question and answer: %w", err)
	}
	if len(vs) != 2 || len(vs[0]) != len(vs[1]) || len(vs[0]) == 0 {
		return 0, sextant.Errorf(sextant.EINTERNAL, "embedder returned %d vectors of mismatched or zero length", len(vs))
	}
	var dot, na, nb float64
	for i := range vs[0] {
		a, b := float64(vs[0][i]), float64(vs[1][i])
		dot += a * b
		na += a * a
		nb += b * b
	}
	if na == 0 || nb == 0 {
		return 0, nil
	}
	return clamp01(dot / math.Sqrt(na*nb)), nil
}
