package eval

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sextant-ai/sextant"
)

// AnswerFunc answers one question of a suite as variant v would. The
// caller (cmd) builds the pipeline each variant describes.
type AnswerFunc func(ctx context.Context, v *Variant, it *Item) (*sextant.Answer, error)

// RetrieveFunc retrieves the first k sources for a question as variant v
// would, for retrieval metrics deeper than the answer's own sources.
type RetrieveFunc func(ctx context.Context, v *Variant, it *Item, k int) ([]sextant.Source, error)

// CostFunc prices a model's token usage in US dollars; priced is false
// when the model has no price.
type CostFunc func(model string, u sextant.Usage) (usd float64, priced bool)

// RunOptions configures Run. Answer is required; every other zero value
// has the documented default.
type RunOptions struct {
	Answer AnswerFunc
	// Retrieve, when set, is called once per question and variant with the
	// deepest k of the suite's retrieval metrics; nil computes retrieval
	// metrics over the answer's sources.
	Retrieve RetrieveFunc
	// Cost prices each answer's usage; nil leaves cost at 0, unpriced.
	Cost CostFunc
	// Grounder scores groundedness; nil means the built-in scorer without
	// a judge.
	Grounder *Grounder
	// Workers answers this many questions at once; 0 means the suite's
	// workers, else runtime.GOMAXPROCS(0).
	Workers int
	// Progress, when set, is called after each answered question (from
	// several goroutines, never at once).
	Progress func(done, total int)
	// Judge names the judge in the report ("" = built-in scorer only).
	Judge string
	Now   func() time.Time // nil = time.Now
	NewID func() string    // run ids; nil = time-ordered random ids
}

// Report is the outcome of a suite run: every variant's metrics and
// per-question results, the prompt A/B differences, and, once checked, the
// gates against a baseline run. It is what the history stores (as JSON) and
// what the JSON and HTML reports show.
type Report struct {
	ID        string    `json:"id"`
	Suite     string    `json:"suite"`
	Dataset   string    `json:"dataset"`
	CreatedAt time.Time `json:"created_at"`
	Seconds   float64   `json:"seconds"`
	Workers   int       `json:"workers"`
	Questions int       `json:"questions"`
	Judge     string    `json:"judge,omitempty"`
	// Metrics are the suite's key metrics, in display order.
	Metrics  []string        `json:"metrics"`
	ABMetric string          `json:"ab_metric,omitempty"`
	Success  []string        `json:"success,omitempty"`
	Variants []VariantReport `json:"variants"`
	Diffs    []Diff          `json:"diffs,omitempty"`
	// Baseline is the run compared with, when there is one.
	Baseline *RunRef      `json:"baseline,omitempty"`
	Gates    []GateResult `json:"gates,omitempty"`
}

// RunRef names a stored run.
type RunRef struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	// Metrics are the baseline's key metrics per variant, for the report.
	Metrics map[string]map[string]float64 `json:"metrics,omitempty"`
}

// Variant returns the variant called name, or nil.
func (r *Report) Variant(name string) *VariantReport {
	for i := range r.Variants {
		if r.Variants[i].Name == name {
			return &r.Variants[i]
		}
	}
	return nil
}

// Failed returns the gates that failed.
func (r *Report) Failed() []GateResult {
	var out []GateResult
	for _, g := range r.Gates {
		if g.Failed {
			out = append(out, g)
		}
	}
	return out
}

// VariantReport is one variant's results.
type VariantReport struct {
	Name      string             `json:"name"`
	Settings  map[string]string  `json:"settings,omitempty"`
	Metrics   map[string]float64 `json:"metrics"`
	Grounding GroundingSummary   `json:"grounding"`
	Errors    int                `json:"errors"`
	Questions []QuestionResult   `json:"questions"`
}

// QuestionResult is one question answered by one variant.
type QuestionResult struct {
	ID        string             `json:"id"`
	Question  string             `json:"question"`
	Reference string             `json:"reference,omitempty"`
	Tags      []string           `json:"tags,omitempty"`
	Relevant  []string           `json:"relevant_ids,omitempty"`
	Answer    string             `json:"answer"`
	Refusal   string             `json:"refusal,omitempty"`
	Model     string             `json:"model,omitempty"`
	Sources   []SourceResult     `json:"sources,omitempty"`
	Claims    []ClaimResult      `json:"claims,omitempty"`
	Metrics   map[string]float64 `json:"metrics"`
	Success   *bool              `json:"success,omitempty"`
	Error     string             `json:"error,omitempty"`
}

// SourceResult is one source an answer was given.
type SourceResult struct {
	N          int    `json:"n"`
	DocumentID string `json:"document_id"`
	ChunkID    string `json:"chunk_id,omitempty"`
	Title      string `json:"title,omitempty"`
	Relevant   bool   `json:"relevant,omitempty"`
	Cited      bool   `json:"cited,omitempty"`
}

// ClaimResult is one claim of an answer and its support.
type ClaimResult struct {
	Text      string  `json:"text"`
	Citations []int   `json:"citations,omitempty"`
	Grounded  []int   `json:"grounded,omitempty"` // citations whose source supports it
	Score     float64 `json:"score"`
	Supported bool    `json:"supported"`
	Checkable bool    `json:"checkable"`
	Verdict   string  `json:"verdict,omitempty"` // the judge's label, when judged
}

// Diff is the prompt A/B comparison of a variant with the first (control)
// variant, question by question, on the suite's A/B metric.
type Diff struct {
	Control string          `json:"control"`
	Variant string          `json:"variant"`
	Metric  string          `json:"metric"`
	Better  int             `json:"better"`
	Worse   int             `json:"worse"`
	Same    int             `json:"same"`
	Changes []QuestionDelta `json:"changes,omitempty"` // questions that changed, largest change first
}

// QuestionDelta is one question's change between two variants.
type QuestionDelta struct {
	ID       string  `json:"id"`
	Question string  `json:"question"`
	Control  float64 `json:"control"`
	Value    float64 `json:"value"`
	Better   bool    `json:"better"`
}

// Run answers every question of d with every variant of s, in parallel
// with bounded workers, scores the answers and returns the report. A
// question whose answer fails is recorded with its error (error_rate) and
// the run goes on; Run fails when ctx ends, when a judge fails, or when
// every question of a variant failed (a configuration problem).
func Run(ctx context.Context, s *Suite, d *Dataset, o RunOptions) (*Report, error) {
	if o.Answer == nil {
		return nil, sextant.Errorf(sextant.EINVALID, "eval: RunOptions.Answer is required")
	}
	if len(d.Items) == 0 {
		return nil, sextant.Errorf(sextant.EINVALID, "eval: dataset %s has no questions", d.Name)
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	g := o.Grounder
	if g == nil {
		g = &Grounder{}
	}
	if g.Scorer == nil {
		g = &Grounder{Scorer: NewScorer(ScorerOptions{}), Judge: g.Judge}
	}
	workers := o.Workers
	if workers <= 0 {
		workers = s.Workers
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	items := d.Items
	if s.Limit > 0 && s.Limit < len(items) {
		items = items[:s.Limit]
	}
	id := newRunID(now())
	if o.NewID != nil {
		id = o.NewID()
	}
	start := now()
	rep := &Report{ID: id, Suite: s.Name, Dataset: d.Name, CreatedAt: start.UTC(), Workers: workers, Questions: len(items),
		Judge: o.Judge, Metrics: s.Metrics, ABMetric: abMetric(s, items)}
	for _, c := range s.Success {
		rep.Success = append(rep.Success, c.Text)
	}
	depths := s.Depths()
	depth := 0
	if len(depths) > 0 {
		depth = depths[len(depths)-1]
	}

	type task struct{ v, q int }
	results := make([][]QuestionResult, len(s.Variants))
	groundings := make([][]*AnswerGrounding, len(s.Variants))
	for i := range results {
		results[i] = make([]QuestionResult, len(items))
		groundings[i] = make([]*AnswerGrounding, len(items))
	}
	tasks := make(chan task)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	var done atomic.Int64
	var progressMu sync.Mutex
	total := len(items) * len(s.Variants)
	for range min(workers, total) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range tasks {
				v, it := &s.Variants[t.v], &items[t.q]
				qr, ag, err := answerOne(ctx, s, v, it, depth, depths, g, o, now)
				if err != nil {
					cancel(err)
					continue
				}
				results[t.v][t.q], groundings[t.v][t.q] = qr, ag
				if o.Progress != nil {
					n := done.Add(1)
					progressMu.Lock()
					o.Progress(int(n), total)
					progressMu.Unlock()
				}
			}
		}()
	}
	// Questions go out in question order across variants, so variants
	// share the machine's load evenly.
feed:
	for q := range items {
		for v := range s.Variants {
			select {
			case tasks <- task{v, q}:
			case <-ctx.Done():
				break feed
			}
		}
	}
	close(tasks)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	for vi := range s.Variants {
		vr := aggregate(&s.Variants[vi], results[vi], groundings[vi])
		if vr.Errors == len(items) {
			return nil, sextant.Errorf(sextant.EINVALID, "eval: variant %q answered no question (first error: %s)", vr.Name, vr.Questions[0].Error)
		}
		rep.Variants = append(rep.Variants, vr)
	}
	rep.Diffs = diffs(rep)
	rep.Seconds = now().Sub(start).Seconds()
	return rep, nil
}

// abMetric is the suite's A/B metric, or f1 when the questions have
// reference answers, else groundedness.
func abMetric(s *Suite, items []Item) string {
	if s.ABMetric != "" {
		return s.ABMetric
	}
	for i := range items {
		if items[i].ReferenceAnswer != "" {
			return MetricF1
		}
	}
	return MetricGroundedness
}

// answerOne answers and scores one question. Only failures that end the
// run (ctx, the judge) are returned; an answer's own failure is recorded.
func answerOne(ctx context.Context, s *Suite, v *Variant, it *Item, depth int, depths []int, g *Grounder, o RunOptions, now func() time.Time) (QuestionResult, *AnswerGrounding, error) {
	qr := QuestionResult{ID: it.ID, Question: it.Question, Reference: it.ReferenceAnswer, Tags: it.Tags, Relevant: it.RelevantIDs,
		Metrics: map[string]float64{}}
	t0 := now()
	a, err := o.Answer(ctx, v, it)
	latency := now().Sub(t0)
	if err == nil && a == nil {
		err = errors.New("no answer")
	}
	if err != nil {
		if ctx.Err() != nil {
			return qr, nil, ctx.Err()
		}
		qr.Error = sextant.ErrorMessage(err)
		return qr, nil, nil
	}
	qr.Answer, qr.Refusal, qr.Model = a.Text, a.Refusal, a.Model
	m := qr.Metrics
	m[MetricLatencyMS] = float64(latency.Microseconds()) / 1000

	// Retrieval.
	sources := a.Sources
	if o.Retrieve != nil && depth > 0 {
		if sources, err = o.Retrieve(ctx, v, it, depth); err != nil {
			if ctx.Err() != nil {
				return qr, nil, ctx.Err()
			}
			qr.Error = "retrieve: " + sextant.ErrorMessage(err)
			return qr, nil, nil
		}
	}
	rel := it.grades()
	if len(it.RelevantIDs) > 0 {
		ranked := it.RankedIDs(sources)
		for _, k := range depths {
			ks := fmt.Sprintf("@%d", k)
			m[MetricNDCG+ks] = NDCGAtK(ranked, rel, k)
			m[MetricRecall+ks] = RecallAtK(ranked, rel, k)
			m[MetricPrecision+ks] = PrecisionAtK(ranked, rel, k)
			m[MetricMRR+ks] = ReciprocalRankAtK(ranked, rel, k)
			m[MetricMAP+ks] = AveragePrecisionAtK(ranked, rel, k)
			m[MetricHitRate+ks] = HitRateAtK(ranked, rel, k)
		}
	}
	cited := map[int]bool{}
	for _, c := range sextant.ParseCitations(a.Text) {
		for _, n := range c.Sources {
			cited[n] = true
		}
	}
	for _, src := range a.Sources {
		sr := SourceResult{N: src.N, DocumentID: src.DocumentID, ChunkID: src.ChunkID, Title: src.Title, Cited: cited[src.N]}
		if ids := it.RankedIDs([]sextant.Source{src}); len(ids) == 1 {
			sr.Relevant = rel[ids[0]] >= 1
		}
		qr.Sources = append(qr.Sources, sr)
	}

	// Groundedness.
	ag, err := g.Ground(ctx, AnswerInput{Question: it.Question, Answer: a.Text, Sources: a.Sources})
	if err != nil {
		return qr, nil, fmt.Errorf("eval: question %s (%s): %w", it.ID, v.Name, err)
	}
	for _, c := range ag.Claims {
		cr := ClaimResult{Text: c.Text, Citations: c.Citations, Grounded: c.GroundedCitations, Score: c.Score,
			Supported: c.Supported, Checkable: c.Retrieved.Checkable}
		if c.Verdict != nil {
			cr.Verdict = c.Verdict.Label
		}
		qr.Claims = append(qr.Claims, cr)
	}
	m[MetricGroundedness] = ag.Groundedness()
	m[MetricHallucinationRate] = ag.HallucinationRate()
	m[MetricAnswerHallucinationRate] = 0
	if ag.Unsupported > 0 {
		m[MetricAnswerHallucinationRate] = 1
	}
	m[MetricCitationCoverage] = ag.CitationCoverage()
	m[MetricGroundedCitationRate] = ag.GroundedCitationRate()

	// The answer itself.
	plain := stripCitations(a.Text)
	refused := a.Refusal != "" || IsRefusal(plain)
	m[MetricAnswered] = 1
	if refused {
		m[MetricAnswered] = 0
	}
	m[MetricRelevance] = g.Scorer.Relevance(it.Question, plain)
	if ref := it.ReferenceAnswer; ref != "" {
		m[MetricExactMatch] = ExactMatch(plain, ref)
		m[MetricF1] = TokenF1(plain, ref)
		m[MetricRougeL] = RougeL(plain, ref, RougeOptions{Stem: true}).F1
		if b, err := SentenceBLEU(plain, []string{ref}, BLEUOptions{EffectiveOrder: true}); err == nil {
			m[MetricBLEU] = b.Score
		}
	}
	m[MetricInputTokens] = float64(a.Usage.InputTokens)
	m[MetricOutputTokens] = float64(a.Usage.OutputTokens)
	m[MetricTokens] = float64(a.Usage.InputTokens + a.Usage.OutputTokens)
	if o.Cost != nil {
		usd, priced := o.Cost(a.Model, a.Usage)
		if a.Cache != "" {
			usd = 0
		}
		m[MetricCostUSD] = usd
		if !priced && a.Usage.InputTokens+a.Usage.OutputTokens > 0 {
			m[MetricUnpricedRate] = 1
		}
	} else {
		m[MetricCostUSD] = 0
	}

	// Task success.
	if len(s.Success) > 0 {
		ok, applied := true, false
		for _, c := range s.Success {
			x, has := m[c.Metric]
			if !has {
				continue
			}
			applied = true
			ok = ok && c.Holds(x)
		}
		if applied {
			qr.Success = &ok
			m[MetricTaskSuccess] = 0
			if ok {
				m[MetricTaskSuccess] = 1
			}
		}
	}
	return qr, &ag, nil
}

// aggregate computes a variant's metrics from its questions.
func aggregate(v *Variant, qs []QuestionResult, gs []*AnswerGrounding) VariantReport {
	vr := VariantReport{Name: v.Name, Settings: v.Settings(), Metrics: map[string]float64{}, Questions: qs}
	sums := map[string]float64{}
	counts := map[string]int{}
	var latencies []float64
	var hyps, refs []string
	unpriced := 0
	for i, q := range qs {
		if q.Error != "" {
			vr.Errors++
			continue
		}
		vr.Grounding.Add(*gs[i])
		for k, x := range q.Metrics {
			if k == MetricBLEU || k == MetricUnpricedRate {
				continue
			}
			sums[k] += x
			counts[k]++
		}
		if q.Metrics[MetricUnpricedRate] > 0 {
			unpriced++
		}
		latencies = append(latencies, q.Metrics[MetricLatencyMS])
		if q.Reference != "" {
			hyps = append(hyps, stripCitations(q.Answer))
			refs = append(refs, q.Reference)
		}
	}
	for k, s := range sums {
		vr.Metrics[k] = s / float64(counts[k])
	}
	for k, x := range vr.Grounding.Metrics() {
		vr.Metrics[k] = x
	}
	answered := len(qs) - vr.Errors
	if answered > 0 {
		vr.Metrics[MetricCostTotal] = sums[MetricCostUSD]
		vr.Metrics[MetricUnpricedRate] = float64(unpriced) / float64(answered)
		slices.Sort(latencies)
		vr.Metrics[MetricLatencyP50] = nearestRank(latencies, 50)
		vr.Metrics[MetricLatencyP95] = nearestRank(latencies, 95)
	}
	vr.Metrics[MetricErrorRate] = float64(vr.Errors) / float64(len(qs))
	if len(hyps) > 0 {
		if b, err := CorpusBLEU(hyps, [][]string{refs}, BLEUOptions{}); err == nil {
			vr.Metrics[MetricBLEU] = b.Score
		}
	}
	return vr
}

// nearestRank is the p-th percentile of sorted xs by the nearest-rank
// method.
func nearestRank(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(xs)))) - 1
	return xs[max(0, min(i, len(xs)-1))]
}

// diffs compares every variant after the first with the first, question
// by question, on the report's A/B metric.
func diffs(r *Report) []Diff {
	if len(r.Variants) < 2 || r.ABMetric == "" {
		return nil
	}
	ctl := &r.Variants[0]
	lower := LowerIsBetter(r.ABMetric)
	var out []Diff
	for vi := 1; vi < len(r.Variants); vi++ {
		v := &r.Variants[vi]
		d := Diff{Control: ctl.Name, Variant: v.Name, Metric: r.ABMetric}
		for qi := range v.Questions {
			a, okA := ctl.Questions[qi].Metrics[r.ABMetric]
			b, okB := v.Questions[qi].Metrics[r.ABMetric]
			if !okA || !okB {
				continue
			}
			if math.Abs(a-b) < 1e-9 {
				d.Same++
				continue
			}
			better := b > a
			if lower {
				better = b < a
			}
			if better {
				d.Better++
			} else {
				d.Worse++
			}
			q := &v.Questions[qi]
			d.Changes = append(d.Changes, QuestionDelta{ID: q.ID, Question: q.Question, Control: a, Value: b, Better: better})
		}
		slices.SortStableFunc(d.Changes, func(x, y QuestionDelta) int {
			dx, dy := math.Abs(x.Value-x.Control), math.Abs(y.Value-y.Control)
			switch {
			case dx > dy:
				return -1
			case dx < dy:
				return 1
			}
			return 0
		})
		out = append(out, d)
	}
	return out
}

// stripCitations removes [n] markers from an answer, for the metrics that
// compare it with a reference.
func stripCitations(text string) string {
	ms := sextant.ParseCitations(text)
	if len(ms) == 0 {
		return strings.TrimSpace(text)
	}
	var b strings.Builder
	prev := 0
	for _, m := range ms {
		b.WriteString(text[prev:m.Start])
		prev = m.End
	}
	b.WriteString(text[prev:])
	out := strings.Join(strings.Fields(b.String()), " ")
	for _, p := range []string{" .", " ,", " ;", " :", " !", " ?"} {
		out = strings.ReplaceAll(out, p, p[1:])
	}
	return out
}

// newRunID returns a run id that sorts by time and reads as one:
// "20260127-113512-3f9a".
func newRunID(t time.Time) string {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return t.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}
