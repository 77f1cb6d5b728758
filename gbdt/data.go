// Package gbdt trains and evaluates gradient-boosted decision trees.
//
// Training is histogram based: every feature is cut into at most MaxBins
// bins (numeric features by a sample-based quantile sketch, categorical
// features one bin per category), and split search runs over per-leaf
// gradient/hessian histograms with the subtraction trick. Trees grow leaf
// by leaf (best gain first) under MaxLeaves and MaxDepth, with second-order
// gradients, L1/L2 regularisation, minimum child weight, row and column
// subsampling, early stopping on a validation set, missing values that learn
// their default direction, and categorical splits that partition categories
// by sorted gradient statistics (the optimal binary partition for a convex
// loss). Training is deterministic for a seed, whatever the thread count.
//
// A Model predicts from raw feature rows, explains a prediction with exact
// TreeSHAP contributions, reports gain importance and serialises to a
// versioned JSON format. Compile turns a Model into a flat, branch-free
// Scorer for batch and real-time scoring.
//
// The package uses the standard library only.
package gbdt

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Feature describes one input column.
type Feature struct {
	Name string `json:"name"`
	// Categorical features hold category codes 0..MaxCategories-1 as
	// float64; NaN or a negative value means missing.
	Categorical bool `json:"categorical,omitempty"`
}

// MaxCategories is the number of distinct codes a categorical feature may
// have in training data. Callers with more categories fold the rare ones
// into one code.
const MaxCategories = 255

// Data is a column-major training matrix: Columns[j][i] is feature j of row
// i. Numeric values must be finite or NaN (missing).
type Data struct {
	Features []Feature
	Columns  [][]float64
	// Label is the target: 0 or 1 for LossLogistic, any finite value for
	// LossSquared.
	Label []float64
	// Weight is an optional non-negative row weight; nil means all 1.
	Weight []float64
}

// Rows returns the number of rows.
func (d *Data) Rows() int { return len(d.Label) }

// Validate reports the first structural problem with d for loss.
func (d *Data) Validate(loss Loss) error {
	if d == nil {
		return fmt.Errorf("gbdt: no data")
	}
	if len(d.Features) == 0 {
		return fmt.Errorf("gbdt: data has no features")
	}
	if len(d.Columns) != len(d.Features) {
		return fmt.Errorf("gbdt: %d columns for %d features", len(d.Columns), len(d.Features))
	}
	n := len(d.Label)
	if n == 0 {
		return fmt.Errorf("gbdt: data has no rows")
	}
	for j, c := range d.Columns {
		f := d.Features[j]
		if len(c) != n {
			return fmt.Errorf("gbdt: feature %q has %d values for %d labels", f.Name, len(c), n)
		}
		for i, v := range c {
			if math.IsInf(v, 0) {
				return fmt.Errorf("gbdt: feature %q row %d: infinite value", f.Name, i)
			}
			if f.Categorical && v >= 0 && (v != math.Trunc(v) || v >= MaxCategories) {
				return fmt.Errorf("gbdt: categorical feature %q row %d: code %v is not an integer in [0,%d)", f.Name, i, v, MaxCategories)
			}
		}
	}
	for i, y := range d.Label {
		switch {
		case math.IsNaN(y) || math.IsInf(y, 0):
			return fmt.Errorf("gbdt: label of row %d is %v", i, y)
		case loss == LossLogistic && y != 0 && y != 1:
			return fmt.Errorf("gbdt: label of row %d is %v; logistic loss wants 0 or 1", i, y)
		}
	}
	if d.Weight != nil {
		if len(d.Weight) != n {
			return fmt.Errorf("gbdt: %d weights for %d rows", len(d.Weight), n)
		}
		for i, w := range d.Weight {
			if !(w >= 0) || math.IsInf(w, 0) {
				return fmt.Errorf("gbdt: weight of row %d is %v", i, w)
			}
		}
	}
	return nil
}

// subset returns the rows idx of d (sharing nothing with d).
func (d *Data) subset(idx []int) *Data {
	s := &Data{Features: d.Features, Columns: make([][]float64, len(d.Columns)), Label: make([]float64, len(idx))}
	for j, c := range d.Columns {
		col := make([]float64, len(idx))
		for k, i := range idx {
			col[k] = c[i]
		}
		s.Columns[j] = col
	}
	for k, i := range idx {
		s.Label[k] = d.Label[i]
	}
	if d.Weight != nil {
		s.Weight = make([]float64, len(idx))
		for k, i := range idx {
			s.Weight[k] = d.Weight[i]
		}
	}
	return s
}

// binner maps raw values to bin indexes. A numeric feature with nb value
// bins uses 0..nb-1 for values (value v goes to the first bin whose upper
// bound is >= v) and nb for missing; a categorical feature uses its codes
// as bins and nb = 1 + the largest code seen for missing and unseen codes.
type binner struct {
	upper [][]float64 // numeric: bin upper bounds, last is +Inf
	nb    []int       // value bins per feature; the missing bin is nb
	cat   []bool
	off   []int // offset of each feature in a histogram
	total int   // histogram length
}

// sketchSample bounds the values a quantile sketch sorts per feature.
const sketchSample = 200_000

func newBinner(d *Data, maxBins int, seed uint64) *binner {
	b := &binner{
		upper: make([][]float64, len(d.Features)),
		nb:    make([]int, len(d.Features)),
		cat:   make([]bool, len(d.Features)),
		off:   make([]int, len(d.Features)),
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed_b1a5))
	for j, f := range d.Features {
		col := d.Columns[j]
		if f.Categorical {
			b.cat[j] = true
			maxCode := -1
			for _, v := range col {
				if v >= 0 && int(v) > maxCode {
					maxCode = int(v)
				}
			}
			b.nb[j] = maxCode + 1
			continue
		}
		b.upper[j] = quantileCuts(sample(col, rng), maxBins)
		b.nb[j] = len(b.upper[j])
	}
	for j := range b.off {
		b.off[j] = b.total
		b.total += b.nb[j] + 1
	}
	return b
}

// sample returns the non-missing values of col, a uniform sample of at most
// sketchSample of them when there are more.
func sample(col []float64, rng *rand.Rand) []float64 {
	var vals []float64
	for _, v := range col {
		if !math.IsNaN(v) {
			vals = append(vals, v)
		}
	}
	if len(vals) > sketchSample {
		for i := range sketchSample { // partial Fisher–Yates
			k := i + rng.IntN(len(vals)-i)
			vals[i], vals[k] = vals[k], vals[i]
		}
		vals = vals[:sketchSample]
	}
	return vals
}

// quantileCuts returns bin upper bounds for vals: one bin per distinct value
// when there are at most maxBins of them, else greedy equal-frequency bins
// where a heavy value gets a bin of its own. Bounds sit halfway between
// neighbouring distinct values; the last is +Inf.
func quantileCuts(vals []float64, maxBins int) []float64 {
	slices.Sort(vals)
	var distinct []float64
	var counts []int
	for i, v := range vals {
		if i == 0 || v != vals[i-1] {
			distinct = append(distinct, v)
			counts = append(counts, 0)
		}
		counts[len(counts)-1]++
	}
	if len(distinct) <= 1 {
		return []float64{math.Inf(1)}
	}
	var cuts []float64
	if len(distinct) <= maxBins {
		for i := 0; i+1 < len(distinct); i++ {
			cuts = append(cuts, midpoint(distinct[i], distinct[i+1]))
		}
		return append(cuts, math.Inf(1))
	}
	rest, binsLeft, acc := len(vals), maxBins, 0
	for i := 0; i+1 < len(distinct) && binsLeft > 1; i++ {
		acc += counts[i]
		target := float64(rest) / float64(binsLeft)
		if float64(acc) >= target || float64(counts[i+1]) >= target {
			cuts = append(cuts, midpoint(distinct[i], distinct[i+1]))
			rest -= acc
			acc = 0
			binsLeft--
		}
	}
	return append(cuts, math.Inf(1))
}

// midpoint returns a bound t with a <= t < b for a < b.
func midpoint(a, b float64) float64 {
	m := a + (b-a)/2
	if m >= b || math.IsInf(m, 0) || math.IsNaN(m) {
		return a
	}
	return m
}

// bin returns the bin of value v of feature j.
func (b *binner) bin(j int, v float64) uint8 {
	if math.IsNaN(v) || (b.cat[j] && (v < 0 || v >= float64(b.nb[j]))) {
		return uint8(b.nb[j])
	}
	if b.cat[j] {
		return uint8(v)
	}
	u := b.upper[j]
	lo, hi := 0, len(u)-1
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if u[m] < v {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return uint8(lo)
}

// binRows returns the row-major bin matrix of d: bins[i*F+j].
func (b *binner) binRows(d *Data) []uint8 {
	F, n := len(d.Features), d.Rows()
	out := make([]uint8, n*F)
	for j, col := range d.Columns {
		for i, v := range col {
			out[i*F+j] = b.bin(j, v)
		}
	}
	return out
}
