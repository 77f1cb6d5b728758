package eval
import ("fmt";"os";"sort";"testing";"strings")
func TestDbgTmp(t *testing.T) {
	sub := os.Getenv("SUB"); n := 8
	s := NewScorer(ScorerOptions{})
	exs := groundingExamples(t, "testdata/grounding/dev.jsonl")
	type r struct{ e GroundingExample; sc float64 }
	var rs []r
	for _, e := range exs { if e.Subset == sub { rs = append(rs, r{e, s.AnswerScore(e.Context, e.Question, e.Answer)}) } }
	sort.Slice(rs, func(i, j int) bool { if rs[i].e.Label == 1 { return rs[i].sc < rs[j].sc }; return rs[i].sc > rs[j].sc })
	for _, x := range rs[:n] {
		fmt.Printf("=== %.3f %s\n", x.sc, x.e.Answer)
		ev := s.Evidence(splitParagraphs(x.e.Context)...)
		for _, c := range Claims(x.e.Answer) {
			sp := s.Support(c.Text, "", ev)
			span := ""
			if sp.Passage >= 0 { span = splitParagraphs(x.e.Context)[sp.Passage][sp.Span[0]:sp.Span[1]] }
			fmt.Printf("  %.3f cov=%.2f neg=%.2f ant=%.2f num=%.2f ent=%.2f miss=%v\n  ALIGN: %s\n", sp.Score, sp.Coverage, sp.Negation, sp.Antonym, sp.Number, sp.Entity, sp.Missing, strings.ReplaceAll(span, "\n", " "))
		}
	}
}
