package sextant_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/sextant-ai/sextant"
)

func TestParseCitations(t *testing.T) {
	for _, tc := range []struct {
		text string
		want [][]int
	}{
		{"Plain text.", nil},
		{"One [1].", [][]int{{1}}},
		{"Two [1, 3] and [2;4].", [][]int{{1, 3}, {2, 4}}},
		{"Range [1-3] and en dash [2–4].", [][]int{{1, 2, 3}, {2, 3, 4}}},
		{"Adjacent [1][2].", [][]int{{1}, {2}}},
		{"Dupes [3, 3, 1].", [][]int{{1, 3}}},
		{"Not citations: [0] [1000] [a] [1-] [3-1] [citation needed] [2024x] [].", nil},
		{"Unclosed [1, 2", nil},
		{"Year [2024] is above the limit but [999] is not.", [][]int{{999}}},
	} {
		var got [][]int
		for _, m := range sextant.ParseCitations(tc.text) {
			if tc.text[m.Start] != '[' || tc.text[m.End-1] != ']' {
				t.Errorf("%q: marker span [%d,%d) is not bracketed", tc.text, m.Start, m.End)
			}
			got = append(got, m.Sources)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tc.text, diff)
		}
	}
}

func TestSplitSentences(t *testing.T) {
	ans := "Sextant ingests PDFs [1]. It uses e.g. a pure-Go extractor [2]. Uncited sentence.\n\n- A list item [1][3]"
	got := sextant.SplitSentences(ans)
	var texts []string
	var cites [][]int
	for _, s := range got {
		texts = append(texts, s.Text)
		cites = append(cites, s.Citations)
	}
	wantTexts := []string{"Sextant ingests PDFs.", "It uses e.g. a pure-Go extractor.", "Uncited sentence.", "A list item"}
	if diff := cmp.Diff(wantTexts, texts); diff != "" {
		t.Errorf("texts (-want +got):\n%s", diff)
	}
	wantCites := [][]int{{1}, {2}, nil, {1, 3}}
	if diff := cmp.Diff(wantCites, cites); diff != "" {
		t.Errorf("citations (-want +got):\n%s", diff)
	}
}

func FuzzParseCitations(f *testing.F) {
	for _, s := range []string{"a [1] b [2, 3] c [4-6]", "[1–2][3]", "[", "[1,", "[99999]", "x. [1] Y? [2]\n\n- z [3]", "[1-50]", "[1-52]", "é[1]ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		prev := 0
		for _, m := range sextant.ParseCitations(s) {
			if m.Start < prev || m.End <= m.Start || m.End > len(s) || s[m.Start] != '[' || s[m.End-1] != ']' {
				t.Fatalf("bad marker %+v in %q", m, s)
			}
			prev = m.End
			if len(m.Sources) == 0 {
				t.Fatalf("marker without sources %+v in %q", m, s)
			}
			for i, n := range m.Sources {
				if n < 1 || n > sextant.MaxSourceNumber || (i > 0 && n <= m.Sources[i-1]) {
					t.Fatalf("bad source numbers %v in %q", m.Sources, s)
				}
			}
		}
		for _, st := range sextant.SplitSentences(s) {
			if st.Start < 0 || st.End > len(s) || st.Start > st.End {
				t.Fatalf("bad sentence span %+v in %q", st, s)
			}
			if utf8.ValidString(s) && !utf8.ValidString(st.Text) {
				t.Fatalf("sentence text not valid UTF-8: %q", st.Text)
			}
			if strings.Contains(st.Text, "\n\n") {
				t.Fatalf("sentence spans a blank line: %q", st.Text)
			}
		}
	})
}

func TestPrincipalScope(t *testing.T) {
	p := sextant.Principal{ID: "k1", Tenant: "acme", Groups: []string{"eng"}}
	f := p.Scope(sextant.Filter{Tenant: "other", Collections: []string{"c"}})
	if f.Tenant != "acme" || len(f.Groups) != 1 || f.Groups[0] != "eng" || f.Collections[0] != "c" {
		t.Fatalf("Scope = %+v", f)
	}
	local := sextant.Principal{}
	if f := local.Scope(sextant.Filter{}); f.Groups != nil || f.Tenant != "" {
		t.Fatalf("local Scope = %+v", f)
	}
}
