package eval

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sextant-ai/sextant"
)

const aspirin = "Aspirin was first synthesized by Felix Hoffmann at Bayer in 1897. " +
	"It reduces fever and pain but does not cure infections. " +
	"Daily doses of 75 mg lower the risk of heart attack by 25% in adults over 50."

func TestSupportChecks(t *testing.T) {
	s := NewScorer(ScorerOptions{})
	ev := s.Evidence(aspirin)
	cases := []struct {
		name      string
		claim     string
		supported bool
		check     func(Support) bool
	}{
		{"verbatim", "Aspirin was first synthesized by Felix Hoffmann at Bayer in 1897.", true, nil},
		{"paraphrase", "Felix Hoffmann first made aspirin at Bayer in 1897.", true, nil},
		{"synonym and spelling", "Aspirin decreases fever and pain.", true, nil},
		{"rounded number", "Daily doses of 75 mg lower heart attack risk by about 25 percent.", true, nil},
		{"number altered", "Aspirin was first synthesized by Felix Hoffmann at Bayer in 1899.", false,
			func(s Support) bool { return s.Number > 0 && strings.Contains(strings.Join(s.Missing, " "), "1899") }},
		{"number swapped within passage", "Daily doses of 50 mg lower the risk of heart attack by 25%.", false,
			func(s Support) bool { return s.Number > 0 }},
		{"negation inserted", "Aspirin does not reduce fever and pain.", false, func(s Support) bool { return s.Negation > 0 }},
		{"negation removed", "Aspirin cures infections.", false, func(s Support) bool { return s.Negation > 0 }},
		{"antonym", "Daily doses of 75 mg raise the risk of heart attack by 25%.", false, func(s Support) bool { return s.Antonym > 0 }},
		{"negated antonym agrees", "Daily doses of 75 mg do not increase the risk of heart attack.", true, nil},
		{"entity swapped", "Aspirin was first synthesized by Marie Curie at Bayer in 1897.", false,
			func(s Support) bool { return s.Entity > 0 }},
		{"unrelated", "The Eiffel Tower is in Paris.", false, nil},
	}
	for _, c := range cases {
		sup := s.Support(c.claim, "", ev)
		if sup.Supported != c.supported {
			t.Errorf("%s: %q scored %.3f (%+v), want supported=%v", c.name, c.claim, sup.Score, sup, c.supported)
		}
		if c.check != nil && !c.check(sup) {
			t.Errorf("%s: %q: check failed on %+v", c.name, c.claim, sup)
		}
		if sup.Score < 0 || sup.Score > 1 {
			t.Errorf("%s: score %v outside [0, 1]", c.name, sup.Score)
		}
	}
	// The aligned span points into the passage.
	sup := s.Support("Aspirin cures infections.", "", ev)
	if sup.Passage != 0 || !strings.Contains(aspirin[sup.Span[0]:sup.Span[1]], "infections") {
		t.Errorf("aligned span %v = %q", sup.Span, aspirin[sup.Span[0]:sup.Span[1]])
	}
}

func TestSupportQuestionAndContentless(t *testing.T) {
	s := NewScorer(ScorerOptions{})
	ev := s.Evidence("The committee approved the budget in March.")
	// Without the question "Tokyo" is a name missing from the passage;
	// a question that names it makes restating it no fabrication.
	q := "Did the Tokyo committee approve the budget?"
	with := s.Support("The Tokyo committee approved the budget in March.", q, ev)
	without := s.Support("The Tokyo committee approved the budget in March.", "", ev)
	if with.Score <= without.Score || with.Entity != 0 || without.Entity == 0 {
		t.Errorf("question should excuse restated names: with %+v, without %+v", with, without)
	}
	for _, c := range []string{"Yes.", "Sure, here it is:", "…"} {
		if sup := s.Support(c, "", ev); sup.Checkable || sup.Score != 1 {
			t.Errorf("Support(%q) = %+v, want uncheckable score 1", c, sup)
		}
	}
	if sup := s.Support("Paris is large.", "", s.Evidence()); sup.Supported || !sup.Checkable {
		t.Errorf("no evidence: %+v", sup)
	}
}

func TestAnswerScoreYesNo(t *testing.T) {
	s := NewScorer(ScorerOptions{})
	ctx := "Marie Curie was the first woman to win a Nobel Prize."
	q := "Was Marie Curie the first woman to win a Nobel Prize?"
	yes, no := s.AnswerScore(ctx, q, "Yes."), s.AnswerScore(ctx, q, "No.")
	if yes < s.Threshold() || no >= s.Threshold() {
		t.Errorf("yes %.3f no %.3f: want yes supported and no unsupported", yes, no)
	}
	if got := s.AnswerScore(ctx, q, "I don't know."); got != 1 {
		t.Errorf("refusal = %v, want 1", got)
	}
	if got := s.AnswerScore(ctx, "", "Yes."); got != 0.5 {
		t.Errorf("yes without a question = %v, want 0.5", got)
	}
}

func TestAnalyzeNegationScopeAndNumbers(t *testing.T) {
	tb := loadTables()
	sc := &stemCache{m: map[string]string{}}
	neg := map[string]bool{}
	for _, tk := range tb.analyze("Bcl-2 was not absent in crypts, but present in villi; results didn't change.", sc) {
		neg[tk.norm] = tk.neg
	}
	// "not absent" cancels; the comma ends the scope; "didn't" negates change.
	for w, want := range map[string]bool{"crypts": false, "villi": false, "change": true} {
		if neg[w] != want {
			t.Errorf("neg[%q] = %v, want %v", w, neg[w], want)
		}
	}
	var nums []float64
	for _, tk := range tb.analyze("In 1,250 adults (3.5%), 2.5 million doses, twenty five sites and .5 mg; 40mg/day.", sc) {
		if tk.isNum {
			nums = append(nums, tk.num)
		}
	}
	want := []float64{1250, 3.5, 2.5e6, 25, 0.5, 40}
	if len(nums) != len(want) {
		t.Fatalf("numbers = %v, want %v", nums, want)
	}
	for i := range want {
		if math.Abs(nums[i]-want[i]) > 1e-9 {
			t.Errorf("numbers = %v, want %v", nums, want)
		}
	}
}

func TestNumbersAgreeToWrittenPrecision(t *testing.T) {
	mk := func(v, tol float64) gtok { return gtok{isNum: true, num: v, tol: tol} }
	cases := []struct {
		c, p gtok
		want bool
	}{
		{mk(76, 0.5), mk(76.3, 0.05), true},
		{mk(76, 0.5), mk(76.6, 0.05), false},
		{mk(76.3, 0.05), mk(76, 0.5), false},
		{mk(2e6, 0.5e6), mk(2.134e6, 0.5), true},
	}
	for _, c := range cases {
		if got := numbersAgree(c.c, c.p); got != c.want {
			t.Errorf("numbersAgree(%v, %v) = %v, want %v", c.c.num, c.p.num, got, c.want)
		}
	}
}

func sources(texts ...string) []sextant.Source {
	var out []sextant.Source
	for i, t := range texts {
		out = append(out, sextant.Source{N: i + 1, Text: t})
	}
	return out
}

func TestGroundAnswer(t *testing.T) {
	in := AnswerInput{
		Question: "What does aspirin do?",
		Answer: "Aspirin reduces fever and pain [1]. Daily doses of 75 mg lower the risk of heart attack by 25% [2]. " +
			"It was invented by Marie Curie in 1920 [1][3]. It is sold worldwide.",
		Sources: sources(
			"Aspirin reduces fever and pain but does not cure infections.",
			"Daily doses of 75 mg lower the risk of heart attack by 25% in adults over 50.",
		),
	}
	a, err := (&Grounder{}).Ground(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if a.Sentences != 4 || a.CitedSentences != 3 {
		t.Errorf("sentences %d cited %d, want 4 and 3", a.Sentences, a.CitedSentences)
	}
	// Citations: (s0,1) ok, (s1,2) ok, (s2,1) not, (s2,3) unknown source.
	if a.Citations != 4 || a.GroundedCitations != 2 {
		t.Errorf("citations %d grounded %d, want 4 and 2", a.Citations, a.GroundedCitations)
	}
	if a.Checkable != 4 || a.Unsupported != 2 {
		for _, c := range a.Claims {
			t.Logf("%q score %.3f supported %v", c.Text, c.Score, c.Supported)
		}
		t.Errorf("checkable %d unsupported %d, want 4 and 2", a.Checkable, a.Unsupported)
	}
	if got := a.CitationCoverage(); math.Abs(got-0.75) > 1e-9 {
		t.Errorf("citation coverage %v, want 0.75", got)
	}
	if got := a.GroundedCitationRate(); math.Abs(got-0.5) > 1e-9 {
		t.Errorf("grounded citation rate %v, want 0.5", got)
	}
	var sum GroundingSummary
	sum.Add(a)
	sum.Add(AnswerGrounding{Sentences: 1, Checkable: 1, SupportSum: 1})
	m := sum.Metrics()
	want := map[string]float64{"hallucination_rate": 2.0 / 5, "answer_hallucination_rate": 0.5, "citation_coverage": 3.0 / 5, "grounded_citation_rate": 0.5}
	for k, v := range want {
		if math.Abs(m[k]-v) > 1e-9 {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
}

// fakeJudge supports claims that contain "reduces" and counts its calls.
type fakeJudge struct {
	version string
	calls   atomic.Int32
	fail    bool
	label   string
}

func (f *fakeJudge) PromptVersion() string { return f.version }

func (f *fakeJudge) JudgeClaim(_ context.Context, req JudgeRequest) (Verdict, error) {
	f.calls.Add(1)
	if f.fail {
		return Verdict{}, errors.New("model unavailable")
	}
	if f.label != "" {
		return Verdict{Label: f.label, Support: 0.5}, nil
	}
	if strings.Contains(req.Claim, "reduces") {
		return Verdict{Label: VerdictSupported, Support: 0.9, Reason: "stated"}, nil
	}
	return Verdict{Label: VerdictUnsupported, Support: 0.1}, nil
}

func TestGroundWithCachedJudge(t *testing.T) {
	judge := &fakeJudge{version: "judge-v1"}
	cache := &MemoryVerdictCache{}
	g := &Grounder{Judge: &CachedJudge{Judge: judge, Cache: cache}}
	in := AnswerInput{Answer: "Aspirin reduces fever [1]. Aspirin cures colds [1].", Sources: sources("Aspirin reduces fever.")}
	for i := 0; i < 3; i++ {
		a, err := g.Ground(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if a.Unsupported != 1 || a.Claims[0].Verdict == nil || a.Claims[0].Score != 0.9 {
			t.Fatalf("run %d: %+v", i, a)
		}
	}
	if n := judge.calls.Load(); n != 2 {
		t.Errorf("judge called %d times over 3 runs of 2 claims, want 2 (cached)", n)
	}
	// A new prompt version invalidates the cache.
	judge.version = "judge-v2"
	if _, err := g.Ground(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if n := judge.calls.Load(); n != 4 || cache.Len() != 4 {
		t.Errorf("after version change: %d calls, %d cached; want 4 and 4", n, cache.Len())
	}
	// Errors propagate and are not cached; bad verdicts are rejected.
	failing := &fakeJudge{version: "x", fail: true}
	g = &Grounder{Judge: &CachedJudge{Judge: failing, Cache: cache}}
	if _, err := g.Ground(context.Background(), in); err == nil {
		t.Error("judge failure not reported")
	}
	bad := &CachedJudge{Judge: &fakeJudge{version: "y", label: "maybe"}, Cache: cache}
	if _, err := bad.JudgeClaim(context.Background(), JudgeRequest{Claim: "c"}); err == nil {
		t.Error("unknown verdict label accepted")
	}
	if cache.Len() != 4 {
		t.Errorf("cache grew on errors: %d", cache.Len())
	}
}

func TestCachedJudgeConcurrentCallsOnce(t *testing.T) {
	judge := &fakeJudge{version: "v"}
	cj := &CachedJudge{Judge: judge, Cache: &MemoryVerdictCache{}}
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := cj.JudgeClaim(context.Background(), JudgeRequest{Claim: "it reduces", Passages: []string{"p"}}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := judge.calls.Load(); n < 1 || n > 16 {
		t.Errorf("calls = %d", n)
	}
	if _, err := cj.JudgeClaim(context.Background(), JudgeRequest{Claim: "it reduces", Passages: []string{"p"}}); err != nil {
		t.Fatal(err)
	}
	before := judge.calls.Load()
	if _, err := cj.JudgeClaim(context.Background(), JudgeRequest{Claim: "it reduces", Passages: []string{"p"}}); err != nil || judge.calls.Load() != before {
		t.Errorf("cached request called the judge again")
	}
}

func TestVerdictKeyDistinguishes(t *testing.T) {
	base := JudgeRequest{Question: "q", Claim: "c", Passages: []string{"a", "b"}}
	keys := map[string]string{}
	for name, r := range map[string]JudgeRequest{
		"base":     base,
		"split":    {Question: "q", Claim: "c", Passages: []string{"ab"}},
		"shift":    {Question: "qc", Claim: "", Passages: []string{"a", "b"}},
		"question": {Question: "", Claim: "c", Passages: []string{"a", "b"}},
	} {
		k := VerdictKey("v1", r)
		if prev, ok := keys[k]; ok {
			t.Errorf("%s and %s share a key", name, prev)
		}
		keys[k] = name
	}
	if VerdictKey("v1", base) == VerdictKey("v2", base) {
		t.Error("prompt version not in key")
	}
	if VerdictKey("v1", base) != VerdictKey("v1", base) {
		t.Error("key not deterministic")
	}
}

func TestMemoryVerdictCacheEvicts(t *testing.T) {
	c := &MemoryVerdictCache{Max: 2}
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c"} {
		if err := c.Put(ctx, k, Verdict{Label: VerdictSupported, Support: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, _ := c.Get(ctx, "a"); ok || c.Len() != 2 {
		t.Errorf("oldest entry not evicted (len %d)", c.Len())
	}
}

func TestRelevance(t *testing.T) {
	s := NewScorer(ScorerOptions{})
	q := "When was aspirin first synthesized?"
	good := s.Relevance(q, "Aspirin was first synthesized in 1897 by Felix Hoffmann.")
	off := s.Relevance(q, "The Eiffel Tower is 330 metres tall.")
	refusal := s.Relevance(q, "I don't know.")
	if !(good > 0.8 && off < 0.2 && refusal == 0) {
		t.Errorf("relevance good=%.3f off=%.3f refusal=%.3f", good, off, refusal)
	}
	embed := func(_ context.Context, texts []string) ([][]float32, error) {
		return [][]float32{{1, 0}, {1, 1}}, nil
	}
	r, err := EmbeddingRelevance(context.Background(), embed, q, "x")
	if err != nil || math.Abs(r-1/math.Sqrt2) > 1e-6 {
		t.Errorf("EmbeddingRelevance = %v, %v", r, err)
	}
}

func TestIsRefusal(t *testing.T) {
	for s, want := range map[string]bool{
		"I don't know.": true,
		"Sorry, I could not find that in the documents.":    true,
		"The provided context does not mention the author.": true,
		"There is not enough information to answer.":        true,
		"Unfortunately, the drug failed in phase 3 trials.": false,
		"No.": false,
		"I know that aspirin was first synthesized in 1897.": false,
	} {
		if got := IsRefusal(s); got != want {
			t.Errorf("IsRefusal(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestDetectionAUC(t *testing.T) {
	// Unsupported (0) examples score 0.1, 0.4, 0.35; supported 0.8, 0.4.
	// Pairs (sup, unsup) won: 0.8 beats all 3; 0.4 beats 0.1 and 0.35 and
	// ties 0.4 → (3 + 2.5) / 6.
	got := DetectionAUC([]float64{0.1, 0.4, 0.35, 0.8, 0.4}, []int{0, 0, 0, 1, 1})
	if math.Abs(got-5.5/6) > 1e-12 {
		t.Errorf("AUC = %v, want %v", got, 5.5/6)
	}
	if !math.IsNaN(DetectionAUC([]float64{0.1}, []int{1})) {
		t.Error("AUC with one class should be NaN")
	}
	p, r, f := detectionPRF([]float64{0.1, 0.4, 0.35, 0.8, 0.4}, []int{0, 0, 0, 1, 1}, 0.5)
	// Flagged: all but 0.8 → tp 3, fp 1, fn 0.
	if math.Abs(p-0.75) > 1e-12 || r != 1 || math.Abs(f-2*0.75/1.75) > 1e-12 {
		t.Errorf("P/R/F1 = %v %v %v", p, r, f)
	}
}

func TestReadGroundingExamples(t *testing.T) {
	good := `{"context": "c", "answer": "a", "label": 1}

{"context": "c", "question": "q", "answer": "a", "label": false, "subset": "x"}
`
	exs, err := ReadGroundingExamples(strings.NewReader(good))
	if err != nil || len(exs) != 2 || exs[1].Label != 0 || exs[1].Question != "q" || exs[1].Subset != "x" {
		t.Fatalf("got %+v, %v", exs, err)
	}
	for _, bad := range []string{
		``,
		`{"context": "c", "answer": "a"}`,
		`{"context": "c", "answer": "a", "label": 2}`,
		`{"context": "", "answer": "a", "label": 1}`,
		`{"context": "c", "label": 1}`,
		`{"context": "c", "answer": "a", "label": 1}` + "\n[1, 2]",
		`not json`,
	} {
		_, err := ReadGroundingExamples(strings.NewReader(bad))
		if sextant.ErrorCode(err) != sextant.EINVALID {
			t.Errorf("ReadGroundingExamples(%q) error = %v, want EINVALID", bad, err)
		}
	}
	_, err = ReadGroundingExamples(strings.NewReader("{}\n" + `{"context": "c", "answer": "a", "label": 1}`))
	if err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("error should name the line: %v", err)
	}
}

func FuzzSupport(f *testing.F) {
	f.Add("Aspirin does not cure 3.5% of infections, doesn't it?", aspirin, "What about 1,000 cases?")
	f.Add("Dr. J. Smith's twenty five CD4+ cells (n=13) [1][2-3].", "no; not never none", "")
	f.Add("ΟΔΟΣ İstanbul café 40mg/day .5", "\xff\xfe 1,00,0 1.2.3 --", "")
	s := NewScorer(ScorerOptions{})
	f.Fuzz(func(t *testing.T, claim, passage, question string) {
		ev := s.Evidence(passage, passage+" "+claim)
		sup := s.Support(claim, question, ev)
		if sup.Score < 0 || sup.Score > 1 || math.IsNaN(sup.Score) {
			t.Fatalf("score %v", sup.Score)
		}
		if sup.Passage >= 0 {
			text := []string{passage, passage + " " + claim}[sup.Passage]
			if sup.Span[0] < 0 || sup.Span[0] > sup.Span[1] || sup.Span[1] > len(text) {
				t.Fatalf("span %v outside passage of %d bytes", sup.Span, len(text))
			}
		}
		_ = s.AnswerScore(passage, question, claim)
		_ = s.Relevance(question, claim)
	})
}

func BenchmarkAnswerScore(b *testing.B) {
	s := NewScorer(ScorerOptions{})
	answer := "Aspirin was first synthesized by Felix Hoffmann in 1897 [1]. Daily doses of 75 mg lower the risk of heart attack by 25% [1]."
	b.ReportAllocs()
	for b.Loop() {
		_ = s.AnswerScore(aspirin, "", answer)
	}
}

func BenchmarkSupportPrepared(b *testing.B) {
	s := NewScorer(ScorerOptions{})
	ev := s.Evidence(aspirin)
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Support("Daily doses of 75 mg lower the risk of heart attack by 25%.", "", ev)
	}
}
