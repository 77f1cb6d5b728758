package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/html"

	"github.com/sextant-ai/sextant"
)

// The passages a fake pipeline answers from.
var runDocs = map[string]string{
	"kb:bridge": "The Golden Gate Bridge opened in 1937. It spans 1,280 meters between its towers.",
	"kb:river":  "The Danube flows through ten countries. It empties into the Black Sea.",
	"kb:refund": "Refunds are issued within 14 days of a return. Opened software cannot be refunded.",
}

func runDataset() *Dataset {
	return &Dataset{Name: "golden.jsonl", Items: []Item{
		{ID: "bridge", Question: "When did the Golden Gate Bridge open?", ReferenceAnswer: "The Golden Gate Bridge opened in 1937.", RelevantIDs: []string{"bridge"}},
		{ID: "river", Question: "Where does the Danube end?", ReferenceAnswer: "It empties into the Black Sea.", RelevantIDs: []string{"kb:river"}},
		{ID: "refund", Question: "How fast are refunds issued?", ReferenceAnswer: "Refunds are issued within 14 days of a return.", RelevantIDs: []string{"kb:refund#0"}},
		{ID: "none", Question: "Who painted the bridge?"},
	}}
}

func source(n int, doc string) sextant.Source {
	return sextant.Source{N: n, DocumentID: doc, ChunkID: doc + "#0", Title: doc, Text: runDocs[doc]}
}

// fakeAnswer answers as two variants: "good" retrieves the right document
// first and quotes it; "bad" ranks it second and changes a number.
func fakeAnswer(_ context.Context, v *Variant, it *Item) (*sextant.Answer, error) {
	a := &sextant.Answer{Question: it.Question, Model: "m1", Usage: sextant.Usage{InputTokens: 100, OutputTokens: 10}}
	switch it.ID {
	case "bridge":
		a.Sources = []sextant.Source{source(1, "kb:bridge"), source(2, "kb:river")}
		a.Text = "The Golden Gate Bridge opened in 1937 [1]."
		if v.Name == "bad" {
			a.Sources[0], a.Sources[1] = source(1, "kb:river"), source(2, "kb:bridge")
			a.Text = "The Golden Gate Bridge opened in 1950 [2]."
		}
	case "river":
		a.Sources = []sextant.Source{source(1, "kb:river")}
		a.Text = "It empties into the Black Sea [1]."
	case "refund":
		a.Sources = []sextant.Source{source(1, "kb:refund")}
		a.Text = "Refunds are issued within 14 days of a return [1]."
		if v.Name == "bad" {
			return nil, sextant.Errorf(sextant.EUNAVAILABLE, "provider down")
		}
	default:
		a.Text = "I could not find an answer to this in the documents."
		a.Sources = nil
	}
	return a, nil
}

func fixedClock() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2026, 1, 27, 11, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(5 * time.Millisecond)
		return t
	}
}

func runSuite(t *testing.T, gates ...string) *Suite {
	t.Helper()
	s := &Suite{Name: "t", Variants: []Variant{{Name: "good"}, {Name: "bad"}},
		Metrics: []string{"ndcg@10", "recall@1", "mrr@10", "f1", "exact_match", "groundedness", "hallucination_rate", "task_success", "cost_usd"}}
	c, err := ParseCondition("f1 >= 0.9")
	if err != nil {
		t.Fatal(err)
	}
	s.Success = []Condition{c}
	for _, g := range gates {
		pg, err := ParseGate(g)
		if err != nil {
			t.Fatal(err)
		}
		s.Gates = append(s.Gates, pg)
	}
	return s
}

func runReport(t *testing.T, s *Suite) *Report {
	t.Helper()
	var calls sync.Map
	r, err := Run(context.Background(), s, runDataset(), RunOptions{
		Answer: func(ctx context.Context, v *Variant, it *Item) (*sextant.Answer, error) {
			calls.Store(v.Name+"/"+it.ID, true)
			return fakeAnswer(ctx, v, it)
		},
		Cost: func(model string, u sextant.Usage) (float64, bool) {
			return float64(u.InputTokens)*1e-6 + float64(u.OutputTokens)*4e-6, true
		},
		Workers: 3, Now: fixedClock(), NewID: func() string { return "run-1" },
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	calls.Range(func(any, any) bool { n++; return true })
	if n != 8 {
		t.Errorf("answered %d (variant, question) pairs, want 8", n)
	}
	return r
}

func close9(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// Latency is the clock's difference around the answer call: one tick of
// the test clock per answer with one worker (with several, their clock
// reads interleave and a question's latency spans ticks of the others).
func TestRunLatency(t *testing.T) {
	r, err := Run(context.Background(), runSuite(t), runDataset(), RunOptions{
		Answer: fakeAnswer, Workers: 1, Now: fixedClock(), NewID: func() string { return "run-1" },
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Variant("good").Metrics["latency_ms"]; !close9(got, 5) {
		t.Errorf("latency_ms = %v, want 5 (one 5 ms tick)", got)
	}
}

func TestRunMetrics(t *testing.T) {
	r := runReport(t, runSuite(t))
	good, bad := r.Variant("good"), r.Variant("bad")
	if good == nil || bad == nil {
		t.Fatal("variants missing")
	}
	// good: every judged question finds its document first.
	for m, want := range map[string]float64{
		"ndcg@10": 1, "recall@1": 1, "mrr@10": 1, "exact_match": 1, "f1": 1, "answered": 0.75,
		"task_success": 1, "error_rate": 0, "hallucination_rate": 0, "cost_usd": 140e-6, "cost_usd_total": 4 * 140e-6,
		"tokens": 110,
	} {
		if got := good.Metrics[m]; !close9(got, want) {
			t.Errorf("good %s = %v, want %v", m, got, want)
		}
	}
	// bad: the bridge question ranks its document second (nDCG 1/log2(3)),
	// the refund question failed, the altered number is unsupported.
	wantNDCG := (1/math.Log2(3) + 1) / 2
	for m, want := range map[string]float64{
		"ndcg@10": wantNDCG, "recall@1": 0.5, "mrr@10": 0.75, "error_rate": 0.25, "task_success": 0.5,
		"answer_hallucination_rate": 1.0 / 3,
	} {
		if got := bad.Metrics[m]; !close9(got, want) {
			t.Errorf("bad %s = %v, want %v", m, got, want)
		}
	}
	if bad.Errors != 1 || !strings.Contains(bad.Questions[2].Error, "provider down") {
		t.Errorf("bad errors = %d, question error %q", bad.Errors, bad.Questions[2].Error)
	}
	if q := good.Questions[3]; q.Metrics["answered"] != 0 || q.Success != nil {
		t.Errorf("refusal: answered %v, success %v (no reference: the rule does not apply)", q.Metrics["answered"], q.Success)
	}
	if !good.Questions[0].Sources[0].Relevant || good.Questions[0].Sources[1].Relevant || !good.Questions[0].Sources[0].Cited {
		t.Errorf("source flags: %+v", good.Questions[0].Sources)
	}
	// Prompt A/B: bad vs good on f1 (the reference metric).
	if len(r.Diffs) != 1 {
		t.Fatalf("diffs = %+v", r.Diffs)
	}
	d := r.Diffs[0]
	if d.Metric != "f1" || d.Worse != 1 || d.Better != 0 || d.Same != 1 || d.Changes[0].ID != "bridge" {
		t.Errorf("diff = %+v", d)
	}
}

func TestRunAnswersEveryQuestionOrFails(t *testing.T) {
	s := &Suite{Name: "t", Variants: []Variant{{Name: "broken"}}, Metrics: DefaultMetrics}
	_, err := Run(context.Background(), s, runDataset(), RunOptions{Answer: func(context.Context, *Variant, *Item) (*sextant.Answer, error) {
		return nil, sextant.Errorf(sextant.ENOTFOUND, "model %q not configured", "x")
	}})
	if err == nil || !strings.Contains(err.Error(), `variant "broken" answered no question`) || !strings.Contains(err.Error(), "not configured") {
		t.Fatalf("err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, s, runDataset(), RunOptions{Answer: fakeAnswer}); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled run: err = %v", err)
	}
}

// TestGates checks the failing-gate message: it names the metric, the
// baseline value and the new value.
func TestGates(t *testing.T) {
	s := runSuite(t, "ndcg@10 drop > 0.01", "hallucination_rate > 0.05", "recall@1 drop > 10%", "good: tokens rise > 0", "f1 < 0.1")
	baseline := runReport(t, s)
	baseline.ID = "base-1"
	// The new run: "good" behaves as "bad" did.
	r := runReport(t, s)
	r.Variants[0].Metrics = baseline.Variant("bad").Metrics
	r.Gates = CheckGates(r, baseline, s.Gates)
	byKey := map[string]GateResult{}
	for _, g := range r.Gates {
		byKey[g.Variant+"|"+g.Gate] = g
	}
	ndcg := byKey["good|ndcg@10 drop > 0.01"]
	if !ndcg.Failed || ndcg.Baseline == nil || *ndcg.Baseline != 1 {
		t.Fatalf("ndcg gate = %+v", ndcg)
	}
	for _, want := range []string{"ndcg@10", "1.0000", "base-1", "0.8155", "-0.1845"} {
		if !strings.Contains(ndcg.Message, want) {
			t.Errorf("message %q lacks %q", ndcg.Message, want)
		}
	}
	hall := byKey["good|hallucination_rate > 0.05"]
	if !hall.Failed || !strings.Contains(hall.Message, "hallucination_rate is 0.5000") || !strings.Contains(hall.Message, "base-1: 0.0000") {
		t.Errorf("hallucination gate = %+v", hall)
	}
	if g := byKey["good|recall@1 drop > 10%"]; !g.Failed || !strings.Contains(g.Message, "-50%") {
		t.Errorf("relative gate = %+v", g)
	}
	if g := byKey["bad|ndcg@10 drop > 0.01"]; g.Failed || g.Skipped != "" {
		t.Errorf("unchanged variant gate = %+v", g)
	}
	if g := byKey["good|tokens rise > 0"]; g.Failed {
		t.Errorf("tokens did not rise: %+v", g)
	}
	if g := byKey["good|f1 < 0.1"]; g.Failed {
		t.Errorf("f1 is 0.5: %+v", g)
	}
	// ndcg, recall and hallucination on good; hallucination on bad too.
	if len(r.Failed()) != 4 {
		t.Errorf("failed gates = %d, want 4: %+v", len(r.Failed()), r.Failed())
	}
	// Without a baseline, drops and rises are skipped, absolute gates run.
	noBase := CheckGates(r, nil, s.Gates)
	for _, g := range noBase {
		if g.Gate == "hallucination_rate > 0.05" && g.Variant == "good" && !g.Failed {
			t.Errorf("absolute gate without baseline: %+v", g)
		}
		if strings.Contains(g.Gate, "drop") && (g.Failed || g.Skipped == "") {
			t.Errorf("drop gate without baseline: %+v", g)
		}
	}
}

func TestReportJSONRoundTrip(t *testing.T) {
	r := runReport(t, runSuite(t, "f1 < 0.95"))
	r.Gates = CheckGates(r, nil, []Gate{mustGate(t, "f1 < 0.95")})
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, &back); diff != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", diff)
	}
	var tb bytes.Buffer
	if err := r.WriteTable(&tb); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ndcg@10", "good", "bad", "A/B bad vs good on f1: 0 better, 1 worse", "FAIL  gate \"f1 < 0.95\" failed on bad"} {
		if !strings.Contains(tb.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, tb.String())
		}
	}
}

func mustGate(t *testing.T, s string) Gate {
	t.Helper()
	g, err := ParseGate(s)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestReportHTMLSelfContained checks the page references nothing outside
// itself: no scripts, stylesheets, images, fonts, frames or links to other
// hosts, and that the drill-down holds every question with every variant.
func TestReportHTMLSelfContained(t *testing.T) {
	s := runSuite(t, "ndcg@10 drop > 0.01")
	base := runReport(t, s)
	r := runReport(t, s)
	r.Baseline = &RunRef{ID: base.ID, CreatedAt: base.CreatedAt, Metrics: map[string]map[string]float64{"good": base.Variants[0].Metrics}}
	r.Gates = CheckGates(r, base, s.Gates)
	r.Variants[0].Questions[0].Answer = `<script>alert("x")</script> [1]`
	var b bytes.Buffer
	if err := r.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	checkSelfContained(t, page)
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	questions := map[string]int{}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "details" {
			for _, a := range n.Attr {
				if a.Key == "data-question" {
					questions[a.Val]++
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if want := map[string]int{"bridge": 1, "river": 1, "refund": 1, "none": 1}; !cmp.Equal(questions, want) {
		t.Errorf("drill-down questions = %v, want %v", questions, want)
	}
	for _, want := range []string{`data-variant="good"`, `data-variant="bad"`, "<svg", "Prompt A/B", `href="#q-bridge"`, "provider down", "&lt;script&gt;"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// checkSelfContained fails when page could load anything: every src, href,
// action, srcset, poster, data or style url() must be a fragment or data:.
func checkSelfContained(t *testing.T, page string) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script", "link", "iframe", "object", "embed", "img", "video", "audio", "base", "form":
				t.Errorf("page has a <%s> element", n.Data)
			}
			for _, a := range n.Attr {
				switch a.Key {
				case "src", "href", "action", "srcset", "poster", "data", "formaction", "background":
					if !strings.HasPrefix(a.Val, "#") && !strings.HasPrefix(a.Val, "data:") {
						t.Errorf("<%s %s=%q> points outside the page", n.Data, a.Key, a.Val)
					}
				}
				if strings.Contains(strings.ToLower(a.Val), "url(") {
					t.Errorf("<%s %s=%q> loads a url()", n.Data, a.Key, a.Val)
				}
			}
			if n.Data == "style" && n.FirstChild != nil && (strings.Contains(n.FirstChild.Data, "url(") || strings.Contains(n.FirstChild.Data, "@import")) {
				t.Error("the stylesheet loads a url() or @import")
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
}
