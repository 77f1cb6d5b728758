package churn

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/gbdt"
)

// ScorerOptions configure a Scorer. Zero values take the defaults in the
// comments.
type ScorerOptions struct {
	// Reasons is how many top reasons to return per customer; 0 for none.
	Reasons int
	// Record, when set, receives every scored row (for drift measurement).
	Record func(recs []TrafficRecord) error
	Now    func() time.Time // default time.Now
}

// Scorer scores customer rows with a model: it validates each field
// against the schema, computes calibrated probabilities with the compiled
// trees, and explains them with TreeSHAP. It is safe for concurrent use.
type Scorer struct {
	m      *Model
	o      ScorerOptions
	enc    *encoder
	gs     *gbdt.Scorer
	feats  []Column
	index  map[string]int // feature column → model position
	known  map[string]bool
	idName string
}

// NewScorer prepares m for scoring.
func NewScorer(m *Model, o ScorerOptions) *Scorer {
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Scorer{m: m, o: o, enc: newEncoder(m.Schema), gs: gbdt.Compile(m.Booster), feats: m.Schema.Features(),
		index: map[string]int{}, known: map[string]bool{}}
	for i, c := range s.feats {
		s.index[c.Name] = i
	}
	for _, c := range m.Schema.Columns {
		s.known[c.Name] = true
	}
	if c, ok := m.Schema.ColumnByRole(RoleID); ok {
		s.idName = c.Name
	}
	return s
}

// Model returns the scorer's model.
func (s *Scorer) Model() *Model { return s.m }

// Reason is one feature's push on a customer's risk: its TreeSHAP
// contribution to the log-odds of churn (positive raises the risk).
type Reason struct {
	Feature      string  `json:"feature"`
	Value        string  `json:"value"`
	Contribution float64 `json:"contribution"`
}

// ScoreRequest is the body of the real-time endpoint POST /v1/churn/score:
// the model (an id or "production"; empty means production) and the rows,
// each a map from schema column to a string, number, boolean or null.
type ScoreRequest struct {
	Model string           `json:"model,omitempty"`
	Rows  []map[string]any `json:"rows"`
}

// ScoreResponse answers a ScoreRequest: one result per row, in order.
type ScoreResponse struct {
	Model   string   `json:"model"`
	Results []Result `json:"results"`
}

// Result is the score of one customer.
type Result struct {
	ID          string   `json:"id,omitempty"`
	Probability float64  `json:"probability"`
	Reasons     []Reason `json:"reasons,omitempty"`
}

// fieldString renders a JSON value as the text a CSV field would hold.
func fieldString(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), true
	case int:
		return strconv.Itoa(x), true
	case interface{ String() string }: // json.Number
		return x.String(), true
	}
	return "", false
}

// ScoreRecords validates and scores records given as field maps (JSON
// values: strings, numbers, booleans or null). Every field must be a
// schema column; absent feature fields count as missing. Invalid input is
// reported as FieldErrors, one per bad field, with Row the record's index,
// and nothing is scored.
func (s *Scorer) ScoreRecords(ctx context.Context, records []map[string]any) ([]Result, error) {
	nf := len(s.feats)
	rows := make([]float64, len(records)*nf)
	ids := make([]string, len(records))
	var errs FieldErrors
	bad := func(row int, field, msg string) {
		if len(errs) < 100 {
			errs = append(errs, FieldError{Row: row, Field: field, Message: msg})
		}
	}
	for r, rec := range records {
		x := rows[r*nf : (r+1)*nf]
		for i := range x {
			x[i] = math.NaN()
		}
		keys := make([]string, 0, len(rec))
		for k := range rec {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			str, ok := fieldString(rec[k])
			switch {
			case !s.known[k]:
				bad(r, k, "unknown field: not a column of the model's schema")
				continue
			case !ok:
				bad(r, k, "want a string, number, boolean or null")
				continue
			}
			if k == s.idName {
				ids[r] = str
			}
			i, isFeature := s.index[k]
			if !isFeature {
				continue
			}
			v, msg := s.enc.value(i, str)
			if msg != "" {
				bad(r, k, msg)
				continue
			}
			x[i] = v
		}
	}
	if len(errs) > 0 {
		return nil, sextant.Errorf(sextant.EINVALID, "invalid rows: %w", errs)
	}
	out := make([]Result, len(records))
	if err := s.scoreRows(ctx, rows, ids, out); err != nil {
		return nil, err
	}
	return out, nil
}

// scoreRows fills out for encoded rows (row-major) and records them.
func (s *Scorer) scoreRows(ctx context.Context, rows []float64, ids []string, out []Result) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	nf := len(s.feats)
	probs := make([]float64, len(out))
	if err := s.gs.PredictBatch(rows, probs); err != nil {
		return err
	}
	for i := range out {
		out[i] = Result{ID: ids[i], Probability: s.m.Calibrator.Apply(probs[i])}
		if s.o.Reasons > 0 {
			out[i].Reasons = s.reasons(rows[i*nf : (i+1)*nf])
		}
	}
	if s.o.Record != nil {
		now := s.o.Now()
		recs := make([]TrafficRecord, len(out))
		for i := range out {
			recs[i] = TrafficRecord{Time: now, X: rows[i*nf : (i+1)*nf], Score: out[i].Probability}
		}
		if err := s.o.Record(recs); err != nil {
			return fmt.Errorf("record traffic: %w", err)
		}
	}
	return nil
}

// reasons returns the features that raise the risk most, strongest first.
func (s *Scorer) reasons(x []float64) []Reason {
	phi := s.m.Booster.Contributions(x)
	idx := make([]int, 0, len(s.feats))
	for i := range s.feats {
		if phi[i] > 0 {
			idx = append(idx, i)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case phi[a] > phi[b]:
			return -1
		case phi[a] < phi[b]:
			return 1
		}
		return 0
	})
	if len(idx) > s.o.Reasons {
		idx = idx[:s.o.Reasons]
	}
	out := make([]Reason, len(idx))
	for k, i := range idx {
		out[k] = Reason{Feature: s.feats[i].Name, Value: s.display(i, x[i]), Contribution: phi[i]}
	}
	return out
}

// display renders encoded value v of feature i for people.
func (s *Scorer) display(i int, v float64) string {
	c := &s.feats[i]
	switch {
	case math.IsNaN(v):
		return "(missing)"
	case c.Type == Categorical:
		if k := int(v); k >= 0 && k < len(c.Categories) {
			return c.Categories[k]
		}
		return "(unseen)"
	case c.Type == Boolean:
		if v == 1 {
			return "yes"
		}
		return "no"
	case c.Type == Date:
		return time.Unix(int64(v*86400), 0).UTC().Format("2006-01-02")
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// CSVScoreOptions configure ScoreCSV.
type CSVScoreOptions struct {
	Threads int // scoring goroutines; default GOMAXPROCS
	// Sink, when set, receives each chunk's results in input order (for
	// example to push high-risk customers to a CRM).
	Sink func(ctx context.Context, results []Result) error
}

// CSVStats counts what ScoreCSV did.
type CSVStats struct {
	Rows    int `json:"rows"`
	Scored  int `json:"scored"`
	Invalid int `json:"invalid"`
}

// csvChunk is the unit of parallel work: a few thousand rows.
const csvChunk = 2048

// ScoreCSV streams customer rows from r and writes one output row per input
// row to w, in order: the id (when the schema has one), the probability,
// the top reasons ("feature=value (+0.42); ...") and an error message for
// rows that failed validation (their probability is empty). Memory stays
// bounded: a few chunks per goroutine are in flight.
func (s *Scorer) ScoreCSV(ctx context.Context, r io.Reader, name string, w io.Writer, o CSVScoreOptions) (CSVStats, error) {
	var st CSVStats
	cr, err := NewCSVReader(r, name)
	if err != nil {
		return st, err
	}
	colOf := make([]int, len(s.feats))
	for i, c := range s.feats {
		colOf[i] = slices.Index(cr.Header(), c.Name)
		if colOf[i] < 0 {
			return st, sextant.Errorf(sextant.EINVALID, "%s: no column %q, which the model needs", name, c.Name)
		}
	}
	idCol := -1
	if s.idName != "" {
		idCol = slices.Index(cr.Header(), s.idName)
	}
	threads := o.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	type chunk struct {
		lines   []int
		records [][]string
		results []Result
		errs    []string
		done    chan error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan *chunk, threads)
	ordered := make(chan *chunk, 2*threads)
	var wg sync.WaitGroup
	for range threads {
		wg.Go(func() {
			for c := range work {
				c.done <- s.scoreChunk(ctx, c.records, c.lines, colOf, idCol, &c.results, &c.errs)
			}
		})
	}
	readErr := make(chan error, 1)
	go func() {
		defer close(ordered)
		defer close(work)
		for {
			c := &chunk{done: make(chan error, 1)}
			var err error
			for len(c.records) < csvChunk {
				var rec []string
				if rec, err = cr.Next(); err != nil {
					break
				}
				c.records = append(c.records, rec)
				c.lines = append(c.lines, cr.Line())
			}
			if len(c.records) > 0 {
				select {
				case ordered <- c:
				case <-ctx.Done():
					readErr <- ctx.Err()
					return
				}
				work <- c
			}
			if err == io.EOF {
				readErr <- nil
				return
			}
			if err != nil {
				readErr <- err
				return
			}
		}
	}()
	bw := bufio.NewWriterSize(w, 1<<16)
	cw := csv.NewWriter(bw)
	header := []string{"probability", "reasons", "error"}
	if idCol >= 0 {
		header = append([]string{s.idName}, header...)
	}
	var outErr error
	if err := cw.Write(header); err != nil {
		outErr = err
	}
	for c := range ordered {
		if outErr != nil {
			<-c.done
			continue
		}
		if err := <-c.done; err != nil {
			outErr = err
			cancel()
			continue
		}
		for i, res := range c.results {
			st.Rows++
			rec := make([]string, 0, 4)
			if idCol >= 0 {
				rec = append(rec, c.records[i][idCol])
			}
			if c.errs[i] != "" {
				st.Invalid++
				rec = append(rec, "", "", c.errs[i])
			} else {
				st.Scored++
				rec = append(rec, strconv.FormatFloat(res.Probability, 'f', 6, 64), formatReasons(res.Reasons), "")
			}
			if err := cw.Write(rec); err != nil {
				outErr = err
				cancel()
				break
			}
		}
		if outErr == nil && o.Sink != nil {
			var valid []Result
			for i, res := range c.results {
				if c.errs[i] == "" {
					valid = append(valid, res)
				}
			}
			if err := o.Sink(ctx, valid); err != nil {
				outErr = err
				cancel()
			}
		}
	}
	wg.Wait()
	if err := <-readErr; err != nil && outErr == nil {
		outErr = err
	}
	if outErr != nil {
		return st, outErr
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return st, err
	}
	return st, bw.Flush()
}

func formatReasons(rs []Reason) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%s=%s (%+.3f)", r.Feature, r.Value, r.Contribution)
	}
	return strings.Join(parts, "; ")
}

// scoreChunk encodes and scores one chunk; rows with invalid fields get an
// error message instead of a score.
func (s *Scorer) scoreChunk(ctx context.Context, records [][]string, lines, colOf []int, idCol int, results *[]Result, errs *[]string) error {
	nf := len(s.feats)
	*results = make([]Result, len(records))
	*errs = make([]string, len(records))
	rows := make([]float64, 0, len(records)*nf)
	var ids []string
	var okIdx []int
	x := make([]float64, nf)
	for r, rec := range records {
		var msgs []string
		for i, ci := range colOf {
			v, msg := s.enc.value(i, rec[ci])
			if msg != "" {
				msgs = append(msgs, fmt.Sprintf("line %d field %q: %s", lines[r], s.feats[i].Name, msg))
			}
			x[i] = v
		}
		if len(msgs) > 0 {
			(*errs)[r] = strings.Join(msgs, "; ")
			continue
		}
		rows = append(rows, x...)
		id := ""
		if idCol >= 0 {
			id = rec[idCol]
		}
		ids = append(ids, id)
		okIdx = append(okIdx, r)
	}
	scored := make([]Result, len(okIdx))
	if err := s.scoreRows(ctx, rows, ids, scored); err != nil {
		return err
	}
	for k, r := range okIdx {
		(*results)[r] = scored[k]
	}
	return nil
}
