package rag_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/rag"
)

// answerOf builds an answer from sentences "text [n]", each supported
// with the given score (0 = unsupported).
func answerOf(sents []string, cites [][]int, support []float64) *sextant.Answer {
	a := &sextant.Answer{FinishReason: "stop", Sources: []sextant.Source{
		{N: 1, ChunkID: "c1", DocumentID: "d1", URI: "file:///a.md", Text: "alpha"},
		{N: 2, ChunkID: "c2", DocumentID: "d2", URI: "file:///b.md", Text: "beta"},
	}}
	for i, s := range sents {
		if i > 0 {
			a.Text += " "
		}
		start := len(a.Text)
		a.Text += s
		a.Sentences = append(a.Sentences, sextant.AnswerSentence{Start: start, End: len(a.Text), Text: s,
			Citations: cites[i], Support: support[i], Supported: support[i] > 0})
	}
	return a
}

func TestCompareReplay(t *testing.T) {
	rec := answerOf([]string{"Keys rotate every 90 days [1].", "Old keys stay valid for a week [2]."}, [][]int{{1}, {2}}, []float64{0.9, 0.8})
	for _, c := range []struct {
		name    string
		replay  *sextant.Answer
		current map[string]string
		want    rag.ReplayDiff
	}{
		{name: "identical", replay: rec, want: rag.ReplayDiff{Identical: true}},
		{name: "identical, store checked", replay: rec, current: map[string]string{"c1": "alpha", "c2": "beta"},
			want: rag.ReplayDiff{Identical: true, Changed: []rag.SourceChange{}}},
		{name: "a source edited and one deleted since", replay: rec, current: map[string]string{"c1": "alpha (edited)"},
			want: rag.ReplayDiff{Identical: true, Changed: []rag.SourceChange{
				{N: 1, ChunkID: "c1", DocumentID: "d1", URI: "file:///a.md"},
				{N: 2, ChunkID: "c2", DocumentID: "d2", URI: "file:///b.md", Gone: true}}}},
		{name: "second sentence replaced, citation moved",
			replay: answerOf([]string{"Keys rotate every 90 days [1].", "Old keys are revoked at once [1]."}, [][]int{{1}, {1}}, []float64{0.9, 0}),
			want: rag.ReplayDiff{
				Text: []rag.DiffLine{{'=', "Keys rotate every 90 days [1]."}, {'-', "Old keys stay valid for a week [2]."},
					{'+', "Old keys are revoked at once [1]."}},
				CitedRemoved: []int{2},
				// The sentence written in place of a supported one is not supported.
				Support: []rag.SupportChange{{Sentence: "Old keys are revoked at once [1].", Was: "Old keys stay valid for a week [2].",
					Before: 0.8, After: 0, SupportedBefore: true}}}},
		{name: "support changed only",
			replay: answerOf([]string{"Keys rotate every 90 days [1].", "Old keys stay valid for a week [2]."}, [][]int{{1}, {2}}, []float64{0.9, 0}),
			want:   rag.ReplayDiff{Support: []rag.SupportChange{{Sentence: "Old keys stay valid for a week [2].", Before: 0.8, After: 0, SupportedBefore: true}}}},
		{name: "refused now",
			replay: &sextant.Answer{Text: "I cannot answer that.", FinishReason: "content_filter", Refusal: "output: blocked"},
			want: rag.ReplayDiff{
				Text: []rag.DiffLine{{'-', "Keys rotate every 90 days [1]."}, {'-', "Old keys stay valid for a week [2]."},
					{'+', "I cannot answer that."}},
				CitedRemoved: []int{1, 2}, Finish: &[2]string{"stop", "content_filter"}, Refusal: &[2]string{"", "output: blocked"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := rag.CompareReplay(rec, c.replay, c.current)
			if diff := cmp.Diff(&c.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// Spans that do not index the text (a damaged record) fall back to a
// line diff instead of panicking.
func TestCompareReplayBadSpans(t *testing.T) {
	rec := &sextant.Answer{Text: "one\ntwo", Sentences: []sextant.AnswerSentence{{Start: 5, End: 99, Text: "x"}}}
	got := rag.CompareReplay(rec, &sextant.Answer{Text: "one\nthree"}, nil)
	want := []rag.DiffLine{{'=', "one"}, {'-', "two"}, {'+', "three"}}
	if diff := cmp.Diff(want, got.Text); diff != "" || got.Identical {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// CompareReplay never panics, whatever the spans of a (damaged) record,
// and an answer compared with itself is identical.
func FuzzCompareReplay(f *testing.F) {
	f.Add("A [1]. B [2].", "A [1]. C [1].", 0, 6, 7, 13)
	f.Add("", "x", 5, 2, -1, 99)
	f.Add("one\ntwo", "one\nthree", 0, 3, 3, 3)
	f.Fuzz(func(t *testing.T, a, b string, s1, e1, s2, e2 int) {
		mk := func(text string, start, end int) *sextant.Answer {
			return &sextant.Answer{Text: text, Sentences: []sextant.AnswerSentence{
				{Start: start, End: end, Text: "s", Citations: []int{1}, Supported: true, Support: 1},
				{Start: end, End: end + 1, Text: "t"}}}
		}
		ra, rb := mk(a, s1, e1), mk(b, s2, e2)
		d := rag.CompareReplay(ra, rb, map[string]string{})
		if a == b && s1 == s2 && e1 == e2 && !d.Identical {
			t.Fatalf("an answer differs from itself: %+v", d)
		}
		if same := rag.CompareReplay(ra, ra, nil); !same.Identical {
			t.Fatalf("identical answers reported different: %+v", same)
		}
	})
}
