package eval

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sextant-ai/sextant"
)

func TestClaims(t *testing.T) {
	cases := []struct {
		answer string
		want   []string
		cites  [][]int
	}{
		{
			"Metformin lowers glucose [1], and it reduces weight in obese adults [2].",
			[]string{"Metformin lowers glucose", "it reduces weight in obese adults."},
			[][]int{{1}, {2}},
		},
		{
			"The drug lowers blood pressure; it also raises potassium levels [3].",
			[]string{"The drug lowers blood pressure", "it also raises potassium levels."},
			[][]int{{3}, {3}},
		},
		{
			// A list stays one claim: the right side has too few words.
			"It contains iron, zinc, and copper [1].",
			[]string{"It contains iron, zinc, and copper."},
			[][]int{{1}},
		},
		{
			"Mice lacking Lyn develop nephritis, whereas wild-type mice stay healthy. No citation here.",
			[]string{"Mice lacking Lyn develop nephritis", "wild-type mice stay healthy.", "No citation here."},
			[][]int{nil, nil, nil},
		},
	}
	for _, c := range cases {
		got := Claims(c.answer)
		var texts []string
		var cites [][]int
		for _, cl := range got {
			texts = append(texts, cl.Text)
			cites = append(cites, cl.Citations)
		}
		if diff := cmp.Diff(c.want, texts); diff != "" {
			t.Errorf("Claims(%q) texts (-want +got):\n%s", c.answer, diff)
		}
		if diff := cmp.Diff(c.cites, cites); diff != "" {
			t.Errorf("Claims(%q) citations (-want +got):\n%s", c.answer, diff)
		}
	}
}

func checkSpans(t *testing.T, text string, spans [][2]int) {
	t.Helper()
	prev := 0
	for _, sp := range spans {
		if sp[0] < prev || sp[0] >= sp[1] || sp[1] > len(text) {
			t.Fatalf("bad span %v (prev end %d, len %d) in %q", sp, prev, len(text), text)
		}
		prev = sp[1]
	}
}

func checkCites(t *testing.T, cites []int) {
	t.Helper()
	if !slices.IsSorted(cites) || len(slices.Compact(slices.Clone(cites))) != len(cites) {
		t.Fatalf("citations not sorted and unique: %v", cites)
	}
	for _, c := range cites {
		if c < 1 || c > sextant.MaxSourceNumber {
			t.Fatalf("citation %d out of range", c)
		}
	}
}

var claimSeeds = []string{
	"Aspirin reduces fever [1]. It was first made in 1897 [2][3].",
	"A [1, 3], and b c d e [2-4]; f g h.\n\n- item one [5]\n1. item two",
	"[1] [2]. [3]",
	"e.g. i.e. Dr. J. Smith [1-50] [51-52]",
	"中文句子。另一个句子！[1]",
	"x [999] [1000] [0] [2-1] [1,,2] [",
	"Ends with markers.\n[1][2]",
	"",
}

func FuzzClaims(f *testing.F) {
	for _, s := range claimSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sents := sextant.SplitSentences(s)
		var spans [][2]int
		for _, x := range sents {
			spans = append(spans, [2]int{x.Start, x.End})
			if strings.TrimSpace(x.Text) == "" || !hasWordRune(x.Text) {
				t.Fatalf("empty sentence %+v in %q", x, s)
			}
			checkCites(t, x.Citations)
		}
		checkSpans(t, s, spans)
		spans = spans[:0]
		for _, c := range Claims(s) {
			spans = append(spans, [2]int{c.Start, c.End})
			if c.Sentence < 0 || c.Sentence >= len(sents) || !hasWordRune(c.Text) {
				t.Fatalf("bad claim %+v in %q", c, s)
			}
			sent := sents[c.Sentence]
			if c.Start < sent.Start || c.End > sent.End {
				t.Fatalf("claim %+v outside its sentence %+v", c, sent)
			}
			checkCites(t, c.Citations)
		}
		checkSpans(t, s, spans)
	})
}
