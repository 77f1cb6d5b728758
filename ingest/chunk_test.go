package ingest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/sextant-ai/sextant"
)

// checkChunks asserts the chunker's contract on one output.
func checkChunks(t testing.TB, text string, sections []Section, opts ChunkOptions, chunks []sextant.Chunk) {
	t.Helper()
	opts = opts.withDefaults()
	norm := normalizeSections(text, sections)
	covered := make([]bool, len(text))
	for i, c := range chunks {
		if c.Ordinal != i || c.ID != ChunkID("d", i) || c.DocumentID != "d" {
			t.Fatalf("chunk %d: ordinal %d id %q doc %q", i, c.Ordinal, c.ID, c.DocumentID)
		}
		if c.Start < 0 || c.End > len(text) || c.Start >= c.End {
			t.Fatalf("chunk %d: bad offsets [%d,%d) in %d bytes", i, c.Start, c.End, len(text))
		}
		if text[c.Start:c.End] != c.Text {
			t.Fatalf("chunk %d: Text != text[%d:%d]", i, c.Start, c.End)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		if !utf8.ValidString(c.Text) && utf8.ValidString(text) {
			t.Fatalf("chunk %d splits a rune", i)
		}
		r, _ := utf8.DecodeRuneInString(c.Text)
		l, _ := utf8.DecodeLastRuneInString(c.Text)
		if unicode.IsSpace(r) || unicode.IsSpace(l) {
			t.Fatalf("chunk %d %q starts or ends with space", i, c.Text)
		}
		if c.Tokens > opts.Tokens {
			t.Fatalf("chunk %d has %d tokens, budget %d", i, c.Tokens, opts.Tokens)
		}
		if i > 0 && (c.Start <= chunks[i-1].Start || c.End <= chunks[i-1].End) {
			t.Fatalf("chunk %d [%d,%d) does not advance past chunk %d [%d,%d)", i, c.Start, c.End, i-1, chunks[i-1].Start, chunks[i-1].End)
		}
		inSection := false
		for _, s := range norm {
			if c.Start >= s.Start && c.End <= s.End {
				inSection = true
				if !cmp.Equal(c.Section, s.Path) {
					t.Fatalf("chunk %d section %q, want %q", i, c.Section, s.Path)
				}
			}
		}
		if !inSection {
			t.Fatalf("chunk %d [%d,%d) spans sections %+v", i, c.Start, c.End, norm)
		}
		for k := c.Start; k < c.End; k++ {
			covered[k] = true
		}
	}
	for i := 0; i < len(text); {
		r, sz := utf8.DecodeRuneInString(text[i:])
		if !covered[i] && !unicode.IsSpace(r) {
			t.Fatalf("byte %d (%q) of the text is in no chunk", i, r)
		}
		i += sz
	}
}

var vocab = strings.Fields("the of and retrieval index chunk sentence paragraph store search query token budget overlap section heading document offset citation source corpus engine ranking")

func sentence(rng *rand.Rand, words int) string {
	var b strings.Builder
	for w := range words {
		if w > 0 {
			b.WriteByte(' ')
		}
		word := vocab[rng.IntN(len(vocab))]
		if w == 0 {
			word = "S" + word
		}
		b.WriteString(word)
	}
	b.WriteByte('.')
	return b.String()
}

func TestChunkNeverSplitsSentences(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var paras []string
	for range 40 {
		var ss []string
		for range 1 + rng.IntN(6) {
			ss = append(ss, sentence(rng, 3+rng.IntN(25)))
		}
		paras = append(paras, strings.Join(ss, " "))
	}
	text := strings.Join(paras, "\n\n")
	for _, opts := range []ChunkOptions{{Tokens: 64, Overlap: -1}, {Tokens: 64, Overlap: 16}, {Tokens: 200}, {}} {
		chunks := Chunk("d", text, nil, opts)
		checkChunks(t, text, nil, opts, chunks)
		if len(chunks) < 2 {
			t.Fatalf("%+v: %d chunks", opts, len(chunks))
		}
		for _, c := range chunks {
			if !strings.HasPrefix(c.Text, "S") || !strings.HasSuffix(c.Text, ".") {
				t.Errorf("%+v: chunk %d is not whole sentences: %.40q...%.20q", opts, c.Ordinal, c.Text, c.Text[max(0, len(c.Text)-20):])
			}
		}
	}
}

func TestChunkOverlap(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var ss []string
	for range 60 {
		ss = append(ss, sentence(rng, 8))
	}
	text := strings.Join(ss, " ")
	chunks := Chunk("d", text, nil, ChunkOptions{Tokens: 80, Overlap: 25})
	checkChunks(t, text, nil, ChunkOptions{Tokens: 80, Overlap: 25}, chunks)
	overlapping := 0
	for i := 1; i < len(chunks); i++ {
		if chunks[i].Start < chunks[i-1].End {
			overlapping++
			shared := text[chunks[i].Start:chunks[i-1].End]
			if n := CountTokens(shared); n > 25 {
				t.Errorf("chunks %d and %d share %d tokens, overlap is 25", i-1, i, n)
			}
		}
	}
	if overlapping < len(chunks)-2 {
		t.Errorf("only %d of %d chunk pairs overlap", overlapping, len(chunks)-1)
	}
	noOverlap := Chunk("d", text, nil, ChunkOptions{Tokens: 80, Overlap: -1})
	for i := 1; i < len(noOverlap); i++ {
		if noOverlap[i].Start < noOverlap[i-1].End {
			t.Errorf("overlap -1: chunks %d and %d overlap", i-1, i)
		}
	}
}

func TestChunkPrefersParagraphs(t *testing.T) {
	// Three paragraphs of ~40 tokens with a 100-token budget: the first
	// two fill a chunk beyond half; the third starts a new one rather than
	// being split.
	rng := rand.New(rand.NewPCG(5, 6))
	para := func() string { return sentence(rng, 19) + " " + sentence(rng, 19) }
	p := []string{para(), para(), para()}
	text := strings.Join(p, "\n\n")
	chunks := Chunk("d", text, nil, ChunkOptions{Tokens: 100, Overlap: -1})
	checkChunks(t, text, nil, ChunkOptions{Tokens: 100, Overlap: -1}, chunks)
	var got []string
	for _, c := range chunks {
		got = append(got, c.Text)
	}
	want := []string{p[0] + "\n\n" + p[1], p[2]}
	if CountTokens(want[0]) > 100 {
		t.Fatalf("fixture too big: %d tokens", CountTokens(want[0]))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("chunks (-want +got):\n%s", diff)
	}
}

func TestChunkLongSentenceAndWord(t *testing.T) {
	long := strings.Repeat("alpha beta gamma delta ", 200) + "end."
	word := strings.Repeat("x", 5000)
	cjk := strings.Repeat("漢字かな", 300)
	text := "Short one. " + long + "\n\n" + word + "\n\n" + cjk + "\n\nLast sentence."
	opts := ChunkOptions{Tokens: 50, Overlap: 10}
	chunks := Chunk("d", text, nil, opts)
	checkChunks(t, text, nil, opts, chunks)
	if !strings.HasPrefix(chunks[0].Text, "Short one.") || chunks[len(chunks)-1].Text != "Last sentence." {
		t.Errorf("first %q, last %q", chunks[0].Text, chunks[len(chunks)-1].Text)
	}
}

func TestChunkSections(t *testing.T) {
	text := "# Guide\n\n## Install\n\nRun the installer. It asks nothing.\n\n## Use\n\nType a query.\n\n# Empty end\n"
	i := func(s string) int { return strings.Index(text, s) }
	sections := []Section{
		{Path: []string{"Guide"}, Start: 0, Body: i("\n\n## Install"), End: i("## Install")},
		{Path: []string{"Guide", "Install"}, Start: i("## Install"), Body: i("\n\nRun"), End: i("## Use")},
		{Path: []string{"Guide", "Use"}, Start: i("## Use"), Body: i("\n\nType"), End: i("# Empty")},
		{Path: []string{"Empty end"}, Start: i("# Empty"), Body: len(text) - 1, End: len(text)},
	}
	chunks := Chunk("d", text, sections, ChunkOptions{})
	checkChunks(t, text, sections, ChunkOptions{}, chunks)
	type c struct {
		Text    string
		Section []string
	}
	var got []c
	for _, ch := range chunks {
		got = append(got, c{ch.Text, ch.Section})
	}
	want := []c{
		{"# Guide\n\n## Install\n\nRun the installer. It asks nothing.", []string{"Guide", "Install"}},
		{"## Use\n\nType a query.", []string{"Guide", "Use"}},
		{"# Empty end", []string{"Empty end"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("chunks (-want +got):\n%s", diff)
	}
}

func TestSplitUnits(t *testing.T) {
	text := "Dr. Smith met J. Doe at 3.14 p.m. in the U.S. Army base. \"Why?\" he asked. It was late!\n" +
		"- item one\n- item two\n# Heading\nBody line one\ncontinues here. 中文句子。下一句。"
	var got []string
	for _, u := range splitUnits(text, 0, len(text)) {
		got = append(got, text[u.start:u.end])
	}
	want := []string{
		"Dr. Smith met J. Doe at 3.14 p.m. in the U.S. Army base.",
		"\"Why?\" he asked.",
		"It was late!",
		"- item one",
		"- item two",
		"# Heading",
		"Body line one\ncontinues here.",
		"中文句子。",
		"下一句。",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("units (-want +got):\n%s", diff)
	}
}

func TestChunkOptionsValidate(t *testing.T) {
	for _, tt := range []struct {
		o  ChunkOptions
		ok bool
	}{
		{ChunkOptions{}, true},
		{ChunkOptions{Tokens: 16, Overlap: -1}, true},
		{ChunkOptions{Tokens: 8}, false},
		{ChunkOptions{Tokens: 10000}, false},
		{ChunkOptions{Tokens: 100, Overlap: 50}, false},
		{ChunkOptions{Tokens: 100, Overlap: 49}, true},
	} {
		if err := tt.o.Validate(); (err == nil) != tt.ok {
			t.Errorf("%+v.Validate() = %v, want ok=%v", tt.o, err, tt.ok)
		}
	}
}

func TestChunkEmpty(t *testing.T) {
	for _, text := range []string{"", "   \n\n\t ", "\f"} {
		if got := Chunk("d", text, nil, ChunkOptions{}); len(got) != 0 {
			t.Errorf("Chunk(%q) = %d chunks", text, len(got))
		}
	}
}

func FuzzChunk(f *testing.F) {
	f.Add("Hello world. This is a test.\n\nNew paragraph here! And more?", 16, 4, 3)
	f.Add("# A\n\n## B\n\ntext. more text.\n\n# C\nbody", 20, 0, 7)
	f.Add(strings.Repeat("word ", 100), 16, 7, 0)
	f.Add(strings.Repeat("漢", 100)+"。"+strings.Repeat("z", 300), 16, -1, 50)
	f.Add("a.\xff\xfe b. \u2029 c\fd", 17, 3, 2)
	f.Add("e.g. foo. Mr. X. J. K. 1. 2. - a\n- b\n> q\n| t |", 16, 5, 9)
	f.Fuzz(func(t *testing.T, text string, tokens, overlap, cut int) {
		opts := ChunkOptions{Tokens: 16 + abs(tokens)%200, Overlap: overlap % 8}
		if opts.Validate() != nil {
			opts.Overlap = -1
		}
		// Derive sections from cut: headings at a few offsets.
		var sections []Section
		if n := len(text); n > 0 && cut != 0 {
			step := 1 + abs(cut)%max(n, 1)
			for s := 0; s < n; s += step {
				e := min(s+step, n)
				sections = append(sections, Section{Path: []string{fmt.Sprint("s", s)}, Start: s, Body: min(s+2, e), End: e})
			}
		}
		chunks := Chunk("d", text, sections, opts)
		checkChunks(t, text, sections, opts, chunks)
	})
}

func abs(x int) int {
	if x < 0 {
		if x == -x { // math.MinInt
			return 0
		}
		return -x
	}
	return x
}

func BenchmarkChunk(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	var paras []string
	for range 500 {
		var ss []string
		for range 1 + rng.IntN(6) {
			ss = append(ss, sentence(rng, 3+rng.IntN(25)))
		}
		paras = append(paras, strings.Join(ss, " "))
	}
	text := strings.Join(paras, "\n\n")
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		Chunk("d", text, nil, ChunkOptions{})
	}
}

func BenchmarkCountTokens(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 10))
	var ss []string
	for range 2000 {
		ss = append(ss, sentence(rng, 12))
	}
	text := strings.Join(ss, " ")
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		CountTokens(text)
	}
}
