package extractive

import (
	"strings"
	"testing"

	"github.com/tiktoken-go/tokenizer"
)

func cl100k(tb testing.TB) tokenizer.Codec {
	tb.Helper()
	c, err := tokenizer.Get(tokenizer.Cl100kBase)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

var countSeeds = []string{
	"", "a", "Hello, world!", "it's I'M we'RE they've you'll he'd 'same 'rx 'l", "12345 6 78.9 1,000,000",
	"  leading  and   trailing  ", "line\nbreaks\r\nand\n\n\ttabs\t", "a   b", "a \n b", " \n\n ", "x\t\ty",
	"(parens) [brackets] {braces} <tags/> ... !!! ?!", " .hello ,world", "email@example.com https://x.y/z?a=1&b=2",
	"Answer [1]. Another claim [2][3].", "   ", "\n", "\r\n\r\n", "'", "''s", "a'", "x'S", "x'Ll", "x'VE",
	"You are Sextant's assistant. Answer from the numbered sources; cite each claim as [n].\n\n[1] Title\nBody text.",
}

// FuzzCount checks the piecewise count against the codec's own on any
// text.
func FuzzCount(f *testing.F) {
	for _, s := range countSeeds {
		f.Add(s)
	}
	codec := cl100k(f)
	var pc pieceCounts
	f.Fuzz(func(t *testing.T, s string) {
		want, err := codec.Count(s)
		if err != nil {
			t.Skip()
		}
		got, ok := pc.count(codec, s)
		if ok && got != want {
			t.Fatalf("%q: %d tokens, codec says %d", s, got, want)
		}
	})
}

// TestCountCorpus counts the seeds joined into one long text both ways,
// twice (the second time from the table), and mixed-script texts.
func TestCountCorpus(t *testing.T) {
	codec := cl100k(t)
	var pc pieceCounts
	text := strings.Repeat(strings.Join(countSeeds, "\n"), 3)
	for range 2 {
		got, ok := pc.count(codec, text)
		want, _ := codec.Count(text)
		if !ok || got != want {
			t.Fatalf("count %d (%v), codec %d", got, ok, want)
		}
	}
	for _, s := range []string{"naïve", "a naïve café — über alles", "µg/ml and ±5 % of 10⁶ cells", "日本語のテキスト and English words",
		"word—word", "x «quoted» y", "\x00\x01 control", "tab\there \v vertical"} {
		got, ok := pc.count(codec, s)
		want, _ := codec.Count(s)
		if !ok || got != want {
			t.Errorf("%q: count %d (%v), codec %d", s, got, ok, want)
		}
	}
}

func BenchmarkCount(b *testing.B) {
	codec := cl100k(b)
	text := strings.Repeat("Alterations of the architecture of cerebral white matter in the developing human brain can affect cortical development and result in functional disabilities (n = 17) [1]. ", 20)
	b.Run("codec", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			codec.Count(text)
		}
	})
	b.Run("pieces", func(b *testing.B) {
		var pc pieceCounts
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			pc.count(codec, text)
		}
	})
}
