package guard

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// LabeledText is one training or evaluation example for the injection
// scorer.
type LabeledText struct {
	Text      string `json:"text"`
	Injection bool   `json:"-"`
	Label     int    `json:"label"` // 1 = injection or jailbreak, 0 = benign
}

// ReadLabeled reads JSON Lines of {"text": "...", "label": 0|1}. name is
// used in errors.
func ReadLabeled(r io.Reader, name string) ([]LabeledText, error) {
	var out []LabeledText
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var ex LabeledText
		if err := json.Unmarshal(b, &ex); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		if ex.Label != 0 && ex.Label != 1 {
			return nil, fmt.Errorf("%s:%d: label must be 0 or 1, got %d", name, line, ex.Label)
		}
		ex.Injection = ex.Label == 1
		out = append(out, ex)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// TrainOptions configures TrainInjection. Zero values mean the defaults.
type TrainOptions struct {
	Bits   uint    // hash size in bits; 0 means 18
	Epochs int     // passes of the n-gram model; 0 means 30
	L2     float64 // weight decay of the n-gram model; 0 means 1e-4
	Folds  int     // cross-validation folds for the combiner; 0 means 5
	Seed   uint64  // shuffling seed; training is deterministic for a seed
	// ModelPenalty is the combiner's L2 penalty on the n-gram model's
	// weight; 0 means 0.5. A larger penalty leans on the hand-written
	// signals, which generalize beyond the training set's topics.
	ModelPenalty float64
}

// TrainReport summarizes cross-validated (out-of-fold) performance on the
// training data, which is what the thresholds were chosen on.
type TrainReport struct {
	Examples, Positives int
	CVAUC               float64    // combined score
	CVModelAUC          float64    // n-gram model alone
	Thresholds          Thresholds // chosen on out-of-fold scores
	CVRecallAtFlag      float64
	CVFPRAtFlag         float64
	Combiner            map[string]float64
}

// Floors under the trained thresholds. The training set's benign prompts
// are short factual questions, so thresholds fitted to them alone sit too
// low for the varied requests real users send; the floors keep a prompt
// that shows no attack signal below "flag".
const (
	MinFlag  = 0.5
	MinBlock = 0.85
	// MinDocument was set by inspecting testdata/documents_dev.jsonl:
	// retrieved chunks are scored per window and the highest window
	// counts, so a chunk needs one strong or two ordinary attack signals
	// to reach it, while ordinary prose, manuals included, stays near 0.3.
	MinDocument = 0.7
)

// TrainInjection trains the scorer: the hashed n-gram logistic model on
// all examples, and the combiner on out-of-fold model logits plus the
// signals, so the combiner learns how far to trust the model on text it has
// not seen. Thresholds are set on the out-of-fold combined scores: Flag at
// a 5% false-positive rate on benign examples, Block at 1%, each no lower
// than its floor; Document is MinDocument (or Flag if higher).
func TrainInjection(examples []LabeledText, opts TrainOptions) (*Injection, *TrainReport, error) {
	if opts.Bits == 0 {
		opts.Bits = 18
	}
	if opts.Epochs == 0 {
		opts.Epochs = 30
	}
	if opts.L2 == 0 {
		opts.L2 = 1e-4
	}
	if opts.Folds == 0 {
		opts.Folds = 5
	}
	if opts.ModelPenalty == 0 {
		opts.ModelPenalty = 0.5
	}
	pos := 0
	for _, e := range examples {
		if e.Injection {
			pos++
		}
	}
	if pos == 0 || pos == len(examples) || len(examples) < 2*opts.Folds {
		return nil, nil, fmt.Errorf("train injection: need both labels and at least %d examples, got %d (%d positive)", 2*opts.Folds, len(examples), pos)
	}
	ps := defaultPatterns()
	feats := make([][]uint32, len(examples))
	sigs := make([][numSignals]float64, len(examples))
	labels := make([]float64, len(examples))
	for i, e := range examples {
		fs := new(featureScratch)
		feats[i] = slices.Clone(extractFeatures(fs, e.Text))
		sigs[i] = computeSignals(e.Text, ps)
		if e.Injection {
			labels[i] = 1
		}
	}
	// Stratified folds from a seeded shuffle.
	rng := rand.New(rand.NewPCG(opts.Seed, 0x5e47a47))
	order := rng.Perm(len(examples))
	fold := make([]int, len(examples))
	np, nn := 0, 0
	for _, i := range order {
		if labels[i] == 1 {
			fold[i] = np % opts.Folds
			np++
		} else {
			fold[i] = nn % opts.Folds
			nn++
		}
	}
	oof := make([]float64, len(examples))
	for f := 0; f < opts.Folds; f++ {
		var idx []int
		for i := range examples {
			if fold[i] != f {
				idx = append(idx, i)
			}
		}
		w, b := trainLogistic(feats, labels, idx, opts, rng)
		for i := range examples {
			if fold[i] == f {
				oof[i] = linearLogit(w, b, feats[i], opts.Bits)
			}
		}
	}
	all := make([]int, len(examples))
	for i := range all {
		all[i] = i
	}
	w, b := trainLogistic(feats, labels, all, opts, rng)

	z := make([][numSignals + 1]float64, len(examples))
	for i := range examples {
		z[i] = combinerInput(oof[i], sigs[i])
	}
	comb := trainCombiner(z, labels, opts.ModelPenalty)

	inj := &Injection{bits: opts.Bits, weights: w, bias: b, comb: comb, ps: ps}
	scores := make([]float64, len(examples))
	for i := range examples {
		s := comb[0]
		for k, v := range z[i] {
			s += comb[k+1] * v
		}
		scores[i] = sigmoid(s)
	}
	inj.Thresholds.Flag = max(MinFlag, thresholdAtFPR(scores, labels, 0.05))
	inj.Thresholds.Block = max(MinBlock, inj.Thresholds.Flag, thresholdAtFPR(scores, labels, 0.01))
	inj.Thresholds.Document = max(inj.Thresholds.Flag, MinDocument)

	rep := &TrainReport{Examples: len(examples), Positives: pos, Thresholds: inj.Thresholds,
		CVAUC: AUC(scores, labels), CVModelAUC: AUC(oof, labels), Combiner: map[string]float64{}}
	rep.CVRecallAtFlag, rep.CVFPRAtFlag = rateAt(scores, labels, inj.Thresholds.Flag)
	rep.Combiner["bias"] = comb[0]
	rep.Combiner["model"] = comb[1]
	for i, n := range signalNames {
		rep.Combiner[n] = comb[i+2]
	}
	return inj, rep, nil
}

// trainLogistic fits the hashed n-gram logistic model with AdaGrad and L2
// decay on the examples idx, visiting them in a seeded order each epoch.
func trainLogistic(feats [][]uint32, labels []float64, idx []int, opts TrainOptions, rng *rand.Rand) ([]float32, float64) {
	n := 1 << opts.Bits
	mask := uint32(n - 1)
	w := make([]float64, n)
	g2 := make([]float64, n)
	bias, bg2 := 0.0, 0.0
	const lr = 0.5
	order := slices.Clone(idx)
	for ep := 0; ep < opts.Epochs; ep++ {
		rng.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
		for _, i := range order {
			fs := feats[i]
			if len(fs) == 0 {
				continue
			}
			scale := 1 / math.Sqrt(float64(len(fs)))
			s := bias
			for _, f := range fs {
				s += w[f&mask] * scale
			}
			g := sigmoid(s) - labels[i]
			bg2 += g * g
			bias -= lr * g / math.Sqrt(bg2+1e-8)
			for _, f := range fs {
				k := f & mask
				gk := g*scale + opts.L2*w[k]
				g2[k] += gk * gk
				w[k] -= lr * gk / math.Sqrt(g2[k]+1e-8)
			}
		}
	}
	out := make([]float32, n)
	for i, v := range w {
		out[i] = float32(v)
	}
	return out, bias
}

// trainCombiner fits a logistic regression of labels on z by full-batch
// gradient descent with L2 penalties toward priors (see signalPrior).
// Signal weights are kept
// non-negative: a signal may raise the score, never lower it, so the
// combiner cannot learn to excuse an attack for showing a signal the
// training data happened to contain mostly in benign text.
func trainCombiner(z [][numSignals + 1]float64, labels []float64, modelPenalty float64) [numSignals + 2]float64 {
	var w [numSignals + 2]float64
	const (
		iters = 4000
		lr    = 0.5
		l2    = 0.02
		// signalPrior is the prior log-odds weight of a signal at 1.
		signalPrior = 3.0
	)
	n := float64(len(z))
	for it := 0; it < iters; it++ {
		var grad [numSignals + 2]float64
		for i, x := range z {
			s := w[0]
			for k, v := range x {
				s += w[k+1] * v
			}
			g := sigmoid(s) - labels[i]
			grad[0] += g
			for k, v := range x {
				grad[k+1] += g * v
			}
		}
		w[0] -= lr * grad[0] / n
		for k := 1; k < len(w); k++ {
			// The model weight shrinks toward 0; signal weights toward
			// signalPrior, the belief that a matched attack phrase is
			// evidence on its own, which the data may adjust either way.
			target, pen := signalPrior, l2
			if k == 1 {
				target, pen = 0, modelPenalty
			}
			w[k] -= lr * (grad[k]/n + pen*(w[k]-target))
			if k >= 2 && w[k] < 0 {
				w[k] = 0
			}
		}
	}
	return w
}

// thresholdAtFPR returns the lowest score threshold whose false-positive
// rate on the negatives is at most fpr.
func thresholdAtFPR(scores, labels []float64, fpr float64) float64 {
	var neg []float64
	for i, s := range scores {
		if labels[i] == 0 {
			neg = append(neg, s)
		}
	}
	sort.Float64s(neg)
	allowed := int(math.Floor(fpr * float64(len(neg))))
	// Scores strictly above neg[len-allowed-1] keep at most `allowed`
	// negatives; nudge the threshold just above that score.
	k := len(neg) - allowed - 1
	if k < 0 {
		return 0
	}
	return math.Nextafter(neg[k], 2)
}

// rateAt returns the true- and false-positive rates at threshold th.
func rateAt(scores, labels []float64, th float64) (tpr, fpr float64) {
	var tp, fp, p, n float64
	for i, s := range scores {
		if labels[i] == 1 {
			p++
			if s >= th {
				tp++
			}
		} else {
			n++
			if s >= th {
				fp++
			}
		}
	}
	if p > 0 {
		tpr = tp / p
	}
	if n > 0 {
		fpr = fp / n
	}
	return tpr, fpr
}

// AUC is the area under the ROC curve of scores against 0/1 labels (ties
// count half).
func AUC(scores, labels []float64) float64 {
	type pair struct{ s, l float64 }
	ps := make([]pair, len(scores))
	for i := range scores {
		ps[i] = pair{scores[i], labels[i]}
	}
	sort.Slice(ps, func(a, b int) bool { return ps[a].s < ps[b].s })
	var rankSum, npos, nneg float64
	for i := 0; i < len(ps); {
		j := i
		for j < len(ps) && ps[j].s == ps[i].s {
			j++
		}
		avg := float64(i+j+1) / 2 // average 1-based rank of the tie group
		for k := i; k < j; k++ {
			if ps[k].l == 1 {
				rankSum += avg
				npos++
			} else {
				nneg++
			}
		}
		i = j
	}
	if npos == 0 || nneg == 0 {
		return 0
	}
	return (rankSum - npos*(npos+1)/2) / (npos * nneg)
}

// TPRAtFPR returns the best true-positive rate reachable with a threshold
// whose false-positive rate is at most fpr.
func TPRAtFPR(scores, labels []float64, fpr float64) float64 {
	tpr, _ := rateAt(scores, labels, thresholdAtFPR(scores, labels, fpr))
	return tpr
}
