package cost

import (
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/sextant-ai/sextant"
)

// Price is what a model charges, in US dollars per million tokens.
type Price struct {
	Input float64 // uncached input (prompt) tokens
	// CachedInput is the price of input tokens served from the provider's
	// prompt cache; 0 means the provider gives no discount (the Input
	// price applies).
	CachedInput float64
	Output      float64 // output (completion) tokens, reasoning tokens included
}

func (p Price) cached() float64 {
	if p.CachedInput == 0 {
		return p.Input
	}
	return p.CachedInput
}

func (p Price) valid() bool {
	return finite(p.Input) && finite(p.CachedInput) && finite(p.Output)
}

func finite(f float64) bool { return f >= 0 && !math.IsInf(f, 0) && !math.IsNaN(f) }

// PricesAsOf is when the default prices were taken from the providers'
// published price lists.
const PricesAsOf = "2025-11"

// DefaultPrices returns the shipped price table: list prices (standard
// tier, prompts up to 200k tokens where prices are tiered) of common
// OpenAI, Anthropic, Google and Mistral models as published at
// PricesAsOf, and "extractive" (Sextant's model-free answerer) at zero.
// Providers change prices; override them in the configuration.
func DefaultPrices() map[string]Price {
	return map[string]Price{
		"extractive": {},

		// OpenAI
		"gpt-5":                  {Input: 1.25, CachedInput: 0.125, Output: 10},
		"gpt-5-mini":             {Input: 0.25, CachedInput: 0.025, Output: 2},
		"gpt-5-nano":             {Input: 0.05, CachedInput: 0.005, Output: 0.40},
		"gpt-5-pro":              {Input: 15, Output: 120},
		"gpt-4.1":                {Input: 2, CachedInput: 0.50, Output: 8},
		"gpt-4.1-mini":           {Input: 0.40, CachedInput: 0.10, Output: 1.60},
		"gpt-4.1-nano":           {Input: 0.10, CachedInput: 0.025, Output: 0.40},
		"gpt-4o":                 {Input: 2.50, CachedInput: 1.25, Output: 10},
		"gpt-4o-mini":            {Input: 0.15, CachedInput: 0.075, Output: 0.60},
		"gpt-4-turbo":            {Input: 10, Output: 30},
		"gpt-4":                  {Input: 30, Output: 60},
		"gpt-3.5-turbo":          {Input: 0.50, Output: 1.50},
		"o1":                     {Input: 15, CachedInput: 7.50, Output: 60},
		"o1-pro":                 {Input: 150, Output: 600},
		"o1-mini":                {Input: 1.10, CachedInput: 0.55, Output: 4.40},
		"o3":                     {Input: 2, CachedInput: 0.50, Output: 8},
		"o3-pro":                 {Input: 20, Output: 80},
		"o3-mini":                {Input: 1.10, CachedInput: 0.55, Output: 4.40},
		"o4-mini":                {Input: 1.10, CachedInput: 0.275, Output: 4.40},
		"text-embedding-3-small": {Input: 0.02},
		"text-embedding-3-large": {Input: 0.13},
		"text-embedding-ada-002": {Input: 0.10},

		// Anthropic (cached input = cache read)
		"claude-opus-4-5":   {Input: 5, CachedInput: 0.50, Output: 25},
		"claude-opus-4-1":   {Input: 15, CachedInput: 1.50, Output: 75},
		"claude-opus-4":     {Input: 15, CachedInput: 1.50, Output: 75},
		"claude-sonnet-4-5": {Input: 3, CachedInput: 0.30, Output: 15},
		"claude-sonnet-4":   {Input: 3, CachedInput: 0.30, Output: 15},
		"claude-haiku-4-5":  {Input: 1, CachedInput: 0.10, Output: 5},
		"claude-3-7-sonnet": {Input: 3, CachedInput: 0.30, Output: 15},
		"claude-3-5-sonnet": {Input: 3, CachedInput: 0.30, Output: 15},
		"claude-3-5-haiku":  {Input: 0.80, CachedInput: 0.08, Output: 4},
		"claude-3-opus":     {Input: 15, CachedInput: 1.50, Output: 75},
		"claude-3-haiku":    {Input: 0.25, CachedInput: 0.03, Output: 1.25},

		// Google
		"gemini-2.5-pro":        {Input: 1.25, CachedInput: 0.125, Output: 10},
		"gemini-2.5-flash":      {Input: 0.30, CachedInput: 0.03, Output: 2.50},
		"gemini-2.5-flash-lite": {Input: 0.10, CachedInput: 0.01, Output: 0.40},
		"gemini-2.0-flash":      {Input: 0.10, CachedInput: 0.025, Output: 0.40},
		"gemini-2.0-flash-lite": {Input: 0.075, Output: 0.30},
		"gemini-1.5-pro":        {Input: 1.25, CachedInput: 0.3125, Output: 5},
		"gemini-1.5-flash":      {Input: 0.075, CachedInput: 0.01875, Output: 0.30},
		"text-embedding-004":    {},
		"gemini-embedding-001":  {Input: 0.15},

		// Mistral
		"mistral-large":     {Input: 2, Output: 6},
		"mistral-medium":    {Input: 0.40, Output: 2},
		"mistral-small":     {Input: 0.10, Output: 0.30},
		"magistral-medium":  {Input: 2, Output: 5},
		"magistral-small":   {Input: 0.50, Output: 1.50},
		"codestral":         {Input: 0.30, Output: 0.90},
		"ministral-8b":      {Input: 0.10, Output: 0.10},
		"ministral-3b":      {Input: 0.04, Output: 0.04},
		"open-mistral-nemo": {Input: 0.15, Output: 0.15},
		"pixtral-large":     {Input: 2, Output: 6},
		"mistral-embed":     {Input: 0.10},
	}
}

// PriceConfig configures NewPrices. The zero value is the default table.
type PriceConfig struct {
	// Models adds entries to the default table or replaces them, by model
	// name (matched like the defaults: case-insensitive, dated variants
	// fold onto their base name).
	Models map[string]Price
	// NoDefaults starts from an empty table instead of DefaultPrices.
	NoDefaults bool
	// Unknown, when set, prices models the table does not know (a cautious
	// choice for budgets is the most expensive model you route to); nil
	// leaves them unpriced: they cost 0 and are flagged (Charge.Priced).
	Unknown *Price
}

// Prices is a price table. It is safe for concurrent use.
type Prices struct {
	table   map[string]Price
	byLen   []string // table names, longest first, for prefix matching
	unknown *Price

	mu    sync.RWMutex
	cache map[string]match // resolved names; bounded by maxCache
}

type match struct {
	name string
	ok   bool
}

const maxCache = 4096

// NewPrices returns the price table cfg describes. Entries with a negative
// or non-finite price, or an empty name, are refused with EINVALID.
func NewPrices(cfg PriceConfig) (*Prices, error) {
	p := &Prices{table: map[string]Price{}, cache: map[string]match{}}
	if !cfg.NoDefaults {
		for k, v := range DefaultPrices() {
			p.table[k] = v
		}
	}
	for k, v := range cfg.Models {
		name := strings.ToLower(strings.TrimSpace(k))
		if name == "" {
			return nil, sextant.Errorf(sextant.EINVALID, "price table: a model entry has no name")
		}
		if !v.valid() {
			return nil, sextant.Errorf(sextant.EINVALID, "price table: model %q: prices must be non-negative dollars per million tokens, got %+v", k, v)
		}
		p.table[name] = v
	}
	if cfg.Unknown != nil {
		if !cfg.Unknown.valid() {
			return nil, sextant.Errorf(sextant.EINVALID, "price table: unknown-model price must be non-negative, got %+v", *cfg.Unknown)
		}
		u := *cfg.Unknown
		p.unknown = &u
	}
	for k := range p.table {
		p.byLen = append(p.byLen, k)
	}
	sort.Slice(p.byLen, func(i, j int) bool {
		if len(p.byLen[i]) != len(p.byLen[j]) {
			return len(p.byLen[i]) > len(p.byLen[j])
		}
		return p.byLen[i] < p.byLen[j]
	})
	return p, nil
}

// Names returns the table's model names, sorted.
func (p *Prices) Names() []string {
	out := make([]string, 0, len(p.table))
	for k := range p.table {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Lookup finds the price of model and the table entry that priced it.
// Matching is case-insensitive and tries, in order: the exact name; the
// name without a provider prefix ("openai/gpt-4o", "anthropic:claude-…",
// "models/gemini-…", "anthropic.claude-…"); the name with version and date
// suffixes removed one at a time ("-2024-08-06", "-20241022", "@20241022",
// "-0125", "-002", "-05-20", "-latest", "-preview", "-exp", "-v2:0");
// and finally the longest table name that is a prefix of it ending at a
// '-' ("gpt-4o-audio" is priced as "gpt-4o"). ok is false when nothing
// matched and no Unknown price was configured.
func (p *Prices) Lookup(model string) (name string, price Price, ok bool) {
	p.mu.RLock()
	m, hit := p.cache[model]
	p.mu.RUnlock()
	if !hit {
		m = p.resolve(model)
		p.mu.Lock()
		if len(p.cache) < maxCache {
			p.cache[model] = m
		}
		p.mu.Unlock()
	}
	if m.ok {
		return m.name, p.table[m.name], true
	}
	if p.unknown != nil {
		return "", *p.unknown, true
	}
	return "", Price{}, false
}

func (p *Prices) resolve(model string) match {
	s := strings.ToLower(strings.TrimSpace(model))
	if s == "" {
		return match{}
	}
	cands := candidates(s)
	for _, c := range cands {
		for {
			if _, ok := p.table[c]; ok {
				return match{c, true}
			}
			t := stripSuffix(c)
			if t == c {
				break
			}
			c = t
		}
	}
	for _, c := range cands {
		for _, name := range p.byLen {
			if len(c) > len(name) && strings.HasPrefix(c, name) && c[len(name)] == '-' {
				return match{name, true}
			}
		}
	}
	return match{}
}

// candidates returns s and s without the vendor or router prefixes it may
// carry: "openai/gpt-4o", "openai:gpt-4o" (Sextant's served-by notation),
// "models/gemini-2.5-pro", "anthropic.claude-…" (Bedrock). A colon after
// a name with '-' or '.' is a tag ("-v2:0"), not a provider; a tag after a
// plain name ("llama3:8b") yields a useless candidate, never a wrong
// match, since s itself is tried first.
func candidates(s string) []string {
	out := []string{s}
	add := func(t string) {
		if t != "" && t != out[len(out)-1] {
			out = append(out, t)
		}
	}
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		s = s[i+1:]
		add(s)
	}
	if i := strings.IndexByte(s, ':'); i > 0 && !strings.ContainsAny(s[:i], ".-") {
		s = s[i+1:]
		add(s)
	}
	for _, v := range []string{"anthropic.", "openai.", "google.", "mistral.", "mistralai."} {
		if t, ok := strings.CutPrefix(s, v); ok {
			add(t)
			break
		}
	}
	return out
}

// stripSuffix removes one version or date suffix, or returns s unchanged.
func stripSuffix(s string) string {
	for _, w := range []string{"-latest", "-preview", "-exp", "-experimental"} {
		if t, ok := strings.CutSuffix(s, w); ok && t != "" {
			return t
		}
	}
	// Bedrock-style "-v2:0".
	if i := strings.LastIndex(s, "-v"); i > 0 {
		if rest := s[i+2:]; rest != "" && allIn(rest, "0123456789:") && strings.Contains(rest, ":") {
			return s[:i]
		}
	}
	// "@20241022" (Vertex AI).
	if i := strings.LastIndexByte(s, '@'); i > 0 && allDigits(s[i+1:]) {
		return s[:i]
	}
	// "-2024-08-06": three numeric groups of 4, 2 and 2 digits.
	if n := len(s); n > 11 && s[n-11] == '-' && s[n-6] == '-' && s[n-3] == '-' &&
		allDigits(s[n-10:n-6]) && allDigits(s[n-5:n-3]) && allDigits(s[n-2:]) {
		return s[:n-11]
	}
	// "-05-20": month and day of a preview.
	if n := len(s); n > 6 && s[n-6] == '-' && s[n-3] == '-' && allDigits(s[n-5:n-3]) && allDigits(s[n-2:]) {
		return s[:n-6]
	}
	// "-20241022", "-0125", "-2411", "-002": a trailing group of 3, 4 or 8 digits.
	if i := strings.LastIndexByte(s, '-'); i > 0 {
		if d := s[i+1:]; allDigits(d) && (len(d) == 3 || len(d) == 4 || len(d) == 8) {
			return s[:i]
		}
	}
	return s
}

func allDigits(s string) bool { return s != "" && allIn(s, "0123456789") }

func allIn(s, set string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(set, s[i]) < 0 {
			return false
		}
	}
	return true
}

// Charge is what one model call cost.
type Charge struct {
	Model    string  // the price-table entry used; "" when unpriced or priced as Unknown
	USD      float64 // the cost
	SavedUSD float64 // the provider's discount on cached input tokens
	Priced   bool    // false: the model has no price and USD is 0 for that reason
}

// Charge prices u for model: uncached input tokens at Input, cached ones
// at CachedInput, output tokens at Output.
func (p *Prices) Charge(model string, u sextant.Usage) Charge {
	name, pr, ok := p.Lookup(model)
	if !ok {
		return Charge{}
	}
	cached := min(max(u.CachedInputTokens, 0), max(u.InputTokens, 0))
	uncached := max(u.InputTokens, 0) - cached
	usd := (float64(uncached)*pr.Input + float64(cached)*pr.cached() + float64(max(u.OutputTokens, 0))*pr.Output) / 1e6
	saved := float64(cached) * (pr.Input - pr.cached()) / 1e6
	return Charge{Model: name, USD: usd, SavedUSD: max(saved, 0), Priced: true}
}

// Estimate is the most a call to model can cost with inputTokens of
// prompt (all uncached) and at most maxOutputTokens of output: the amount
// to reserve against budgets before the call. ok is false when the model
// is unpriced.
func (p *Prices) Estimate(model string, inputTokens, maxOutputTokens int) (usd float64, ok bool) {
	_, pr, ok := p.Lookup(model)
	if !ok {
		return 0, false
	}
	return (float64(max(inputTokens, 0))*pr.Input + float64(max(maxOutputTokens, 0))*pr.Output) / 1e6, true
}

// MaxOutputTokens is the largest output a call to model may produce for
// its cost to stay within usd, given inputTokens of prompt: what to send
// as max_tokens so the reserved amount bounds the actual cost. ok is false
// for unpriced models; a model with a zero output price returns -1
// (no bound needed).
func (p *Prices) MaxOutputTokens(model string, inputTokens int, usd float64) (tokens int, ok bool) {
	_, pr, ok := p.Lookup(model)
	if !ok {
		return 0, false
	}
	if pr.Output == 0 {
		return -1, true
	}
	left := usd*1e6 - float64(max(inputTokens, 0))*pr.Input
	if left <= 0 {
		return 0, true
	}
	return int(math.Floor(left / pr.Output)), true
}
