package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm"
	"github.com/sextant-ai/sextant/rag"
	"github.com/sextant-ai/sextant/sqlite"
	"github.com/sextant-ai/sextant/web"
)

// promptCatalog is the answer pipeline's assistants and templates: the
// configured ones (sextant.yaml, DATA/templates, the built-in ones) as
// the base, and the ones set at runtime (HTTP API, `sextant templates`,
// `sextant assistants`; kept in the store) applied over them. A runtime
// assistant replaces a configured one of the same name; deleting it
// brings the configured one back. A template's active stored version
// replaces the file or built-in one.
//
// It implements web.Prompts for the server, and the command line uses it
// to check a change against what the server would run with. The server
// polls the store's prompt generation (watch), so a change made by the
// command line takes effect within a second, without a restart.
type promptCatalog struct {
	store     *sqlite.DB
	pipeline  *rag.Pipeline // nil on the command line
	base      []rag.Assistant
	def       string
	templates *rag.Templates                // embedded + DATA/templates
	model     *llm.Model                    // routes models are checked against; nil = not checked
	canary    func(assistant string) string // the guardrails' canary of an assistant ("" = none)
	now       func() time.Time

	mu  sync.Mutex // serialises changes and reloads
	gen int64      // the store's prompt generation last applied
}

// newPromptCatalog records the base templates as versions in the store
// (so answers made with them can be replayed after a file changes), and
// returns the catalog.
func newPromptCatalog(ctx context.Context, store *sqlite.DB, base []rag.Assistant, def string, templates *rag.Templates, model *llm.Model) (*promptCatalog, error) {
	c := &promptCatalog{store: store, base: slices.Clone(base), def: def, templates: templates, model: model, now: time.Now,
		canary: func(string) string { return "" }}
	builtin, err := rag.LoadTemplates(nil)
	if err != nil {
		return nil, err
	}
	for _, n := range templates.Names() {
		tp, _ := templates.Template(n)
		by := "file"
		if b, err := builtin.Template(n); err == nil && b.Hash == tp.Hash {
			by = "builtin"
		}
		if _, _, err := store.PutTemplateVersion(ctx, n, tp.Text, by, c.now(), false); err != nil {
			return nil, fmt.Errorf("templates: %w", err)
		}
	}
	// The generation is read before the data, so a change racing the
	// read is applied again by the next poll.
	if c.gen, err = store.PromptGeneration(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// current returns the assistants and templates the store and the base
// make now.
func (c *promptCatalog) current(ctx context.Context) ([]rag.Assistant, *rag.Templates, error) {
	ts := c.templates
	active, err := c.store.ActiveTemplates(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, v := range active {
		tp, err := rag.ParseTemplate(v.Name, v.Body)
		if err != nil {
			return nil, nil, fmt.Errorf("stored template %s@%.12s: %w", v.Name, v.Hash, err)
		}
		ts = ts.With(tp)
	}
	specs, err := c.store.AssistantSpecs(ctx)
	if err != nil {
		return nil, nil, err
	}
	as := slices.Clone(c.base)
	for _, s := range specs {
		a, err := specAssistant(s.Spec)
		if err != nil {
			return nil, nil, fmt.Errorf("stored assistant %s: %w", s.Name, err)
		}
		as = overlayAssistant(as, a)
	}
	return as, ts, nil
}

func overlayAssistant(as []rag.Assistant, a rag.Assistant) []rag.Assistant {
	if i := slices.IndexFunc(as, func(b rag.Assistant) bool { return b.Name == a.Name }); i >= 0 {
		as[i] = a
		return as
	}
	return append(as, a)
}

// specAssistant builds the assistant a stored spec (web.AssistantSpec's
// JSON) defines.
func specAssistant(spec []byte) (rag.Assistant, error) {
	var s web.AssistantSpec
	if err := json.Unmarshal(spec, &s); err != nil {
		return rag.Assistant{}, fmt.Errorf("decode: %w", err)
	}
	return specConfig(s).assistant()
}

func specConfig(s web.AssistantSpec) assistantConfig {
	return assistantConfig{Name: s.Name, Description: s.Description, Collections: s.Collections, Filters: s.Filters,
		Stale: s.Stale, Template: s.Template, Model: s.Model, Temperature: s.Temperature, Seed: s.Seed,
		MaxTokens: s.MaxTokens, TopK: s.TopK, System: s.System, ContextWindow: s.ContextWindow,
		RewriteModel: s.RewriteModel, NoCache: s.NoCache}
}

// plant adds the guardrails' canaries to the assistants' instructions, as
// the guard setup did at start (cmd/sextant/guardrails.go). The output
// check derives the same canary from the assistant's name, so one first
// defined at runtime is guarded from its first answer.
func (c *promptCatalog) plant(as []rag.Assistant) {
	for i := range as {
		as[i].System = plantCanary(as[i].System, c.canary(as[i].Name))
	}
}

// apply reconfigures the pipeline from the store; c.mu is held.
func (c *promptCatalog) apply(ctx context.Context) error {
	g, err := c.store.PromptGeneration(ctx)
	if err != nil {
		return err
	}
	as, ts, err := c.current(ctx)
	if err != nil {
		return err
	}
	c.plant(as)
	if c.pipeline != nil {
		if err := c.pipeline.Configure(as, c.def, ts); err != nil {
			return err
		}
	}
	c.gen = g
	return nil
}

// watch applies changes other processes make to the store until ctx ends,
// checking its prompt generation every interval.
func (c *promptCatalog) watch(ctx context.Context, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		g, err := c.store.PromptGeneration(ctx)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("prompts: generation", "err", err)
			}
			continue
		}
		c.mu.Lock()
		if g != c.gen {
			if err := c.apply(ctx); err != nil && ctx.Err() == nil {
				log.Error("prompts: applying a stored change failed; answering with the previous set", "err", err)
				c.gen = g // logged once, not every second
			} else if err == nil {
				log.Info("prompts: applied a change of templates or assistants", "generation", g)
			}
		}
		c.mu.Unlock()
	}
}

// TemplateVersions implements web.Prompts.
func (c *promptCatalog) TemplateVersions(ctx context.Context, name string) ([]web.TemplateVersion, error) {
	_, ts, err := c.current(ctx)
	if err != nil {
		return nil, err
	}
	cur, curErr := ts.Template(name)
	vs, err := c.store.TemplateVersions(ctx, name)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 && curErr != nil {
		return nil, curErr
	}
	out := make([]web.TemplateVersion, 0, len(vs)+1)
	seen := false
	for _, v := range vs {
		src := "stored"
		if v.CreatedBy == "builtin" || v.CreatedBy == "file" {
			src = v.CreatedBy
		}
		active := curErr == nil && v.Hash == cur.Hash
		seen = seen || active
		out = append(out, web.TemplateVersion{Hash: v.Hash, Active: active, Source: src, CreatedAt: v.CreatedAt, CreatedBy: v.CreatedBy})
	}
	if curErr == nil && !seen {
		out = append(out, web.TemplateVersion{Hash: cur.Hash, Active: true, Source: "file"})
	}
	return out, nil
}

// SetTemplate implements web.Prompts.
func (c *promptCatalog) SetTemplate(ctx context.Context, name, text, by string) (before, after string, err error) {
	if !rag.ValidTemplateName(name) {
		return "", "", web.InvalidField("name", "%q: want 1-64 characters of a-z, 0-9, '_' and '-', starting with a letter or digit", name)
	}
	if _, err := rag.ParseTemplate(name, text); err != nil {
		return "", "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ts, err := c.current(ctx); err == nil {
		if cur, err := ts.Template(name); err == nil {
			before = cur.Hash
		}
	}
	after, _, err = c.store.PutTemplateVersion(ctx, name, text, by, c.now(), true)
	if err != nil {
		return "", "", err
	}
	return before, after, c.apply(ctx)
}

// ActivateTemplate implements web.Prompts: any version the store keeps
// (set earlier, or a built-in or file version recorded at a start).
func (c *promptCatalog) ActivateTemplate(ctx context.Context, name, hash, by string) (before string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ts, err := c.current(ctx); err == nil {
		if cur, err := ts.Template(name); err == nil {
			before = cur.Hash
		}
	}
	if tp, ok := c.templates.Version(name, hash); ok { // a base version not yet recorded
		if _, _, err := c.store.PutTemplateVersion(ctx, name, tp.Text, "file", c.now(), false); err != nil {
			return "", err
		}
	}
	if _, err := c.store.ActivateTemplate(ctx, name, hash, by, c.now()); err != nil {
		return "", err
	}
	return before, c.apply(ctx)
}

// checkSpec checks a runtime assistant against what the server runs with
// and returns it built; errors name the field (web.InvalidField).
func (c *promptCatalog) checkSpec(ctx context.Context, s web.AssistantSpec, ts *rag.Templates) (rag.Assistant, error) {
	if err := s.Check(); err != nil {
		return rag.Assistant{}, err
	}
	a, err := specConfig(s).assistant()
	if err != nil {
		return rag.Assistant{}, web.InvalidField("filters", "%s", strings.TrimPrefix(err.Error(), "filters: "))
	}
	if _, err := ts.Template(cmpOr(a.Template, rag.TemplateAnswer)); err != nil {
		return rag.Assistant{}, web.InvalidField("template", "%s", sextant.ErrorMessage(err))
	}
	if c.model != nil {
		for _, f := range [...]struct{ field, m string }{{"model", a.Model}, {"rewrite_model", a.RewriteModel}} {
			field, m := f.field, f.m
			if m == "" {
				continue
			}
			if _, err := c.model.Targets(m); err != nil {
				return rag.Assistant{}, web.InvalidField(field, "%q has no route (routed: %s; routes are configured in sextant.yaml)", m, strings.Join(c.model.Models(), ", "))
			}
		}
	}
	if len(s.Collections) > 0 {
		st, err := c.store.Stats(ctx, c.now())
		if err != nil {
			return rag.Assistant{}, err
		}
		for i, col := range s.Collections {
			if _, ok := st.Collections[col]; !ok {
				have := make([]string, 0, len(st.Collections))
				for k := range st.Collections {
					have = append(have, k)
				}
				slices.Sort(have)
				return rag.Assistant{}, web.InvalidField(fmt.Sprintf("collections[%d]", i), "collection %q holds no documents (have %s); ingest into it first", col, strings.Join(have, ", "))
			}
		}
	}
	check := a
	if err := rag.CheckAssistant(&check, ts); err != nil {
		return rag.Assistant{}, web.InvalidField("", "%s", sextant.ErrorMessage(err))
	}
	return a, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func effectiveHash(as []rag.Assistant, name string) string {
	for i := range as {
		if as[i].Name == name {
			a := as[i]
			return web.AssistantHash(&a)
		}
	}
	return ""
}

// SetAssistant implements web.Prompts.
func (c *promptCatalog) SetAssistant(ctx context.Context, s web.AssistantSpec, by string) (before, after string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	as, ts, err := c.current(ctx)
	if err != nil {
		return "", "", err
	}
	a, err := c.checkSpec(ctx, s, ts)
	if err != nil {
		return "", "", err
	}
	spec, err := json.Marshal(s)
	if err != nil {
		return "", "", err
	}
	before = effectiveHash(as, s.Name)
	if _, err := c.store.PutAssistantSpec(ctx, sqlite.AssistantSpec{Name: s.Name, Spec: spec, UpdatedAt: c.now(), UpdatedBy: by}); err != nil {
		return "", "", err
	}
	return before, effectiveHash(overlayAssistant(as, a), s.Name), c.apply(ctx)
}

// DeleteAssistant implements web.Prompts. The default assistant cannot be
// deleted unless a configured one of its name remains.
func (c *promptCatalog) DeleteAssistant(ctx context.Context, name, by string) (before, after string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	as, _, err := c.current(ctx)
	if err != nil {
		return "", "", err
	}
	before = effectiveHash(as, name)
	after = effectiveHash(c.base, name)
	if after == "" && name == c.def {
		return "", "", sextant.Errorf(sextant.ECONFLICT, "assistant %q is the default assistant (default_assistant in sextant.yaml); it cannot be deleted", name)
	}
	if _, err := c.store.DeleteAssistantSpec(ctx, name); err != nil {
		return "", "", err
	}
	return before, after, c.apply(ctx)
}
