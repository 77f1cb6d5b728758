package eval

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sextant-ai/sextant"
)

func TestParseSuite(t *testing.T) {
	data, err := os.ReadFile("testdata/suite/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSuite("full.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	temp, sys := 0.2, "Answer in one sentence."
	want := &Suite{
		Name: "handbook", Description: "Prompt A/B on the handbook golden set.", Dataset: "golden.jsonl", Limit: 20,
		Corpus: []string{"docs/"}, Judge: "gpt-4o-mini", Workers: 3,
		Metrics:  []string{"ndcg@10", "recall@5", "groundedness", "hallucination_rate", "f1", "latency_p95_ms"},
		ABMetric: "f1",
		Success: []Condition{
			{Metric: "f1", Op: ">=", Value: 0.5, Text: "f1 >= 0.5"},
			{Metric: "groundedness", Op: ">=", Value: 0.6, Text: "groundedness >= 0.6"},
		},
		Gates: []Gate{
			{Text: "ndcg@10 drop > 0.01", Metric: "ndcg@10", Kind: GateDrop, Op: ">", Value: 0.01},
			{Text: "hallucination_rate > 0.05", Metric: "hallucination_rate", Kind: GateAbsolute, Op: ">", Value: 0.05},
			{Text: "concise: latency_p95_ms rise > 20%", Variant: "concise", Metric: "latency_p95_ms", Kind: GateRise, Op: ">", Value: 20, Relative: true},
		},
		Variants: []Variant{
			{Name: "base", Assistant: "sextant"},
			{Name: "concise", TemplateFile: "prompts/concise.tmpl", TopK: 4, Temperature: &temp, Mode: "lexical", System: &sys, MaxTokens: 200, Model: "extractive"},
		},
	}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("ParseSuite mismatch (-want +got):\n%s", diff)
	}
	if got := s.Depths(); !cmp.Equal(got, []int{5, 10}) {
		t.Errorf("Depths = %v, want [5 10]", got)
	}
}

func TestParseSuiteDefaults(t *testing.T) {
	s, err := ParseSuite("min.yaml", []byte("name: min\ndataset: q.jsonl\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Variants) != 1 || s.Variants[0].Name != "default" || !cmp.Equal(s.Metrics, DefaultMetrics) {
		t.Errorf("defaults: variants %+v, metrics %v", s.Variants, s.Metrics)
	}
}

// TestParseSuiteErrors checks that every mistake is named with the file,
// line and column, and never panics.
func TestParseSuiteErrors(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"name: a\ndataset: q.jsonl\nmetrics: [ndcg@10, ndgc@10]\n", "s.yaml:3:20: unknown metric \"ndgc@10\""},
		{"name: a\ndataset: q.jsonl\nmetrics: [ndcg]\n", "s.yaml:3:11: metric \"ndcg\" needs a depth"},
		{"name: a\ndataset: q.jsonl\ngates:\n  - ndcg@10 dropp > 0.01\n", "s.yaml:4:5: gates: gate \"ndcg@10 dropp > 0.01\""},
		{"name: a\ndataset: q.jsonl\ngates:\n  - hallucination_rate > 5%\n", "s.yaml:4:5: gates: gate \"hallucination_rate > 5%\": a percentage needs drop or rise"},
		{"name: a\ndataset: q.jsonl\ngates:\n  - f1 drop < 0.1\n", "s.yaml:4:5: gates: gate \"f1 drop < 0.1\": a drop is compared with > or >="},
		{"name: a\ndataset: q.jsonl\nsuccess:\n  - f1 >= high\n", "s.yaml:4:5: success: condition \"f1 >= high\": \"high\" is not a number"},
		{"name: a\ndataset: q.jsonl\nsuccess:\n  - latency_p95_ms < 10\n", "s.yaml:4:5: success: condition \"latency_p95_ms < 10\": latency_p95_ms is not measured per question"},
		{"name: a\ndataset: q.jsonl\nvariants:\n  - name: x\n  - name: x\n", "s.yaml:5:11: variant \"x\" is defined twice"},
		{"name: a\ndataset: q.jsonl\nvariants:\n  - name: x\n    mode: fuzzy\n", "s.yaml:4:11: variant \"x\": mode \"fuzzy\""},
		{"name: a\ndataset: q.jsonl\nvariants:\n  - name: x\n    top_k: -1\n", "s.yaml:4:11: variant \"x\": top_k -1"},
		{"name: a\ndataset: q.jsonl\nvariants:\n  - name: x\n    template: a\n    template_file: b\n", "template or template_file, not both"},
		{"name: a\ndataset: q.jsonl\nvariants:\n  - name: x\n    temprature: 1\n", "s.yaml:5:5: unknown field \"temprature\""},
		{"name: a\ndataset: q.jsonl\nab_metric: latency_p95_ms\n", "s.yaml:3:12: ab_metric \"latency_p95_ms\""},
		{"name: a\n", "no dataset"},
		{"dataset: q.jsonl\n", "has no name"},
		{"name: a b\ndataset: q.jsonl\n", "s.yaml:1:7: name \"a b\""},
		{"name: a\ndataset: q.jsonl\nlimit: many\n", "s.yaml:3:8:"},
		{"name: [a\n", "s.yaml:"},
		{"name: a\ndataset: q.jsonl\nmetrics: {a: 1}\n", "s.yaml:3:"},
		{"name: a\ndataset: q.jsonl\ngates:\n  - {x: 1}\n", "s.yaml:4:"},
	} {
		_, err := ParseSuite("s.yaml", []byte(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseSuite(%q) = %v, want an error containing %q", c.yaml, err, c.want)
			continue
		}
		if sextant.ErrorCode(err) != sextant.EINVALID {
			t.Errorf("ParseSuite(%q): code %s, want EINVALID", c.yaml, sextant.ErrorCode(err))
		}
	}
}

func TestParseGate(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Gate
		err  string
	}{
		{in: "hallucination_rate > 0.05", want: Gate{Metric: "hallucination_rate", Kind: GateAbsolute, Op: ">", Value: 0.05}},
		{in: "f1<=0.4", want: Gate{Metric: "f1", Kind: GateAbsolute, Op: "<=", Value: 0.4}},
		{in: "ndcg@10 drop >= 0.01", want: Gate{Metric: "ndcg@10", Kind: GateDrop, Op: ">=", Value: 0.01}},
		{in: "recall@100 drop > 2%", want: Gate{Metric: "recall@100", Kind: GateDrop, Op: ">", Value: 2, Relative: true}},
		{in: "base: cost_usd rise > 10%", want: Gate{Variant: "base", Metric: "cost_usd", Kind: GateRise, Op: ">", Value: 10, Relative: true}},
		{in: "ndcg@10 > x", err: "is not a number"},
		{in: "ndcg@10", err: "want METRIC OP NUMBER"},
		{in: "ndcg@10 fall > 0.1", err: "is not a metric"},
		{in: "bogus > 1", err: "unknown metric"},
		{in: "f1 drop > -1", err: "not negative"},
		{in: "a b: f1 > 1", err: "is not a metric"},
	} {
		g, err := ParseGate(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseGate(%q) = %+v, %v; want error %q", c.in, g, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseGate(%q): %v", c.in, err)
			continue
		}
		c.want.Text = c.in
		if diff := cmp.Diff(c.want, g); diff != "" {
			t.Errorf("ParseGate(%q) (-want +got):\n%s", c.in, diff)
		}
	}
}

var suiteSeeds = []string{
	"name: a\ndataset: q.jsonl\n",
	"name: a\ndataset: q.jsonl\nvariants:\n  - name: x\n    top_k: 3\ngates: [f1 drop > 1%]\nsuccess: [f1 >= 0.5]\n",
	"name: [a\n",
	"a: &x [*x]\n",
	"? - a\n: b\n",
	"name: a\n\tdataset: b\n",
	"- - - - [\n",
	"name: !!binary AAA=\n",
}

func FuzzParseSuite(f *testing.F) {
	for _, s := range suiteSeeds {
		f.Add(s)
	}
	b, _ := os.ReadFile("testdata/suite/full.yaml")
	f.Add(string(b))
	f.Fuzz(func(t *testing.T, s string) {
		su, err := ParseSuite("f.yaml", []byte(s))
		if err != nil {
			if sextant.ErrorCode(err) != sextant.EINVALID {
				t.Fatalf("error %v has code %s, want EINVALID", err, sextant.ErrorCode(err))
			}
			return
		}
		if su.Name == "" || su.Dataset == "" || len(su.Variants) == 0 || len(su.Metrics) == 0 {
			t.Fatalf("accepted an incomplete suite: %+v", su)
		}
	})
}

func FuzzParseGate(f *testing.F) {
	for _, s := range []string{"hallucination_rate > 0.05", "ndcg@10 drop > 0.01", "x: f1 rise >= 5%", ":", "f1 > 1e309", "a@@1 > 2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g, err := ParseGate(s)
		if err != nil {
			return
		}
		if _, _, err := ParseMetric(g.Metric); err != nil {
			t.Fatalf("accepted gate %q with metric %q: %v", s, g.Metric, err)
		}
		if g.Kind != GateAbsolute && g.Value < 0 {
			t.Fatalf("accepted negative %s in %q", g.Kind, s)
		}
	})
}
