package rag

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/maphash"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/guard"
	"github.com/sextant-ai/sextant/policy"
)

// Guardrails wire the guard and policy packages into the pipeline's hooks:
//
//   - input: personal data and secrets in the question, the conversation
//     and tool results are replaced by placeholders before any provider
//     sees them ([EMAIL_1], numbered per conversation, so the model can
//     still reason about them); the question is scored for prompt
//     injection and jailbreaks (block and flag thresholds); tool results
//     are scored as documents; tools offered outside the assistant's and
//     roles' whitelist are refused; then the policy decides on the whole
//     context.
//   - retrieval: every retrieved chunk is scored for indirect injection; a
//     chunk at or above the document threshold is left out of the prompt
//     and its document is quarantined (Retriever keeps quarantined
//     documents out of later searches until a person releases them).
//   - output: the streamed answer is checked for leaked personal data and
//     secrets, the assistant's canary, copied instructions, links absent
//     from the sources and denylisted terms, holding back only what a
//     pending finding could still cover; placeholders are restored so the
//     user sees real values.
//   - tools: calls the model asks for are checked against the whitelist,
//     the per-task cap and the policy; calls to critical tools are parked
//     in the approval queue and the caller is told they await approval.
//   - record: the stored answer (and what the Done hooks see) has
//     placeholders, not the user's values.
//
// The guard's own thresholds are a floor the policy can only tighten: the
// decision is the stricter of the two (block > require_approval > redact >
// flag > allow). A Guardrails is safe for concurrent use.
type Guardrails struct {
	opts     GuardrailOptions
	scanner  *guard.Scanner
	inj      *guard.Injection
	prompt   guard.Redactor // actions on the input side (no vault: one is set per request)
	output   map[guard.Type]guard.Action
	vaults   *vaultCache
	chunks   *chunkScores
	critical map[string]bool
	log      *slog.Logger

	qmu       sync.Mutex
	qset      map[string]bool // active quarantines by document id
	qloadedAt time.Time
}

// GuardrailOptions configures Guardrails. The zero value redacts every
// personal-data and secret type in prompts with reversible placeholders,
// blocks and flags injections at the embedded model's thresholds, checks
// answers for leaks, and allows no tools.
type GuardrailOptions struct {
	Scanner   *guard.Scanner   // nil = guard.New(guard.Options{})
	Injection *guard.Injection // nil = guard.DefaultInjection(); its Thresholds apply

	// Prompt sets the action per finding type for what is sent to a
	// provider: the question, the conversation, system instructions and
	// tool results. Types not listed use PromptDefault ("" = redact).
	Prompt        map[guard.Type]guard.Action
	PromptDefault guard.Action
	// KeepPlaceholders turns off restoring placeholders in answers: the
	// user then sees [EMAIL_1] where the model wrote it.
	KeepPlaceholders bool
	// HashKey keys the hash action (HMAC-SHA256).
	HashKey []byte

	// Trusted reports documents whose chunks are not screened for
	// indirect injection: the bundled manual, whose pages quote attacks
	// as examples, or collections an operator vouches for. nil = none.
	Trusted func(d *sextant.Document) bool

	// ChunkPII, when not allow (the default, ""), applies that action to
	// personal data in retrieved chunks before they reach the prompt;
	// usually the collection's ingestion policy has already dealt with it.
	ChunkPII guard.Action

	// Output sets the action per finding type in answers: redact, mask,
	// hash, allow, flag (allow and record) or block (withhold the rest of
	// the answer). Unlisted PII and secret types are redacted; CANARY and
	// PROMPT_LEAK block; LINK and DENIED are redacted.
	Output map[guard.Type]guard.Action
	// OutputPII says which personal data an answer may show ("" =
	// guard.PIIAllowFromSources): with allow_from_sources, personal data
	// that occurs verbatim in the sources the answer was given passes (the
	// reader was already allowed to see those documents) and the rest is
	// handled by Output; with redact all of it is; with allow none is.
	// Credentials are handled by Output in every mode, and payment card
	// numbers and US SSNs are not let through by allow_from_sources.
	OutputPII guard.PIIMode
	// CanaryOf, when set, returns the canary planted in an assistant's
	// instructions (guard.NewCanary; "" = none); an answer containing it
	// is blocked. It is asked at every answer, so assistants defined
	// after the guardrails were built are covered at once. A canary must
	// hold at least 8 letters or digits (a shorter one fails the answer).
	CanaryOf func(assistant string) string
	// CheckLinks reports links in answers that occur in no source.
	CheckLinks bool
	// Deny lists denylisted terms by topic (see guard.OutputOptions).
	Deny map[string][]string

	// Policy returns the policy in force (policy.Watcher.Policy); nil or
	// a nil result means the guard's thresholds alone decide.
	Policy func() *policy.Policy

	// Tools is the tool whitelist and approval rules.
	Tools ToolRules

	// Quarantine stores quarantined documents; nil = flagged chunks are
	// still left out of the prompt, but nothing is quarantined.
	Quarantine QuarantineStore
	// Approvals is the approval queue; nil = what needs approval is
	// refused instead (with a reason saying so).
	Approvals ApprovalStore
	// Audit receives policy, quarantine and approval events; nil = none.
	Audit func(ctx context.Context, ev sextant.AuditEvent)
	// Cost prices usage for the policy's cost variable; nil = 0.
	Cost func(model string, u sextant.Usage) float64
	// RequestID returns the id of the request ctx belongs to (the web
	// server's), recorded in audit events so they join the request log;
	// nil = none.
	RequestID func(ctx context.Context) string

	// MaxConversations bounds the conversations whose vaults are kept in
	// memory; 0 means 10000. VaultTTL is how long an idle conversation's
	// vault is kept; 0 means 24 hours. A vault that is gone only means
	// earlier placeholders are no longer restored.
	MaxConversations int
	VaultTTL         time.Duration

	Now    func() time.Time // nil = time.Now
	NewID  func() string    // approval ids (prefixed "apr_"); nil = NewID
	Logger *slog.Logger     // nil = discard
}

// ToolRules says which tools an assistant may offer and call, by role,
// which need a person's approval, and how many calls a task may make.
type ToolRules struct {
	// Allow lists, per assistant, the tools it may use; "*" allows every
	// tool. An assistant not listed may use none.
	Allow map[string][]string
	// Roles narrows Allow per assistant and role: when an assistant has an
	// entry, a caller may use the tools listed for any of its roles ("*"
	// = every tool Allow permits); roles not listed get none.
	Roles map[string]map[string][]string
	// Critical tools are never handed to the caller without a person's
	// approval.
	Critical []string
	// MaxCalls caps the tool calls of one task (the calls after the last
	// user message, this answer's included); 0 means 8.
	MaxCalls int
}

// QuarantineStore keeps quarantined documents. *sqlite.DB satisfies it.
type QuarantineStore interface {
	// Quarantine records q; a document already in active quarantine
	// stays as it is (the first finding is kept).
	Quarantine(ctx context.Context, q *sextant.Quarantine) error
	// ActiveQuarantines returns the ids of every document in active
	// quarantine.
	ActiveQuarantines(ctx context.Context) ([]string, error)
}

// ApprovalStore is the approval queue. *sqlite.DB satisfies it.
type ApprovalStore interface {
	PutApproval(ctx context.Context, a *sextant.Approval) error
	// Approval returns the approval with id, or ENOTFOUND.
	Approval(ctx context.Context, id string) (*sextant.Approval, error)
	// ApprovalByKey returns the newest approval of tenant with key, or
	// ENOTFOUND.
	ApprovalByKey(ctx context.Context, tenant, key string) (*sextant.Approval, error)
	// DecideApproval records the decision on a pending approval: status
	// approved or rejected, by whom, when. ECONFLICT when it is not
	// pending any more.
	DecideApproval(ctx context.Context, id string, status sextant.ApprovalStatus, by, note string, at time.Time) (*sextant.Approval, error)
	// UseApproval marks an approved request approval as used; ECONFLICT
	// when it is not approved or already used.
	UseApproval(ctx context.Context, id string, at time.Time) error
	// ListApprovals lists approvals, newest first.
	ListApprovals(ctx context.Context, f sextant.ApprovalFilter) ([]sextant.Approval, error)
}

// Defaults of GuardrailOptions.
const (
	DefaultMaxToolCalls     = 8
	DefaultMaxConversations = 10000
	DefaultVaultTTL         = 24 * time.Hour
)

// NewGuardrails checks opts and returns the guardrails. Errors are
// EINVALID and name the option.
func NewGuardrails(opts GuardrailOptions) (*Guardrails, error) {
	g := &Guardrails{opts: opts, scanner: opts.Scanner, inj: opts.Injection, log: opts.Logger,
		critical: map[string]bool{}}
	if g.scanner == nil {
		g.scanner = guard.New(guard.Options{})
	}
	if g.inj == nil {
		g.inj = guard.DefaultInjection()
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.opts.Now == nil {
		g.opts.Now = time.Now
	}
	if g.opts.NewID == nil {
		g.opts.NewID = NewID
	}
	if g.opts.Tools.MaxCalls < 0 {
		return nil, sextant.Errorf(sextant.EINVALID, "guardrails: tools max_calls %d is negative", g.opts.Tools.MaxCalls)
	}
	if g.opts.Tools.MaxCalls == 0 {
		g.opts.Tools.MaxCalls = DefaultMaxToolCalls
	}
	for _, t := range opts.Tools.Critical {
		g.critical[t] = true
	}
	for t, a := range opts.Prompt {
		if err := checkFindingAction("prompt", t, a, false); err != nil {
			return nil, err
		}
	}
	if err := checkFindingAction("prompt", "default", opts.PromptDefault, false); err != nil {
		return nil, err
	}
	if err := checkFindingAction("chunks", "pii", opts.ChunkPII, false); err != nil {
		return nil, err
	}
	if g.opts.OutputPII == "" {
		g.opts.OutputPII = guard.PIIAllowFromSources
	}
	if _, err := guard.ParsePIIMode(string(g.opts.OutputPII)); err != nil {
		return nil, sextant.Errorf(sextant.EINVALID, "guardrails: %v", err)
	}
	g.output = map[guard.Type]guard.Action{guard.Canary: guard.ActionBlock, guard.PromptLeak: guard.ActionBlock}
	for t, a := range opts.Output {
		if err := checkFindingAction("output", t, a, true); err != nil {
			return nil, err
		}
		g.output[t] = a
	}
	g.prompt = guard.Redactor{Actions: opts.Prompt, Default: opts.PromptDefault, HashKey: opts.HashKey}
	if g.prompt.Default == "" {
		g.prompt.Default = guard.ActionRedact
	}
	n := opts.MaxConversations
	if n <= 0 {
		n = DefaultMaxConversations
	}
	ttl := opts.VaultTTL
	if ttl <= 0 {
		ttl = DefaultVaultTTL
	}
	g.vaults = &vaultCache{max: n, ttl: ttl, now: g.opts.Now, m: map[string]*vaultEntry{}}
	g.chunks = &chunkScores{m: map[string]chunkScore{}, seed: maphash.MakeSeed()}
	return g, nil
}

func checkFindingAction(where string, t guard.Type, a guard.Action, output bool) error {
	switch a {
	case "", guard.ActionRedact, guard.ActionMask, guard.ActionHash, guard.ActionAllow:
		return nil
	case guard.ActionFlag, guard.ActionBlock:
		if output {
			return nil
		}
	}
	return sextant.Errorf(sextant.EINVALID, "guardrails: %s action for %s: %q is not one of redact, mask, hash, allow%s",
		where, t, a, map[bool]string{true: ", flag, block"}[output])
}

// Hooks returns the pipeline hooks the guardrails provide. Put them in
// Options.Hooks; Rerank and Done are left for others.
func (g *Guardrails) Hooks() Hooks {
	return Hooks{Begin: g.begin, Input: g.input, Chunks: g.screenChunks, Output: g.outputFilter, Tools: g.screenTools, Record: g.record}
}

// ---- per-request state --------------------------------------------------

type stateKey struct{}

// reqState is what one request's hooks share, carried in its context.
type reqState struct {
	vault     *guard.Vault
	fresh     bool   // the vault was created for this request
	convKey   string // the vault's conversation key; "" until known
	tenant    string
	principal string
	score     float64
	question  string // the question as stored: de-identified
	rules     []string
}

// note remembers a deciding rule for the answer record.
func (st *reqState) note(stage, rule string) {
	if rule != "" {
		st.rules = append(st.rules, stage+":"+rule)
	}
}

func (g *Guardrails) begin(ctx context.Context, req *Request) context.Context {
	st := &reqState{tenant: req.Principal.Tenant, principal: req.Principal.ID}
	if req.SessionID != "" && len(req.Messages) == 0 {
		st.convKey = convKey(req.Principal, req.SessionID)
		st.vault, st.fresh = g.vaults.get(st.convKey)
	} else {
		st.vault, st.fresh = guard.NewVault(), true
	}
	return context.WithValue(ctx, stateKey{}, st)
}

// state returns the request's state; hooks called without Begin (a
// pipeline wired by hand) get a throwaway one.
func state(ctx context.Context) *reqState {
	if st, ok := ctx.Value(stateKey{}).(*reqState); ok {
		return st
	}
	return &reqState{vault: guard.NewVault(), fresh: true}
}

func convKey(p sextant.Principal, session string) string {
	return p.Tenant + "\x00" + p.ID + "\x00" + session
}

// ---- input --------------------------------------------------------------

func (g *Guardrails) input(ctx context.Context, in InputCheck) (Verdict, error) {
	st := state(ctx)
	now := g.opts.Now()
	var v Verdict
	d := decision{action: policy.Allow}

	// Tools offered and tool turns: whitelist, approvals, injected results.
	var toolNames []string
	for _, t := range in.Tools {
		toolNames = append(toolNames, t.Name)
		if !g.toolAllowed(in.Assistant, in.Principal, t.Name) {
			d.raise(policy.Block, "tool.whitelist", g.notAllowed(in.Assistant, in.Principal, t.Name))
		}
	}
	for _, m := range in.Trailing {
		for _, c := range m.ToolCalls {
			if !g.toolAllowed(in.Assistant, in.Principal, c.Name) {
				d.raise(policy.Block, "tool.whitelist", g.notAllowed(in.Assistant, in.Principal, c.Name))
				continue
			}
			if g.critical[c.Name] {
				if ok, why := g.callApproved(ctx, in.Principal, c); !ok {
					d.raise(policy.Block, "tool.critical", why)
				}
			}
		}
		if m.Role == sextant.RoleTool {
			if a := g.inj.ScoreDocument(m.Content); a.Action == guard.ActionBlock {
				d.raise(policy.Block, "guard.tool_result", fmt.Sprintf("a tool result tries to instruct the model (injection score %.2f)", a.Score))
				v.Labels = append(v.Labels, "injection:tool_result")
			}
		}
	}

	// The question: injection score and personal data.
	a := g.inj.Score(in.Question)
	st.score = a.Score
	switch a.Action {
	case guard.ActionBlock:
		d.raise(policy.Block, "guard.injection", fmt.Sprintf("this request looks like an attempt to override the assistant's instructions (injection score %.2f)", a.Score))
		v.Labels = append(v.Labels, "injection:block")
	case guard.ActionFlag:
		d.raise(policy.Flag, "guard.injection", fmt.Sprintf("possible prompt injection (score %.2f)", a.Score))
		v.Labels = append(v.Labels, "injection:flag")
	}
	findings := g.scanner.Scan(in.Question)
	for _, t := range findingTypes(findings) {
		v.Labels = append(v.Labels, "pii:"+strings.ToLower(string(t)))
	}

	// The policy, on the whole context.
	cost := 0.0
	if g.opts.Cost != nil {
		cost = g.opts.Cost(in.Model, in.Spent)
	}
	preq := &policy.Request{Principal: in.Principal.ID, Roles: in.Principal.Roles, Tenant: in.Principal.Tenant,
		Assistant: in.Assistant, Model: in.Model, Stage: "input", InjectionScore: a.Score,
		Findings: policyFindings(findings), InputTokens: int64(in.Spent.InputTokens),
		OutputTokens: int64(in.Spent.OutputTokens), Cost: cost, Tools: toolNames}
	g.decide(ctx, preq, &d)

	// Redaction happens whatever was decided: even a refused question is
	// recorded, and must be recorded de-identified.
	red := g.prompt
	red.Vault = st.vault
	if d.action == policy.Redact {
		// The policy asks for redaction even where the configuration
		// would let a type through.
		red.Actions = nil
		red.Default = guard.ActionRedact
	}
	if st.fresh {
		for _, m := range in.History {
			st.vault.Reserve(m.Content)
		}
	}
	text := red.Apply(in.Question, findings)
	st.question = text
	changed := text != in.Question
	history, hc := g.redactMessages(&red, in.History)
	trailing, tc := g.redactMessages(&red, in.Trailing)
	system := ""
	if in.System != "" {
		if s, _ := red.Redact(g.scanner, in.System); s != in.System {
			system, changed = s, true
		}
	}
	if changed || hc || tc {
		v.Action, v.Text = Redact, text
		if hc {
			v.History = history
		}
		if tc {
			v.Trailing = trailing
		}
		v.System = system
	}
	v.NoCache = st.vault.Len() > 0

	switch d.action {
	case policy.Block:
		v.Action, v.Reason, v.Rule = Block, d.reason, d.rule
	case policy.RequireApproval:
		ap, proceed, reason := g.requestApproval(ctx, in, text, toolNames, d, now)
		v.Rule = d.rule
		if !proceed {
			v.Action, v.Reason, v.Approval = Block, reason, ap
		} else {
			v.Labels = append(v.Labels, "approved:"+ap.ID)
		}
	case policy.Flag:
		v.Labels = append(v.Labels, "flag:"+d.rule)
		v.Rule = d.rule
		if v.Reason == "" {
			v.Reason = d.reason
		}
	}
	if v.Action == Redact && v.Reason == "" {
		v.Reason = "personal data replaced with placeholders"
	}
	if d.action != policy.Allow || v.Action != Allow {
		st.note("input", v.Rule)
		g.audit(ctx, in.Principal, "input", v, d.matched, a.Score, findings)
	}
	return v, nil
}

// redactMessages redacts the content and tool-call arguments of msgs; it
// reports whether anything changed (and then returns a new slice).
func (g *Guardrails) redactMessages(r *guard.Redactor, msgs []sextant.Message) ([]sextant.Message, bool) {
	var out []sextant.Message
	for i, m := range msgs {
		c, _ := r.Redact(g.scanner, m.Content)
		var calls []sextant.ToolCall
		for k, tc := range m.ToolCalls {
			if args, _ := r.Redact(g.scanner, tc.Arguments); args != tc.Arguments {
				if calls == nil {
					calls = slices.Clone(m.ToolCalls)
				}
				calls[k].Arguments = args
			}
		}
		if c == m.Content && calls == nil {
			continue
		}
		if out == nil {
			out = slices.Clone(msgs)
		}
		out[i].Content = c
		if calls != nil {
			out[i].ToolCalls = calls
		}
	}
	if out == nil {
		return msgs, false
	}
	return out, true
}

// requestApproval holds a request for approval, or lets it through once
// when the same request was approved. It returns the approval and
// whether to proceed, with the caller's message when not.
func (g *Guardrails) requestApproval(ctx context.Context, in InputCheck, question string, tools []string, d decision, now time.Time) (*sextant.Approval, bool, string) {
	reason := d.reason
	if reason == "" {
		reason = "this request needs a person's approval"
	}
	if g.opts.Approvals == nil {
		return nil, false, reason + " (no approval queue is configured, so it is refused)"
	}
	key := requestKey(in.Principal, in.Assistant, question, tools)
	prev, err := g.opts.Approvals.ApprovalByKey(ctx, in.Principal.Tenant, key)
	switch {
	case err == nil && prev.Status == sextant.ApprovalApproved && prev.UsedAt.IsZero():
		if err := g.opts.Approvals.UseApproval(ctx, prev.ID, now); err == nil {
			return prev, true, ""
		}
	case err == nil && prev.Status == sextant.ApprovalPending:
		return prev, false, fmt.Sprintf("%s. It is waiting for approval (%s); send it again once it is approved.", strings.TrimSuffix(reason, "."), prev.ID)
	case err == nil && prev.Status == sextant.ApprovalRejected && now.Sub(prev.DecidedAt) < time.Hour:
		return prev, false, fmt.Sprintf("%s. It was rejected (%s)%s.", strings.TrimSuffix(reason, "."), prev.ID, noteOf(prev.Note))
	case err != nil && sextant.ErrorCode(err) != sextant.ENOTFOUND:
		g.log.Warn("approval lookup failed; holding the request", "err", err)
	}
	ap := &sextant.Approval{ID: "apr_" + g.opts.NewID(), Kind: sextant.ApprovalRequest, Tenant: in.Principal.Tenant,
		Principal: in.Principal.ID, Assistant: in.Assistant, Model: in.Model, SessionID: in.SessionID,
		Question: question, Key: key, Reason: reason, Rule: d.rule, Status: sextant.ApprovalPending, CreatedAt: now}
	if err := g.opts.Approvals.PutApproval(ctx, ap); err != nil {
		g.log.Error("approval queue: could not store an approval; refusing the request", "err", err)
		return nil, false, reason + " (the approval queue is unavailable, so it is refused)"
	}
	g.auditApproval(ctx, ap, "requested")
	return ap, false, fmt.Sprintf("%s. It is waiting for approval (%s); send it again once it is approved.", strings.TrimSuffix(reason, "."), ap.ID)
}

func noteOf(note string) string {
	if note == "" {
		return ""
	}
	return ": " + note
}

// requestKey identifies a request for approval: who asks which assistant
// what, with which tools.
func requestKey(p sextant.Principal, assistant, question string, tools []string) string {
	h := sha256.New()
	for _, s := range append([]string{p.Tenant, p.ID, assistant, question}, tools...) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "req:" + hex.EncodeToString(h.Sum(nil))[:32]
}

// ---- retrieval -----------------------------------------------------------

func (g *Guardrails) screenChunks(ctx context.Context, in ChunkCheck) ([]sextant.Hit, error) {
	st := state(ctx)
	pol := g.policy()
	scores := make([]guard.Assessment, len(in.Hits))
	var flagged map[string]bool // documents quarantined by this request
	for i := range in.Hits {
		h := &in.Hits[i]
		if g.opts.Trusted != nil && g.opts.Trusted(&h.Document) {
			continue
		}
		scores[i] = g.chunks.score(g.inj, &h.Chunk)
		if scores[i].Action == guard.ActionBlock {
			if flagged == nil {
				flagged = map[string]bool{}
			}
			flagged[h.Chunk.DocumentID] = true
			g.quarantine(ctx, h, scores[i])
		}
	}
	keep := in.Hits[:0:0]
	for i, h := range in.Hits {
		if flagged[h.Chunk.DocumentID] {
			continue // the whole document is out, not only the flagged chunk
		}
		a := scores[i]
		d := decision{action: policy.Allow}
		var findings []guard.Finding
		if g.opts.ChunkPII != "" && g.opts.ChunkPII != guard.ActionAllow {
			findings = g.scanner.Scan(h.Chunk.Text)
		}
		if pol != nil {
			g.decide(ctx, &policy.Request{Principal: in.Principal.ID, Roles: in.Principal.Roles, Tenant: in.Principal.Tenant,
				Assistant: in.Assistant, Stage: "retrieval", InjectionScore: a.Score, Findings: policyFindings(findings),
				Labels: map[string]string{"document": h.Chunk.DocumentID, "collection": h.Document.Collection}}, &d)
		}
		switch d.action {
		case policy.Block, policy.RequireApproval:
			if d.rule != "guard.document" {
				g.audit(ctx, in.Principal, "retrieval", Verdict{Action: Block, Reason: d.reason, Rule: d.rule,
					Labels: []string{"chunk:" + h.Chunk.ID}}, d.matched, a.Score, findings)
			}
			continue
		case policy.Redact:
			if findings == nil {
				findings = g.scanner.Scan(h.Chunk.Text)
			}
		}
		if len(findings) > 0 {
			r := guard.Redactor{Default: g.opts.ChunkPII, HashKey: g.opts.HashKey, Vault: st.vault}
			if d.action == policy.Redact || r.Default == "" || r.Default == guard.ActionAllow {
				r.Default = guard.ActionRedact
			}
			h.Chunk.Text = r.Apply(h.Chunk.Text, findings)
		}
		keep = append(keep, h)
	}
	return keep, nil
}

// quarantine takes the hit's document out of retrieval.
func (g *Guardrails) quarantine(ctx context.Context, h *sextant.Hit, a guard.Assessment) {
	q := &sextant.Quarantine{DocumentID: h.Chunk.DocumentID, Tenant: h.Document.Tenant, ChunkID: h.Chunk.ID,
		Score: a.Score, Reason: fmt.Sprintf("indirect injection (score %.2f): %s", a.Score, signalList(a.Signals)),
		Excerpt: g.excerpt(h.Chunk.Text), CreatedAt: g.opts.Now()}
	g.qmu.Lock()
	already := g.qset[q.DocumentID]
	if g.qset == nil {
		g.qset = map[string]bool{}
	}
	g.qset[q.DocumentID] = true
	g.qmu.Unlock()
	if already || g.opts.Quarantine == nil {
		return
	}
	if err := g.opts.Quarantine.Quarantine(ctx, q); err != nil {
		g.log.Error("quarantine: could not record a flagged document", "document", q.DocumentID, "err", err)
		return
	}
	if g.opts.Audit != nil {
		g.opts.Audit(ctx, sextant.AuditEvent{Kind: sextant.AuditPolicy, Tenant: q.Tenant, Payload: map[string]any{
			"stage": "retrieval", "action": "quarantine", "document": q.DocumentID, "chunk": q.ChunkID,
			"injection_score": round3(q.Score), "reason": q.Reason}})
	}
}

// excerpt is a short, de-identified piece of a flagged chunk for the
// reviewer: the highest-scoring window, cut to about 300 bytes.
func (g *Guardrails) excerpt(text string) string {
	t := strings.Join(strings.Fields(text), " ")
	if len(t) > 300 {
		cut := 300
		for cut > 0 && t[cut]&0xC0 == 0x80 {
			cut--
		}
		t = t[:cut] + "…"
	}
	out, _ := (&guard.Redactor{}).Redact(g.scanner, t)
	return out
}

// Retriever returns r with documents in active quarantine left out of
// every search. The quarantine list is read from the store at most once a
// second (documents this process quarantines are left out at once), so a
// release by another process takes effect within a second.
func (g *Guardrails) Retriever(r Retriever) Retriever { return &quarantined{g: g, r: r} }

type quarantined struct {
	g *Guardrails
	r Retriever
}

func (q *quarantined) Search(ctx context.Context, query sextant.Query) ([]sextant.Hit, error) {
	hits, err := q.r.Search(ctx, query)
	if err != nil {
		return nil, err
	}
	set, err := q.g.activeQuarantines(ctx)
	if err != nil || len(set) == 0 {
		return hits, err
	}
	k := query.K
	if k == 0 {
		k = 10
	}
	kept, dropped := dropQuarantined(hits, set)
	if dropped > 0 && len(hits) >= k {
		// Fetch more, so the quarantined documents' places are filled.
		query.K = min(10000, 2*k+dropped)
		if hits, err = q.r.Search(ctx, query); err != nil {
			return nil, err
		}
		kept, _ = dropQuarantined(hits, set)
	}
	if len(kept) > k {
		kept = kept[:k]
	}
	return kept, nil
}

func dropQuarantined(hits []sextant.Hit, set map[string]bool) ([]sextant.Hit, int) {
	out := hits[:0:0]
	for _, h := range hits {
		if !set[h.Chunk.DocumentID] {
			out = append(out, h)
		}
	}
	return out, len(hits) - len(out)
}

// activeQuarantines returns the set of quarantined documents, reloading
// it from the store when it is more than a second old.
func (g *Guardrails) activeQuarantines(ctx context.Context) (map[string]bool, error) {
	g.qmu.Lock()
	defer g.qmu.Unlock()
	now := g.opts.Now()
	if g.opts.Quarantine == nil || (g.qset != nil && now.Sub(g.qloadedAt) < time.Second && !now.Before(g.qloadedAt)) {
		return g.qset, nil
	}
	ids, err := g.opts.Quarantine.ActiveQuarantines(ctx)
	if err != nil {
		return nil, fmt.Errorf("quarantine list: %w", err)
	}
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	g.qset, g.qloadedAt = set, now
	return set, nil
}

// ForgetQuarantine drops a released document from this process's view at
// once (without waiting for the next reload).
func (g *Guardrails) ForgetQuarantine(documentID string) {
	g.qmu.Lock()
	delete(g.qset, documentID)
	g.qmu.Unlock()
}

// ---- output ---------------------------------------------------------------

func (g *Guardrails) outputFilter(ctx context.Context, in OutputCheck) OutputFilter {
	st := state(ctx)
	var canary string
	if g.opts.CanaryOf != nil {
		canary = g.opts.CanaryOf(in.Assistant)
	}
	oo := guard.OutputOptions{Scanner: g.scanner, Canary: canary, SystemPrompt: in.System,
		CheckLinks: g.opts.CheckLinks, Deny: g.opts.Deny, PII: g.opts.OutputPII}
	if g.opts.CheckLinks || g.opts.OutputPII == guard.PIIAllowFromSources {
		for _, s := range in.Sources {
			oo.Sources = append(oo.Sources, s.Text, s.URI)
		}
	}
	f := &outputFilter{g: g, ctx: ctx, in: in, score: st.score}
	c, err := guard.NewOutputChecker(oo)
	if err != nil {
		// Options were checked in NewGuardrails; a failure here is a
		// short canary from CanaryOf, or a bug.
		f.err = fmt.Errorf("output check: %w", err)
		return f
	}
	actions := map[guard.Type]guard.Action{}
	for t, a := range g.output {
		switch a {
		case guard.ActionBlock:
			actions[t] = guard.ActionRedact // hidden while the stream is cut
		case guard.ActionFlag:
			actions[t] = guard.ActionAllow
		default:
			actions[t] = a
		}
	}
	// No vault: a leak must not be "restored" on its way to the user.
	f.stream = c.Stream(&guard.Redactor{Actions: actions, HashKey: g.opts.HashKey})
	if !g.opts.KeepPlaceholders && st.vault.Len() > 0 {
		f.restore = st.vault.Restorer()
	}
	return f
}

// outputFilter checks one streamed answer.
type outputFilter struct {
	g *Guardrails
	// ctx is the request's, for policy evaluation and audit events:
	// OutputFilter's methods take none, and the filter lives exactly as
	// long as the request.
	ctx     context.Context
	in      OutputCheck
	score   float64
	stream  *guard.Stream
	restore *guard.Restorer
	err     error

	findings []guard.Finding
	d        decision
	labels   []string
	blocked  bool
}

func (f *outputFilter) Write(piece string) (string, error) {
	if f.err != nil {
		return "", f.err
	}
	if f.blocked {
		return "", nil
	}
	out, fs := f.stream.Write(piece)
	return f.pass(out, fs), nil
}

func (f *outputFilter) Close() (string, Verdict, error) {
	if f.err != nil {
		return "", Verdict{}, f.err
	}
	rest := ""
	if !f.blocked {
		out, fs := f.stream.Flush()
		rest = f.pass(out, fs)
		if f.restore != nil && !f.blocked {
			rest += f.restore.Flush()
		}
	}
	v := Verdict{Labels: f.labels, Rule: f.d.rule}
	switch {
	case f.blocked:
		v.Action, v.Reason = Block, f.d.reason
		rest = ""
	case len(f.findings) > 0:
		v.Action = Redact
		v.Reason = "the answer contained " + typeList(f.findings)
		if f.d.action == policy.Flag {
			v.Reason = f.d.reason
		}
	}
	if v.Action != Allow || f.d.action != policy.Allow {
		state(f.ctx).note("output", v.Rule)
		f.g.audit(f.ctx, f.in.Principal, "output", v, f.d.matched, f.score, f.findings)
	}
	return rest, v, nil
}

// pass decides on new findings and restores placeholders in what may be
// shown.
func (f *outputFilter) pass(out string, fs []guard.Finding) string {
	if len(fs) > 0 {
		f.findings = append(f.findings, fs...)
		for _, x := range fs {
			label := "output:" + strings.ToLower(string(x.Type))
			if !slices.Contains(f.labels, label) {
				f.labels = append(f.labels, label)
			}
			switch f.g.output[x.Type] {
			case guard.ActionBlock:
				f.d.raise(policy.Block, "guard.output", "the answer was withheld: it contained "+describe(x.Type))
			case guard.ActionFlag:
				f.d.raise(policy.Flag, "guard.output", "the answer contained "+describe(x.Type))
			}
		}
		if f.g.policy() != nil {
			f.g.decide(f.ctx, &policy.Request{Principal: f.in.Principal.ID, Roles: f.in.Principal.Roles,
				Tenant: f.in.Principal.Tenant, Assistant: f.in.Assistant, Model: f.in.Model, Stage: "output",
				InjectionScore: f.score, Findings: policyFindings(f.findings)}, &f.d)
		}
		if f.d.action == policy.Block || f.d.action == policy.RequireApproval {
			f.blocked = true
			if f.d.reason == "" {
				f.d.reason = "the answer was withheld by policy"
			}
			return ""
		}
	}
	if f.restore != nil {
		return f.restore.Write(out)
	}
	return out
}

// ---- tools ------------------------------------------------------------------

func (g *Guardrails) screenTools(ctx context.Context, in ToolCheck) (ToolVerdict, error) {
	st := state(ctx)
	now := g.opts.Now()
	made := 0
	for _, m := range in.Trailing {
		made += len(m.ToolCalls)
	}
	var tv ToolVerdict
	var reasons []string
	blocked := false
	pol := g.policy()
	cost := 0.0
	if g.opts.Cost != nil {
		cost = g.opts.Cost(in.Model, in.Usage)
	}
	for _, c := range in.Calls {
		d := decision{action: policy.Allow}
		switch {
		case !g.toolAllowed(in.Assistant, in.Principal, c.Name):
			d.raise(policy.Block, "tool.whitelist", g.notAllowed(in.Assistant, in.Principal, c.Name))
		case made+len(tv.Calls)+len(tv.Approvals) >= g.opts.Tools.MaxCalls:
			d.raise(policy.Block, "tool.cap", fmt.Sprintf("this task has reached its limit of %d tool calls", g.opts.Tools.MaxCalls))
		case g.critical[c.Name]:
			d.raise(policy.RequireApproval, "tool.critical", fmt.Sprintf("%s is a critical tool: a person must approve each call", c.Name))
		}
		if pol != nil {
			g.decide(ctx, &policy.Request{Principal: in.Principal.ID, Roles: in.Principal.Roles, Tenant: in.Principal.Tenant,
				Assistant: in.Assistant, Model: in.Model, Stage: "tool", Tools: []string{c.Name},
				InputTokens: int64(in.Usage.InputTokens), OutputTokens: int64(in.Usage.OutputTokens), Cost: cost}, &d)
		}
		v := Verdict{Rule: d.rule, Reason: d.reason, Labels: []string{"tool:" + c.Name}}
		switch d.action {
		case policy.Block:
			blocked = true
			v.Action = Block
			reasons = append(reasons, fmt.Sprintf("The call to %s was blocked: %s.", c.Name, strings.TrimSuffix(d.reason, ".")))
			st.note("tools", d.rule)
			g.audit(ctx, in.Principal, "tool", v, d.matched, 0, nil)
			continue
		case policy.RequireApproval:
			ap, why := g.parkCall(ctx, in, c, d, now)
			if ap == nil {
				blocked = true
				reasons = append(reasons, fmt.Sprintf("The call to %s was blocked: %s.", c.Name, why))
				continue
			}
			tv.Approvals = append(tv.Approvals, *ap)
			reasons = append(reasons, fmt.Sprintf("The call to %s is waiting for approval (%s): %s.", c.Name, ap.ID, strings.TrimSuffix(ap.Reason, ".")))
			continue
		case policy.Flag:
			tv.Verdict.Labels = append(tv.Verdict.Labels, "flag:"+d.rule)
			g.audit(ctx, in.Principal, "tool", Verdict{Action: Allow, Reason: d.reason, Rule: d.rule, Labels: v.Labels}, d.matched, 0, nil)
		}
		if !g.opts.KeepPlaceholders && st.vault.Len() > 0 {
			c.Arguments = st.vault.RestoreJSON(c.Arguments)
		}
		tv.Calls = append(tv.Calls, c)
	}
	if len(reasons) > 0 {
		tv.Verdict.Reason = strings.Join(reasons, " ")
		tv.Verdict.Action = Redact
		if blocked {
			tv.Verdict.Action = Block
		}
	}
	return tv, nil
}

// parkCall puts a tool call in the approval queue. It returns nil and the
// reason when it cannot.
func (g *Guardrails) parkCall(ctx context.Context, in ToolCheck, c sextant.ToolCall, d decision, now time.Time) (*sextant.Approval, string) {
	reason := d.reason
	if reason == "" {
		reason = "this call needs a person's approval"
	}
	if g.opts.Approvals == nil {
		return nil, strings.TrimSuffix(reason, ".") + ", and no approval queue is configured"
	}
	ap := &sextant.Approval{ID: "apr_" + g.opts.NewID(), Kind: sextant.ApprovalToolCall, Tenant: in.Principal.Tenant,
		Principal: in.Principal.ID, Assistant: in.Assistant, Model: in.Model, SessionID: in.SessionID, AnswerID: in.AnswerID,
		Tool: c.Name, CallID: c.ID, Arguments: c.Arguments, Question: in.Question, Key: callKey(c.ID),
		Reason: reason, Rule: d.rule, Status: sextant.ApprovalPending, CreatedAt: now}
	if err := g.opts.Approvals.PutApproval(ctx, ap); err != nil {
		g.log.Error("approval queue: could not store an approval; blocking the call", "tool", c.Name, "err", err)
		return nil, "the approval queue is unavailable"
	}
	g.auditApproval(ctx, ap, "requested")
	return ap, ""
}

func callKey(callID string) string { return "call:" + callID }

// callApproved reports whether a critical call found among a request's
// tool turns was approved, with the reason when not.
func (g *Guardrails) callApproved(ctx context.Context, p sextant.Principal, c sextant.ToolCall) (bool, string) {
	if g.opts.Approvals == nil || c.ID == "" {
		return false, fmt.Sprintf("the call to critical tool %s was never approved", c.Name)
	}
	ap, err := g.opts.Approvals.ApprovalByKey(ctx, p.Tenant, callKey(c.ID))
	if err != nil || ap.Principal != p.ID || ap.Tool != c.Name {
		return false, fmt.Sprintf("the call to critical tool %s (%s) was never approved", c.Name, c.ID)
	}
	if ap.Status != sextant.ApprovalApproved {
		return false, fmt.Sprintf("the call to critical tool %s is %s (%s)", c.Name, ap.Status, ap.ID)
	}
	return true, ""
}

// toolAllowed reports whether p may use tool through assistant.
func (g *Guardrails) toolAllowed(assistant string, p sextant.Principal, tool string) bool {
	rules := &g.opts.Tools
	if !listed(rules.Allow[assistant], tool) {
		return false
	}
	byRole, ok := rules.Roles[assistant]
	if !ok {
		return true
	}
	for _, r := range p.Roles {
		if listed(byRole[r], tool) {
			return true
		}
	}
	return false
}

func listed(list []string, tool string) bool {
	return slices.Contains(list, tool) || slices.Contains(list, "*")
}

func (g *Guardrails) notAllowed(assistant string, p sextant.Principal, tool string) string {
	if !listed(g.opts.Tools.Allow[assistant], tool) {
		return fmt.Sprintf("tool %q is not allowed for assistant %q", tool, assistant)
	}
	return fmt.Sprintf("tool %q is not allowed for assistant %q with roles %s", tool, assistant, strings.Join(p.Roles, ", "))
}

// ---- record -----------------------------------------------------------------

func (g *Guardrails) record(ctx context.Context, a *sextant.Answer) {
	st := state(ctx)
	if st.convKey == "" && a.SessionID != "" && st.vault.Len() > 0 {
		// A new conversation: keep its vault for the turns to come.
		st.convKey = convKey(sextant.Principal{Tenant: a.Tenant, ID: a.Principal}, a.SessionID)
		g.vaults.put(st.convKey, st.vault)
	}
	if a.Refusal != "" && len(st.rules) > 0 {
		// The stored record names the deciding rules; the caller saw
		// only the reason.
		a.Refusal += " [rules: " + strings.Join(st.rules, ", ") + "]"
	}
	// The question is stored as the provider saw it, also when it was
	// refused (the pipeline then keeps the text as asked); anything the
	// input guard did not replace is caught by a last scan.
	if st.question != "" {
		a.Question = st.question
	}
	a.Question = g.deidentify(st, a.Question)
	a.Query = g.deidentify(st, a.Query)
	if c := a.Conversation; c != nil {
		// The chat request's messages follow the question's rule: kept as
		// the model was given them, placeholders for personal data.
		cc := *c
		cc.Messages = make([]sextant.Message, len(c.Messages))
		for i, m := range c.Messages {
			m.Content = g.deidentify(st, m.Content)
			m.ToolCalls = g.deidentifyCalls(st, m.ToolCalls)
			cc.Messages[i] = m
		}
		cc.ToolCalls = g.deidentifyCalls(st, c.ToolCalls)
		a.Conversation = &cc
	}
	if st.vault.Len() == 0 {
		return
	}
	text, edits := st.vault.Deidentify(a.Text)
	if len(edits) == 0 {
		return
	}
	a.Text = text
	sents := make([]sextant.AnswerSentence, len(a.Sentences))
	for i, s := range a.Sentences {
		s.Start, s.End = guard.Shift(edits, s.Start), guard.Shift(edits, s.End)
		s.Text, _ = st.vault.Deidentify(s.Text)
		sents[i] = s
	}
	a.Sentences = sents
}

// deidentifyCalls returns calls with deidentified arguments (a new slice;
// nil for none).
func (g *Guardrails) deidentifyCalls(st *reqState, calls []sextant.ToolCall) []sextant.ToolCall {
	if len(calls) == 0 {
		return nil
	}
	out := make([]sextant.ToolCall, len(calls))
	for i, c := range calls {
		c.Arguments = g.deidentify(st, c.Arguments)
		out[i] = c
	}
	return out
}

// deidentify puts the conversation's placeholders back in s and redacts
// whatever else the scanner finds there.
func (g *Guardrails) deidentify(st *reqState, s string) string {
	if s == "" {
		return s
	}
	s, _ = st.vault.Deidentify(s)
	red := g.prompt
	red.Vault = st.vault
	out, _ := red.Redact(g.scanner, s)
	return out
}

// ---- approvals --------------------------------------------------------------

// Decide approves or rejects a pending approval as p (who must hold
// approvals.decide and belong to its tenant), records who and when, and
// writes an audit event. Errors: EFORBIDDEN, ENOTFOUND, ECONFLICT when it
// was decided already, EINVALID without an approval queue.
func (g *Guardrails) Decide(ctx context.Context, p *sextant.Principal, id string, approve bool, note string) (*sextant.Approval, error) {
	if g.opts.Approvals == nil {
		return nil, sextant.Errorf(sextant.EINVALID, "no approval queue is configured")
	}
	if !sextant.Allowed(p, sextant.PermApprovalsDecide) {
		return nil, sextant.Errorf(sextant.EFORBIDDEN, "deciding approvals needs the %q permission", sextant.PermApprovalsDecide)
	}
	ap, err := g.opts.Approvals.Approval(ctx, id)
	if err != nil {
		return nil, err
	}
	if ap.Tenant != p.Tenant {
		return nil, sextant.Errorf(sextant.ENOTFOUND, "approval %q not found", id)
	}
	status := sextant.ApprovalRejected
	if approve {
		status = sextant.ApprovalApproved
	}
	ap, err = g.opts.Approvals.DecideApproval(ctx, id, status, p.ID, note, g.opts.Now())
	if err != nil {
		return nil, err
	}
	g.auditApproval(ctx, ap, string(status))
	return ap, nil
}

// Approval returns approval id as its requester sees it: the tool call's
// arguments with the conversation's placeholders restored while its vault
// is still held. p must be the requester or hold approvals.decide (in
// the same tenant); others get ENOTFOUND.
func (g *Guardrails) Approval(ctx context.Context, p *sextant.Principal, id string) (*sextant.Approval, error) {
	if g.opts.Approvals == nil {
		return nil, sextant.Errorf(sextant.EINVALID, "no approval queue is configured")
	}
	ap, err := g.opts.Approvals.Approval(ctx, id)
	if err != nil {
		return nil, err
	}
	if p == nil || ap.Tenant != p.Tenant || (ap.Principal != p.ID && !sextant.Allowed(p, sextant.PermApprovalsDecide)) {
		return nil, sextant.Errorf(sextant.ENOTFOUND, "approval %q not found", id)
	}
	if ap.Principal == p.ID && ap.Status == sextant.ApprovalApproved && ap.SessionID != "" && !g.opts.KeepPlaceholders {
		if v, ok := g.vaults.peek(convKey(*p, ap.SessionID)); ok {
			ap.Arguments = v.RestoreJSON(ap.Arguments)
		}
	}
	return ap, nil
}

// Approvals lists the approvals of p's tenant (f.Tenant is set from p);
// callers without approvals.decide see only their own.
func (g *Guardrails) Approvals(ctx context.Context, p *sextant.Principal, f sextant.ApprovalFilter) ([]sextant.Approval, error) {
	if g.opts.Approvals == nil {
		return nil, sextant.Errorf(sextant.EINVALID, "no approval queue is configured")
	}
	if p == nil {
		return nil, sextant.Errorf(sextant.EUNAUTHORIZED, "no principal")
	}
	f.Tenant = p.Tenant
	if !sextant.Allowed(p, sextant.PermApprovalsDecide) {
		f.Principal = p.ID
	}
	return g.opts.Approvals.ListApprovals(ctx, f)
}

// ---- policy -------------------------------------------------------------------

// decision is the stricter of the guard's and the policy's decisions.
type decision struct {
	action  policy.Action
	rule    string
	reason  string
	matched []string
}

var strictness = map[policy.Action]int{policy.Allow: 0, policy.Flag: 1, policy.Redact: 2, policy.RequireApproval: 3, policy.Block: 4}

// raise makes d the given decision when that is stricter.
func (d *decision) raise(a policy.Action, rule, reason string) {
	if strictness[a] > strictness[d.action] {
		d.action, d.rule, d.reason = a, rule, reason
	}
	if rule != "" && !slices.Contains(d.matched, rule) {
		d.matched = append(d.matched, rule)
	}
}

func (g *Guardrails) policy() *policy.Policy {
	if g.opts.Policy == nil {
		return nil
	}
	return g.opts.Policy()
}

// decide evaluates the policy in force, if any, and raises d by it.
func (g *Guardrails) decide(ctx context.Context, req *policy.Request, d *decision) {
	pol := g.policy()
	if pol == nil {
		return
	}
	pd := pol.Decide(ctx, req)
	for _, m := range pd.Matched {
		if !slices.Contains(d.matched, m) {
			d.matched = append(d.matched, m)
		}
	}
	if pd.Rule == "" && pd.Action == policy.Allow {
		return
	}
	d.raise(pd.Action, pd.Rule, pd.Reason)
}

func policyFindings(fs []guard.Finding) []policy.Finding {
	if len(fs) == 0 {
		return nil
	}
	out := make([]policy.Finding, len(fs))
	for i, f := range fs {
		out[i] = policy.Finding{Type: string(f.Type), Score: f.Confidence, Detector: f.Detector}
	}
	return out
}

// ---- audit --------------------------------------------------------------------

// audit records a guard or policy decision: the stage, action, rule,
// reason, labels, score and finding types — never the text.
func (g *Guardrails) audit(ctx context.Context, p sextant.Principal, stage string, v Verdict, matched []string, score float64, fs []guard.Finding) {
	if g.opts.Audit == nil {
		return
	}
	payload := map[string]any{"stage": stage, "action": v.Action.String(), "rule": v.Rule, "reason": v.Reason,
		"labels": v.Labels, "matched": matched, "injection_score": round3(score)}
	if types := findingTypes(fs); len(types) > 0 {
		payload["finding_types"] = types
	}
	g.opts.Audit(ctx, sextant.AuditEvent{Kind: sextant.AuditPolicy, Actor: p.ID, Tenant: p.Tenant, RequestID: g.requestID(ctx), Payload: payload})
}

func (g *Guardrails) requestID(ctx context.Context) string {
	if g.opts.RequestID == nil {
		return ""
	}
	return g.opts.RequestID(ctx)
}

func (g *Guardrails) auditApproval(ctx context.Context, ap *sextant.Approval, what string) {
	if g.opts.Audit == nil {
		return
	}
	actor := ap.Principal
	if what != "requested" {
		actor = ap.DecidedBy
	}
	payload := map[string]any{"event": what, "approval": ap.ID, "kind": ap.Kind, "tool": ap.Tool, "rule": ap.Rule,
		"reason": ap.Reason, "requester": ap.Principal, "assistant": ap.Assistant, "status": string(ap.Status)}
	if !ap.DecidedAt.IsZero() {
		payload["decided_at"] = ap.DecidedAt.UTC().Format(time.RFC3339Nano)
		payload["decided_by"] = ap.DecidedBy
		payload["note"] = ap.Note
	}
	g.opts.Audit(ctx, sextant.AuditEvent{Kind: sextant.AuditApproval, Actor: actor, Tenant: ap.Tenant, RequestID: g.requestID(ctx), Payload: payload})
}

func round3(x float64) float64 { return float64(int(x*1000+0.5)) / 1000 }

func findingTypes(fs []guard.Finding) []guard.Type {
	var out []guard.Type
	for _, f := range fs {
		if !slices.Contains(out, f.Type) {
			out = append(out, f.Type)
		}
	}
	return out
}

func typeList(fs []guard.Finding) string {
	var parts []string
	for _, t := range findingTypes(fs) {
		parts = append(parts, describe(t))
	}
	return strings.Join(parts, ", ")
}

// describe names a finding type for people.
func describe(t guard.Type) string {
	switch t {
	case guard.Canary:
		return "the assistant's canary (its instructions leaked)"
	case guard.PromptLeak:
		return "a copy of the assistant's instructions"
	case guard.Link:
		return "a link that is in none of the sources"
	case guard.Denied:
		return "a denylisted term"
	}
	if t.IsSecret() {
		return "a credential (" + string(t) + ")"
	}
	return "personal data (" + string(t) + ")"
}

func signalList(sig map[string]float64) string {
	names := make([]string, 0, len(sig))
	for n := range sig {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		return sig[names[i]] > sig[names[j]] || sig[names[i]] == sig[names[j]] && names[i] < names[j]
	})
	if len(names) > 4 {
		names = names[:4]
	}
	return strings.Join(names, ", ")
}

// ---- conversation vaults ------------------------------------------------------

// vaultCache keeps conversations' vaults in memory, bounded in number and
// idle time. Vaults hold raw values and are never written anywhere.
type vaultCache struct {
	mu  sync.Mutex
	max int
	ttl time.Duration
	now func() time.Time
	m   map[string]*vaultEntry
}

type vaultEntry struct {
	v    *guard.Vault
	used time.Time
}

// get returns the vault of a conversation, creating it (fresh) when there
// is none.
func (c *vaultCache) get(key string) (*guard.Vault, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if e, ok := c.m[key]; ok && now.Sub(e.used) < c.ttl {
		e.used = now
		return e.v, false
	}
	v := guard.NewVault()
	c.insert(key, v, now)
	return v, true
}

func (c *vaultCache) put(key string, v *guard.Vault) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.insert(key, v, c.now())
}

func (c *vaultCache) peek(key string) (*guard.Vault, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || c.now().Sub(e.used) >= c.ttl {
		return nil, false
	}
	return e.v, true
}

// insert adds a vault, evicting expired entries and then the least
// recently used when full. The caller holds mu.
func (c *vaultCache) insert(key string, v *guard.Vault, now time.Time) {
	if _, ok := c.m[key]; !ok && len(c.m) >= c.max {
		oldest, at := "", now
		for k, e := range c.m {
			if now.Sub(e.used) >= c.ttl {
				delete(c.m, k)
				continue
			}
			if e.used.Before(at) || oldest == "" {
				oldest, at = k, e.used
			}
		}
		if len(c.m) >= c.max {
			delete(c.m, oldest)
		}
	}
	c.m[key] = &vaultEntry{v: v, used: now}
}

// ---- chunk score cache ----------------------------------------------------------

// chunkScores remembers the injection assessment of chunks by id and
// content hash: the same chunks are retrieved again and again, and
// scoring one costs about as much as scanning a prompt.
type chunkScores struct {
	mu   sync.Mutex
	m    map[string]chunkScore
	seed maphash.Seed
}

type chunkScore struct {
	hash uint64
	a    guard.Assessment
}

const maxChunkScores = 50000

func (c *chunkScores) score(inj *guard.Injection, ch *sextant.Chunk) guard.Assessment {
	h := maphash.String(c.seed, ch.Text)
	c.mu.Lock()
	e, ok := c.m[ch.ID]
	c.mu.Unlock()
	if ok && e.hash == h {
		return e.a
	}
	a := inj.ScoreDocument(ch.Text)
	c.mu.Lock()
	if len(c.m) >= maxChunkScores {
		for k := range c.m { // drop an arbitrary eighth
			delete(c.m, k)
			if len(c.m) < maxChunkScores*7/8 {
				break
			}
		}
	}
	c.m[ch.ID] = chunkScore{hash: h, a: a}
	c.mu.Unlock()
	return a
}
