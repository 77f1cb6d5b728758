package churn

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/gbdt"
)

// Dataset is a customer table encoded for the model.
type Dataset struct {
	Schema *Schema
	IDs    []string // customer ids, empty strings without an id column
	Data   *gbdt.Data
	// Treated is 1 for treated rows and 0 for control rows when the schema
	// has a treatment column; nil otherwise.
	Treated []float64
}

// maxFieldErrors bounds the field errors one call reports.
const maxFieldErrors = 20

// NewDataset encodes t under s. Rows with a missing target are refused;
// invalid fields are reported together as FieldErrors (Row is the CSV line).
func NewDataset(t *Table, s *Schema) (*Dataset, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	feats := s.Features()
	colIdx := make([]int, len(feats))
	for i, c := range feats {
		if colIdx[i] = t.Column(c.Name); colIdx[i] < 0 {
			return nil, sextant.Errorf(sextant.EINVALID, "%s: schema column %q is missing from the file", t.Name, c.Name)
		}
	}
	ti := t.Column(s.Target)
	if ti < 0 {
		return nil, sextant.Errorf(sextant.EINVALID, "%s: target column %q is missing from the file", t.Name, s.Target)
	}
	idCol, hasID := s.ColumnByRole(RoleID)
	ii := -1
	if hasID {
		ii = t.Column(idCol.Name)
	}
	trCol, hasTr := s.ColumnByRole(RoleTreatment)
	tri := -1
	if hasTr {
		tri = t.Column(trCol.Name)
	}
	n := len(t.Rows)
	d := &Dataset{Schema: s, IDs: make([]string, n), Data: &gbdt.Data{Features: s.gbdtFeatures(), Label: make([]float64, n)}}
	d.Data.Columns = make([][]float64, len(feats))
	for j := range d.Data.Columns {
		d.Data.Columns[j] = make([]float64, n)
	}
	if tri >= 0 {
		d.Treated = make([]float64, n)
	}
	enc := newEncoder(s)
	var errs FieldErrors
	report := func(row int, field, msg string) {
		if len(errs) < maxFieldErrors {
			errs = append(errs, FieldError{Row: row + 2, Field: field, Message: msg})
		}
	}
	for r, rec := range t.Rows {
		for j, ci := range colIdx {
			v, msg := enc.value(j, rec[ci])
			if msg != "" {
				report(r, feats[j].Name, msg)
			}
			d.Data.Columns[j][r] = v
		}
		yv := strings.TrimSpace(rec[ti])
		switch {
		case missingToken(yv):
			report(r, s.Target, "target is missing")
		case yv == s.Positive:
			d.Data.Label[r] = 1
		}
		if ii >= 0 {
			d.IDs[r] = rec[ii]
		}
		if tri >= 0 {
			b, ok := parseBool(rec[tri])
			if !ok {
				report(r, trCol.Name, fmt.Sprintf("treatment is not a boolean: %q", clip(rec[tri])))
			}
			if b {
				d.Treated[r] = 1
			}
		}
	}
	if len(errs) > 0 {
		return nil, sextant.Errorf(sextant.EINVALID, "%s: %w", t.Name, errs)
	}
	if n == 0 {
		return nil, sextant.Errorf(sextant.EINVALID, "%s: no data rows", t.Name)
	}
	return d, nil
}

// TrainOptions configure cross-validation and the final fit. Zero fields
// take the defaults in their comments.
type TrainOptions struct {
	Params      gbdt.Params // zero: DefaultParams()
	Folds       int         // default 5
	Seed        uint64      // fold assignment and subsampling
	Calibration string      // none, platt or isotonic; default platt
	Threshold   float64     // decision threshold for precision/recall; default 0.5
	TopPct      float64     // percent of riskiest customers for recall, lift and ROI; default 10
	Economics   Economics
	Threads     int                // 0: GOMAXPROCS
	Now         func() time.Time   // default time.Now
	Progress    func(fold, of int) // optional, called after each fold
	// CPUTime, when set, returns the process CPU seconds so far; training
	// times are then also measured in CPU time, which a busy machine
	// distorts less than wall time.
	CPUTime func() float64
}

func (o TrainOptions) cpu() float64 {
	if o.CPUTime == nil {
		return 0
	}
	return o.CPUTime()
}

// innerSplit holds out the early-stopping validation rows of a training
// fold: with p.EarlyStopping set, the rows of inner fold 0 of
// Folds(labels, round(1/p.ValidFraction), seed). bench/churn_peer.py holds
// out the same rows for XGBoost.
func innerSplit(d *gbdt.Data, p gbdt.Params, seed uint64) (train, valid *gbdt.Data) {
	if p.EarlyStopping <= 0 {
		return d, nil
	}
	frac := p.ValidFraction
	if frac == 0 {
		frac = 0.1
	}
	k := max(2, int(math.Round(1/frac)))
	fold := Folds(d.Label, k, seed)
	var tr, va []int
	for i, f := range fold {
		if f == 0 {
			va = append(va, i)
		} else {
			tr = append(tr, i)
		}
	}
	if len(tr) == 0 || len(va) == 0 {
		return d, nil
	}
	return subset(d, tr), subset(d, va)
}

// DefaultParams are the hyper-parameters churn uses unless told otherwise:
// small learning rate, shallow trees and early stopping on a held-out tenth
// of the training rows, which suit tabular customer data of thousands to
// millions of rows. They were fixed before any benchmark, not tuned on it.
func DefaultParams() gbdt.Params {
	return gbdt.Params{
		Loss:           gbdt.LossLogistic,
		Rounds:         1000,
		LearningRate:   0.05,
		MaxDepth:       3,
		MinChildWeight: 1,
		Lambda:         1,
		EarlyStopping:  50,
		ValidFraction:  0.1,
		CatSmooth:      10,
	}
}

func (o TrainOptions) withDefaults() TrainOptions {
	if o.Params == (gbdt.Params{}) {
		o.Params = DefaultParams()
	}
	if o.Folds == 0 {
		o.Folds = 5
	}
	if o.Calibration == "" {
		o.Calibration = CalibrationPlatt
	}
	if o.Threshold == 0 {
		o.Threshold = 0.5
	}
	if o.TopPct == 0 {
		o.TopPct = 10
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Params.Threads = o.Threads
	if o.Params.Seed == 0 {
		o.Params.Seed = o.Seed
	}
	return o
}

// Folds assigns each row to one of k folds, stratified by label: within
// each class, rows are ordered by splitmix64(seed + row index) (ties by
// index) and dealt round-robin. bench/churn_peer.py computes the same
// assignment, so peers are measured on identical folds.
func Folds(y []float64, k int, seed uint64) []int {
	fold := make([]int, len(y))
	for _, cls := range []float64{0, 1} {
		var idx []int
		for i, v := range y {
			if (v == 1) == (cls == 1) {
				idx = append(idx, i)
			}
		}
		keys := make([]uint64, len(y))
		for _, i := range idx {
			keys[i] = splitmix64(seed + uint64(i))
		}
		slices.SortFunc(idx, func(a, b int) int {
			if keys[a] != keys[b] {
				if keys[a] < keys[b] {
					return -1
				}
				return 1
			}
			return a - b
		})
		for r, i := range idx {
			fold[i] = r % k
		}
	}
	return fold
}

func splitmix64(x uint64) uint64 {
	z := x + 0x9E3779B97F4A7C15
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// CVResult is the outcome of k-fold cross-validation.
type CVResult struct {
	Folds      int       `json:"folds"`
	Labels     []float64 `json:"-"` // the rows' labels
	Raw        []float64 `json:"-"` // out-of-fold model probabilities
	Calibrated []float64 `json:"-"` // out-of-fold probabilities after cross-fitted calibration
	// Pooled are the metrics of Calibrated over all rows; PerFold those of
	// each fold's rows, and Mean their mean.
	Pooled       Metrics   `json:"pooled"`
	PerFold      []Metrics `json:"per_fold"`
	Mean         Metrics   `json:"mean"`
	TrainSeconds []float64 `json:"train_seconds"` // wall time of each fold's fit
	// TrainCPUSeconds is the process CPU time of each fold's fit, when
	// TrainOptions.CPUTime is set.
	TrainCPUSeconds []float64 `json:"train_cpu_seconds,omitempty"`
	Rounds          []int     `json:"rounds"` // trees kept in each fold
}

// CrossValidate trains one model per fold and predicts the held-out fold.
// Calibration is cross-fitted: fold k's predictions are calibrated by a
// calibrator fitted on the other folds' out-of-fold predictions, so the
// reported calibration is measured on rows neither model nor calibrator saw.
func CrossValidate(ctx context.Context, d *gbdt.Data, o TrainOptions) (*CVResult, error) {
	o = o.withDefaults()
	n := d.Rows()
	if o.Folds < 2 || o.Folds > n {
		return nil, sextant.Errorf(sextant.EINVALID, "folds %d: want between 2 and the row count %d", o.Folds, n)
	}
	fold := Folds(d.Label, o.Folds, o.Seed)
	res := &CVResult{Folds: o.Folds, Labels: d.Label, Raw: make([]float64, n), Calibrated: make([]float64, n)}
	// Folds train concurrently when there are threads to spare: each fold
	// is independent and gbdt's result does not depend on its thread count,
	// so the outcome is the same as training them one after another.
	// Per-fold CPU time is only measurable when folds run one at a time.
	threads := o.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	parallel := min(threads, o.Folds)
	if o.CPUTime != nil {
		parallel = 1
	}
	p := o.Params
	p.Threads = max(1, threads/parallel)
	res.TrainSeconds = make([]float64, o.Folds)
	res.Rounds = make([]int, o.Folds)
	if o.CPUTime != nil {
		res.TrainCPUSeconds = make([]float64, o.Folds)
	}
	errs := make([]error, o.Folds)
	var done atomic.Int32
	var mu sync.Mutex // serialises Progress
	trainFold := func(k int) {
		var tr, te []int
		for i, f := range fold {
			if f == k {
				te = append(te, i)
			} else {
				tr = append(tr, i)
			}
		}
		train, valid := innerSplit(subset(d, tr), p, o.Seed+uint64(k)+1)
		start, cpu0 := time.Now(), o.cpu()
		m, err := gbdt.Train(ctx, train, valid, p)
		if err != nil {
			errs[k] = fmt.Errorf("fold %d: %w", k+1, err)
			return
		}
		res.TrainSeconds[k] = time.Since(start).Seconds()
		if o.CPUTime != nil {
			res.TrainCPUSeconds[k] = o.cpu() - cpu0
		}
		res.Rounds[k] = len(m.Trees)
		s := gbdt.Compile(m)
		x := make([]float64, len(d.Columns))
		for _, i := range te {
			for j, c := range d.Columns {
				x[j] = c[i]
			}
			res.Raw[i] = s.Predict(x)
		}
		if o.Progress != nil {
			mu.Lock()
			o.Progress(int(done.Add(1)), o.Folds)
			mu.Unlock()
		}
	}
	if parallel <= 1 {
		for k := range o.Folds {
			if trainFold(k); errs[k] != nil {
				return nil, errs[k]
			}
		}
	} else {
		next := make(chan int)
		var wg sync.WaitGroup
		for range parallel {
			wg.Go(func() {
				for k := range next {
					trainFold(k)
				}
			})
		}
		for k := range o.Folds {
			next <- k
		}
		close(next)
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return nil, err
			}
		}
	}
	for k := range o.Folds {
		var yk, pk []float64
		for i, f := range fold {
			if f != k {
				yk = append(yk, d.Label[i])
				pk = append(pk, res.Raw[i])
			}
		}
		cal, err := FitCalibrator(o.Calibration, yk, pk)
		if err != nil {
			return nil, err
		}
		for i, f := range fold {
			if f == k {
				res.Calibrated[i] = cal.Apply(res.Raw[i])
			}
		}
	}
	res.Pooled = Evaluate(d.Label, res.Calibrated, o.Threshold, o.TopPct, o.Economics)
	for k := range o.Folds {
		var yk, pk []float64
		for i, f := range fold {
			if f == k {
				yk = append(yk, d.Label[i])
				pk = append(pk, res.Calibrated[i])
			}
		}
		res.PerFold = append(res.PerFold, Evaluate(yk, pk, o.Threshold, o.TopPct, o.Economics))
	}
	res.Mean = meanMetrics(res.PerFold)
	return res, nil
}

func meanMetrics(ms []Metrics) Metrics {
	var out Metrics
	for _, m := range ms {
		out.Rows += m.Rows
		out.Positives += m.Positives
		out.AUC += m.AUC
		out.PRAUC += m.PRAUC
		out.LogLoss += m.LogLoss
		out.Brier += m.Brier
		out.ECE += m.ECE
		out.Precision += m.Precision
		out.Recall += m.Recall
		out.RecallTop += m.RecallTop
		out.LiftTop += m.LiftTop
		out.ROI += m.ROI
		out.Threshold, out.TopPct = m.Threshold, m.TopPct
	}
	k := float64(len(ms))
	if k == 0 {
		return out
	}
	out.AUC /= k
	out.PRAUC /= k
	out.LogLoss /= k
	out.Brier /= k
	out.ECE /= k
	out.Precision /= k
	out.Recall /= k
	out.RecallTop /= k
	out.LiftTop /= k
	out.ROI /= k
	return out
}

// subset returns rows idx of d.
func subset(d *gbdt.Data, idx []int) *gbdt.Data {
	s := &gbdt.Data{Features: d.Features, Columns: make([][]float64, len(d.Columns)), Label: make([]float64, len(idx))}
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

// Importance is a feature's share of the model's total split gain.
type Importance struct {
	Feature string  `json:"feature"`
	Gain    float64 `json:"gain"`
	Share   float64 `json:"share"`
}

func importance(m *gbdt.Model) []Importance {
	gain := m.Importance()
	var total float64
	for _, g := range gain {
		total += g
	}
	out := make([]Importance, len(gain))
	for j, g := range gain {
		out[j] = Importance{Feature: m.Features[j].Name, Gain: g}
		if total > 0 {
			out[j].Share = g / total
		}
	}
	slices.SortStableFunc(out, func(a, b Importance) int {
		switch {
		case a.Gain > b.Gain:
			return -1
		case a.Gain < b.Gain:
			return 1
		}
		return 0
	})
	return out
}

// Model is a trained churn model with everything scoring, drift and the
// registry need.
type Model struct {
	// Version is the format version of the stored metadata (ModelVersion).
	Version    int          `json:"version"`
	ID         string       `json:"id"`
	Created    time.Time    `json:"created"`
	Schema     *Schema      `json:"schema"`
	Booster    *gbdt.Model  `json:"-"` // stored beside the metadata in gbdt's format
	Calibrator *Calibrator  `json:"calibrator"`
	CV         *CVResult    `json:"cv"`
	Importance []Importance `json:"importance"`
	Reference  *Reference   `json:"reference"`
	DataHash   string       `json:"data_hash"` // sha256 of the training file
	Rows       int          `json:"rows"`
	Options    TrainInfo    `json:"options"`
	Sources    *Assembly    `json:"sources,omitempty"` // feature assembly, when used
	Card       string       `json:"card"`              // model card, Markdown
}

// ModelVersion is the format version of a registered model's model.json;
// Registry.Load refuses other versions.
const ModelVersion = 1

// TrainInfo records how a model was trained.
type TrainInfo struct {
	Params      gbdt.Params `json:"params"`
	Folds       int         `json:"folds"`
	Seed        uint64      `json:"seed"`
	Calibration string      `json:"calibration"`
	Threshold   float64     `json:"threshold"`
	TopPct      float64     `json:"top_pct"`
	Economics   Economics   `json:"economics"`
}

// HashData returns the hex sha256 of training data bytes.
func HashData(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Train cross-validates on d, then fits the final model on all rows and
// its calibrator on the out-of-fold predictions.
func Train(ctx context.Context, d *Dataset, dataHash string, o TrainOptions) (*Model, error) {
	o = o.withDefaults()
	cv, err := CrossValidate(ctx, d.Data, o)
	if err != nil {
		return nil, err
	}
	train, valid := innerSplit(d.Data, o.Params, o.Seed)
	booster, err := gbdt.Train(ctx, train, valid, o.Params)
	if err != nil {
		return nil, err
	}
	cal, err := FitCalibrator(o.Calibration, d.Data.Label, cv.Raw)
	if err != nil {
		return nil, err
	}
	m := &Model{
		Version:    ModelVersion,
		Created:    o.Now().UTC(),
		Schema:     d.Schema,
		Booster:    booster,
		Calibrator: cal,
		CV:         cv,
		Importance: importance(booster),
		DataHash:   dataHash,
		Rows:       d.Data.Rows(),
		Options: TrainInfo{Params: booster.Params, Folds: o.Folds, Seed: o.Seed, Calibration: o.Calibration,
			Threshold: o.Threshold, TopPct: o.TopPct, Economics: o.Economics},
	}
	m.Reference = newReference(d.Data, scoreAll(m, d.Data))
	m.Card = modelCard(m)
	return m, nil
}

// scoreAll returns calibrated probabilities for every row of d.
func scoreAll(m *Model, d *gbdt.Data) []float64 {
	s := gbdt.Compile(m.Booster)
	out := make([]float64, d.Rows())
	x := make([]float64, len(d.Columns))
	for i := range out {
		for j, c := range d.Columns {
			x[j] = c[i]
		}
		out[i] = m.Calibrator.Apply(s.Predict(x))
	}
	return out
}

func modelCard(m *Model) string {
	var b strings.Builder
	cv := m.CV.Pooled
	fmt.Fprintf(&b, "# Churn model %s\n\n", m.ID)
	fmt.Fprintf(&b, "- Trained: %s on %d rows (%d churned, %.1f%%); data sha256 %s\n", m.Created.Format(time.RFC3339), m.Rows, cv.Positives, 100*ratio(float64(cv.Positives), float64(cv.Rows)), m.DataHash)
	fmt.Fprintf(&b, "- Target: %q = %q means the customer left\n", m.Schema.Target, m.Schema.Positive)
	fmt.Fprintf(&b, "- Model: gradient-boosted trees, %d trees, depth <= %d, learning rate %g; calibration %s\n", len(m.Booster.Trees), m.Booster.MaxDepth(), m.Options.Params.LearningRate, m.Calibrator.Method)
	fmt.Fprintf(&b, "- %d-fold cross-validation (out of fold, calibrated): AUC %.4f, PR-AUC %.4f, log-loss %.4f, Brier %.4f, ECE %.4f\n", m.Options.Folds, cv.AUC, cv.PRAUC, cv.LogLoss, cv.Brier, cv.ECE)
	fmt.Fprintf(&b, "- At threshold %.2f: precision %.3f, recall %.3f. Top %g%%: recall %.3f, lift %.2f, expected ROI %.0f\n", cv.Threshold, cv.Precision, cv.Recall, cv.TopPct, cv.RecallTop, cv.LiftTop, cv.ROI)
	b.WriteString("- Top features by gain:")
	for i, imp := range m.Importance {
		if i == 5 || imp.Gain == 0 {
			break
		}
		fmt.Fprintf(&b, " %s (%.0f%%)", imp.Feature, 100*imp.Share)
	}
	b.WriteString("\n\nIntended use: rank customers for retention offers. Scores are probabilities of leaving " +
		"under the conditions of the training data; check drift before trusting them on a changed population.\n")
	return b.String()
}
