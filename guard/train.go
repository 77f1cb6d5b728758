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
	// Extra are labelled examples for the combiner only: the n-gram model
	// never sees them (it is trained on the examples alone), so its logit
	// on them is an honest out-of-sample input. They teach the combiner
	// what the training set's narrow topics cannot: that "act as a tour
	// guide" or "from now on, answer in Spanish" is ordinary, and how much
	// a refusal-suppression or password-extraction signal is worth.
	Extra []LabeledText
	// Calibration are benign prompts the thresholds are chosen on (never
	// trained on): Flag is the lowest score at which at most FlagFPR of
	// them are flagged, Block the lowest at which at most BlockFPR are.
	// Without them the thresholds are chosen on the out-of-fold scores of
	// the training examples.
	Calibration []LabeledText
	FlagFPR     float64 // 0 means 0.03
	BlockFPR    float64 // 0 means 0.005
}

// TrainReport summarizes cross-validated (out-of-fold) performance on the
// training data, which is what the thresholds were chosen on.
type TrainReport struct {
	Examples, Positives int
	Extra, Calibration  int // combiner-only examples; benign prompts the thresholds were chosen on
	CalibFPRAtFlag      float64
	CVAUC               float64    // combined score
	CVModelAUC          float64    // n-gram model alone
	Thresholds          Thresholds // chosen on out-of-fold scores
	CVRecallAtFlag      float64
	CVFPRAtFlag         float64
	Combiner            map[string]float64
}

// Floors under the trained thresholds. With a calibration set the
// thresholds come from it (see TrainOptions.Calibration) and the floors
// only guard against a degenerate set; without one, thresholds fitted to
// the training set's benign prompts (short factual questions) would sit
// too low for the varied requests real users send, and the floors keep a
// prompt that shows no attack signal below "flag".
const (
	MinFlag  = 0.25
	MinBlock = 0.7
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
	if opts.FlagFPR == 0 {
		opts.FlagFPR = 0.03
	}
	if opts.BlockFPR == 0 {
		opts.BlockFPR = 0.005
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

	z := make([][numSignals + 1]float64, len(examples), len(examples)+len(opts.Extra))
	for i := range examples {
		z[i] = combinerInput(oof[i], sigs[i])
	}
	zl := slices.Clone(labels)
	for _, e := range opts.Extra {
		fs := new(featureScratch)
		logit := linearLogit(w, b, extractFeatures(fs, e.Text), opts.Bits)
		z = append(z, combinerInput(logit, computeSignals(e.Text, ps)))
		zl = append(zl, boolFloat(e.Injection))
	}
	comb := trainCombiner(z, zl, opts.ModelPenalty)

	inj := &Injection{bits: opts.Bits, weights: w, bias: b, comb: comb, ps: ps}
	combine := func(x [numSignals + 1]float64) float64 {
		s := comb[0]
		for k, v := range x {
			s += comb[k+1] * v
		}
		return sigmoid(s)
	}
	scores := make([]float64, len(examples))
	for i := range examples {
		scores[i] = combine(z[i])
	}
	rep := &TrainReport{Examples: len(examples), Positives: pos, Extra: len(opts.Extra), Calibration: len(opts.Calibration),
		CVModelAUC: AUC(oof, labels), Combiner: map[string]float64{}}
	if len(opts.Calibration) > 0 {
		var cs, cl []float64
		for _, e := range opts.Calibration {
			if e.Injection {
				continue // thresholds are set on benign prompts only
			}
			cs = append(cs, inj.assess(e.Text).Score)
			cl = append(cl, 0)
		}
		// Flag: the lowest threshold within the false-positive budget
		// gives the highest recall; of the thresholds whose recall (on the
		// training attacks, out of fold, and the extra ones) is within a
		// point of it, the highest is taken — the same attacks caught
		// with the widest margin above ordinary prompts.
		lo := max(MinFlag, thresholdAtFPR(cs, cl, opts.FlagFPR))
		ps := positiveScores(scores, labels, z[len(examples):], zl[len(examples):], combine)
		best := recallAt(ps, lo)
		flag := lo
		for _, t := range ps {
			if t > flag && recallAt(ps, t) >= best-0.01 {
				flag = t
			}
		}
		inj.Thresholds.Flag = flag
		inj.Thresholds.Block = max(MinBlock, inj.Thresholds.Flag, thresholdAtFPR(cs, cl, opts.BlockFPR))
		_, rep.CalibFPRAtFlag = rateAt(cs, cl, inj.Thresholds.Flag)
	} else {
		inj.Thresholds.Flag = max(0.5, thresholdAtFPR(scores, labels, 0.05))
		inj.Thresholds.Block = max(0.85, inj.Thresholds.Flag, thresholdAtFPR(scores, labels, 0.01))
	}
	inj.Thresholds.Document = max(inj.Thresholds.Flag, MinDocument)
	rep.Thresholds = inj.Thresholds
	rep.CVAUC = AUC(scores, labels)
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
		l2    = 0.003
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
			target, pen := 0.0, modelPenalty
			if k >= 2 {
				target, pen = signalPrior[k-2], l2
			}
			w[k] -= lr * (grad[k]/n + pen*(w[k]-target))
			if k >= 2 {
				w[k] = min(max(w[k], 0), signalCap[k-2])
			}
		}
	}
	return w
}

// signalPrior is the prior log-odds weight of each signal at 1: 3 for a
// matched attack phrase (evidence on its own), 1 for framings that
// ordinary requests use too (a role, "from now on", "just say", a story),
// 4 for the combinations built from those framings and an attack.
var signalPrior = func() (p [numSignals]float64) {
	for i := range p {
		p[i] = 3
	}
	for _, i := range []int{sigRoleplay, sigNewTask, sigForcing, sigFiction, sigShouting, sigMixedLang, sigSymbols} {
		p[i] = 0.5
	}
	p[sigHarm] = 2
	p[sigFramedHarm], p[sigPersonaJailbreak] = 4, 4
	return p
}()

// positiveScores returns the scores of the attacks: the training
// examples' out-of-fold scores and the extra examples' scores.
func positiveScores(scores, labels []float64, extra [][numSignals + 1]float64, extraLabels []float64, combine func([numSignals + 1]float64) float64) []float64 {
	var out []float64
	for i, s := range scores {
		if labels[i] == 1 {
			out = append(out, s)
		}
	}
	for i, x := range extra {
		if extraLabels[i] == 1 {
			out = append(out, combine(x))
		}
	}
	return out
}

// recallAt is the share of scores at or above t.
func recallAt(scores []float64, t float64) float64 {
	n := 0
	for _, s := range scores {
		if s >= t {
			n++
		}
	}
	return float64(n) / float64(max(1, len(scores)))
}

// signalCap bounds each signal's weight. The framings ordinary requests
// use ("act as a tour guide", "from now on, answer in Spanish", "for my
// story") are capped low: the deepset training set labels many role-play
// requests as injections, and a combiner free to follow it flags every
// "I want you to act as…" prompt. Such a framing raises the score only
// together with an attack signal (the persona_jailbreak and framed_harm
// combinations carry that weight).
var signalCap = func() (c [numSignals]float64) {
	for i := range c {
		c[i] = 8
	}
	c[sigRoleplay], c[sigFiction] = 0, 0
	c[sigNewTask], c[sigForcing] = 0.25, 0.25
	c[sigShouting], c[sigMixedLang], c[sigSymbols] = 1, 1, 1
	return c
}()

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
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
