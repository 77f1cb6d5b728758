package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/audit"
	"github.com/sextant-ai/sextant/guard"
	"github.com/sextant-ai/sextant/ingest"
	"github.com/sextant-ai/sextant/policy"
	"github.com/sextant-ai/sextant/rag"
	"github.com/sextant-ai/sextant/sqlite"
	"github.com/sextant-ai/sextant/web"
)

// guardConfig is the guard: section: the guardrails of the answer path
// (rag.Guardrails) and the personal-data policy of each collection at
// ingestion. Every key is optional; the zero value is the safe default:
// personal data and secrets in prompts replaced by placeholders before a
// provider sees them (and restored for the user), injections flagged and
// blocked at the embedded model's thresholds, retrieved chunks screened
// for indirect injection, answers checked for leaks, no tools allowed.
// docs/guardrails.md describes every key.
type guardConfig struct {
	Enabled *bool `yaml:"enabled"` // default true; false turns the answer-path guardrails off

	// Prompt is the action per finding type on what is sent to a provider.
	Prompt piiPolicyConfig `yaml:"prompt"`
	// Restore puts the user's values back in answers (default true); false
	// shows the placeholders.
	Restore *bool `yaml:"restore"`
	// HashKeyEnv names the environment variable holding the HMAC key of
	// the hash action; without it hash falls back to redact.
	HashKeyEnv string `yaml:"hash_key_env"`

	Injection injectionConfig `yaml:"injection"`
	// ChunkPII is the action on personal data in retrieved chunks before
	// they reach the prompt (default allow: the collection's ingestion
	// policy has dealt with it).
	ChunkPII string `yaml:"chunk_pii"`
	// Trusted lists collections whose chunks are not screened for
	// indirect injection. The bundled manual is always trusted: its pages
	// quote attacks as examples.
	Trusted []string     `yaml:"trusted_collections"`
	Output  outputConfig `yaml:"output"`
	Tools   toolsConfig  `yaml:"tools"`

	// Collections is the personal-data policy applied at ingestion, per
	// collection ("*" for every collection not listed). Unlisted
	// collections store documents as given.
	Collections map[string]piiPolicyConfig `yaml:"collections"`

	MaxConversations int      `yaml:"max_conversations"` // de-identification vaults kept in memory; 0 = 10000
	VaultTTL         duration `yaml:"vault_ttl"`         // idle time before a vault is dropped; 0 = 24h
}

// piiPolicyConfig is an action per finding type with a default.
type piiPolicyConfig struct {
	Default string            `yaml:"default"` // redact, mask, hash or allow
	Types   map[string]string `yaml:"types"`   // EMAIL: mask, PERSON: allow, ...
}

type injectionConfig struct {
	// Thresholds override the embedded model's (0 = the model's).
	Flag     float64 `yaml:"flag"`
	Block    float64 `yaml:"block"`
	Document float64 `yaml:"document"`
}

type outputConfig struct {
	// Types sets the action per finding type in answers: redact, mask,
	// hash, allow, flag or block (e.g. LINK: flag, CANARY: block).
	Types map[string]string `yaml:"types"`
	// PII says which personal data answers may show: allow_from_sources
	// (the default: what the answer quotes verbatim from its sources,
	// except card numbers and SSNs), redact (none) or allow (all).
	// Credentials are redacted in every mode.
	PII string `yaml:"pii"`
	// Canary plants a canary token in every assistant's instructions and
	// withholds an answer that repeats it. Tokens are fresh at every
	// start; an assistant defined at runtime gets one at once.
	Canary     bool                `yaml:"canary"`
	CheckLinks bool                `yaml:"check_links"`
	Deny       map[string][]string `yaml:"deny"` // topic: [terms]
}

type toolsConfig struct {
	Allow    map[string][]string            `yaml:"allow"`    // assistant: [tools]; "*" = every tool
	Roles    map[string]map[string][]string `yaml:"roles"`    // assistant: {role: [tools]}
	Critical []string                       `yaml:"critical"` // tools that need a person's approval per call
	MaxCalls int                            `yaml:"max_calls"`
}

// policyConfig is the policy: section: the policy file and how often it is
// checked for changes.
type policyConfig struct {
	File   string   `yaml:"file"`   // relative to the data directory; "" = no policy
	Reload duration `yaml:"reload"` // 0 = 2s
}

func (c *config) guardEnabled() bool { return c.Guard.Enabled == nil || *c.Guard.Enabled }

var (
	findingActions = []string{"redact", "mask", "hash", "allow"}
	outputActions  = []string{"redact", "mask", "hash", "allow", "flag", "block"}
)

// checkGuard validates the guard: and policy: sections.
func (c *config) checkGuard() error {
	g := &c.Guard
	if err := g.Prompt.check("guard.prompt"); err != nil {
		return err
	}
	for name, p := range g.Collections {
		if err := p.check("guard.collections." + name); err != nil {
			return err
		}
	}
	if g.ChunkPII != "" && !slices.Contains(findingActions, g.ChunkPII) {
		return fmt.Errorf("config: guard.chunk_pii %q: want one of %s", g.ChunkPII, strings.Join(findingActions, ", "))
	}
	if _, err := guard.ParsePIIMode(g.Output.PII); err != nil {
		return fmt.Errorf("config: guard.output.pii %q: want redact, allow_from_sources or allow", g.Output.PII)
	}
	for t, a := range g.Output.Types {
		if !knownType(t, true) {
			return fmt.Errorf("config: guard.output.types: unknown finding type %q (want one of %s)", t, typeNames(true))
		}
		if !slices.Contains(outputActions, a) {
			return fmt.Errorf("config: guard.output.types.%s %q: want one of %s", t, a, strings.Join(outputActions, ", "))
		}
	}
	for _, v := range []struct {
		name string
		x    float64
	}{{"flag", g.Injection.Flag}, {"block", g.Injection.Block}, {"document", g.Injection.Document}} {
		if v.x < 0 || v.x > 1 {
			return fmt.Errorf("config: guard.injection.%s %v: want a score in [0, 1] (0 = the model's)", v.name, v.x)
		}
	}
	if g.Tools.MaxCalls < 0 {
		return fmt.Errorf("config: guard.tools.max_calls %d: must not be negative", g.Tools.MaxCalls)
	}
	for topic, terms := range g.Output.Deny {
		if len(terms) == 0 {
			return fmt.Errorf("config: guard.output.deny.%s: no terms", topic)
		}
	}
	if g.MaxConversations < 0 {
		return fmt.Errorf("config: guard.max_conversations %d: must not be negative", g.MaxConversations)
	}
	return nil
}

func (p *piiPolicyConfig) check(where string) error {
	if p.Default != "" && !slices.Contains(findingActions, p.Default) {
		return fmt.Errorf("config: %s.default %q: want one of %s", where, p.Default, strings.Join(findingActions, ", "))
	}
	for t, a := range p.Types {
		if !knownType(t, false) {
			return fmt.Errorf("config: %s.types: unknown finding type %q (want one of %s)", where, t, typeNames(false))
		}
		if !slices.Contains(findingActions, a) {
			return fmt.Errorf("config: %s.types.%s %q: want one of %s", where, t, a, strings.Join(findingActions, ", "))
		}
	}
	return nil
}

var outputOnlyTypes = []guard.Type{guard.Canary, guard.PromptLeak, guard.Link, guard.Denied}

func knownType(t string, output bool) bool {
	return slices.Contains(guard.Types(), guard.Type(t)) || (output && slices.Contains(outputOnlyTypes, guard.Type(t)))
}

func typeNames(output bool) string {
	var out []string
	for _, t := range guard.Types() {
		out = append(out, string(t))
	}
	if output {
		for _, t := range outputOnlyTypes {
			out = append(out, string(t))
		}
	}
	return strings.Join(out, ", ")
}

func (p *piiPolicyConfig) actions() map[guard.Type]guard.Action {
	if len(p.Types) == 0 {
		return nil
	}
	m := map[guard.Type]guard.Action{}
	for t, a := range p.Types {
		m[guard.Type(t)] = guard.Action(a)
	}
	return m
}

func (c *config) hashKey(getenv func(string) string) ([]byte, error) {
	if c.Guard.HashKeyEnv == "" {
		return nil, nil
	}
	k := getenv(c.Guard.HashKeyEnv)
	if k == "" {
		return nil, fmt.Errorf("config: guard.hash_key_env: environment variable %s is not set", c.Guard.HashKeyEnv)
	}
	return []byte(k), nil
}

// ingestPII sets opts.PII to the personal-data policy of opts.Collection,
// when the configuration has one, and records the policy in the
// documents' metadata ("pii"), so that changing it re-ingests them.
func (c *config) ingestPII(opts *ingest.Options, getenv func(string) string) error {
	col := opts.Collection
	if col == "" {
		col = sextant.DefaultCollection
	}
	p, ok := c.Guard.Collections[col]
	if !ok {
		if p, ok = c.Guard.Collections["*"]; !ok {
			return nil
		}
	}
	if p.Default == "allow" && len(p.Types) == 0 {
		return nil
	}
	key, err := c.hashKey(getenv)
	if err != nil {
		return err
	}
	opts.PII = piiFunc(guard.New(guard.Options{}), &guard.Redactor{Actions: p.actions(), Default: guard.Action(p.Default), HashKey: key})
	if opts.Metadata == nil {
		opts.Metadata = map[string]string{}
	}
	opts.Metadata["pii"] = p.describe()
	return nil
}

// describe is a stable one-line form of the policy: "redact" or
// "allow; EMAIL=mask, PERSON=hash".
func (p *piiPolicyConfig) describe() string {
	d := p.Default
	if d == "" {
		d = "redact"
	}
	var parts []string
	for t, a := range p.Types {
		parts = append(parts, t+"="+a)
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return d
	}
	return d + "; " + strings.Join(parts, ", ")
}

func piiFunc(s *guard.Scanner, r *guard.Redactor) ingest.PIIFunc {
	return func(text string) (string, []ingest.Replacement) {
		out, edits := r.ApplyEdits(text, s.Scan(text))
		if len(edits) == 0 {
			return text, nil
		}
		reps := make([]ingest.Replacement, len(edits))
		for i, e := range edits {
			reps[i] = ingest.Replacement(e)
		}
		return out, reps
	}
}

// guardSetup is the answer path's guardrails as the configuration builds
// them, with the policy watcher and the audit log they write to.
type guardSetup struct {
	opts    rag.GuardrailOptions
	g       *rag.Guardrails
	watcher *policy.Watcher
	// canaryKey derives each assistant's canary (canaryOf); it is drawn
	// at start and never leaves the process.
	canaryKey []byte

	log atomic.Pointer[slog.Logger] // set by serve (the request log); nil = discard

	auditOnce sync.Once
	auditLog  *audit.Log
	auditErr  error
	ownAudit  bool // the log was opened here (and is closed by Close)
	dataDir   string
	store     *sqlite.DB
}

// guardrails builds the answer path's guardrails over store, or nil when
// the configuration turns them off. The policy file, when configured, is
// loaded now (an invalid file is an error) and then watched until ctx
// ends.
func (c *config) guardrails(ctx context.Context, getenv func(string) string, store *sqlite.DB, dataDir string) (*guardSetup, error) {
	if !c.guardEnabled() {
		return nil, nil
	}
	gc := &c.Guard
	gs := &guardSetup{dataDir: dataDir, store: store}
	key, err := c.hashKey(getenv)
	if err != nil {
		return nil, err
	}
	inj := guard.DefaultInjection()
	if t := gc.Injection; t.Flag > 0 || t.Block > 0 || t.Document > 0 {
		cp := *inj
		if t.Flag > 0 {
			cp.Thresholds.Flag = t.Flag
		}
		if t.Block > 0 {
			cp.Thresholds.Block = t.Block
		}
		if t.Document > 0 {
			cp.Thresholds.Document = t.Document
		}
		inj = &cp
	}
	trusted := map[string]bool{}
	for _, col := range gc.Trusted {
		trusted[col] = true
	}
	opts := rag.GuardrailOptions{
		Injection: inj, Prompt: gc.Prompt.actions(), PromptDefault: guard.Action(gc.Prompt.Default),
		KeepPlaceholders: gc.Restore != nil && !*gc.Restore, HashKey: key,
		ChunkPII: guard.Action(gc.ChunkPII),
		Trusted: func(d *sextant.Document) bool {
			return trusted[d.Collection] || d.Metadata["sample"] == sampleMetadata
		},
		CheckLinks: gc.Output.CheckLinks, Deny: gc.Output.Deny, OutputPII: guard.PIIMode(gc.Output.PII),
		Tools:      rag.ToolRules{Allow: gc.Tools.Allow, Roles: gc.Tools.Roles, Critical: gc.Tools.Critical, MaxCalls: gc.Tools.MaxCalls},
		Quarantine: store, Approvals: store,
		Audit:            gs.audit,
		RequestID:        web.RequestID,
		MaxConversations: gc.MaxConversations, VaultTTL: gc.VaultTTL.D(),
		Logger: slog.New(lateHandler{p: &gs.log}),
	}
	// The policy's cost variable: the conversation's tokens so far,
	// priced like the usage ledger prices them.
	prices, err := c.priceTable()
	if err != nil {
		return nil, err
	}
	opts.Cost = func(model string, u sextant.Usage) float64 { return prices.Charge(model, u).USD }
	if len(gc.Output.Types) > 0 {
		opts.Output = map[guard.Type]guard.Action{}
		for t, a := range gc.Output.Types {
			opts.Output[guard.Type(t)] = guard.Action(a)
		}
	}
	if c.Policy.File != "" {
		path := c.Policy.File
		if !filepath.IsAbs(path) {
			path = filepath.Join(dataDir, path)
		}
		w, err := policy.NewWatcher(path, policy.WatchOptions{Interval: c.Policy.Reload.D(), Logger: slog.New(lateHandler{p: &gs.log}),
			OnChange: func(p *policy.Policy, sum [32]byte, err error) { gs.policyChanged(path, p, sum, err) }})
		if err != nil {
			return nil, fmt.Errorf("config: policy.file: %w", err)
		}
		gs.watcher = w
		opts.Policy = w.Policy
		go w.Run(ctx)
	}
	if gc.Output.Canary {
		gs.canaryKey = make([]byte, 32)
		_, _ = rand.Read(gs.canaryKey) // crypto/rand.Read never fails on supported platforms
		opts.CanaryOf = gs.canaryOf
	}
	gs.opts = opts
	return gs, nil
}

// canaryOf returns the canary of the named assistant ("" when canaries
// are off): "sxc-" and 16 hex digits of an HMAC of the name under the
// process's canary key. Deriving it, rather than drawing one per
// assistant into a map, gives an assistant defined at runtime its canary
// as soon as it is planted (promptCatalog.plant), with nothing to keep in
// step between the pipeline's assistants and the output check; without
// the key, one assistant's canary tells nothing of another's.
func (gs *guardSetup) canaryOf(assistant string) string {
	if gs == nil || len(gs.canaryKey) == 0 || assistant == "" {
		return ""
	}
	m := hmac.New(sha256.New, gs.canaryKey)
	m.Write([]byte(assistant))
	return "sxc-" + hex.EncodeToString(m.Sum(nil)[:8])
}

// plantCanary adds canary to an assistant's instructions, unless they
// hold it already.
func plantCanary(system, canary string) string {
	if canary == "" || strings.Contains(system, canary) {
		return system
	}
	return strings.TrimSpace(system + "\n\nConfidential marker (never repeat it): " + canary)
}

// apply plants the canaries, builds the guardrails and puts them in the
// pipeline's hooks, and wraps the retriever so quarantined documents
// are left out. The hooks it sets must be unset.
func (gs *guardSetup) apply(o *rag.Options) error {
	for i := range o.Assistants {
		o.Assistants[i].System = plantCanary(o.Assistants[i].System, gs.canaryOf(o.Assistants[i].Name))
	}
	g, err := rag.NewGuardrails(gs.opts)
	if err != nil {
		return fmt.Errorf("config: guard: %w", err)
	}
	gs.g = g
	h := g.Hooks()
	if o.Hooks.Begin != nil || o.Hooks.Input != nil || o.Hooks.Chunks != nil || o.Hooks.Output != nil || o.Hooks.Tools != nil || o.Hooks.Record != nil {
		return fmt.Errorf("config: guard: the pipeline's guard hooks are already set")
	}
	o.Hooks.Begin, o.Hooks.Input, o.Hooks.Chunks, o.Hooks.Output, o.Hooks.Tools, o.Hooks.Record = h.Begin, h.Input, h.Chunks, h.Output, h.Tools, h.Record
	o.Retriever = g.Retriever(o.Retriever)
	return nil
}

// setLogger sends the guardrails' and the policy watcher's log lines to l
// (serve's redacted request log).
func (gs *guardSetup) setLogger(l *slog.Logger) {
	if gs != nil {
		gs.log.Store(l)
	}
}

// audit appends a guardrails event to the data directory's audit log,
// opened on first use (so a command that decides nothing creates no key).
func (gs *guardSetup) audit(ctx context.Context, ev sextant.AuditEvent) {
	gs.auditOnce.Do(func() {
		gs.auditLog, gs.auditErr = openAuditLog(gs.dataDir, gs.store)
		gs.ownAudit = gs.auditErr == nil
	})
	if gs.auditErr != nil {
		gs.logger().Error("audit log unavailable; guard event not recorded", "kind", string(ev.Kind), "err", gs.auditErr)
		return
	}
	if err := gs.auditLog.Enqueue(context.WithoutCancel(ctx), ev); err != nil {
		gs.logger().Error("audit: guard event not recorded", "kind", string(ev.Kind), "err", err)
	}
}

// policyChanged records a reload of the policy file, or a changed file
// that was rejected, in the audit log: a change of the rules in force is
// an administrative change, whoever edited the file.
func (gs *guardSetup) policyChanged(file string, p *policy.Policy, sum [32]byte, err error) {
	pl := map[string]any{"action": "policy.reload", "file": file, "sha256": hex.EncodeToString(sum[:])}
	if err != nil {
		pl["action"], pl["error"] = "policy.reject", err.Error()
	} else {
		pl["rules"] = len(p.Rules)
	}
	gs.audit(context.Background(), sextant.AuditEvent{Kind: sextant.AuditAdmin, Actor: "system", Payload: pl})
}

func (gs *guardSetup) logger() *slog.Logger {
	if l := gs.log.Load(); l != nil {
		return l
	}
	return slog.New(slog.DiscardHandler)
}

// useAuditLog makes the guardrails record into l (the server's one
// appender, security.auditLog) instead of opening their own. Call it
// before the first request.
func (gs *guardSetup) useAuditLog(l *audit.Log) {
	if gs == nil || l == nil {
		return
	}
	gs.auditOnce.Do(func() { gs.auditLog = l })
}

// Close flushes the audit log, if the guardrails opened one.
func (gs *guardSetup) Close() error {
	if gs == nil || gs.auditLog == nil || !gs.ownAudit {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return gs.auditLog.Close(ctx)
}

// lateHandler forwards to a logger set after construction (serve builds
// the pipeline before its request log); until then it discards.
type lateHandler struct {
	p   *atomic.Pointer[slog.Logger]
	ops []func(slog.Handler) slog.Handler // WithAttrs and WithGroup, in order
}

func (h lateHandler) target() slog.Handler {
	l := h.p.Load()
	if l == nil {
		return slog.DiscardHandler
	}
	t := l.Handler()
	for _, op := range h.ops {
		t = op(t)
	}
	return t
}

func (h lateHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.target().Enabled(ctx, l)
}

func (h lateHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.target().Handle(ctx, r)
}

func (h lateHandler) WithAttrs(as []slog.Attr) slog.Handler {
	h.ops = append(slices.Clip(h.ops), func(t slog.Handler) slog.Handler { return t.WithAttrs(as) })
	return h
}

func (h lateHandler) WithGroup(name string) slog.Handler {
	h.ops = append(slices.Clip(h.ops), func(t slog.Handler) slog.Handler { return t.WithGroup(name) })
	return h
}

// sampleMetadata marks the bundled manual (ingestSample).
const sampleMetadata = "sextant-manual"

// queue is the approval queue the web server serves (/v1/approvals); nil
// without guardrails.
func (gs *guardSetup) queue() web.ApprovalQueue {
	if gs == nil || gs.g == nil {
		return nil
	}
	return gs.g
}
