package search

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// TestAnalyzerGolden analyzes every line of testdata/analyzer.input and
// compares term/span listings with testdata/analyzer.golden.
func TestAnalyzerGolden(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "analyzer.input"))
	if err != nil {
		t.Fatal(err)
	}
	a := NewAnalyzer(AnalyzerOptions{})
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(string(in)))
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintf(&b, "> %s\n", line)
		for _, tk := range a.Tokens(line) {
			fmt.Fprintf(&b, "  %-20s %3d %q\n", tk.Term, tk.Position, line[tk.Start:tk.End])
		}
	}
	golden := filepath.Join("testdata", "analyzer.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./search -run Golden -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), b.String()); diff != "" {
		t.Errorf("analyzer output differs from %s (-want +got):\n%s", golden, diff)
	}
}

func TestAnalyzerTerms(t *testing.T) {
	a := NewAnalyzer(AnalyzerOptions{})
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"the of and", nil},
		{"Running dogs", []string{"run", "dog"}},
		{"covid-19", []string{"covid19", "covid", "19"}},
		{"COVID19", []string{"covid19"}},
		{"2.5 and 1,000", []string{"2.5", "1000"}},
		{"snake_case", []string{"snake_case", "snake", "case"}},
		{"camelCase", []string{"camelcas", "camel", "case"}},
		{"os.path", []string{"os.path", "os", "path"}},
		{"John's", []string{"john"}},
		{"don't", []string{"dont"}},
		{"Café", []string{"cafe"}},
		{"CAFÉ", []string{"cafe"}},
		{"well-known", []string{"wellknown", "well", "known"}},
	}
	for _, tt := range tests {
		got := a.Terms(tt.in)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Terms(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
	noParts := NewAnalyzer(AnalyzerOptions{NoParts: true, NoStem: true, StopWords: []string{}})
	if diff := cmp.Diff([]string{"the", "covid19", "camelcase"}, noParts.Terms("The covid-19 camelCase")); diff != "" {
		t.Errorf("NoParts/NoStem/no stop words (-want +got):\n%s", diff)
	}
}

// TestAnalyzerQueryDocAgreement checks the property search relies on: a
// word's terms are the same whether it appears alone (a query) or in a
// sentence (a document).
func TestAnalyzerQueryDocAgreement(t *testing.T) {
	a := NewAnalyzer(AnalyzerOptions{})
	doc := "Results for COVID-19, the IL-6 pathway, and os.path.join were 2.5-fold higher."
	terms := map[string]bool{}
	for _, tk := range a.Terms(doc) {
		terms[tk] = true
	}
	for _, q := range []string{"covid-19", "IL-6", "os.path.join", "pathways", "higher"} {
		for _, tk := range a.Terms(q) {
			if !terms[tk] {
				t.Errorf("query %q term %q not among document terms", q, tk)
			}
		}
	}
}

func FuzzAnalyzer(f *testing.F) {
	for _, s := range []string{"", "a-b_c.d", "1,000.5", "don't", "x'", "'s", "ＡＢＣ", "\xff\xfe", "a\u0301", "--__..", "日本", "A'B'C's", "1,00,000", "HTTPServerX", "ǅemal"} {
		f.Add(s)
	}
	a := NewAnalyzer(AnalyzerOptions{})
	f.Fuzz(func(t *testing.T, s string) {
		toks := a.Tokens(s)
		prev := -1
		for _, tk := range toks {
			if tk.Term == "" {
				t.Fatalf("empty term from %q", s)
			}
			if tk.Start < 0 || tk.End > len(s) || tk.Start >= tk.End {
				t.Fatalf("bad span [%d,%d) in %q", tk.Start, tk.End, s)
			}
			if tk.Position < prev {
				t.Fatalf("positions go backwards in %q", s)
			}
			prev = tk.Position
			if utf8.ValidString(s) && !utf8.ValidString(tk.Term) {
				t.Fatalf("invalid UTF-8 term %q from %q", tk.Term, s)
			}
		}
		terms := a.Terms(s)
		if len(terms) != len(toks) {
			t.Fatalf("Terms and Tokens disagree on %q", s)
		}
		// Analysis is deterministic.
		if again := a.Terms(s); !cmp.Equal(terms, again) {
			t.Fatalf("non-deterministic on %q", s)
		}
	})
}
