package web

import (
	"context"
	"net/http"
	"slices"

	"github.com/sextant-ai/sextant"
)

// SettingsFunc returns the server's effective configuration, without
// secrets: cmd fills every section but assistants, templates and
// budgets, which the server reads from the pipeline and the budgets
// themselves.
type SettingsFunc func(ctx context.Context) (*Settings, error)

// Settings is the body of GET /v1/settings: what the server runs with.
// It never holds a secret: providers show the environment variable their
// key is read from and whether it is set, header and query parameter
// names without their values, and base URLs without user information or
// query values.
type Settings struct {
	Object           string             `json:"object"` // "settings"
	DefaultAssistant string             `json:"default_assistant"`
	Assistants       []AssistantInfo    `json:"assistants"`
	Templates        []TemplateInfo     `json:"templates"`
	Providers        []ProviderSettings `json:"providers"`
	Routes           []RouteSettings    `json:"routes"`
	Embedder         *EmbedderSettings  `json:"embedder,omitempty"`
	Guard            map[string]any     `json:"guard"`  // the configuration's guard section, as configured
	Policy           PolicySettings     `json:"policy"` // the policy file and its reload interval
	Budgets          []Budget           `json:"budgets"`
	RateLimits       RateLimitSettings  `json:"rate_limits"`
	Cache            CacheSettings      `json:"cache"`
	Eval             map[string]any     `json:"eval,omitempty"`   // the configuration's eval section
	Config           string             `json:"config,omitempty"` // the configuration file read, "" when none
	Extra            map[string]any     `json:"extra,omitempty"`  // other sections (retry, breaker, timeouts, answers)
}

// TemplateInfo is a prompt template's name and content hash (the hash
// stored with every answer it composed).
type TemplateInfo struct {
	Name string `json:"name"`
	Hash string `json:"hash"`
}

// ProviderSettings is a configured model provider, without its key.
type ProviderSettings struct {
	Name      string   `json:"name"`
	Type      string   `json:"type"`
	BaseURL   string   `json:"base_url,omitempty"`
	APIKeyEnv string   `json:"api_key_env,omitempty"` // the variable's name, never its value
	APIKeySet bool     `json:"api_key_set"`
	Headers   []string `json:"headers,omitempty"` // names only
	Query     []string `json:"query,omitempty"`   // names only
	RerankURL string   `json:"rerank_url,omitempty"`
}

// RouteSettings is one model route: the pattern and its targets in order
// (the first serves, the others are fallbacks).
type RouteSettings struct {
	Match   string        `json:"match"`
	Targets []RouteTarget `json:"targets"`
}

// RouteTarget is a provider and the model name it is asked for ("" = the
// requested name).
type RouteTarget struct {
	Provider string `json:"provider"`
	Model    string `json:"model,omitempty"`
}

// EmbedderSettings is the configured embedder, without its key.
type EmbedderSettings struct {
	Model      string `json:"model"`
	BaseURL    string `json:"base_url,omitempty"`
	APIKeyEnv  string `json:"api_key_env,omitempty"`
	Dimensions int    `json:"dimensions,omitempty"`
}

// PolicySettings is the policy configuration.
type PolicySettings struct {
	File   string `json:"file,omitempty"` // "" = no policy
	Reload string `json:"reload,omitempty"`
}

// RateLimit is one key's limits per minute (0 = unlimited).
type RateLimit struct {
	RequestsPerMinute int `json:"requests_per_minute"`
	TokensPerMinute   int `json:"tokens_per_minute"`
}

// RateLimitSettings are the rate limits: the default and per key id.
type RateLimitSettings struct {
	Default RateLimit            `json:"default"`
	Keys    map[string]RateLimit `json:"keys"`
}

// CacheSettings is the response cache's configuration.
type CacheSettings struct {
	Enabled           bool    `json:"enabled"`
	MaxEntries        int     `json:"max_entries"` // 0 = the default
	TTL               string  `json:"ttl"`         // "" = the default
	SemanticThreshold float64 `json:"semantic_threshold"`
}

// settings serves GET /v1/settings. A key of a named tenant sees its own
// tenant's budgets and its own keys' rate limits and budgets only.
func (s *Server) settings(w http.ResponseWriter, r *http.Request) {
	get, pl := s.opts.Settings, s.opts.Pipeline
	if get == nil || pl == nil {
		unavailable(w, "settings")
		return
	}
	if err := checkQuery(r); err != nil {
		writeError(w, err)
		return
	}
	st, err := get(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	out := *st
	out.Object = "settings"
	def, _ := pl.Assistant("")
	out.DefaultAssistant = def.Name
	out.Assistants = s.assistantInfos()
	out.Templates = []TemplateInfo{}
	for _, name := range pl.Templates().Names() {
		if t, err := pl.Templates().Template(name); err == nil {
			out.Templates = append(out.Templates, TemplateInfo{Name: name, Hash: t.Hash})
		}
	}
	p := principal(r)
	own := func(key string) bool { return operator(&p) || s.ownKey(r.Context(), &p, key) == nil }
	out.Budgets = []Budget{}
	if b := s.opts.Admin.Budgets; b != nil {
		for _, bs := range b.Status() {
			switch {
			case bs.Budget.Scope == sextant.BudgetKey && !own(bs.Budget.ID):
			case bs.Budget.Scope == sextant.BudgetProject && !operator(&p) && bs.Budget.Tenant != p.Tenant:
			default:
				out.Budgets = append(out.Budgets, BudgetJSON(&bs))
			}
		}
	}
	keys := map[string]RateLimit{}
	for k, v := range st.RateLimits.Keys {
		if own(k) {
			keys[k] = v
		}
	}
	out.RateLimits.Keys = keys
	if out.Providers == nil {
		out.Providers = []ProviderSettings{}
	}
	if out.Routes == nil {
		out.Routes = []RouteSettings{}
	}
	if out.Guard == nil {
		out.Guard = map[string]any{}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
}

// assistantInfos lists the pipeline's assistants as GET /v1/assistants
// shows them.
func (s *Server) assistantInfos() []AssistantInfo {
	pl := s.opts.Pipeline
	def, _ := pl.Assistant("")
	out := []AssistantInfo{}
	for _, a := range pl.Assistants() {
		tmpl := a.Template
		if tmpl == "" {
			tmpl = "answer"
		}
		info := AssistantInfo{Name: a.Name, Description: a.Description, Default: a.Name == def.Name, Model: a.Model,
			Template: tmpl, Collections: slices.Clone(a.Collections), TopK: a.TopK, Temperature: a.Temperature, MaxTokens: a.MaxTokens,
			Cached: !a.NoCache}
		if info.Collections == nil {
			info.Collections = []string{}
		}
		if t, err := pl.Templates().Template(tmpl); err == nil {
			info.TemplateHash = t.Hash
		}
		out = append(out, info)
	}
	return out
}
