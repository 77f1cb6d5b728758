package eval

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestCrossCheck compares ROUGE, BLEU and the 13a tokenizer with values
// computed by CPython running the reference scoring logic (rouge-score with
// NLTK's Porter stemmer, sacreBLEU) on edited real sentences and on
// Unicode- and punctuation-heavy strings (testdata/metrics/crosscheck.jsonl;
// its first line names the versions).
func TestCrossCheck(t *testing.T) {
	f, err := os.Open("testdata/metrics/crosscheck.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	counts := map[string]int{}
	for line := 1; sc.Scan(); line++ {
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		var c struct {
			Kind                 string
			Candidate, Reference string
			Stem                 bool
			RougeL, RougeLsum    [3]float64
			Rouge2               [3]float64
			Hyps                 []string
			Refs                 [][]string
			Smooth, Tokenize     string
			Lowercase            bool
			EffectiveOrder       bool `json:"effective_order"`
			Score                float64
			In, Out              string
		}
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("line %d: %v", line, err)
		}
		counts[c.Kind]++
		switch c.Kind {
		case "rouge":
			o := RougeOptions{Stem: c.Stem}
			for _, m := range []struct {
				name string
				got  Rouge
				want [3]float64
			}{
				{"rougeL", RougeL(c.Candidate, c.Reference, o), c.RougeL},
				{"rougeLsum", RougeLsum(c.Candidate, c.Reference, o), c.RougeLsum},
				{"rouge2", RougeN(c.Candidate, c.Reference, 2, o), c.Rouge2},
			} {
				if !near(m.got.Precision, m.want[0], 1e-9) || !near(m.got.Recall, m.want[1], 1e-9) || !near(m.got.F1, m.want[2], 1e-9) {
					t.Errorf("line %d %s(stem=%v) = %+v, want %v\ncandidate %q\nreference %q", line, m.name, c.Stem, m.got, m.want, c.Candidate, c.Reference)
				}
			}
		case "bleu":
			got, err := CorpusBLEU(c.Hyps, c.Refs, BLEUOptions{Smooth: c.Smooth, Tokenize: c.Tokenize, Lowercase: c.Lowercase, EffectiveOrder: c.EffectiveOrder})
			if err != nil {
				t.Fatalf("line %d: %v", line, err)
			}
			if !near(got.Score, c.Score, 1e-9) {
				t.Errorf("line %d BLEU = %.12f, want %.12f (%+v)", line, got.Score, c.Score, c)
			}
		case "13a":
			if got := Tokenize13a(c.In); got != c.Out {
				t.Errorf("line %d Tokenize13a(%q) = %q, want %q", line, c.In, got, c.Out)
			}
		default:
			t.Fatalf("line %d: unknown kind %q", line, c.Kind)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if counts["rouge"] < 100 || counts["bleu"] < 50 || counts["13a"] < 20 {
		t.Fatalf("too few cases: %v", counts)
	}
}
