package churn

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sextant-ai/sextant"
)

// Source is an event table (usage logs, billing, support tickets) joined to
// customers by id. Its events become per-customer features.
type Source struct {
	Name  string // prefix of the derived columns, e.g. "usage"
	Table *Table
	// ID names the customer id column; Time the event timestamp column
	// (a date or RFC 3339 time); Text an optional free-text column scored
	// for sentiment. Values lists numeric columns to sum; empty means every
	// other column whose values all parse as numbers.
	ID, Time, Text string
	Values         []string
}

// SourceSpec is the part of a Source a model records, so scoring derives
// the same columns from new event files.
type SourceSpec struct {
	Name   string   `json:"name"`
	ID     string   `json:"id"`
	Time   string   `json:"time"`
	Text   string   `json:"text,omitempty"`
	Values []string `json:"values,omitempty"`
}

// Assembly says how customer rows were widened with source features.
type Assembly struct {
	ID      string       `json:"id"` // customer id column of the main table
	Sources []SourceSpec `json:"sources"`
	Windows []int        `json:"windows"` // days before AsOf
	AsOf    time.Time    `json:"as_of"`
}

// AssembleOptions configure Assemble. Zero values take the defaults in the
// comments.
type AssembleOptions struct {
	Windows   []int         // default 30 and 90 days
	AsOf      time.Time     // default: the latest event time in any source
	Sentiment SentimentFunc // default LexiconSentiment
}

// Assemble returns customers widened with features from each source,
// for every window w (days before the as-of time):
//
//	NAME_count_Wd          events in the window
//	NAME_sum_COL_Wd        sum of numeric column COL over the window
//	NAME_sentiment_Wd      mean sentiment of the text column (empty if none)
//	NAME_days_since_last   days from the latest event to the as-of time
//	NAME_count_trend       events in the first window minus the window before it
//	NAME_sum_COL_trend     the same for each value column
//
// Events after the as-of time are ignored, so training can use a past
// as-of date without leaking the future.
func Assemble(ctx context.Context, customers *Table, idCol string, sources []Source, o AssembleOptions) (*Table, *Assembly, error) {
	if idCol == "" || customers.Column(idCol) < 0 {
		return nil, nil, sextant.Errorf(sextant.EINVALID, "%s: feature assembly needs the customer id column (--id), got %q", customers.Name, idCol)
	}
	if len(o.Windows) == 0 {
		o.Windows = []int{30, 90}
	}
	for _, w := range o.Windows {
		if w <= 0 {
			return nil, nil, sextant.Errorf(sextant.EINVALID, "window %d days: want a positive number", w)
		}
	}
	if o.Sentiment == nil {
		o.Sentiment = LexiconSentiment
	}
	asm := &Assembly{ID: idCol, Windows: slices.Clone(o.Windows), AsOf: o.AsOf}
	parsed := make([]*sourceEvents, len(sources))
	for i := range sources {
		s := &sources[i]
		ev, err := readEvents(ctx, s, idCol, o.Sentiment)
		if err != nil {
			return nil, nil, err
		}
		parsed[i] = ev
		asm.Sources = append(asm.Sources, ev.spec)
		if o.AsOf.IsZero() && ev.latest.After(asm.AsOf) {
			asm.AsOf = ev.latest
		}
	}
	out := &Table{Name: customers.Name, Header: slices.Clone(customers.Header), Rows: make([][]string, len(customers.Rows))}
	for i, r := range customers.Rows {
		out.Rows[i] = slices.Clone(r)
	}
	idx := customers.Column(idCol)
	for _, ev := range parsed {
		names, rows := ev.features(asm, customers, idx)
		for _, n := range names {
			if out.Column(n) >= 0 {
				return nil, nil, sextant.Errorf(sextant.EINVALID, "derived column %q clashes with an existing column", n)
			}
		}
		out.Header = append(out.Header, names...)
		for i := range out.Rows {
			out.Rows[i] = append(out.Rows[i], rows[i]...)
		}
	}
	return out, asm, nil
}

// Reassemble applies a recorded assembly to new customer rows and event
// sources (matched to the spec by name). A zero asOf means the latest event.
func Reassemble(ctx context.Context, customers *Table, asm *Assembly, sources []Source, asOf time.Time, sentiment SentimentFunc) (*Table, error) {
	byName := map[string]*Source{}
	for i := range sources {
		byName[sources[i].Name] = &sources[i]
	}
	var ordered []Source
	for _, sp := range asm.Sources {
		s, ok := byName[sp.Name]
		if !ok {
			return nil, sextant.Errorf(sextant.EINVALID, "the model was trained with source %q: pass it (--source %s=FILE.csv)", sp.Name, sp.Name)
		}
		c := *s
		c.ID, c.Time, c.Text, c.Values = sp.ID, sp.Time, sp.Text, sp.Values
		ordered = append(ordered, c)
	}
	t, _, err := Assemble(ctx, customers, asm.ID, ordered, AssembleOptions{Windows: asm.Windows, AsOf: asOf, Sentiment: sentiment})
	return t, err
}

type event struct {
	t      time.Time
	values []float64
	sent   float64 // NaN without text
}

type sourceEvents struct {
	spec   SourceSpec
	byID   map[string][]event
	latest time.Time
}

func readEvents(ctx context.Context, s *Source, idCol string, sentiment SentimentFunc) (*sourceEvents, error) {
	t := s.Table
	if s.Name == "" || strings.ContainsAny(s.Name, " ,=") {
		return nil, sextant.Errorf(sextant.EINVALID, "source %q: want a name without spaces, commas or '='", s.Name)
	}
	spec := SourceSpec{Name: s.Name, ID: s.ID, Time: s.Time, Text: s.Text, Values: s.Values}
	if spec.ID == "" {
		spec.ID = idCol
	}
	ii := t.Column(spec.ID)
	if ii < 0 {
		return nil, sextant.Errorf(sextant.EINVALID, "source %s (%s): no customer id column %q", s.Name, t.Name, spec.ID)
	}
	if spec.Time == "" {
		for j, h := range t.Header {
			if j != ii && inferColumn(t, j).Type == Date {
				spec.Time = h
				break
			}
		}
	}
	ti := t.Column(spec.Time)
	if ti < 0 {
		return nil, sextant.Errorf(sextant.EINVALID, "source %s (%s): no timestamp column (name it; columns: %s)", s.Name, t.Name, strings.Join(t.Header, ", "))
	}
	xi := -1
	if spec.Text != "" {
		if xi = t.Column(spec.Text); xi < 0 {
			return nil, sextant.Errorf(sextant.EINVALID, "source %s (%s): no text column %q", s.Name, t.Name, spec.Text)
		}
	}
	if spec.Values == nil {
		for j, h := range t.Header {
			if j != ii && j != ti && j != xi && inferColumn(t, j).Type == Numeric && inferColumn(t, j).Role != RoleIgnore {
				spec.Values = append(spec.Values, h)
			}
		}
	}
	vi := make([]int, len(spec.Values))
	for k, v := range spec.Values {
		if vi[k] = t.Column(v); vi[k] < 0 {
			return nil, sextant.Errorf(sextant.EINVALID, "source %s (%s): no value column %q", s.Name, t.Name, v)
		}
	}
	var sents []float64
	if xi >= 0 {
		texts := make([]string, len(t.Rows))
		for r, row := range t.Rows {
			texts[r] = row[xi]
		}
		var err error
		if sents, err = sentiment(ctx, texts); err != nil {
			return nil, fmt.Errorf("source %s: sentiment: %w", s.Name, err)
		}
		if len(sents) != len(texts) {
			return nil, fmt.Errorf("source %s: sentiment returned %d scores for %d texts", s.Name, len(sents), len(texts))
		}
	}
	ev := &sourceEvents{spec: spec, byID: map[string][]event{}}
	var errs FieldErrors
	for r, row := range t.Rows {
		ts, ok := parseDate(row[ti], "")
		if !ok {
			if len(errs) < maxFieldErrors {
				errs = append(errs, FieldError{Row: r + 2, Field: spec.Time, Message: fmt.Sprintf("not a date or time: %q", clip(row[ti]))})
			}
			continue
		}
		e := event{t: ts, values: make([]float64, len(vi)), sent: math.NaN()}
		for k, j := range vi {
			v := strings.TrimSpace(row[j])
			if missingToken(v) {
				continue
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				if len(errs) < maxFieldErrors {
					errs = append(errs, FieldError{Row: r + 2, Field: spec.Values[k], Message: fmt.Sprintf("not a number: %q", clip(v))})
				}
				continue
			}
			e.values[k] = f
		}
		if sents != nil && !missingToken(row[xi]) {
			e.sent = sents[r]
		}
		id := row[ii]
		ev.byID[id] = append(ev.byID[id], e)
		if ts.After(ev.latest) {
			ev.latest = ts
		}
	}
	if len(errs) > 0 {
		return nil, sextant.Errorf(sextant.EINVALID, "source %s (%s): %w", s.Name, t.Name, errs)
	}
	return ev, nil
}

// features computes the derived columns for every customer row.
func (ev *sourceEvents) features(asm *Assembly, customers *Table, idIdx int) ([]string, [][]string) {
	sp, p := ev.spec, ev.spec.Name
	var names []string
	for _, w := range asm.Windows {
		names = append(names, fmt.Sprintf("%s_count_%dd", p, w))
		for _, v := range sp.Values {
			names = append(names, fmt.Sprintf("%s_sum_%s_%dd", p, v, w))
		}
		if sp.Text != "" {
			names = append(names, fmt.Sprintf("%s_sentiment_%dd", p, w))
		}
	}
	names = append(names, p+"_days_since_last", p+"_count_trend")
	for _, v := range sp.Values {
		names = append(names, fmt.Sprintf("%s_sum_%s_trend", p, v))
	}
	fmtF := func(f float64) string {
		if math.IsNaN(f) {
			return ""
		}
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	rows := make([][]string, len(customers.Rows))
	day := 24 * time.Hour
	for i, row := range customers.Rows {
		evs := ev.byID[row[idIdx]]
		out := make([]string, 0, len(names))
		for _, w := range asm.Windows {
			from := asm.AsOf.Add(-time.Duration(w) * day)
			var cnt, sentSum, sentN float64
			sums := make([]float64, len(sp.Values))
			for _, e := range evs {
				if e.t.After(asm.AsOf) || !e.t.After(from) {
					continue
				}
				cnt++
				for k, v := range e.values {
					sums[k] += v
				}
				if !math.IsNaN(e.sent) {
					sentSum += e.sent
					sentN++
				}
			}
			out = append(out, fmtF(cnt))
			for _, s := range sums {
				out = append(out, fmtF(s))
			}
			if sp.Text != "" {
				mean := math.NaN()
				if sentN > 0 {
					mean = sentSum / sentN
				}
				out = append(out, fmtF(mean))
			}
		}
		recency := math.NaN()
		w := time.Duration(asm.Windows[0]) * day
		var cur, prev float64
		curSums, prevSums := make([]float64, len(sp.Values)), make([]float64, len(sp.Values))
		for _, e := range evs {
			if e.t.After(asm.AsOf) {
				continue
			}
			age := asm.AsOf.Sub(e.t)
			if d := age.Hours() / 24; math.IsNaN(recency) || d < recency {
				recency = d
			}
			switch {
			case age < w:
				cur++
				for k, v := range e.values {
					curSums[k] += v
				}
			case age < 2*w:
				prev++
				for k, v := range e.values {
					prevSums[k] += v
				}
			}
		}
		out = append(out, fmtF(recency), fmtF(cur-prev))
		for k := range sp.Values {
			out = append(out, fmtF(curSums[k]-prevSums[k]))
		}
		rows[i] = out
	}
	return names, rows
}
