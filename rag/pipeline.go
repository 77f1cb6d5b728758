package rag

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"iter"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm"
	"github.com/sextant-ai/sextant/search"
)

// Pipeline answers questions. It is safe for concurrent use.
type Pipeline struct {
	opts Options
	// cat is what Configure changes while requests run: each request
	// loads it once and answers with that snapshot to its end, so the hot
	// path takes no lock. mu serialises Configure calls.
	cat       atomic.Pointer[catalog]
	mu        sync.Mutex
	counter   *llm.Counter
	analyzer  *search.Analyzer
	support   SupportFunc
	threshold float64
	semantic  float64
	history   int
	log       *slog.Logger

	stats struct {
		exact, semantic, misses, bypassed, invalidated atomic.Int64
	}
}

// New checks opts and returns a Pipeline. Errors are EINVALID and name the
// offending option or assistant.
func New(opts Options) (*Pipeline, error) {
	if opts.Retriever == nil {
		return nil, sextant.Errorf(sextant.EINVALID, "rag: no retriever")
	}
	if opts.Model == nil {
		return nil, sextant.Errorf(sextant.EINVALID, "rag: no model")
	}
	if len(opts.Assistants) == 0 {
		return nil, sextant.Errorf(sextant.EINVALID, "rag: no assistant configured")
	}
	p := &Pipeline{opts: opts,
		counter: opts.Counter, analyzer: opts.Analyzer, support: opts.Support,
		threshold: opts.SupportThreshold, semantic: opts.SemanticThreshold, history: opts.History, log: opts.Logger}
	templates := opts.Templates
	if templates == nil {
		t, err := LoadTemplates(nil)
		if err != nil {
			return nil, err
		}
		templates = t
	}
	if p.counter == nil {
		p.counter = &llm.Counter{}
	}
	if p.analyzer == nil {
		p.analyzer = search.NewAnalyzer(search.AnalyzerOptions{})
	}
	if p.support == nil {
		p.support = lexicalSupport(p.analyzer)
	}
	if p.threshold <= 0 || p.threshold > 1 {
		p.threshold = DefaultSupport
	}
	if p.semantic <= 0 || p.semantic > 1 {
		p.semantic = 0.95
	}
	if p.history <= 0 {
		p.history = DefaultHistory
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.opts.Now == nil {
		p.opts.Now = time.Now
	}
	if p.opts.NewID == nil {
		p.opts.NewID = NewID
	}
	c, err := newCatalog(opts.Assistants, opts.DefaultAssistant, templates)
	if err != nil {
		return nil, err
	}
	p.cat.Store(c)
	return p, nil
}

// catalog is the pipeline's assistants and templates: one immutable
// snapshot.
type catalog struct {
	assistants map[string]*Assistant
	order      []string // configuration order
	def        string
	templates  *Templates
}

// newCatalog checks the assistants against the templates and returns the
// snapshot. Errors are EINVALID and name the assistant.
func newCatalog(as []Assistant, def string, templates *Templates) (*catalog, error) {
	if len(as) == 0 {
		return nil, sextant.Errorf(sextant.EINVALID, "rag: no assistant configured")
	}
	c := &catalog{assistants: make(map[string]*Assistant, len(as)), templates: templates}
	for i := range as {
		a := as[i]
		a.Collections = slices.Clone(a.Collections)
		if err := CheckAssistant(&a, templates); err != nil {
			return nil, err
		}
		if _, dup := c.assistants[a.Name]; dup {
			return nil, sextant.Errorf(sextant.EINVALID, "rag: assistant %q is configured twice", a.Name)
		}
		c.assistants[a.Name] = &a
		c.order = append(c.order, a.Name)
	}
	c.def = def
	if c.def == "" {
		c.def = c.order[0]
	}
	if _, ok := c.assistants[c.def]; !ok {
		return nil, sextant.Errorf(sextant.EINVALID, "rag: default assistant %q is not configured (have %s)", c.def, strings.Join(c.order, ", "))
	}
	return c, nil
}

// Configure replaces the pipeline's assistants, default assistant and
// templates at once, with the checks New makes; templates nil keeps the
// current ones. Requests already running finish with what they started
// with; the next request sees the new set. On error nothing changes.
func (p *Pipeline) Configure(assistants []Assistant, defaultAssistant string, templates *Templates) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if templates == nil {
		templates = p.cat.Load().templates
	}
	c, err := newCatalog(assistants, defaultAssistant, templates)
	if err != nil {
		return err
	}
	p.cat.Store(c)
	return nil
}

// CheckAssistant checks an assistant against templates and normalises it
// as the pipeline does (the "answer" template when none is named, its
// collections moved into its filter). Errors are EINVALID and name the
// assistant and the setting at fault.
func CheckAssistant(a *Assistant, templates *Templates) error {
	switch {
	case a.Name == "":
		return sextant.Errorf(sextant.EINVALID, "rag: an assistant has no name")
	case a.Model == "":
		return sextant.Errorf(sextant.EINVALID, "rag: assistant %q: no model", a.Name)
	case a.TopK < 0 || a.TopK > 1000:
		return sextant.Errorf(sextant.EINVALID, "rag: assistant %q: top_k %d is outside 0..1000", a.Name, a.TopK)
	case a.MaxTokens < 0:
		return sextant.Errorf(sextant.EINVALID, "rag: assistant %q: max_tokens %d is negative", a.Name, a.MaxTokens)
	case a.Temperature != nil && (*a.Temperature < 0 || *a.Temperature > 2):
		return sextant.Errorf(sextant.EINVALID, "rag: assistant %q: temperature %v is outside [0, 2]", a.Name, *a.Temperature)
	}
	if a.Template == "" {
		a.Template = TemplateAnswer
	}
	if _, err := templates.Template(a.Template); err != nil {
		return sextant.Errorf(sextant.EINVALID, "rag: assistant %q: %w", a.Name, err)
	}
	if len(a.Collections) > 0 {
		// A checked assistant holds them in both; checking it again is fine.
		if len(a.Filter.Collections) > 0 && !slices.Equal(a.Filter.Collections, a.Collections) {
			return sextant.Errorf(sextant.EINVALID, "rag: assistant %q: collections are given twice (collections and filter)", a.Name)
		}
		a.Filter.Collections = slices.Clone(a.Collections)
	}
	if a.Filter.Tenant != "" || a.Filter.Groups != nil {
		return sextant.Errorf(sextant.EINVALID, "rag: assistant %q: tenant and groups come from the caller, not the assistant's filter", a.Name)
	}
	return nil
}

// Assistants returns the assistants, in configuration order.
func (p *Pipeline) Assistants() []Assistant {
	c := p.cat.Load()
	out := make([]Assistant, 0, len(c.order))
	for _, n := range c.order {
		out = append(out, *c.assistants[n])
	}
	return out
}

// Assistant returns the assistant called name ("" = the default) and
// whether it exists. The chat API uses it to tell an assistant from a
// model to proxy.
func (p *Pipeline) Assistant(name string) (Assistant, bool) {
	c := p.cat.Load()
	if name == "" {
		name = c.def
	}
	a, ok := c.assistants[name]
	if !ok {
		return Assistant{}, false
	}
	return *a, true
}

// Templates returns the pipeline's prompt templates (the current set:
// Configure may replace it).
func (p *Pipeline) Templates() *Templates { return p.cat.Load().templates }

// CacheStats returns the response cache counters.
func (p *Pipeline) CacheStats() CacheStats {
	s := CacheStats{ExactHits: p.stats.exact.Load(), SemanticHits: p.stats.semantic.Load(),
		Misses: p.stats.misses.Load(), Bypassed: p.stats.bypassed.Load(), Invalidated: p.stats.invalidated.Load()}
	if mc, ok := p.opts.Cache.(*MemoryCache); ok {
		s.Entries = mc.Len()
	}
	return s
}

// Ask answers req and returns the finished result.
func (p *Pipeline) Ask(ctx context.Context, req *Request) (*Result, error) {
	for ev, err := range p.Stream(ctx, req) {
		if err != nil {
			return nil, err
		}
		if ev.Type == EventDone {
			return ev.Result, nil
		}
	}
	return nil, sextant.Errorf(sextant.EINTERNAL, "rag: answer stream ended without a result")
}

// Stream answers req as a stream of events: a stage event after each
// stage, the numbered sources before generation, text deltas, and finally
// the Result. Nothing runs until the sequence is ranged over; stopping the
// range cancels generation. A failure is yielded once as (zero Event, err)
// and ends the stream; errors are *sextant.Error values (EINVALID for a bad
// request, ENOTFOUND for an unknown assistant or answer, EFORBIDDEN for
// another principal's session, and the generator's codes).
func (p *Pipeline) Stream(ctx context.Context, req *Request) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		if h := p.opts.Hooks.Begin; h != nil {
			ctx = h(ctx, req)
		}
		r := &run{p: p, cat: p.cat.Load(), req: req, yield: yield}
		res, err := r.answer(ctx)
		if errors.Is(err, errStopped) {
			return
		}
		if err != nil {
			yield(Event{}, err)
			return
		}
		// The Done hooks run whether or not the consumer goes on ranging
		// (Ask stops at the result).
		yield(Event{Type: EventDone, Result: res}, nil)
		kept := res
		if r.recorded != nil {
			kept = r.recorded
		}
		for _, h := range p.opts.Hooks.Done {
			h(ctx, kept)
		}
	}
}

// PurgeCache empties the response cache (a cache with a Purge method, as
// MemoryCache has) and returns how many answers it dropped, and whether
// there is a cache to purge.
func (p *Pipeline) PurgeCache() (int, bool) {
	c, ok := p.opts.Cache.(interface{ Purge() int })
	if !ok {
		return 0, false
	}
	return c.Purge(), true
}

// errStopped ends a run whose consumer stopped ranging.
var errStopped = errors.New("rag: stream consumer stopped")

// NewID returns a 26-character id that sorts by creation time: 48 bits of
// Unix milliseconds and 80 random bits, in lower-case base32.
func NewID() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli())<<16)
	_, _ = rand.Read(b[6:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))[:26]
}

// validSessionID reports whether id may name a session.
func validSessionID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// Invalidate drops the cached answers that cite any of the documents (call
// it with the ids of a corpus change, e.g. after an upload or a delete)
// and returns how many it dropped. It is housekeeping, not a correctness
// requirement: the exact key holds the retrieved text and a semantic hit
// re-checks its sources, so a changed document is never served from the
// cache either way.
func (p *Pipeline) Invalidate(documentIDs ...string) int {
	c, ok := p.opts.Cache.(interface{ InvalidateDocuments(...string) int })
	if !ok || len(documentIDs) == 0 {
		return 0
	}
	n := c.InvalidateDocuments(documentIDs...)
	p.stats.invalidated.Add(int64(n))
	return n
}
