package eval

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/sextant-ai/sextant"
)

// Suite is an evaluation suite: a dataset, the assistant variants to
// compare on it, the metrics to report, the rule a task must meet to
// succeed, and the gates that fail a run. docs/evaluation.md describes the
// file format.
type Suite struct {
	Name        string
	Description string
	// Dataset is a golden set (a .jsonl file) or a BEIR folder, as
	// written in the file: relative paths are relative to the suite file.
	Dataset string
	Split   string // BEIR judgement split; "" = "test"
	Limit   int    // use the first Limit questions; 0 = all
	// Corpus lists files or folders to ingest into a fresh store for the
	// run; empty runs against the current data directory.
	Corpus []string
	// Judge names the model of the LLM judge; "" = the built-in scorer
	// only (or the configuration's eval.judge).
	Judge string
	// Workers answers this many questions at once; 0 = the number of CPUs.
	Workers  int
	Variants []Variant
	// Metrics are reported in the table and kept as the run's key metrics
	// in the history; every metric is computed and stored regardless.
	Metrics []string
	// ABMetric compares variants question by question (prompt A/B); ""
	// = f1 when the dataset has reference answers, else groundedness.
	ABMetric string
	// Success is the task success rule: every condition must hold for a
	// question (conditions on metrics a question lacks are ignored).
	Success []Condition
	// Gates fail the run when any of them is met.
	Gates []Gate
}

// Variant is one assistant configuration to evaluate: an assistant with
// some of its fields overridden. Nil and zero fields keep the assistant's
// setting.
type Variant struct {
	Name      string
	Assistant string // the configured assistant it starts from; "" = the default
	// Template names a prompt template; TemplateFile is a template file
	// (relative to the suite) used instead, for prompt A/B.
	Template     string
	TemplateFile string
	Model        string
	System       *string
	TopK         int
	MaxTokens    int
	Temperature  *float64
	Mode         string // retrieval mode: lexical, vector or hybrid; "" = automatic
}

// Settings describes the variant's overrides for reports.
func (v *Variant) Settings() map[string]string {
	m := map[string]string{}
	set := func(k, val string) {
		if val != "" {
			m[k] = val
		}
	}
	set("assistant", v.Assistant)
	set("template", v.Template)
	set("template_file", v.TemplateFile)
	set("model", v.Model)
	if v.System != nil {
		m["system"] = *v.System
	}
	if v.TopK > 0 {
		m["top_k"] = strconv.Itoa(v.TopK)
	}
	if v.MaxTokens > 0 {
		m["max_tokens"] = strconv.Itoa(v.MaxTokens)
	}
	if v.Temperature != nil {
		m["temperature"] = strconv.FormatFloat(*v.Temperature, 'g', -1, 64)
	}
	set("mode", v.Mode)
	if len(m) == 0 {
		return nil
	}
	return m
}

// Condition is one clause of a task success rule: METRIC OP VALUE.
type Condition struct {
	Metric string
	Op     string // one of >= > <= < == !=
	Value  float64
	Text   string
}

// Holds reports whether x satisfies the condition.
func (c *Condition) Holds(x float64) bool {
	switch c.Op {
	case ">=":
		return x >= c.Value
	case ">":
		return x > c.Value
	case "<=":
		return x <= c.Value
	case "<":
		return x < c.Value
	case "==":
		return x == c.Value
	case "!=":
		return x != c.Value
	}
	return false
}

var ops = []string{">=", "<=", "==", "!=", ">", "<"}

// ParseCondition parses "METRIC OP NUMBER" (OP one of >= > <= < == !=),
// e.g. "f1 >= 0.5".
func ParseCondition(s string) (Condition, error) {
	metric, op, rest, ok := splitOp(s)
	if !ok {
		return Condition{}, sextant.Errorf(sextant.EINVALID, "condition %q: want METRIC OP NUMBER, like \"f1 >= 0.5\" (OP one of >= > <= < == !=)", s)
	}
	if _, _, err := ParseMetric(metric); err != nil {
		return Condition{}, sextant.Errorf(sextant.EINVALID, "condition %q: %s", s, sextant.ErrorMessage(err))
	}
	v, err := parseFinite(rest)
	if err != nil {
		return Condition{}, sextant.Errorf(sextant.EINVALID, "condition %q: %q is not a number", s, rest)
	}
	return Condition{Metric: metric, Op: op, Value: v, Text: strings.TrimSpace(s)}, nil
}

// splitOp splits "left OP right" at the first comparison operator.
func splitOp(s string) (left, op, right string, ok bool) {
	best := -1
	for _, o := range ops {
		if i := strings.Index(s, o); i >= 0 && (best < 0 || i < best || i == best && len(o) > len(op)) {
			best, op = i, o
		}
	}
	if best < 0 {
		return "", "", "", false
	}
	left, right = strings.TrimSpace(s[:best]), strings.TrimSpace(s[best+len(op):])
	return left, op, right, left != "" && right != ""
}

func parseFinite(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("not a finite number")
	}
	return v, nil
}

// rawSuite is the suite file as YAML.
type rawSuite struct {
	Name        posString    `yaml:"name"`
	Description string       `yaml:"description"`
	Dataset     posString    `yaml:"dataset"`
	Split       string       `yaml:"split"`
	Limit       int          `yaml:"limit"`
	Corpus      []string     `yaml:"corpus"`
	Judge       string       `yaml:"judge"`
	Workers     int          `yaml:"workers"`
	Variants    []rawVariant `yaml:"variants"`
	Metrics     []posString  `yaml:"metrics"`
	ABMetric    posString    `yaml:"ab_metric"`
	Success     []posString  `yaml:"success"`
	Gates       []posString  `yaml:"gates"`
}

type rawVariant struct {
	Name         posString `yaml:"name"`
	Assistant    string    `yaml:"assistant"`
	Template     string    `yaml:"template"`
	TemplateFile string    `yaml:"template_file"`
	Model        string    `yaml:"model"`
	System       *string   `yaml:"system"`
	TopK         int       `yaml:"top_k"`
	MaxTokens    int       `yaml:"max_tokens"`
	Temperature  *float64  `yaml:"temperature"`
	Mode         string    `yaml:"mode"`
}

// posString is a YAML scalar with its position in the file.
type posString struct {
	Value     string
	Line, Col int
}

// UnmarshalYAML implements yaml.NodeUnmarshaler. A one-pair mapping reads
// as "key: value", so a gate naming its variant needs no quotes:
// "- top8: latency_p95_ms rise > 50%".
func (p *posString) UnmarshalYAML(node ast.Node) error {
	if tk := node.GetToken(); tk != nil && tk.Position != nil {
		p.Line, p.Col = tk.Position.Line, tk.Position.Column
	}
	if m, ok := node.(*ast.MappingNode); ok && len(m.Values) == 1 {
		node = m.Values[0]
	}
	if mv, ok := node.(*ast.MappingValueNode); ok && mv.Key != nil && mv.Value != nil {
		var k, v posString
		if err := k.UnmarshalYAML(mv.Key); err != nil {
			return err
		}
		if err := v.UnmarshalYAML(mv.Value); err != nil {
			return err
		}
		p.Value, p.Line, p.Col = k.Value+": "+v.Value, k.Line, k.Col
		return nil
	}
	switch n := node.(type) {
	case *ast.StringNode:
		p.Value = n.Value
	case *ast.NullNode:
		p.Value = ""
	case *ast.MappingNode, *ast.SequenceNode, *ast.MappingValueNode:
		return fmt.Errorf("[%d:%d] want a string, got %s", p.Line, p.Col, node.Type())
	default:
		if s, ok := node.(interface{ GetValue() any }); ok {
			p.Value = fmt.Sprint(s.GetValue())
		} else {
			p.Value = node.String()
		}
	}
	return nil
}

// maxSuiteBytes bounds a suite file.
const maxSuiteBytes = 1 << 20

// ParseSuite parses a suite file's contents. name labels errors, which are
// EINVALID and name the file, line and column: "suite.yaml:12:5: ...".
// Malformed YAML (including input that makes the YAML library panic) is an
// error, never a panic.
func ParseSuite(name string, data []byte) (*Suite, error) {
	fail := func(line, col int, format string, args ...any) error {
		where := name
		if line > 0 {
			where = fmt.Sprintf("%s:%d:%d", name, line, col)
		}
		return sextant.Errorf(sextant.EINVALID, "%s: %s", where, fmt.Sprintf(format, args...))
	}
	if len(data) > maxSuiteBytes {
		return nil, fail(0, 0, "suite file is larger than %d bytes", maxSuiteBytes)
	}
	var raw rawSuite
	if err := decodeYAML(data, &raw); err != nil {
		return nil, sextant.Errorf(sextant.EINVALID, "%s", yamlError(name, err))
	}
	s := &Suite{Name: strings.TrimSpace(raw.Name.Value), Description: raw.Description, Dataset: strings.TrimSpace(raw.Dataset.Value),
		Split: raw.Split, Limit: raw.Limit, Corpus: raw.Corpus, Judge: raw.Judge, Workers: raw.Workers}
	switch {
	case s.Name == "":
		return nil, fail(raw.Name.Line, raw.Name.Col, "the suite has no name (name: ...)")
	case !ValidName(s.Name):
		return nil, fail(raw.Name.Line, raw.Name.Col, "name %q: use 1-64 letters, digits, '-', '_' or '.'", s.Name)
	case s.Dataset == "":
		return nil, fail(raw.Dataset.Line, raw.Dataset.Col, "no dataset (dataset: FILE.jsonl or a BEIR folder)")
	case s.Limit < 0:
		return nil, fail(0, 0, "limit %d is negative", s.Limit)
	case s.Workers < 0 || s.Workers > 256:
		return nil, fail(0, 0, "workers %d: want 0 (one per CPU) to 256", s.Workers)
	}
	names := map[string]bool{}
	for i, rv := range raw.Variants {
		v := Variant{Name: strings.TrimSpace(rv.Name.Value), Assistant: rv.Assistant, Template: rv.Template, TemplateFile: rv.TemplateFile,
			Model: rv.Model, System: rv.System, TopK: rv.TopK, MaxTokens: rv.MaxTokens, Temperature: rv.Temperature, Mode: rv.Mode}
		line, col := rv.Name.Line, rv.Name.Col
		switch {
		case v.Name == "":
			return nil, fail(line, col, "variants[%d] has no name", i)
		case !ValidName(v.Name):
			return nil, fail(line, col, "variant name %q: use 1-64 letters, digits, '-', '_' or '.'", v.Name)
		case names[v.Name]:
			return nil, fail(line, col, "variant %q is defined twice", v.Name)
		case v.Template != "" && v.TemplateFile != "":
			return nil, fail(line, col, "variant %q: give template or template_file, not both", v.Name)
		case v.TopK < 0 || v.TopK > 1000:
			return nil, fail(line, col, "variant %q: top_k %d is outside 0..1000", v.Name, v.TopK)
		case v.MaxTokens < 0:
			return nil, fail(line, col, "variant %q: max_tokens %d is negative", v.Name, v.MaxTokens)
		case v.Temperature != nil && (*v.Temperature < 0 || *v.Temperature > 2 || math.IsNaN(*v.Temperature)):
			return nil, fail(line, col, "variant %q: temperature %v is outside [0, 2]", v.Name, *v.Temperature)
		case v.Mode != "" && v.Mode != string(sextant.ModeLexical) && v.Mode != string(sextant.ModeVector) && v.Mode != string(sextant.ModeHybrid):
			return nil, fail(line, col, "variant %q: mode %q: want lexical, vector or hybrid", v.Name, v.Mode)
		}
		names[v.Name] = true
		s.Variants = append(s.Variants, v)
	}
	if len(s.Variants) == 0 {
		s.Variants = []Variant{{Name: "default"}}
	}
	for _, m := range raw.Metrics {
		if _, _, err := ParseMetric(strings.TrimSpace(m.Value)); err != nil {
			return nil, fail(m.Line, m.Col, "%s", sextant.ErrorMessage(err))
		}
		s.Metrics = append(s.Metrics, strings.TrimSpace(m.Value))
	}
	if len(s.Metrics) == 0 {
		s.Metrics = slices.Clone(DefaultMetrics)
	}
	if m := strings.TrimSpace(raw.ABMetric.Value); m != "" {
		if _, _, err := ParseMetric(m); err != nil || !perQuestion(m) {
			return nil, fail(raw.ABMetric.Line, raw.ABMetric.Col, "ab_metric %q: want a metric measured per question", m)
		}
		s.ABMetric = m
	}
	for _, c := range raw.Success {
		cond, err := ParseCondition(c.Value)
		if err != nil {
			return nil, fail(c.Line, c.Col, "success: %s", sextant.ErrorMessage(err))
		}
		if !perQuestion(cond.Metric) || cond.Metric == MetricTaskSuccess {
			return nil, fail(c.Line, c.Col, "success: condition %q: %s is not measured per question", c.Value, cond.Metric)
		}
		s.Success = append(s.Success, cond)
	}
	for _, g := range raw.Gates {
		gate, err := ParseGate(g.Value)
		if err != nil {
			return nil, fail(g.Line, g.Col, "gates: %s", sextant.ErrorMessage(err))
		}
		s.Gates = append(s.Gates, gate)
	}
	return s, nil
}

// Depths returns the depths of the retrieval metrics the suite's metrics,
// success rule and gates use, ascending.
func (s *Suite) Depths() []int {
	var ks []int
	add := func(m string) {
		if _, k, err := ParseMetric(m); err == nil && k > 0 && !slices.Contains(ks, k) {
			ks = append(ks, k)
		}
	}
	for _, m := range s.Metrics {
		add(m)
	}
	for _, c := range s.Success {
		add(c.Metric)
	}
	for _, g := range s.Gates {
		add(g.Metric)
	}
	if s.ABMetric != "" {
		add(s.ABMetric)
	}
	slices.Sort(ks)
	return ks
}

// ValidName reports whether s may name a suite or a variant: 1-64
// letters, digits, '-', '_' or '.'.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// decodeYAML decodes strictly (unknown keys are errors). The YAML library
// can panic on some malformed documents; that becomes an error here.
func decodeYAML(data []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed YAML (%v)", r)
		}
	}()
	return yaml.UnmarshalWithOptions(data, v, yaml.DisallowUnknownField())
}

// yamlError formats a YAML decoding error as "NAME:LINE:COL: message".
func yamlError(name string, err error) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = name + ": " + err.Error()
		}
	}()
	msg = strings.TrimSpace(yaml.FormatError(err, false, false))
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = strings.TrimSpace(msg[:i])
	}
	if strings.HasPrefix(msg, "[") {
		if pos, rest, ok := strings.Cut(msg[1:], "]"); ok {
			return name + ":" + pos + ":" + rest
		}
	}
	return name + ": " + msg
}
