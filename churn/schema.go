package churn

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/gbdt"
)

// Type is the kind of values a column holds.
type Type string

// Column types.
const (
	Numeric     Type = "numeric"     // a number
	Categorical Type = "categorical" // one of a set of labels
	Boolean     Type = "boolean"     // yes/no, true/false, 1/0, y/n, t/f
	Date        Type = "date"        // a date or timestamp; the feature is days since 1970-01-01
	Text        Type = "text"        // free text: never a model feature
)

// Role is what a column is for.
type Role string

// Column roles. The zero role is RoleFeature.
const (
	RoleFeature   Role = "feature"
	RoleID        Role = "id"
	RoleTarget    Role = "target"
	RoleTreatment Role = "treatment"
	RoleIgnore    Role = "ignore"
)

// Column describes one input column.
type Column struct {
	Name string `json:"name" yaml:"name"`
	Type Type   `json:"type" yaml:"type"`
	Role Role   `json:"role,omitempty" yaml:"role,omitempty"`
	// Categories lists the known labels of a categorical column; a label's
	// index is its code. Labels not listed are scored as unseen.
	Categories []string `json:"categories,omitempty" yaml:"categories,omitempty"`
	// Layout is the Go time layout of a date column; empty tries the
	// common ones (2006-01-02, RFC 3339, 01/02/2006, 2006/01/02).
	Layout string `json:"layout,omitempty" yaml:"layout,omitempty"`
}

func (c *Column) role() Role {
	if c.Role == "" {
		return RoleFeature
	}
	return c.Role
}

// Schema says how to read a customer table. It can be inferred (Infer),
// printed, edited and pinned in a YAML file.
type Schema struct {
	// Target names the label column and Positive the label value that
	// means the customer left.
	Target   string   `json:"target" yaml:"target"`
	Positive string   `json:"positive" yaml:"positive"`
	Columns  []Column `json:"columns" yaml:"columns"`
}

// maxCategories bounds the labels kept for a categorical column; rarer
// labels are scored as unseen.
const maxCategories = gbdt.MaxCategories - 1

// missingToken reports whether a field means "no value".
func missingToken(s string) bool {
	s = strings.TrimSpace(s)
	if len(s) > 4 { // the hot path: a real value, decided without allocating
		return false
	}
	return s == "" || anyFold(s, "na", "n/a", "nan", "null", "none", "?", "-")
}

func anyFold(s string, words ...string) bool {
	for _, w := range words {
		if strings.EqualFold(s, w) {
			return true
		}
	}
	return false
}

func parseBool(s string) (bool, bool) {
	s = strings.TrimSpace(s)
	switch {
	case len(s) > 5:
		return false, false
	case anyFold(s, "yes", "true", "1", "y", "t"):
		return true, true
	case anyFold(s, "no", "false", "0", "n", "f"):
		return false, true
	}
	return false, false
}

var dateLayouts = []string{"2006-01-02", time.RFC3339, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "01/02/2006", "2006/01/02"}

func parseDate(s, layout string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if layout != "" {
		t, err := time.Parse(layout, s)
		return t, err == nil
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// InferOptions name the special columns for Infer.
type InferOptions struct {
	Target    string // required
	Positive  string // empty: inferred for boolean and 0/1 targets
	ID        string // optional
	Treatment string // optional
}

// Infer guesses a schema from t: a column whose values all parse as
// booleans is boolean, as numbers numeric, as dates a date; other columns
// are categorical, unless nearly every value is distinct (an identifier or
// free text, ignored).
func Infer(t *Table, o InferOptions) (*Schema, error) {
	if o.Target == "" {
		return nil, sextant.Errorf(sextant.EINVALID, "%s: no target column named", t.Name)
	}
	for _, name := range []string{o.Target, o.ID, o.Treatment} {
		if name != "" && t.Column(name) < 0 {
			return nil, sextant.Errorf(sextant.EINVALID, "%s: no column %q (columns: %s)", t.Name, name, strings.Join(t.Header, ", "))
		}
	}
	s := &Schema{Target: o.Target, Positive: o.Positive}
	for j, name := range t.Header {
		c := inferColumn(t, j)
		switch name {
		case o.Target:
			c.Role = RoleTarget
		case o.ID:
			c.Role, c.Type, c.Categories = RoleID, Categorical, nil
		case o.Treatment:
			c.Role = RoleTreatment
		}
		s.Columns = append(s.Columns, c)
	}
	if s.Positive == "" {
		p, err := inferPositive(t, t.Column(o.Target))
		if err != nil {
			return nil, err
		}
		s.Positive = p
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", t.Name, err)
	}
	return s, nil
}

func inferColumn(t *Table, j int) Column {
	c := Column{Name: t.Header[j]}
	counts := map[string]int{}
	isBool, isNum, isDate := true, true, true
	n := 0
	for _, row := range t.Rows {
		v := strings.TrimSpace(row[j])
		if missingToken(v) {
			continue
		}
		n++
		counts[v]++
		if _, ok := parseBool(v); !ok {
			isBool = false
		}
		if isNum {
			if f, err := strconv.ParseFloat(v, 64); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				isNum = false
			}
		}
		if isDate {
			if _, ok := parseDate(v, ""); !ok {
				isDate = false
			}
		}
	}
	switch {
	case n == 0:
		c.Type, c.Role = Numeric, RoleIgnore
	case isBool && len(counts) <= 2:
		c.Type = Boolean
	case isNum:
		c.Type = Numeric
	case isDate:
		c.Type = Date
	case len(counts) > 50 && len(counts)*2 > n:
		c.Type, c.Role = Text, RoleIgnore
	default:
		c.Type = Categorical
		c.Categories = topLabels(counts, maxCategories)
	}
	return c
}

// topLabels returns up to k labels, most frequent first, ties by label.
func topLabels(counts map[string]int, k int) []string {
	labels := make([]string, 0, len(counts))
	for l := range counts {
		labels = append(labels, l)
	}
	slices.SortFunc(labels, func(a, b string) int {
		if counts[a] != counts[b] {
			return counts[b] - counts[a]
		}
		return strings.Compare(a, b)
	})
	if len(labels) > k {
		labels = labels[:k]
	}
	return labels
}

func inferPositive(t *Table, j int) (string, error) {
	counts := map[string]int{}
	for _, row := range t.Rows {
		if v := strings.TrimSpace(row[j]); !missingToken(v) {
			counts[v]++
		}
	}
	if len(counts) != 2 {
		return "", sextant.Errorf(sextant.EINVALID, "%s: target %q has %d distinct values, want 2", t.Name, t.Header[j], len(counts))
	}
	for v := range counts {
		if b, ok := parseBool(v); ok && b {
			return v, nil
		}
	}
	return "", sextant.Errorf(sextant.EINVALID, "%s: cannot tell which value of target %q means churn: name it (positive)", t.Name, t.Header[j])
}

// Validate checks the schema's own consistency.
func (s *Schema) Validate() error {
	seen := map[string]bool{}
	targets := 0
	for _, c := range s.Columns {
		if c.Name == "" {
			return sextant.Errorf(sextant.EINVALID, "schema: a column has no name")
		}
		if seen[c.Name] {
			return sextant.Errorf(sextant.EINVALID, "schema: column %q listed twice", c.Name)
		}
		seen[c.Name] = true
		switch c.Type {
		case Numeric, Categorical, Boolean, Date, Text:
		default:
			return sextant.Errorf(sextant.EINVALID, "schema: column %q: unknown type %q (want numeric, categorical, boolean, date or text)", c.Name, c.Type)
		}
		switch c.role() {
		case RoleFeature, RoleID, RoleIgnore:
		case RoleTarget:
			targets++
			if c.Name != s.Target {
				return sextant.Errorf(sextant.EINVALID, "schema: column %q has role target but the target is %q", c.Name, s.Target)
			}
		case RoleTreatment:
		default:
			return sextant.Errorf(sextant.EINVALID, "schema: column %q: unknown role %q", c.Name, c.Role)
		}
		if c.role() == RoleFeature && c.Type == Text {
			return sextant.Errorf(sextant.EINVALID, "schema: text column %q cannot be a feature (give it role ignore)", c.Name)
		}
		if len(c.Categories) > maxCategories {
			return sextant.Errorf(sextant.EINVALID, "schema: column %q has %d categories, at most %d", c.Name, len(c.Categories), maxCategories)
		}
	}
	if s.Target == "" || !seen[s.Target] {
		return sextant.Errorf(sextant.EINVALID, "schema: target column %q is not among the columns", s.Target)
	}
	if targets != 1 {
		return sextant.Errorf(sextant.EINVALID, "schema: target column %q must have role target", s.Target)
	}
	if s.Positive == "" {
		return sextant.Errorf(sextant.EINVALID, "schema: no positive target value")
	}
	if len(s.Features()) == 0 {
		return sextant.Errorf(sextant.EINVALID, "schema: no feature columns")
	}
	return nil
}

// Features returns the feature columns in model order.
func (s *Schema) Features() []Column {
	var out []Column
	for _, c := range s.Columns {
		if c.role() == RoleFeature {
			out = append(out, c)
		}
	}
	return out
}

// ColumnByRole returns the first column with role r.
func (s *Schema) ColumnByRole(r Role) (Column, bool) {
	for _, c := range s.Columns {
		if c.role() == r {
			return c, true
		}
	}
	return Column{}, false
}

// gbdtFeatures is the model's view of the feature columns.
func (s *Schema) gbdtFeatures() []gbdt.Feature {
	fs := s.Features()
	out := make([]gbdt.Feature, len(fs))
	for i, c := range fs {
		out[i] = gbdt.Feature{Name: c.Name, Categorical: c.Type == Categorical}
	}
	return out
}

// WriteYAML writes the schema as YAML, the format ReadSchema reads.
func (s *Schema) WriteYAML(w io.Writer) error {
	b, err := yaml.Marshal(s)
	if err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	_, err = w.Write(b)
	return err
}

// ReadSchema reads a YAML (or JSON) schema file and validates it.
func ReadSchema(r io.Reader, name string) (*Schema, error) {
	data, err := io.ReadAll(io.LimitReader(r, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", name, err)
	}
	var s Schema
	if err := decodeYAML(data, &s); err != nil {
		return nil, sextant.Errorf(sextant.EINVALID, "schema %s: %v", name, err)
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &s, nil
}

// decodeYAML decodes data into v, refusing unknown fields. go-yaml v1.19.2
// panics on some malformed tagged input (found by FuzzReadSchema, e.g.
// "columns: !00000 0"); a schema file is user input, so such a panic is
// turned into an error here instead of crashing the command.
func decodeYAML(data []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed YAML (the parser failed: %v)", r)
		}
	}()
	return yaml.NewDecoder(bytes.NewReader(data), yaml.DisallowUnknownField()).Decode(v)
}

// FieldError is one invalid field of one input row.
type FieldError struct {
	Row     int    `json:"row"` // 0-based index in the request, or the CSV line
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e FieldError) Error() string {
	return fmt.Sprintf("row %d field %q: %s", e.Row, e.Field, e.Message)
}

// FieldErrors is a list of invalid fields; it is an error with code
// EINVALID.
type FieldErrors []FieldError

func (e FieldErrors) Error() string {
	if len(e) == 0 {
		return "no errors"
	}
	s := e[0].Error()
	if len(e) > 1 {
		s += fmt.Sprintf(" (and %d more)", len(e)-1)
	}
	return s
}

// encoder turns field strings into model feature values.
type encoder struct {
	cols  []Column
	codes []map[string]int
}

func newEncoder(s *Schema) *encoder {
	e := &encoder{cols: s.Features()}
	e.codes = make([]map[string]int, len(e.cols))
	for i, c := range e.cols {
		if c.Type == Categorical {
			m := make(map[string]int, len(c.Categories))
			for k, l := range c.Categories {
				m[l] = k
			}
			e.codes[i] = m
		}
	}
	return e
}

// value parses field v of feature column i. An unknown category becomes
// the code just past the known ones (scored as unseen).
func (e *encoder) value(i int, v string) (float64, string) {
	c := &e.cols[i]
	v = strings.TrimSpace(v)
	if missingToken(v) {
		return math.NaN(), ""
	}
	switch c.Type {
	case Numeric:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Sprintf("not a number: %q", clip(v))
		}
		return f, ""
	case Boolean:
		b, ok := parseBool(v)
		if !ok {
			return 0, fmt.Sprintf("not a boolean (yes/no, true/false, 1/0): %q", clip(v))
		}
		if b {
			return 1, ""
		}
		return 0, ""
	case Date:
		t, ok := parseDate(v, c.Layout)
		if !ok {
			want := "a date such as 2024-03-31"
			if c.Layout != "" {
				want = "a date in layout " + c.Layout
			}
			return 0, fmt.Sprintf("not %s: %q", want, clip(v))
		}
		return float64(t.Unix()) / 86400, ""
	case Categorical:
		if k, ok := e.codes[i][v]; ok {
			return float64(k), ""
		}
		return float64(len(c.Categories)), ""
	}
	return math.NaN(), ""
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
