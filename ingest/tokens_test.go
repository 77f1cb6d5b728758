package ingest

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/tiktoken-go/tokenizer"
)

func TestCountTokensCases(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
	}{
		{"", 0},
		{"hello", 1},
		{"hello world", 2},
		{"1234567", 3},                  // digits in groups of three
		{"a, b.", 4},                    // a , b .
		{"\n\n\n", 1},                   // one line-break run
		{"漢字", 2},                       // one per CJK character
		{"internationalization", 4},     // a long word costs more
		{"NASA", 1},                     // acronym surcharge is below one token
		{"getElementById", 3},           // camelCase splits
		{"   indented", 2},              // a run of spaces, then the word
		{"café", 2},                     // accented letter inside a word
		{"Привет мир", 6},               // Cyrillic: letters after the first cost half
		{"ok!!!", 2},                    // a punctuation run of three costs 1.45
		{"\t\t\tx = y;\n", 6},           // tabs, x, =, y, ;, newline
		{string([]byte{0xff, 0xfe}), 2}, // invalid bytes cost one each
	} {
		if got := CountTokens(tt.in); got != tt.want {
			t.Errorf("CountTokens(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

// TestCountTokensCalibration compares CountTokens with the real cl100k_base
// encoder over the user manual, the ingest fixtures, this package's Go
// source, and SciFact abstracts when the dataset is present: the total must
// be within ±12% and the per-document RMS relative error below 15%.
func TestCountTokensCalibration(t *testing.T) {
	enc, err := tokenizer.Get(tokenizer.Cl100kBase)
	if err != nil {
		t.Fatal(err)
	}
	sets := map[string][]string{}
	add := func(set, glob string) {
		files, _ := filepath.Glob(glob)
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil {
				sets[set] = append(sets[set], string(b))
			}
		}
	}
	add("markdown", "../docs/*.md")
	add("markdown", "testdata/*.md")
	add("go", "*.go")
	add("text", "testdata/*.txt")
	add("text", "testdata/*.html")
	if f, err := os.Open("../../shared/data/beir-scifact/corpus.jsonl.gz"); err == nil {
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(zr)
		sc.Buffer(nil, 1<<24)
		for sc.Scan() && len(sets["scifact"]) < 500 {
			var r struct{ Text string }
			if json.Unmarshal(sc.Bytes(), &r) == nil {
				sets["scifact"] = append(sets["scifact"], r.Text)
			}
		}
		f.Close()
	}
	for name, texts := range sets {
		var approx, exact, sq float64
		n := 0
		for _, s := range texts {
			ids, _, err := enc.Encode(s)
			if err != nil {
				t.Fatal(err)
			}
			a := float64(CountTokens(s))
			approx += a
			exact += float64(len(ids))
			if len(ids) >= 50 {
				r := a/float64(len(ids)) - 1
				sq += r * r
				n++
			}
		}
		ratio := approx / exact
		rms := 0.0
		if n > 0 {
			rms = math.Sqrt(sq / float64(n))
		}
		t.Logf("%-8s %4d texts: cl100k %7.0f tokens, CountTokens %7.0f, ratio %.3f, per-text RMS error %.1f%%", name, len(texts), exact, approx, ratio, 100*rms)
		if ratio < 0.88 || ratio > 1.12 || rms > 0.15 {
			t.Errorf("%s: ratio %.3f, RMS %.3f outside the calibration bounds", name, ratio, rms)
		}
	}
}
