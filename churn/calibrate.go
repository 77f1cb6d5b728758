package churn

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// Calibration methods.
const (
	CalibrationNone     = "none"
	CalibrationPlatt    = "platt"
	CalibrationIsotonic = "isotonic"
)

// Calibrator maps a raw model probability to a calibrated one. It is fitted
// on out-of-fold predictions, so it corrects the model's bias on data it
// did not see. The zero value (Method "" or "none") is the identity.
type Calibrator struct {
	Method string `json:"method"`
	// Platt: p' = sigmoid(A·logit(p) + B).
	A float64 `json:"a,omitempty"`
	B float64 `json:"b,omitempty"`
	// Isotonic: a non-decreasing step function through (X[i], Y[i]),
	// interpolated linearly between knots and flat outside them.
	X []float64 `json:"x,omitempty"`
	Y []float64 `json:"y,omitempty"`
}

// FitCalibrator fits method to raw probabilities p and labels y.
func FitCalibrator(method string, y, p []float64) (*Calibrator, error) {
	switch method {
	case "", CalibrationNone:
		return &Calibrator{Method: CalibrationNone}, nil
	case CalibrationPlatt:
		a, b := fitPlatt(y, p)
		return &Calibrator{Method: CalibrationPlatt, A: a, B: b}, nil
	case CalibrationIsotonic:
		x, v := fitIsotonic(y, p)
		return &Calibrator{Method: CalibrationIsotonic, X: x, Y: v}, nil
	}
	return nil, fmt.Errorf("unknown calibration %q (want none, platt or isotonic)", method)
}

// Apply returns the calibrated probability of raw probability p.
func (c *Calibrator) Apply(p float64) float64 {
	if c == nil {
		return p
	}
	switch c.Method {
	case CalibrationPlatt:
		return sigmoid(c.A*logit(p) + c.B)
	case CalibrationIsotonic:
		n := len(c.X)
		if n == 0 {
			return p
		}
		if p <= c.X[0] {
			return c.Y[0]
		}
		if p >= c.X[n-1] {
			return c.Y[n-1]
		}
		i, _ := slices.BinarySearch(c.X, p) // c.X[i-1] < p <= c.X[i]
		x0, x1, y0, y1 := c.X[i-1], c.X[i], c.Y[i-1], c.Y[i]
		if x1 == x0 {
			return y1
		}
		return y0 + (y1-y0)*(p-x0)/(x1-x0)
	}
	return p
}

func (c *Calibrator) check() error {
	if c == nil {
		return nil
	}
	switch c.Method {
	case "", CalibrationNone:
	case CalibrationPlatt:
		if math.IsNaN(c.A) || math.IsNaN(c.B) {
			return fmt.Errorf("platt calibrator has NaN parameters")
		}
	case CalibrationIsotonic:
		if len(c.X) != len(c.Y) || !slices.IsSorted(c.X) || !slices.IsSorted(c.Y) {
			return fmt.Errorf("isotonic calibrator knots are not sorted pairs")
		}
	default:
		return fmt.Errorf("unknown calibration %q", c.Method)
	}
	return nil
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func logit(p float64) float64 {
	p = min(max(p, 1e-12), 1-1e-12)
	return math.Log(p / (1 - p))
}

// fitPlatt fits a logistic regression of y on logit(p) by Newton's method,
// with Platt's smoothed targets to avoid overconfident fits.
func fitPlatt(y, p []float64) (a, b float64) {
	var npos, nneg float64
	for _, v := range y {
		if v == 1 {
			npos++
		} else {
			nneg++
		}
	}
	hi, lo := (npos+1)/(npos+2), 1/(nneg+2)
	a, b = 1, 0
	for range 100 {
		var g0, g1, h00, h01, h11 float64
		for i, pi := range p {
			x := logit(pi)
			t := lo
			if y[i] == 1 {
				t = hi
			}
			q := sigmoid(a*x + b)
			d := q - t
			w := max(q*(1-q), 1e-12)
			g0 += d * x
			g1 += d
			h00 += w * x * x
			h01 += w * x
			h11 += w
		}
		h00 += 1e-9
		h11 += 1e-9
		det := h00*h11 - h01*h01
		if det == 0 {
			break
		}
		da := (h11*g0 - h01*g1) / det
		db := (h00*g1 - h01*g0) / det
		a -= da
		b -= db
		if math.Abs(da) < 1e-10 && math.Abs(db) < 1e-10 {
			break
		}
	}
	return a, b
}

// fitIsotonic fits a non-decreasing function of p to y by pool adjacent
// violators and returns its knots: the mean p and fitted value of each
// block.
func fitIsotonic(y, p []float64) (xs, ys []float64) {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(p[a], p[b]) })
	type block struct{ sumX, sumY, n float64 }
	var st []block
	for _, i := range idx {
		st = append(st, block{p[i], y[i], 1})
		for len(st) > 1 {
			a, b := st[len(st)-2], st[len(st)-1]
			if a.sumY/a.n < b.sumY/b.n && a.sumX/a.n < b.sumX/b.n {
				break // increasing in both: no violation, no tie
			}
			st = st[:len(st)-1]
			st[len(st)-1] = block{a.sumX + b.sumX, a.sumY + b.sumY, a.n + b.n}
		}
	}
	// A block of all churners (or none) would map to exactly 1 (or 0),
	// which log-loss punishes without bound on a new row: keep fitted
	// values within [1/(n+2), (n+1)/(n+2)] for n fitted rows.
	lo, hi := 1/float64(len(p)+2), float64(len(p)+1)/float64(len(p)+2)
	for _, bl := range st {
		xs = append(xs, bl.sumX/bl.n)
		ys = append(ys, min(max(bl.sumY/bl.n, lo), hi))
	}
	return xs, ys
}
