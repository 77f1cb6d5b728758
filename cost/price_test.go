package cost

import (
	"math"
	"slices"
	"testing"

	"github.com/sextant-ai/sextant"
)

func TestLookup(t *testing.T) {
	p, err := NewPrices(PriceConfig{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		model, want string
	}{
		{"gpt-4o", "gpt-4o"},
		{"GPT-4o", "gpt-4o"},
		{"gpt-4o-2024-08-06", "gpt-4o"},
		{"gpt-4o-mini-2024-07-18", "gpt-4o-mini"},
		{"gpt-4.1-nano-2025-04-14", "gpt-4.1-nano"},
		{"gpt-3.5-turbo-0125", "gpt-3.5-turbo"},
		{"o3-mini-2025-01-31", "o3-mini"},
		{"o1-pro-2025-03-19", "o1-pro"},
		{"openai/gpt-4o", "gpt-4o"},
		{"openai:gpt-4o-mini", "gpt-4o-mini"},
		{"gpt-4o-audio-preview", "gpt-4o"},
		{"gpt-5-mini", "gpt-5-mini"},
		{"claude-3-5-sonnet-20241022", "claude-3-5-sonnet"},
		{"claude-3-5-sonnet-latest", "claude-3-5-sonnet"},
		{"claude-sonnet-4-5-20250929", "claude-sonnet-4-5"},
		{"claude-opus-4-1-20250805", "claude-opus-4-1"},
		{"claude-opus-4-20250514", "claude-opus-4"},
		{"claude-haiku-4-5", "claude-haiku-4-5"},
		{"anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-3-5-sonnet"},
		{"claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet"},
		{"anthropic:claude-3-haiku-20240307", "claude-3-haiku"},
		{"gemini-2.5-pro", "gemini-2.5-pro"},
		{"models/gemini-2.5-flash", "gemini-2.5-flash"},
		{"gemini-2.5-flash-preview-05-20", "gemini-2.5-flash"},
		{"gemini-2.5-flash-lite-preview-06-17", "gemini-2.5-flash-lite"},
		{"gemini-1.5-pro-002", "gemini-1.5-pro"},
		{"mistral-large-latest", "mistral-large"},
		{"mistral-large-2411", "mistral-large"},
		{"mistral-small-2503", "mistral-small"},
		{"mistralai/mistral-medium-2505", "mistral-medium"},
		{"codestral-2501", "codestral"},
		{"extractive", "extractive"},
		{"extractive:extractive", "extractive"},
		// Unknown models stay unknown: no prefix match without a '-' boundary.
		{"gpt-4oo", ""},
		{"llama3:8b", ""},
		{"", ""},
		{"o", ""},
	}
	for _, tt := range tests {
		name, _, ok := p.Lookup(tt.model)
		if name != tt.want || ok != (tt.want != "") {
			t.Errorf("Lookup(%q) = %q, %v; want %q", tt.model, name, ok, tt.want)
		}
	}
	// Cached lookups answer the same.
	for _, tt := range tests {
		if name, _, _ := p.Lookup(tt.model); name != tt.want {
			t.Errorf("second Lookup(%q) = %q; want %q", tt.model, name, tt.want)
		}
	}
}

func TestCharge(t *testing.T) {
	one := 1.0
	p, err := NewPrices(PriceConfig{Models: map[string]Price{
		"Local-Llama": {Input: 0.2, Output: 0.4},
		"gpt-4o":      {Input: 2, CachedInput: 1, Output: 8}, // override a default
	}, Unknown: &Price{Input: one, Output: 2 * one}})
	if err != nil {
		t.Fatal(err)
	}
	u := func(in, cached, out int) sextant.Usage {
		return sextant.Usage{InputTokens: in, CachedInputTokens: cached, OutputTokens: out}
	}
	tests := []struct {
		model      string
		usage      sextant.Usage
		want       Charge
		wantApprox bool
	}{
		{"gpt-4o-2024-11-20", u(1_000_000, 0, 1_000_000), Charge{Model: "gpt-4o", USD: 10, Priced: true}, false},
		{"gpt-4o", u(1000, 400, 100), Charge{Model: "gpt-4o", USD: (600*2 + 400*1 + 100*8) / 1e6, SavedUSD: 400 * 1 / 1e6, Priced: true}, false},
		// No cached price: cached tokens cost the input price, nothing saved.
		{"local-llama", u(1000, 1000, 10), Charge{Model: "local-llama", USD: (1000*0.2 + 10*0.4) / 1e6, Priced: true}, false},
		{"claude-3-haiku", u(2_000_000, 1_000_000, 0), Charge{Model: "claude-3-haiku", USD: 0.25 + 0.03, SavedUSD: 0.22, Priced: true}, true},
		{"extractive", u(5000, 0, 500), Charge{Model: "extractive", Priced: true}, false},
		// Unknown model with an Unknown price.
		{"mystery-1", u(1_000_000, 0, 0), Charge{USD: 1, Priced: true}, false},
		// Cached count above input is clamped; negative counts are zero.
		{"gpt-4o", u(10, 50, -5), Charge{Model: "gpt-4o", USD: 10 * 1 / 1e6, SavedUSD: 10 * 1 / 1e6, Priced: true}, false},
	}
	for _, tt := range tests {
		got := p.Charge(tt.model, tt.usage)
		eq := got == tt.want
		if tt.wantApprox {
			eq = got.Model == tt.want.Model && got.Priced == tt.want.Priced &&
				math.Abs(got.USD-tt.want.USD) < 1e-12 && math.Abs(got.SavedUSD-tt.want.SavedUSD) < 1e-12
		}
		if !eq {
			t.Errorf("Charge(%q, %+v) = %+v, want %+v", tt.model, tt.usage, got, tt.want)
		}
	}

	def, _ := NewPrices(PriceConfig{})
	if c := def.Charge("mystery-1", u(100, 0, 100)); c.Priced || c.USD != 0 {
		t.Errorf("unknown model without Unknown price = %+v, want unpriced", c)
	}
}

func TestEstimateAndMaxOutput(t *testing.T) {
	p, _ := NewPrices(PriceConfig{})
	est, ok := p.Estimate("gpt-4o-mini", 10_000, 1_000)
	if want := (10_000*0.15 + 1_000*0.60) / 1e6; !ok || math.Abs(est-want) > 1e-15 {
		t.Errorf("Estimate = %v, %v; want %v", est, ok, want)
	}
	// The estimate bounds the charge of any call within max tokens.
	if c := p.Charge("gpt-4o-mini", sextant.Usage{InputTokens: 10_000, CachedInputTokens: 5_000, OutputTokens: 1_000}); c.USD > est {
		t.Errorf("charge %v exceeds estimate %v", c.USD, est)
	}
	n, ok := p.MaxOutputTokens("gpt-4o", 1000, 0.0125)
	if want := int((0.0125*1e6 - 1000*2.5) / 10); !ok || n != want {
		t.Errorf("MaxOutputTokens = %d, %v; want %d", n, ok, want)
	}
	if e, _ := p.Estimate("gpt-4o", 1000, n); e > 0.0125+1e-15 {
		t.Errorf("estimate at MaxOutputTokens %v exceeds the amount", e)
	}
	if n, _ := p.MaxOutputTokens("gpt-4o", 1_000_000, 0.01); n != 0 {
		t.Errorf("prompt alone over budget: %d output tokens, want 0", n)
	}
	if n, _ := p.MaxOutputTokens("extractive", 100, 0); n != -1 {
		t.Errorf("free model: %d, want -1 (no bound)", n)
	}
	if _, ok := p.Estimate("mystery", 1, 1); ok {
		t.Error("Estimate of an unknown model reported ok")
	}
}

func TestNewPricesErrors(t *testing.T) {
	for _, cfg := range []PriceConfig{
		{Models: map[string]Price{"": {Input: 1}}},
		{Models: map[string]Price{"m": {Input: -1}}},
		{Models: map[string]Price{"m": {Output: math.Inf(1)}}},
		{Models: map[string]Price{"m": {CachedInput: math.NaN()}}},
		{Unknown: &Price{Input: -2}},
	} {
		if _, err := NewPrices(cfg); sextant.ErrorCode(err) != sextant.EINVALID {
			t.Errorf("NewPrices(%+v) = %v, want invalid", cfg, err)
		}
	}
	p, err := NewPrices(PriceConfig{NoDefaults: true, Models: map[string]Price{"a": {}, "b": {}}})
	if err != nil || !slices.Equal(p.Names(), []string{"a", "b"}) {
		t.Errorf("NoDefaults table = %v, %v", p.Names(), err)
	}
}

func TestDefaultPricesSane(t *testing.T) {
	for name, pr := range DefaultPrices() {
		if !pr.valid() {
			t.Errorf("%s: invalid price %+v", name, pr)
		}
		if pr.CachedInput > pr.Input {
			t.Errorf("%s: cached input %v above input %v", name, pr.CachedInput, pr.Input)
		}
	}
}

func FuzzLookup(f *testing.F) {
	for _, s := range []string{"gpt-4o-2024-08-06", "anthropic.claude-3-5-sonnet-20241022-v2:0", "a:b:c", "-", "@", "-v:", "x-05-20",
		"models/", "/", ":", "gemini-2.5-flash-preview-05-20", "-2024-08-06", "mistral.-latest"} {
		f.Add(s)
	}
	p, _ := NewPrices(PriceConfig{})
	f.Fuzz(func(t *testing.T, model string) {
		name, pr, ok := p.Lookup(model)
		if ok != (name != "") {
			t.Fatalf("Lookup(%q) = %q, ok %v", model, name, ok)
		}
		if ok && p.table[name] != pr {
			t.Fatalf("Lookup(%q) price %+v is not the table's %+v for %q", model, pr, p.table[name], name)
		}
		if name2, _, _ := p.Lookup(model); name2 != name {
			t.Fatalf("Lookup(%q) not deterministic: %q then %q", model, name, name2)
		}
		c := p.Charge(model, sextant.Usage{InputTokens: 100, CachedInputTokens: 50, OutputTokens: 10})
		if !finite(c.USD) || !finite(c.SavedUSD) {
			t.Fatalf("Charge(%q) = %+v", model, c)
		}
	})
}
