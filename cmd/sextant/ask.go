package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/rag"
	"github.com/sextant-ai/sextant/web"
)

const askUsage = `Usage: sextant ask "QUESTION" [flags]

Answer a question from the documents in the data directory (or, with
--server URL, from a running sextant serve), streaming the
answer with its [n] citations, then the numbered sources it cites (title,
section, source URI, byte offsets in the document text, and the quoted
span). The default assistant ("sextant") quotes the most relevant sentences
and needs no model; configure others in DATA/sextant.yaml
(docs/configuration.md).

Flags:
`

// askSetup is what ask (and the answer benchmark) build from the
// configuration: the pipeline and what it runs on.
type askSetup struct {
	eng      *engine
	pipeline *rag.Pipeline
	cfg      *config
	opts     rag.Options
	guard    *guardSetup    // the guardrails; nil when the configuration turns them off
	prompts  *promptCatalog // runtime templates and assistants (prompts.go)
}

func (s *askSetup) Close() error {
	s.guard.Close()
	return s.eng.Close()
}

// openPipeline opens the data directory and builds the answer pipeline the
// configuration describes.
func openPipeline(ctx context.Context, e *env, dataDir, configPath string, tweak func(*rag.Options)) (*askSetup, error) {
	cfg, err := loadConfig(configPath, dataDir, e.getenv)
	if err != nil {
		return nil, err
	}
	return buildPipeline(ctx, e, cfg, dataDir, tweak)
}

// buildPipeline builds the answer pipeline cfg describes over dataDir.
func buildPipeline(ctx context.Context, e *env, cfg *config, dataDir string, tweak func(*rag.Options)) (*askSetup, error) {
	model, err := cfg.models(e.getenv)
	if err != nil {
		return nil, err
	}
	embed, err := cfg.embedder(model)
	if err != nil {
		return nil, err
	}
	assistants, def, err := cfg.assistants()
	if err != nil {
		return nil, err
	}
	templates, err := loadTemplates(dataDir)
	if err != nil {
		return nil, err
	}
	eng, err := openEngineWith(ctx, e, cfg, model, dataDir)
	if err != nil {
		return nil, err
	}
	// prompts.go: the templates and assistants set at runtime apply over
	// the configured ones; older template versions are kept for replays.
	prompts, err := newPromptCatalog(ctx, eng.store, assistants, def, templates, model)
	if err == nil {
		assistants, templates, err = prompts.current(ctx)
	}
	if err != nil {
		eng.Close()
		return nil, err
	}
	opts := rag.Options{
		// Unmarked: answers never show search snippets, and marking
		// them is close to half of hydrating the hits.
		Retriever: eng.index.Unmarked(), Model: model, Counter: model.Counter(), Analyzer: eng.index.Analyzer(),
		Assistants: assistants, DefaultAssistant: def, Templates: templates, Store: eng.store, Versions: eng.store.TemplateVersionText,
		Embed: embed, SemanticThreshold: cfg.Cache.SemanticThreshold,
		History: cfg.Answers.History, SupportThreshold: cfg.Answers.SupportThreshold, FlagBadCitations: cfg.Answers.FlagBadCitations,
	}
	if cfg.cacheEnabled() {
		opts.Cache = rag.NewMemoryCache(rag.MemoryCacheOptions{MaxEntries: cfg.Cache.MaxEntries, TTL: cfg.Cache.TTL.D()})
	}
	gs, err := cfg.guardrails(ctx, e.getenv, eng.store, dataDir) // guardrails.go
	if err == nil && gs != nil {
		err = gs.apply(&opts)
	}
	if err != nil {
		eng.Close()
		return nil, err
	}
	if tweak != nil {
		tweak(&opts)
	}
	p, err := rag.New(opts)
	if err != nil {
		eng.Close()
		return nil, fmt.Errorf("config: %w", err)
	}
	prompts.pipeline = p
	if gs != nil {
		prompts.canary = gs.canaryOf
	}
	return &askSetup{eng: eng, pipeline: p, cfg: cfg, opts: opts, guard: gs, prompts: prompts}, nil
}

// loadTemplates reads DATA/templates/*.tmpl over the embedded defaults.
func loadTemplates(dataDir string) (*rag.Templates, error) {
	dir := filepath.Join(dataDir, "templates")
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return rag.LoadTemplates(nil)
	}
	return rag.LoadTemplates(os.DirFS(dir))
}

func runAsk(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("ask", e.stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), askUsage)
		fs.PrintDefaults()
	}
	dataDir := dataFlag(fs, e)
	configPath := fs.String("config", "", "configuration file (default DATA/sextant.yaml when present; env SEXTANT_CONFIG)")
	assistant := fs.String("assistant", "", "assistant to ask (default: the configured default, \"sextant\")")
	var filters, collections multiFlag
	fs.Var(&filters, "filter", "metadata filter: key=value, key=v1|v2, updated>=DATE, updated<DATE (repeatable)")
	fs.Var(&collections, "collection", "search only this collection (repeatable)")
	k := fs.Int("k", 0, "chunks to retrieve (default: the assistant's top_k, 8)")
	session := fs.String("session", "", "continue this conversation (the id a previous answer printed)")
	maxTokens := fs.Int("max-tokens", 0, "answer token limit (default: the assistant's)")
	noCache := fs.Bool("no-cache", false, "do not use the response cache")
	asJSON := fs.Bool("json", false, "print the whole result as one JSON object instead of streaming text")
	server := fs.String("server", e.getenv("SEXTANT_SERVER"), "ask a running server (sextant serve) at this URL instead of the local data directory (env SEXTANT_SERVER)")
	apiKey := fs.String("api-key", "", "API key for --server (default $SEXTANT_API_KEY)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	question := strings.TrimSpace(strings.Join(pos, " "))
	if question == "" {
		return usageErrorf("ask: give the question, e.g. sextant ask \"how do I ingest a PDF?\"")
	}
	if *k < 0 || *k > 1000 {
		return usageErrorf("ask: --k %d: want 1..1000", *k)
	}
	if *maxTokens < 0 {
		return usageErrorf("ask: --max-tokens %d: must not be negative", *maxTokens)
	}
	f, err := parseFilters(filters)
	if err != nil {
		return err
	}
	f.Collections = collections
	if *server != "" {
		key := *apiKey
		if key == "" {
			key = e.getenv("SEXTANT_API_KEY")
		}
		return askServer(ctx, e, remoteAsk{server: *server, apiKey: key, asJSON: *asJSON, req: web.AskRequest{
			Question: question, Assistant: *assistant, Filters: web.NewFilter(f), SessionID: *session, K: *k,
			MaxTokens: *maxTokens, NoCache: *noCache}})
	}

	s, err := openPipeline(ctx, e, *dataDir, *configPath, nil)
	if err != nil {
		return err
	}
	req := &rag.Request{Assistant: *assistant, Question: question, Filter: f, K: *k, SessionID: *session,
		MaxTokens: *maxTokens, NoCache: *noCache, Principal: sextant.Principal{ID: localUser(e)}}
	start := time.Now()
	var res *rag.Result
	tty := isTerminal(e.stdout)
	streamed := false
	for ev, err := range s.pipeline.Stream(ctx, req) {
		if err != nil {
			s.Close()
			return err
		}
		switch ev.Type {
		case rag.EventDelta:
			if !*asJSON {
				io.WriteString(e.stdout, ev.Text)
				streamed = true
			}
		case rag.EventDone:
			res = ev.Result
		}
	}
	took := time.Since(start)
	if err := s.Close(); err != nil {
		return err
	}
	if res == nil {
		return errors.New("ask: no answer")
	}
	if *asJSON {
		return writeAnswerJSON(e.stdout, res, took)
	}
	if streamed {
		fmt.Fprintln(e.stdout)
	}
	writeSources(e.stdout, res, tty, took)
	return nil
}

// localUser names the principal of command-line use.
func localUser(e *env) string {
	if u := e.getenv("USER"); u != "" {
		return "local:" + u
	}
	return "local"
}

// writeSources prints the cited sources (all sources when none is cited),
// the sentences no source supports, and a summary line.
func writeSources(w io.Writer, res *rag.Result, tty bool, took time.Duration) {
	bold := func(s string) string {
		if tty {
			return "\x1b[1m" + s + "\x1b[0m"
		}
		return s
	}
	cited := map[int]bool{}
	for _, s := range res.Sentences {
		for _, c := range s.Citations {
			cited[c] = true
		}
	}
	if len(res.Sources) > 0 {
		fmt.Fprintln(w, "\nSources:")
	}
	for _, src := range res.Sources {
		if len(cited) > 0 && !cited[src.N] {
			continue
		}
		title := src.Title
		if sec := strings.TrimPrefix(src.Section, src.Title+" › "); sec != "" && sec != title {
			title += " › " + sec
		}
		fmt.Fprintf(w, "[%d] %s\n", src.N, bold(title))
		fmt.Fprintf(w, "    %s  bytes %d-%d\n", src.URI, src.Start, src.End)
		if src.Quote != "" {
			fmt.Fprintf(w, "    %q\n", clip(strings.Join(strings.Fields(src.Quote), " "), 240))
		}
	}
	var unsupported []string
	for _, s := range res.Sentences {
		if !s.Supported {
			unsupported = append(unsupported, s.Text)
		}
	}
	if len(unsupported) > 0 && res.Refusal == "" {
		fmt.Fprintf(w, "\nNot supported by the cited sources:\n")
		for _, u := range unsupported {
			fmt.Fprintf(w, "  - %s\n", clip(u, 200))
		}
	}
	sup, n := res.Supported()
	parts := []string{}
	if res.SessionID != "" {
		parts = append(parts, "session "+res.SessionID)
	}
	if res.Refusal == "" {
		parts = append(parts, fmt.Sprintf("%d of %d sentences supported", sup, n))
	}
	if res.Cache != "" {
		parts = append(parts, res.Cache+" cache hit")
	}
	parts = append(parts, fmt.Sprintf("%s in %.1f ms (pipeline %.2f ms)", res.Served, ms(took), ms(res.Overhead())))
	est := ""
	if res.Usage.Estimated {
		est = ", estimated"
	}
	parts = append(parts, fmt.Sprintf("%d→%d tokens%s", res.Usage.InputTokens, res.Usage.OutputTokens, est))
	fmt.Fprintf(w, "\n%s\n", strings.Join(parts, " · "))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// jsonAnswer is the --json form of an answer: the API's (POST /v1/ask).
type jsonAnswer = web.Answer

func writeAnswerJSON(w io.Writer, res *rag.Result, took time.Duration) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(web.NewAnswer(res, took))
}
