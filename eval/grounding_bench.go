package eval

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sextant-ai/sextant"
)

// GroundingExample is one labelled example of the grounding benchmark: an
// answer, the context it should be grounded in, and whether it is.
type GroundingExample struct {
	Context  string `json:"context"`
	Question string `json:"question,omitempty"`
	Answer   string `json:"answer"`
	Label    int    `json:"label"`            // 1 supported by the context, 0 not
	Subset   string `json:"subset,omitempty"` // optional: reported separately
	Source   string `json:"source,omitempty"` // optional provenance, e.g. "scifact:CLAIM:DOC"
}

// maxExampleBytes bounds one JSONL line.
const maxExampleBytes = 16 << 20

// ReadGroundingExamples reads JSON Lines of GroundingExample. Blank lines
// are skipped; every other line must be an object with a non-empty context
// and answer and a label of 0 or 1. Errors name the line.
func ReadGroundingExamples(r io.Reader) ([]GroundingExample, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxExampleBytes)
	var out []GroundingExample
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var raw struct {
			Context  *string         `json:"context"`
			Question string          `json:"question"`
			Answer   *string         `json:"answer"`
			Label    json.RawMessage `json:"label"`
			Subset   string          `json:"subset"`
			Source   string          `json:"source"`
		}
		if err := json.Unmarshal(b, &raw); err != nil {
			return nil, sextant.Errorf(sextant.EINVALID, "line %d: not a JSON object: %v", line, err)
		}
		switch {
		case raw.Context == nil || strings.TrimSpace(*raw.Context) == "":
			return nil, sextant.Errorf(sextant.EINVALID, "line %d: missing or empty \"context\"", line)
		case raw.Answer == nil || strings.TrimSpace(*raw.Answer) == "":
			return nil, sextant.Errorf(sextant.EINVALID, "line %d: missing or empty \"answer\"", line)
		}
		label, ok := parseLabel(raw.Label)
		if !ok {
			return nil, sextant.Errorf(sextant.EINVALID, "line %d: \"label\" must be 0 or 1 (or true/false), got %s", line, orNone(raw.Label))
		}
		out = append(out, GroundingExample{Context: *raw.Context, Question: raw.Question, Answer: *raw.Answer, Label: label, Subset: raw.Subset, Source: raw.Source})
	}
	if err := sc.Err(); err != nil {
		return nil, sextant.Errorf(sextant.EINVALID, "reading examples: %w", err)
	}
	if len(out) == 0 {
		return nil, sextant.Errorf(sextant.EINVALID, "no examples")
	}
	return out, nil
}

func parseLabel(raw json.RawMessage) (int, bool) {
	switch strings.TrimSpace(string(raw)) {
	case "1", "1.0", "true":
		return 1, true
	case "0", "0.0", "false":
		return 0, true
	}
	return 0, false
}

func orNone(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "nothing"
	}
	return string(raw)
}

// GroundingReport is the outcome of the grounding benchmark. Detection
// figures treat an unsupported answer (label 0) as the positive class: an
// answer is flagged when its support score is below Threshold.
type GroundingReport struct {
	Examples  int     `json:"examples"`
	AUC       float64 `json:"auc"` // ROC AUC of (1 − support) for detecting label 0
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Threshold float64 `json:"threshold"`
	P50ms     float64 `json:"p50_ms"` // median time to score one example
	P99ms     float64 `json:"p99_ms,omitempty"`
	// Subsets reports each subset named in the data, when any is.
	Subsets []SubsetReport `json:"subsets,omitempty"`
	// Pairs reports, within each group of subsets sharing a prefix before
	// '-' ("scifact-support", "scifact-contradict"), the AUC of each
	// supported subset against each unsupported one.
	Pairs []PairReport `json:"pairs,omitempty"`
}

// SubsetReport describes one subset of the examples.
type SubsetReport struct {
	Name      string  `json:"name"`
	Examples  int     `json:"examples"`
	Label     float64 `json:"label"`      // mean label: 1 all supported, 0 none
	MeanScore float64 `json:"mean_score"` // mean support score
	Accuracy  float64 `json:"accuracy"`   // share classified correctly at the threshold
	// AUC is the AUC of this subset against all examples of the other
	// label (NaN when the file has none).
	AUC float64 `json:"auc"`
}

// PairReport is the AUC of one supported subset against one unsupported
// subset.
type PairReport struct {
	Supported   string  `json:"supported"`
	Unsupported string  `json:"unsupported"`
	AUC         float64 `json:"auc"`
}

// BenchGrounding scores every example with s.AnswerScore and reports how
// well the score separates supported from unsupported answers. threshold
// 0 means the scorer's own threshold. It stops early when ctx is done.
func BenchGrounding(ctx context.Context, s *Scorer, exs []GroundingExample, threshold float64) (GroundingReport, error) {
	if threshold <= 0 {
		threshold = s.Threshold()
	}
	scores := make([]float64, len(exs))
	times := make([]float64, len(exs))
	for i, e := range exs {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return GroundingReport{}, err
			}
		}
		start := time.Now()
		scores[i] = s.AnswerScore(e.Context, e.Question, e.Answer)
		times[i] = float64(time.Since(start).Nanoseconds()) / 1e6
	}
	rep := GroundingReport{Examples: len(exs), Threshold: threshold}
	labels := make([]int, len(exs))
	for i, e := range exs {
		labels[i] = e.Label
	}
	rep.AUC = DetectionAUC(scores, labels)
	rep.Precision, rep.Recall, rep.F1 = detectionPRF(scores, labels, threshold)
	slices.Sort(times)
	rep.P50ms = quantile(times, 0.5)
	rep.P99ms = quantile(times, 0.99)

	bySubset := map[string][]int{}
	for i, e := range exs {
		if e.Subset != "" {
			bySubset[e.Subset] = append(bySubset[e.Subset], i)
		}
	}
	names := make([]string, 0, len(bySubset))
	for n := range bySubset {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		idx := bySubset[n]
		sr := SubsetReport{Name: n, Examples: len(idx)}
		var labelSum, scoreSum, correct float64
		for _, i := range idx {
			labelSum += float64(labels[i])
			scoreSum += scores[i]
			if (scores[i] >= threshold) == (labels[i] == 1) {
				correct++
			}
		}
		k := float64(len(idx))
		sr.Label, sr.MeanScore, sr.Accuracy = labelSum/k, scoreSum/k, correct/k
		// AUC of this subset against the examples of the other label.
		var sub []float64
		var subLabels []int
		for _, i := range idx {
			sub = append(sub, scores[i])
			subLabels = append(subLabels, labels[i])
		}
		for i := range exs {
			if exs[i].Subset != n && ((sr.Label == 1 && labels[i] == 0) || (sr.Label == 0 && labels[i] == 1)) {
				sub = append(sub, scores[i])
				subLabels = append(subLabels, labels[i])
			}
		}
		sr.AUC = DetectionAUC(sub, subLabels)
		rep.Subsets = append(rep.Subsets, sr)
	}
	for _, a := range names {
		for _, b := range names {
			ga, _, okA := strings.Cut(a, "-")
			gb, _, okB := strings.Cut(b, "-")
			if !okA || !okB || ga != gb || !allLabel(exs, bySubset[a], 1) || !allLabel(exs, bySubset[b], 0) {
				continue
			}
			var sub []float64
			var subLabels []int
			for _, i := range append(slices.Clone(bySubset[a]), bySubset[b]...) {
				sub = append(sub, scores[i])
				subLabels = append(subLabels, labels[i])
			}
			rep.Pairs = append(rep.Pairs, PairReport{Supported: a, Unsupported: b, AUC: DetectionAUC(sub, subLabels)})
		}
	}
	return rep, nil
}

func allLabel(exs []GroundingExample, idx []int, label int) bool {
	for _, i := range idx {
		if exs[i].Label != label {
			return false
		}
	}
	return len(idx) > 0
}

// DetectionAUC is the ROC AUC of detecting label 0 by a low support score:
// the probability that a random unsupported example (label 0) scores
// below a random supported one (label 1), ties counting one half. It is
// NaN when either label is absent.
func DetectionAUC(support []float64, labels []int) float64 {
	type pt struct {
		s float64
		l int
	}
	pts := make([]pt, len(support))
	var pos, neg float64
	for i := range support {
		pts[i] = pt{support[i], labels[i]}
		if labels[i] == 1 {
			pos++
		} else {
			neg++
		}
	}
	if pos == 0 || neg == 0 {
		return math.NaN()
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i].s < pts[j].s })
	// Mann–Whitney: sum of the ranks of the supported examples, with ties
	// given their average rank.
	var rankSum float64
	for i := 0; i < len(pts); {
		j := i
		for j < len(pts) && pts[j].s == pts[i].s {
			j++
		}
		avg := float64(i+j+1) / 2 // ranks i+1..j
		for k := i; k < j; k++ {
			if pts[k].l == 1 {
				rankSum += avg
			}
		}
		i = j
	}
	return (rankSum - pos*(pos+1)/2) / (pos * neg)
}

// detectionPRF is precision, recall and F1 of flagging label 0 when the
// support score is below threshold.
func detectionPRF(support []float64, labels []int, threshold float64) (p, r, f float64) {
	var tp, fp, fn float64
	for i, s := range support {
		flagged := s < threshold
		switch {
		case flagged && labels[i] == 0:
			tp++
		case flagged:
			fp++
		case labels[i] == 0:
			fn++
		}
	}
	if tp+fp > 0 {
		p = tp / (tp + fp)
	}
	if tp+fn > 0 {
		r = tp / (tp + fn)
	}
	if p+r > 0 {
		f = 2 * p * r / (p + r)
	}
	return p, r, f
}

// quantile returns the q-quantile of sorted xs (nearest rank).
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
