package llm_test

import (
	"context"
	"iter"
	"strings"
	"testing"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm"
	"github.com/sextant-ai/sextant/llm/driver"
	"github.com/sextant-ai/sextant/llm/llmtest"
	"github.com/sextant-ai/sextant/llm/openai"
)

// fixed is a driver that yields the same 32 deltas with usage, allocation-free.
type fixed struct{ deltas []sextant.Delta }

func (f *fixed) Stream(ctx context.Context, req *driver.Request) iter.Seq2[sextant.Delta, error] {
	return func(yield func(sextant.Delta, error) bool) {
		for _, d := range f.deltas {
			if !yield(d, nil) {
				return
			}
		}
	}
}

func newFixed() *fixed {
	f := &fixed{}
	for range 31 {
		f.deltas = append(f.deltas, sextant.Delta{Text: "token "})
	}
	f.deltas = append(f.deltas, sextant.Delta{FinishReason: sextant.FinishStop, Usage: &sextant.Usage{InputTokens: 100, OutputTokens: 31}})
	return f
}

// BenchmarkStream measures what the portable layer adds to a 32-delta
// stream: the Direct sub-benchmark ranges over the driver itself, Model goes
// through validation, routing, breaker, timers and usage accounting.
func BenchmarkStream(b *testing.B) {
	f := newFixed()
	req := ask("gpt-4o", "What does Sextant do?")
	b.Run("Direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, err := range f.Stream(context.Background(), req) {
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("Model", func(b *testing.B) {
		m, err := llm.New(llm.Options{Providers: map[string]driver.Provider{"p": f}})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			for _, err := range m.Stream(context.Background(), req) {
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// BenchmarkOpenAIStream is one streamed chat completion of 32 text pieces
// through the OpenAI driver against the local fake server (loopback HTTP,
// SSE parsing in the SDK), with and without the Model in front.
func BenchmarkOpenAIStream(b *testing.B) {
	s := llmtest.NewOpenAIServer(b)
	p, err := openai.New(openai.Options{BaseURL: s.URL})
	if err != nil {
		b.Fatal(err)
	}
	words := strings.Repeat("word ", 31)
	req := ask("gpt-4o", words)
	m, err := llm.New(llm.Options{Providers: map[string]driver.Provider{"openai": p}})
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		seq  func() iter.Seq2[sextant.Delta, error]
	}{
		{"Driver", func() iter.Seq2[sextant.Delta, error] { return p.Stream(context.Background(), req) }},
		{"Model", func() iter.Seq2[sextant.Delta, error] { return m.Stream(context.Background(), req) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, err := range tc.seq() {
					if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkCounter counts the tokens of a 1 KiB English paragraph.
func BenchmarkCounter(b *testing.B) {
	var c llm.Counter
	text := strings.Repeat("Sextant answers questions from your documents and cites every claim. ", 15)
	for _, model := range []string{"gpt-4o", "gpt-4"} {
		b.Run(llm.Encoding(model), func(b *testing.B) {
			c.Text(model, text)
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for b.Loop() {
				c.Text(model, text)
			}
		})
	}
}
