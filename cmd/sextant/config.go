package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm"
	"github.com/sextant-ai/sextant/llm/anthropic"
	"github.com/sextant-ai/sextant/llm/driver"
	"github.com/sextant-ai/sextant/llm/extractive"
	"github.com/sextant-ai/sextant/llm/openai"
	"github.com/sextant-ai/sextant/rag"
)

// configFileName is the configuration file read from the data directory
// when --config names none.
const configFileName = "sextant.yaml"

// config is Sextant's configuration: the YAML file (--config, or
// DATA/sextant.yaml when present), then SEXTANT_* environment variables,
// then command-line flags, each overriding the one before.
// docs/configuration.md describes every key.
type config struct {
	Providers        []providerConfig  `yaml:"providers"`
	Routes           []routeConfig     `yaml:"routes"`
	Retry            retryConfig       `yaml:"retry"`
	Breaker          breakerConfig     `yaml:"breaker"`
	Timeouts         timeoutsConfig    `yaml:"timeouts"`
	Embedder         embedderConfig    `yaml:"embedder"`
	Search           searchConfig      `yaml:"search"` // vectors.go
	Assistants       []assistantConfig `yaml:"assistants"`
	DefaultAssistant string            `yaml:"default_assistant"`
	Cache            cacheConfig       `yaml:"cache"`
	Prices           pricesConfig      `yaml:"prices"`      // operate.go
	Budgets          budgetsConfig     `yaml:"budgets"`     // operate.go
	RateLimits       rateLimitsConfig  `yaml:"rate_limits"` // operate.go
	Answers          answersConfig     `yaml:"answers"`
	Eval             evalConfig        `yaml:"eval"`    // eval.go, evalonline.go
	Guard            guardConfig       `yaml:"guard"`   // guardrails.go
	Policy           policyConfig      `yaml:"policy"`  // guardrails.go
	Audit            auditConfig       `yaml:"audit"`   // secure.go
	Metrics          metricsConfig     `yaml:"metrics"` // secure.go

	path   string              // the file read, "" when none
	hooks  llm.Hooks           // model-layer callbacks (metrics); set by openOperated
	client *http.Client        // providers' HTTP client (traceparent); set by openOperated; nil = the drivers' own
	getenv func(string) string // the environment loadConfig read (for api_key_env)
}

type providerConfig struct {
	Name            string            `yaml:"name"`
	Type            string            `yaml:"type"` // openai or anthropic
	BaseURL         string            `yaml:"base_url"`
	APIKeyEnv       string            `yaml:"api_key_env"`
	Headers         map[string]string `yaml:"headers"`
	Query           map[string]string `yaml:"query"`
	MaxTokens       int               `yaml:"max_tokens"`
	LegacyMaxTokens bool              `yaml:"legacy_max_tokens"`
	NoStream        bool              `yaml:"no_stream"`
	NoStreamUsage   bool              `yaml:"no_stream_usage"`
	EmbedBase64     bool              `yaml:"embed_base64"`
	RerankURL       string            `yaml:"rerank_url"`
	RerankFormat    string            `yaml:"rerank_format"` // cohere or tei
}

type routeConfig struct {
	Match   string         `yaml:"match"`
	Targets []targetConfig `yaml:"targets"`
}

type targetConfig struct {
	Provider string `yaml:"provider"`
	Model    string `yaml:"model"`
}

type retryConfig struct {
	MaxAttempts   int      `yaml:"max_attempts"`
	BaseDelay     duration `yaml:"base_delay"`
	MaxDelay      duration `yaml:"max_delay"`
	MaxRetryAfter duration `yaml:"max_retry_after"`
}

type breakerConfig struct {
	Failures int      `yaml:"failures"`
	OpenFor  duration `yaml:"open_for"`
}

type timeoutsConfig struct {
	Call       duration `yaml:"call"`
	FirstDelta duration `yaml:"first_delta"`
	Idle       duration `yaml:"idle"`
}

type embedderConfig struct {
	Model          string `yaml:"model"`
	BaseURL        string `yaml:"base_url"`    // vectors.go: an OpenAI-compatible server for embeddings only
	APIKeyEnv      string `yaml:"api_key_env"` // its key's environment variable
	Dimensions     int    `yaml:"dimensions"`
	MaxBatch       int    `yaml:"max_batch"`
	MaxBatchTokens int    `yaml:"max_batch_tokens"`
	Concurrency    int    `yaml:"concurrency"`
}

type assistantConfig struct {
	Name          string            `yaml:"name"`
	Description   string            `yaml:"description"`
	Collections   []string          `yaml:"collections"`
	Filters       map[string]string `yaml:"filters"` // key: value, or "v1|v2" for any of
	Stale         string            `yaml:"stale"`   // exclude, only, any
	Template      string            `yaml:"template"`
	Model         string            `yaml:"model"`
	Temperature   *float64          `yaml:"temperature"`
	Seed          *int64            `yaml:"seed"`
	MaxTokens     int               `yaml:"max_tokens"`
	TopK          int               `yaml:"top_k"`
	System        string            `yaml:"system"`
	ContextWindow int               `yaml:"context_window"`
	RewriteModel  string            `yaml:"rewrite_model"` // "" = the model (heuristic for extractive); "heuristic" forces it
	NoCache       bool              `yaml:"no_cache"`
}

// answersConfig tunes the answer pipeline for every assistant.
type answersConfig struct {
	History          int     `yaml:"history"`            // earlier turns given to the model; 0 = 6
	SupportThreshold float64 `yaml:"support_threshold"`  // support score a sentence needs; 0 = 0.5
	FlagBadCitations bool    `yaml:"flag_bad_citations"` // keep markers naming no source (flagged) instead of removing them
}

type cacheConfig struct {
	Enabled           *bool    `yaml:"enabled"` // default true
	MaxEntries        int      `yaml:"max_entries"`
	TTL               duration `yaml:"ttl"`
	SemanticThreshold float64  `yaml:"semantic_threshold"`
}

// duration is a time.Duration written as "30s", "5m", "1h30m". Its decode
// errors give the line and column, which go-yaml's own time.Duration
// decoding does not.
type duration time.Duration

// UnmarshalYAML implements yaml.NodeUnmarshaler.
func (d *duration) UnmarshalYAML(node ast.Node) error {
	tok := node.GetToken()
	s := strings.TrimSpace(node.String())
	s = strings.Trim(s, `"'`)
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		if tok != nil && tok.Position != nil {
			return fmt.Errorf("[%d:%d] %q is not a duration (like 500ms, 30s, 5m, 1h)", tok.Position.Line, tok.Position.Column, s)
		}
		return fmt.Errorf("%q is not a duration (like 500ms, 30s, 5m, 1h)", s)
	}
	*d = duration(v)
	return nil
}

// D returns d as a time.Duration.
func (d duration) D() time.Duration { return time.Duration(d) }

// loadConfig reads the configuration: the file at path, or when path is ""
// DATA/sextant.yaml if it exists (SEXTANT_CONFIG names a file too), then
// applies SEXTANT_* overrides. Unknown keys are errors naming the key and
// its line.
func loadConfig(path, dataDir string, getenv func(string) string) (*config, error) {
	c := &config{getenv: getenv}
	explicit := path != ""
	if !explicit {
		if p := getenv("SEXTANT_CONFIG"); p != "" {
			path, explicit = p, true
		} else {
			path = filepath.Join(dataDir, configFileName)
		}
	}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := yaml.UnmarshalWithOptions(data, c, yaml.Strict()); err != nil {
			return nil, fmt.Errorf("config %s: %s", path, yamlError(err))
		}
		c.path = path
	case errors.Is(err, os.ErrNotExist) && !explicit:
	default:
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := c.applyEnv(getenv); err != nil {
		return nil, err
	}
	return c, c.check()
}

// yamlError turns a go-yaml error into one line: "[line:col] message".
func yamlError(err error) string {
	s := yaml.FormatError(err, false, false)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// envSections are the config sections whose scalar keys SEXTANT_<SECTION>_<KEY>
// overrides (SEXTANT_RETRY_MAX_ATTEMPTS=5, SEXTANT_CACHE_TTL=1h, ...).
var envSections = []string{"retry", "breaker", "timeouts", "embedder", "cache", "answers", "search"}

func (c *config) applyEnv(getenv func(string) string) error {
	if v := getenv("SEXTANT_DEFAULT_ASSISTANT"); v != "" {
		c.DefaultAssistant = v
	}
	rv := reflect.ValueOf(c).Elem()
	rt := rv.Type()
	for i := range rt.NumField() {
		sec := strings.Split(rt.Field(i).Tag.Get("yaml"), ",")[0]
		if !slices.Contains(envSections, sec) {
			continue
		}
		sv := rv.Field(i)
		for j := range sv.NumField() {
			key := strings.Split(sv.Type().Field(j).Tag.Get("yaml"), ",")[0]
			name := "SEXTANT_" + strings.ToUpper(sec+"_"+key)
			val := getenv(name)
			if val == "" {
				continue
			}
			if err := yaml.Unmarshal([]byte(val), sv.Field(j).Addr().Interface()); err != nil {
				return fmt.Errorf("config: %s=%q: %s", name, val, yamlError(err))
			}
		}
	}
	return nil
}

// check validates what YAML types cannot.
func (c *config) check() error {
	seen := map[string]bool{extractive.Model: true}
	for i, p := range c.Providers {
		where := fmt.Sprintf("providers[%d]", i)
		switch {
		case p.Name == "":
			return fmt.Errorf("config: %s: name is required", where)
		case p.Name == extractive.Model:
			return fmt.Errorf("config: %s: the name %q is the built-in generator's", where, p.Name)
		case seen[p.Name]:
			return fmt.Errorf("config: %s: provider %q is defined twice", where, p.Name)
		case p.Type != "openai" && p.Type != "anthropic":
			return fmt.Errorf("config: %s (%s): type %q: want openai or anthropic", where, p.Name, p.Type)
		case p.RerankFormat != "" && p.RerankFormat != "cohere" && p.RerankFormat != "tei":
			return fmt.Errorf("config: %s (%s): rerank_format %q: want cohere or tei", where, p.Name, p.RerankFormat)
		}
		seen[p.Name] = true
	}
	names := map[string]bool{}
	for i, a := range c.Assistants {
		where := fmt.Sprintf("assistants[%d]", i)
		switch {
		case a.Name == "":
			return fmt.Errorf("config: %s: name is required", where)
		case names[a.Name]:
			return fmt.Errorf("config: %s: assistant %q is defined twice", where, a.Name)
		case a.Stale != "" && a.Stale != "exclude" && a.Stale != "only" && a.Stale != "any":
			return fmt.Errorf("config: %s (%s): stale %q: want exclude, only or any", where, a.Name, a.Stale)
		}
		names[a.Name] = true
	}
	if t := c.Answers.SupportThreshold; t < 0 || t > 1 {
		return fmt.Errorf("config: answers.support_threshold %v: want a score in (0, 1]", t)
	}
	if c.Answers.History < 0 || c.Answers.History > 100 {
		return fmt.Errorf("config: answers.history %d: want 0..100 turns", c.Answers.History)
	}
	if t := c.Cache.SemanticThreshold; t < 0 || t > 1 {
		return fmt.Errorf("config: cache.semantic_threshold %v: want a cosine similarity in (0, 1]", t)
	}
	if err := c.checkGuard(); err != nil {
		return err
	}
	if err := c.Eval.check(); err != nil {
		return err
	}
	return c.checkOperations()
}

// cacheEnabled reports whether the response cache is on (the default).
func (c *config) cacheEnabled() bool { return c.Cache.Enabled == nil || *c.Cache.Enabled }

// models builds the model layer: the extractive generator, always, as
// provider and model "extractive", plus the configured providers and
// routes. With no routes and one configured provider, that provider serves
// every other model name.
func (c *config) models(getenv func(string) string) (*llm.Model, error) {
	providers := map[string]driver.Provider{extractive.Model: extractive.New(extractive.Options{})}
	for _, p := range c.Providers {
		key := ""
		if p.APIKeyEnv != "" {
			if key = getenv(p.APIKeyEnv); key == "" {
				return nil, fmt.Errorf("config: provider %q: environment variable %s (api_key_env) is not set", p.Name, p.APIKeyEnv)
			}
		}
		var (
			d   driver.Provider
			err error
		)
		switch p.Type {
		case "openai":
			d, err = openai.New(openai.Options{Name: p.Name, BaseURL: p.BaseURL, APIKey: key, Header: p.Headers, Query: p.Query,
				LegacyMaxTokens: p.LegacyMaxTokens, NoStream: p.NoStream, NoStreamUsage: p.NoStreamUsage,
				RerankURL: p.RerankURL, RerankTEI: p.RerankFormat == "tei", EmbedBase64: p.EmbedBase64, HTTPClient: c.client})
		case "anthropic":
			d, err = anthropic.New(anthropic.Options{Name: p.Name, BaseURL: p.BaseURL, APIKey: key, Header: p.Headers, MaxTokens: p.MaxTokens,
				HTTPClient: c.client})
		}
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		providers[p.Name] = d
	}
	routes := []llm.Route{}
	routed := false
	for _, r := range c.Routes {
		lr := llm.Route{Match: r.Match}
		for _, t := range r.Targets {
			lr.Targets = append(lr.Targets, llm.Target{Provider: t.Provider, Model: t.Model})
		}
		routes = append(routes, lr)
		routed = routed || r.Match == extractive.Model
	}
	if !routed {
		routes = append([]llm.Route{{Match: extractive.Model, Targets: []llm.Target{{Provider: extractive.Model}}}}, routes...)
	}
	if len(c.Routes) == 0 && len(c.Providers) == 1 {
		routes = append(routes, llm.Route{Match: "*", Targets: []llm.Target{{Provider: c.Providers[0].Name}}})
	}
	m, err := llm.New(llm.Options{
		Providers: providers, Routes: routes,
		Timeout: c.Timeouts.Call.D(), FirstDeltaTimeout: c.Timeouts.FirstDelta.D(), IdleTimeout: c.Timeouts.Idle.D(),
		Retry:   llm.RetryPolicy{MaxAttempts: c.Retry.MaxAttempts, BaseDelay: c.Retry.BaseDelay.D(), MaxDelay: c.Retry.MaxDelay.D(), MaxRetryAfter: c.Retry.MaxRetryAfter.D()},
		Breaker: llm.BreakerPolicy{Failures: c.Breaker.Failures, OpenFor: c.Breaker.OpenFor.D()},
		Hooks:   c.hooks,
	})
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return m, nil
}

// embedder returns the question embedder for the semantic cache, or nil
// when none is configured.
func (c *config) embedder(m *llm.Model) (sextant.EmbedFunc, error) {
	emb, err := c.embedderFor(m, c.getenv, nil, sextant.EmbeddingSpace{}) // vectors.go: honours embedder.base_url
	if err != nil || emb == nil {
		return nil, err
	}
	return emb.emb.Embed, nil
}

// builtinAssistant is the assistant every installation has: the
// extractive generator over the default collection.
func builtinAssistant() rag.Assistant {
	return rag.Assistant{
		Name:          rag.DefaultAssistant,
		Description:   "answers from your documents by quoting their most relevant sentences, with citations; needs no model",
		Collections:   []string{sextant.DefaultCollection},
		Model:         extractive.Model,
		ContextWindow: -1,
	}
}

// assistant builds the assistant ac defines (a configured one or one set
// at runtime: prompts.go). An error starts with the field at fault
// ("filters: ...").
func (ac assistantConfig) assistant() (rag.Assistant, error) {
	a := rag.Assistant{Name: ac.Name, Description: ac.Description, Collections: ac.Collections, Template: ac.Template,
		Model: ac.Model, Temperature: ac.Temperature, Seed: ac.Seed, MaxTokens: ac.MaxTokens, TopK: ac.TopK,
		System: ac.System, ContextWindow: ac.ContextWindow, NoCache: ac.NoCache}
	if a.Model == "" {
		a.Model = extractive.Model
	}
	switch {
	case ac.RewriteModel == "heuristic":
	case ac.RewriteModel != "":
		a.RewriteModel = ac.RewriteModel
	case a.Model != extractive.Model:
		a.RewriteModel = a.Model
	}
	if a.Model == extractive.Model && a.ContextWindow == 0 {
		a.ContextWindow = -1
	}
	var specs []string
	for k, v := range ac.Filters {
		specs = append(specs, k+"="+v)
	}
	slices.Sort(specs)
	f, err := parseFilters(specs)
	if err != nil {
		return rag.Assistant{}, fmt.Errorf("filters: %v", err)
	}
	switch ac.Stale {
	case "exclude":
		f.Stale = sextant.StaleExclude
	case "only":
		f.Stale = sextant.StaleOnly
	}
	a.Filter = f
	return a, nil
}

// assistants returns the configured assistants, with the built-in one
// first unless the configuration redefines it, and the default's name.
func (c *config) assistants() ([]rag.Assistant, string, error) {
	var out []rag.Assistant
	redefined := false
	for _, a := range c.Assistants {
		redefined = redefined || a.Name == rag.DefaultAssistant
	}
	if !redefined {
		out = append(out, builtinAssistant())
	}
	for i, ac := range c.Assistants {
		a, err := ac.assistant()
		if err != nil {
			return nil, "", fmt.Errorf("config: assistants[%d] (%s).%v", i, ac.Name, err)
		}
		out = append(out, a)
	}
	def := c.DefaultAssistant
	if def == "" {
		def = rag.DefaultAssistant
	}
	return out, def, nil
}
