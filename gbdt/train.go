package gbdt

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
)

// Params are the training hyper-parameters. The zero value of each field
// selects the default in its comment.
type Params struct {
	Loss         Loss    `json:"loss,omitempty"`          // default LossLogistic
	Rounds       int     `json:"rounds,omitempty"`        // boosting rounds (trees); default 100
	LearningRate float64 `json:"learning_rate,omitempty"` // shrinkage; default 0.1
	// MaxDepth limits tree depth; default 6, negative means unlimited.
	MaxDepth int `json:"max_depth,omitempty"`
	// MaxLeaves limits leaves per tree; trees grow best-gain leaf first.
	// Default 2^MaxDepth (so a depth limit alone grows full-depth trees),
	// 31 when depth is unlimited.
	MaxLeaves int `json:"max_leaves,omitempty"`
	// MinChildWeight is the least hessian sum in a child; default 1.
	MinChildWeight float64 `json:"min_child_weight,omitempty"`
	// Lambda is the L2 penalty on leaf values; default 1 (use a tiny
	// positive value for none). Alpha is the L1 penalty; default 0.
	Lambda float64 `json:"lambda,omitempty"`
	Alpha  float64 `json:"alpha,omitempty"`
	// MinSplitGain is the least loss reduction a split must bring; default 0.
	MinSplitGain float64 `json:"min_split_gain,omitempty"`
	// Subsample is the fraction of rows each tree sees; ColSample the
	// fraction of features. Default 1 (all).
	Subsample float64 `json:"subsample,omitempty"`
	ColSample float64 `json:"colsample,omitempty"`
	// MaxBins bounds the bins of a numeric feature, at most 255; default 255.
	MaxBins int `json:"max_bins,omitempty"`
	// CatSmooth is added to the hessian sum when ordering categories by
	// gradient ratio, damping rare categories; default 0.
	CatSmooth float64 `json:"cat_smooth,omitempty"`
	// EarlyStopping stops training when the validation loss has not
	// improved for this many rounds and keeps the best round; 0 disables.
	// Without a validation set, ValidFraction of the training rows
	// (default 0.1, stratified for LossLogistic) are held out.
	EarlyStopping int     `json:"early_stopping,omitempty"`
	ValidFraction float64 `json:"valid_fraction,omitempty"`
	Seed          uint64  `json:"seed,omitempty"`
	// Threads bounds the goroutines used; 0 means GOMAXPROCS. The result
	// does not depend on it.
	Threads int `json:"-"`
}

func (p Params) withDefaults() Params {
	if p.Loss == "" {
		p.Loss = LossLogistic
	}
	if p.Rounds == 0 {
		p.Rounds = 100
	}
	if p.LearningRate == 0 {
		p.LearningRate = 0.1
	}
	if p.MaxDepth == 0 {
		p.MaxDepth = 6
	}
	if p.MaxLeaves == 0 {
		if p.MaxDepth > 0 && p.MaxDepth < 16 {
			p.MaxLeaves = 1 << p.MaxDepth
		} else {
			p.MaxLeaves = 31
		}
	}
	if p.MinChildWeight == 0 {
		p.MinChildWeight = 1
	}
	if p.Lambda == 0 {
		p.Lambda = 1
	}
	if p.Subsample == 0 {
		p.Subsample = 1
	}
	if p.ColSample == 0 {
		p.ColSample = 1
	}
	if p.MaxBins == 0 {
		p.MaxBins = 255
	}
	if p.ValidFraction == 0 {
		p.ValidFraction = 0.1
	}
	if p.Threads <= 0 {
		p.Threads = runtime.GOMAXPROCS(0)
	}
	return p
}

func (p Params) validate() error {
	switch {
	case p.Loss != LossLogistic && p.Loss != LossSquared:
		return fmt.Errorf("gbdt: unknown loss %q", p.Loss)
	case p.Rounds < 0:
		return fmt.Errorf("gbdt: rounds %d < 0", p.Rounds)
	case !(p.LearningRate > 0) || p.LearningRate > 1:
		return fmt.Errorf("gbdt: learning rate %v outside (0,1]", p.LearningRate)
	case p.MaxLeaves < 2:
		return fmt.Errorf("gbdt: max leaves %d < 2", p.MaxLeaves)
	case p.MinChildWeight < 0, p.Lambda < 0, p.Alpha < 0, p.MinSplitGain < 0, p.CatSmooth < 0:
		return fmt.Errorf("gbdt: min child weight, lambda, alpha, min split gain and cat smooth must be >= 0")
	case !(p.Subsample > 0) || p.Subsample > 1:
		return fmt.Errorf("gbdt: subsample %v outside (0,1]", p.Subsample)
	case !(p.ColSample > 0) || p.ColSample > 1:
		return fmt.Errorf("gbdt: colsample %v outside (0,1]", p.ColSample)
	case p.MaxBins < 2 || p.MaxBins > 255:
		return fmt.Errorf("gbdt: max bins %d outside [2,255]", p.MaxBins)
	case p.EarlyStopping < 0:
		return fmt.Errorf("gbdt: early stopping %d < 0", p.EarlyStopping)
	case !(p.ValidFraction > 0) || p.ValidFraction >= 1:
		return fmt.Errorf("gbdt: valid fraction %v outside (0,1)", p.ValidFraction)
	}
	return nil
}

// Train fits a model to train. When p.EarlyStopping > 0 it monitors valid,
// or holds out part of train when valid is nil. Training checks ctx
// between rounds.
func Train(ctx context.Context, train, valid *Data, p Params) (*Model, error) {
	p = p.withDefaults()
	if err := p.validate(); err != nil {
		return nil, err
	}
	if err := train.Validate(p.Loss); err != nil {
		return nil, err
	}
	if valid != nil {
		if err := valid.Validate(p.Loss); err != nil {
			return nil, fmt.Errorf("validation data: %w", err)
		}
		if len(valid.Features) != len(train.Features) {
			return nil, fmt.Errorf("gbdt: validation data has %d features, training data %d", len(valid.Features), len(train.Features))
		}
	}
	if p.EarlyStopping > 0 && valid == nil {
		tr, va := holdOut(train, p.ValidFraction, p.Loss, p.Seed)
		if len(tr) == 0 || len(va) == 0 {
			return nil, fmt.Errorf("gbdt: %d rows are too few to hold out a validation set", train.Rows())
		}
		train, valid = train.subset(tr), train.subset(va)
	}
	b := newTrainer(train, p)
	return b.run(ctx, valid)
}

// holdOut splits row indexes into a training and a validation part,
// stratified by label for the logistic loss.
func holdOut(d *Data, frac float64, loss Loss, seed uint64) (tr, va []int) {
	rng := rand.New(rand.NewPCG(seed, 0x401d_0e7))
	groups := [][]int{nil}
	if loss == LossLogistic {
		groups = [][]int{nil, nil}
	}
	for i, y := range d.Label {
		g := 0
		if loss == LossLogistic {
			g = int(y)
		}
		groups[g] = append(groups[g], i)
	}
	for _, g := range groups {
		rng.Shuffle(len(g), func(i, j int) { g[i], g[j] = g[j], g[i] })
		k := int(math.Round(frac * float64(len(g))))
		va = append(va, g[:k]...)
		tr = append(tr, g[k:]...)
	}
	slices.Sort(tr)
	slices.Sort(va)
	return tr, va
}

type hbin struct{ g, h float64 }

// split is a candidate split of a leaf, in bin space.
type split struct {
	gain        float64
	feature     int
	thr         int // numeric: bins <= thr go left
	cat         bool
	left        [4]uint64 // categorical: bins that go left (missing bin included)
	defaultLeft bool
	gl, hl      float64
	gr, hr      float64
}

type leaf struct {
	node       int
	begin, end int
	depth      int
	hist       []hbin
	g, h       float64
	best       split
}

type trainer struct {
	p     Params
	d     *Data
	bn    *binner
	bins  []uint8 // row-major
	F, n  int
	grad  []float64
	hess  []float64
	pred  []float64
	rows  []int32
	tmp   []int32
	rng   *rand.Rand
	feats []bool // features the current tree may split on
	pool  [][]hbin
}

func newTrainer(d *Data, p Params) *trainer {
	t := &trainer{p: p, d: d, F: len(d.Features), n: d.Rows()}
	t.bn = newBinner(d, p.MaxBins, p.Seed)
	t.bins = t.bn.binRows(d)
	t.grad = make([]float64, t.n)
	t.hess = make([]float64, t.n)
	t.pred = make([]float64, t.n)
	t.rows = make([]int32, t.n)
	t.tmp = make([]int32, t.n+1)
	t.feats = make([]bool, t.F)
	t.rng = rand.New(rand.NewPCG(p.Seed, 0xb005_7ed))
	return t
}

func (t *trainer) baseScore() float64 {
	var sw, sy float64
	for i, y := range t.d.Label {
		w := t.weight(i)
		sw += w
		sy += w * y
	}
	if sw == 0 {
		return 0
	}
	mean := sy / sw
	if t.p.Loss == LossLogistic {
		mean = min(max(mean, 1e-6), 1-1e-6)
		return math.Log(mean / (1 - mean))
	}
	return mean
}

func (t *trainer) weight(i int) float64 {
	if t.d.Weight == nil {
		return 1
	}
	return t.d.Weight[i]
}

func (t *trainer) run(ctx context.Context, valid *Data) (*Model, error) {
	p := t.p
	m := &Model{Loss: p.Loss, Features: slices.Clone(t.d.Features), Base: t.baseScore(), Params: p}
	m.Params.Threads = 0 // not part of the model: results do not depend on it
	for i := range t.pred {
		t.pred[i] = m.Base
	}
	var vpred []float64
	var vrows [][]float64
	if valid != nil {
		vpred = make([]float64, valid.Rows())
		vrows = rowsOf(valid)
		for i := range vpred {
			vpred[i] = m.Base
		}
	}
	best, bestLoss := 0, math.Inf(1)
	for round := 0; round < p.Rounds; round++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t.gradients()
		tree := t.grow()
		m.Trees = append(m.Trees, tree)
		if valid != nil {
			for i, x := range vrows {
				vpred[i] += tree.Nodes[tree.leaf(x)].Value
			}
			l := meanLoss(p.Loss, valid.Label, valid.Weight, vpred)
			m.ValidLoss = append(m.ValidLoss, l)
			if l < bestLoss {
				best, bestLoss = round+1, l
			}
			if p.EarlyStopping > 0 && round+1-best >= p.EarlyStopping {
				break
			}
		}
	}
	if p.EarlyStopping > 0 && best > 0 {
		m.Trees = m.Trees[:best]
		m.BestRound = best
	}
	return m, nil
}

// rowsOf returns d row by row.
func rowsOf(d *Data) [][]float64 {
	out := make([][]float64, d.Rows())
	flat := make([]float64, d.Rows()*len(d.Columns))
	for i := range out {
		out[i] = flat[i*len(d.Columns) : (i+1)*len(d.Columns)]
	}
	for j, c := range d.Columns {
		for i, v := range c {
			out[i][j] = v
		}
	}
	return out
}

// meanLoss is the weighted mean training loss of margins pred.
func meanLoss(loss Loss, y, w, pred []float64) float64 {
	var s, sw float64
	for i, f := range pred {
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		var l float64
		if loss == LossLogistic {
			// log(1+exp(f)) - y*f, stable.
			l = math.Max(f, 0) - y[i]*f + math.Log1p(math.Exp(-math.Abs(f)))
		} else {
			l = (f - y[i]) * (f - y[i])
		}
		s += wi * l
		sw += wi
	}
	return s / sw
}

// gradients fills grad and hess from the current predictions.
func (t *trainer) gradients() {
	t.parallelRange(t.n, 1<<14, func(lo, hi int) {
		y, w := t.d.Label, t.d.Weight
		for i := lo; i < hi; i++ {
			var g, h float64
			if t.p.Loss == LossLogistic {
				pr := sigmoid(t.pred[i])
				g, h = pr-y[i], pr*(1-pr)
				if h < 1e-16 {
					h = 1e-16
				}
			} else {
				g, h = t.pred[i]-y[i], 1
			}
			if w != nil {
				g, h = g*w[i], h*w[i]
			}
			t.grad[i], t.hess[i] = g, h
		}
	})
}

// parallelRange runs fn over [0,n) in chunks of at least minChunk on up to
// p.Threads goroutines. Each index is handled by exactly one call, so the
// result does not depend on the thread count.
func (t *trainer) parallelRange(n, minChunk int, fn func(lo, hi int)) {
	k := min(t.p.Threads, n/minChunk)
	if k <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	for c := range k {
		lo, hi := c*n/k, (c+1)*n/k
		wg.Go(func() { fn(lo, hi) })
	}
	wg.Wait()
}

func (t *trainer) getHist() []hbin {
	if k := len(t.pool); k > 0 {
		h := t.pool[k-1]
		t.pool = t.pool[:k-1]
		clear(h)
		return h
	}
	return make([]hbin, t.bn.total)
}

func (t *trainer) putHist(h []hbin) { t.pool = append(t.pool, h) }

// buildHist accumulates the gradients of rows into hist. Features are
// divided among goroutines, each summing its features in row order, so the
// sums are identical whatever the thread count.
func (t *trainer) buildHist(rows []int32, hist []hbin) {
	F, off := t.F, t.bn.off
	k := min(t.p.Threads, F, len(rows)*F/(1<<15))
	if k <= 1 {
		for _, r := range rows {
			g, h := t.grad[r], t.hess[r]
			base := int(r) * F
			for f, b := range t.bins[base : base+F] {
				e := &hist[off[f]+int(b)]
				e.g += g
				e.h += h
			}
		}
		return
	}
	var wg sync.WaitGroup
	for c := range k {
		f0, f1 := c*F/k, (c+1)*F/k
		wg.Go(func() {
			for _, r := range rows {
				g, h := t.grad[r], t.hess[r]
				base := int(r) * F
				for f := f0; f < f1; f++ {
					e := &hist[off[f]+int(t.bins[base+f])]
					e.g += g
					e.h += h
				}
			}
		})
	}
	wg.Wait()
}

// sampleRows fills t.rows with this tree's rows and returns how many.
func (t *trainer) sampleRows() int {
	k := 0
	if t.p.Subsample >= 1 {
		for i := range t.n {
			t.rows[i] = int32(i)
		}
		return t.n
	}
	for i := range t.n {
		if t.rng.Float64() < t.p.Subsample {
			t.rows[k] = int32(i)
			k++
		}
	}
	return k
}

func (t *trainer) sampleFeatures() {
	if t.p.ColSample >= 1 {
		for j := range t.feats {
			t.feats[j] = true
		}
		return
	}
	k := max(1, int(math.Round(t.p.ColSample*float64(t.F))))
	perm := t.rng.Perm(t.F)
	clear(t.feats)
	for _, j := range perm[:k] {
		t.feats[j] = true
	}
}

// grow builds one tree on the current gradients and adds its output to the
// training predictions.
func (t *trainer) grow() Tree {
	p := t.p
	nrows := t.sampleRows()
	t.sampleFeatures()
	tree := Tree{Nodes: []Node{{Feature: -1}}}
	root := &leaf{node: 0, begin: 0, end: nrows, hist: t.getHist()}
	t.buildHist(t.rows[:nrows], root.hist)
	for _, r := range t.rows[:nrows] {
		root.g += t.grad[r]
		root.h += t.hess[r]
	}
	t.findSplit(root)
	leaves := []*leaf{root}
	for len(leaves) < p.MaxLeaves {
		bi := -1
		for i, l := range leaves {
			if l.best.gain > 0 && (bi < 0 || l.best.gain > leaves[bi].best.gain) {
				bi = i
			}
		}
		if bi < 0 {
			break
		}
		l := leaves[bi]
		s := l.best
		mid := t.partition(l, &s)
		ln, rn := len(tree.Nodes), len(tree.Nodes)+1
		tree.Nodes = append(tree.Nodes, Node{Feature: -1}, Node{Feature: -1})
		tree.Nodes[l.node] = t.node(&s, ln, rn, l.h)
		left := &leaf{node: ln, begin: l.begin, end: mid, depth: l.depth + 1, g: s.gl, h: s.hl}
		right := &leaf{node: rn, begin: mid, end: l.end, depth: l.depth + 1, g: s.gr, h: s.hr}
		small, large := left, right
		if small.end-small.begin > large.end-large.begin {
			small, large = right, left
		}
		small.hist = t.getHist()
		t.buildHist(t.rows[small.begin:small.end], small.hist)
		large.hist = l.hist // parent minus the smaller child
		for i, e := range small.hist {
			large.hist[i].g -= e.g
			large.hist[i].h -= e.h
		}
		l.hist = nil
		for _, c := range [2]*leaf{left, right} {
			t.findSplit(c)
			if c.best.gain <= 0 { // a leaf for good: its histogram is not needed
				t.putHist(c.hist)
				c.hist = nil
			}
		}
		leaves[bi] = left
		leaves = append(leaves, right)
	}
	for _, l := range leaves {
		w := p.LearningRate * leafWeight(l.g, l.h, p.Lambda, p.Alpha)
		tree.Nodes[l.node].Value = w
		tree.Nodes[l.node].Cover = l.h
		if l.hist != nil {
			t.putHist(l.hist)
		}
	}
	if nrows == t.n {
		for _, l := range leaves {
			w := tree.Nodes[l.node].Value
			for _, r := range t.rows[l.begin:l.end] {
				t.pred[r] += w
			}
		}
	} else {
		t.parallelRange(t.n, 1<<14, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				t.pred[i] += tree.Nodes[t.binLeaf(&tree, i)].Value
			}
		})
	}
	return tree
}

// node converts a bin-space split into a model node.
func (t *trainer) node(s *split, left, right int, cover float64) Node {
	n := Node{Feature: s.feature, Left: left, Right: right, DefaultLeft: s.defaultLeft, Cover: cover, Gain: s.gain}
	if s.cat {
		n.Categorical = true
		n.Categories = []uint32{}
		for b := range t.bn.nb[s.feature] {
			if s.left[b>>6]>>(b&63)&1 == 1 {
				n.Categories = append(n.Categories, uint32(b))
			}
		}
		return n
	}
	n.Threshold = t.bn.upper[s.feature][s.thr]
	return n
}

// binLeaf returns the leaf training row i reaches in tree, using bins; it
// agrees with Tree.leaf on the raw row.
func (t *trainer) binLeaf(tree *Tree, i int) int {
	k := 0
	for {
		n := &tree.Nodes[k]
		if n.IsLeaf() {
			return k
		}
		if t.binGoesLeft(n, t.bins[i*t.F+n.Feature]) {
			k = n.Left
		} else {
			k = n.Right
		}
	}
}

func (t *trainer) binGoesLeft(n *Node, b uint8) bool {
	nb := t.bn.nb[n.Feature]
	if int(b) == nb {
		return n.DefaultLeft
	}
	if n.Categorical {
		_, ok := slices.BinarySearch(n.Categories, uint32(b))
		return ok
	}
	return t.bn.upper[n.Feature][b] <= n.Threshold
}

// partition reorders rows[l.begin:l.end] so the rows going left come first,
// keeping their order, and returns the boundary. The direction of every
// bin is tabulated first and each row is written to both sides, so the
// loop has no data-dependent branch to mispredict.
func (t *trainer) partition(l *leaf, s *split) int {
	f, F := s.feature, t.F
	missing := t.bn.nb[f]
	var dir [256]uint8
	for b := 0; b <= missing; b++ {
		var left bool
		switch {
		case b == missing:
			left = s.defaultLeft
		case s.cat:
			left = s.left[b>>6]>>(b&63)&1 == 1
		default:
			left = b <= s.thr
		}
		if left {
			dir[b] = 1
		}
	}
	rows := t.rows[l.begin:l.end]
	right := t.tmp[:len(rows)+1]
	nl, nr := 0, 0
	bins := t.bins
	for _, r := range rows {
		d := int(dir[bins[int(r)*F+f]])
		rows[nl] = r // nl <= the current index: never overwrites an unread row
		right[nr] = r
		nl += d
		nr += 1 - d
	}
	copy(rows[nl:], right[:nr])
	return l.begin + nl
}

// thresholdL1 is the soft threshold of the L1 penalty.
func thresholdL1(g, alpha float64) float64 {
	switch {
	case g > alpha:
		return g - alpha
	case g < -alpha:
		return g + alpha
	}
	return 0
}

// leafWeight is the optimal leaf value for gradient sum g and hessian sum h.
func leafWeight(g, h, lambda, alpha float64) float64 {
	if h+lambda == 0 {
		return 0
	}
	return -thresholdL1(g, alpha) / (h + lambda)
}

// leafScore is the loss reduction, times two, of a leaf with sums g, h.
func leafScore(g, h, lambda, alpha float64) float64 {
	if h+lambda == 0 {
		return 0
	}
	tg := thresholdL1(g, alpha)
	return tg * tg / (h + lambda)
}

// splitGain is the loss reduction of splitting (g,h) into left and right.
func splitGain(gl, hl, gr, hr, lambda, alpha float64) float64 {
	return 0.5 * (leafScore(gl, hl, lambda, alpha) + leafScore(gr, hr, lambda, alpha) - leafScore(gl+gr, hl+hr, lambda, alpha))
}

// findSplit sets l.best to the best split of leaf l (gain 0 if none).
func (t *trainer) findSplit(l *leaf) {
	l.best = split{}
	p := t.p
	if (p.MaxDepth > 0 && l.depth >= p.MaxDepth) || l.end-l.begin < 2 || l.h < 2*p.MinChildWeight {
		return
	}
	var catBuf []int
	for f := range t.F {
		if !t.feats[f] {
			continue
		}
		h := l.hist[t.bn.off[f] : t.bn.off[f]+t.bn.nb[f]+1]
		if t.bn.cat[f] {
			catBuf = t.catSplit(f, h, l, catBuf)
		} else {
			t.numSplit(f, h, l)
		}
	}
	if l.best.gain <= p.MinSplitGain || l.best.gain < 1e-12 {
		l.best.gain = 0
	}
}

func (t *trainer) consider(l *leaf, s *split) {
	if s.gain > l.best.gain {
		l.best = *s
	}
}

func (t *trainer) numSplit(f int, h []hbin, l *leaf) {
	p := t.p
	nb := len(h) - 1
	miss := h[nb]
	var gl, hl float64
	for b := 0; b < nb-1; b++ {
		gl += h[b].g
		hl += h[b].h
		// Missing values go right, then left.
		for _, ml := range [2]bool{false, true} {
			if ml && miss.h == 0 {
				break
			}
			lg, lh := gl, hl
			if ml {
				lg, lh = gl+miss.g, hl+miss.h
			}
			rg, rh := l.g-lg, l.h-lh
			if lh < p.MinChildWeight || rh < p.MinChildWeight {
				continue
			}
			gain := splitGain(lg, lh, rg, rh, p.Lambda, p.Alpha)
			if gain > l.best.gain {
				defLeft := ml
				if miss.h == 0 {
					defLeft = lh >= rh // unseen missing values follow the majority
				}
				l.best = split{gain: gain, feature: f, thr: b, defaultLeft: defLeft, gl: lg, hl: lh, gr: rg, hr: rh}
			}
		}
	}
}

// catSplit finds the best partition of the categories of feature f: sorted
// by gradient ratio, the optimal binary partition is a prefix. The missing
// bin takes part like a category.
func (t *trainer) catSplit(f int, h []hbin, l *leaf, order []int) []int {
	p := t.p
	order = order[:0]
	for b, e := range h {
		if e.h > 0 {
			order = append(order, b)
		}
	}
	if len(order) < 2 {
		return order
	}
	ratio := func(b int) float64 { return h[b].g / (h[b].h + p.CatSmooth) }
	slices.SortStableFunc(order, func(a, b int) int {
		ra, rb := ratio(a), ratio(b)
		switch {
		case ra < rb:
			return -1
		case ra > rb:
			return 1
		}
		return a - b
	})
	var gl, hl float64
	bestK := -1
	var best split
	for k := 0; k < len(order)-1; k++ {
		gl += h[order[k]].g
		hl += h[order[k]].h
		gr, hr := l.g-gl, l.h-hl
		if hl < p.MinChildWeight || hr < p.MinChildWeight {
			continue
		}
		if gain := splitGain(gl, hl, gr, hr, p.Lambda, p.Alpha); gain > best.gain {
			best = split{gain: gain, feature: f, cat: true, gl: gl, hl: hl, gr: gr, hr: hr}
			bestK = k
		}
	}
	if bestK < 0 || best.gain <= l.best.gain {
		return order
	}
	missing := len(h) - 1
	best.defaultLeft = false
	for _, b := range order[:bestK+1] {
		if b == missing {
			best.defaultLeft = true
			continue
		}
		best.left[b>>6] |= 1 << (b & 63)
	}
	if h[missing].h == 0 { // no missing values here: follow the heavier side
		best.defaultLeft = best.hl >= best.hr
	}
	l.best = best
	return order
}
