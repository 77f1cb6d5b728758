package rag

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm"
)

// Answers the pipeline gives without the model.
const (
	noSourcesText = "I could not find anything about this in the documents."
	blockedText   = "I can't answer that question."
	withheldText  = "The answer was withheld."
)

// run is one request going through the pipeline.
type run struct {
	p     *Pipeline
	cat   *catalog // the assistants and templates this request answers with
	req   *Request
	yield func(Event, error) bool

	res      *Result
	asst     *Assistant
	question string
	system   string            // the request's system messages
	history  []sextant.Message // earlier turns, oldest first
	trailing []sextant.Message // tool turns after the question
	query    string
	sources  []sextant.Source
	tmpl     *Template
	msgs     []sextant.Message
	cacheKey string
	vector   []float32
	citeT    time.Duration // citation filtering while streaming
	spent    sextant.Usage // tokens of the session's earlier turns
	noCache  bool          // a guard kept this answer out of the response cache
	recorded *Result       // what was stored and what the Done hooks see (Hooks.Record)
}

func (r *run) emit(ev Event) error {
	if !r.yield(ev, nil) {
		return errStopped
	}
	return nil
}

// done records a stage's duration and reports it.
func (r *run) done(stage string, start time.Time) error {
	return r.timed(stage, time.Since(start))
}

func (r *run) timed(stage string, d time.Duration) error {
	t := sextant.StageTiming{Stage: stage, Duration: d}
	r.res.Timings = append(r.res.Timings, t)
	return r.emit(Event{Type: EventStage, Stage: t})
}

func (r *run) answer(ctx context.Context) (*Result, error) {
	p := r.p
	r.res = &Result{}
	r.res.ID = p.opts.NewID()
	r.res.CreatedAt = p.opts.Now()
	r.res.Tenant = r.req.Principal.Tenant
	r.res.Principal = r.req.Principal.ID

	start := time.Now()
	if err := r.normalize(ctx); err != nil {
		return nil, err
	}
	if err := r.done(StageNormalize, start); err != nil {
		return nil, err
	}

	if h := p.opts.Hooks.Input; h != nil {
		start = time.Now()
		v, err := h(ctx, InputCheck{Principal: r.req.Principal, Assistant: r.asst.Name, Model: r.asst.Model,
			SessionID: r.req.SessionID, Question: r.question, History: r.history, System: r.system,
			Trailing: r.trailing, Tools: r.req.Tools, Spent: r.spent})
		if err != nil {
			return nil, fmt.Errorf("rag: input guard: %w", err)
		}
		r.res.Input = v
		r.noCache = v.NoCache
		switch v.Action {
		case Block:
			r.res.Refusal = "input: " + v.Reason
			if err := r.done(StageGuard, start); err != nil {
				return nil, err
			}
			if v.Approval != nil {
				// Held, not refused: the caller is told what it waits for.
				r.res.Approvals = append(r.res.Approvals, *v.Approval)
				return r.refuse(ctx, v.Reason, sextant.FinishStop)
			}
			text := blockedText
			if v.Reason != "" {
				text = strings.TrimSuffix(blockedText, ".") + ": " + v.Reason
			}
			return r.refuse(ctx, text, sextant.FinishFilter)
		case Redact:
			r.question = normalizeText(v.Text)
			r.res.Question = r.question
			if v.History != nil {
				r.history = v.History
			}
			if v.Trailing != nil {
				r.trailing = v.Trailing
			}
			if v.System != "" && r.system != "" {
				r.system = v.System
			}
		}
		if err := r.done(StageGuard, start); err != nil {
			return nil, err
		}
	}

	// The retrieve stage includes the heuristic follow-up rewrite; a
	// model's rewrite is its own stage.
	start = time.Now()
	modelT, err := r.rewrite(ctx)
	if err != nil {
		return nil, err
	}
	hits, err := r.retrieve(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.timed(StageRetrieve, time.Since(start)-modelT); err != nil {
		return nil, err
	}
	if h := p.opts.Hooks.Rerank; h != nil && len(hits) > 1 {
		start = time.Now()
		if hits, err = h(ctx, r.query, hits); err != nil {
			return nil, fmt.Errorf("rag: rerank: %w", err)
		}
		if err := r.done(StageRerank, start); err != nil {
			return nil, err
		}
	}
	r.sources = sourcesOf(hits)
	if len(r.sources) == 0 && len(r.req.Tools) == 0 {
		r.res.Refusal = "no sources"
		return r.refuse(ctx, noSourcesText, sextant.FinishStop)
	}

	start = time.Now()
	if err := r.compose(); err != nil {
		return nil, err
	}
	if err := r.done(StageCompose, start); err != nil {
		return nil, err
	}
	if p.opts.Cache != nil {
		start = time.Now()
		hit, err := r.lookup(ctx)
		if err != nil {
			return nil, err
		}
		if err := r.done(StageCache, start); err != nil {
			return nil, err
		}
		if hit {
			if err := r.emit(Event{Type: EventSources, Sources: r.res.Sources}); err != nil {
				return nil, err
			}
			if r.res.Text != "" {
				if err := r.emit(Event{Type: EventDelta, Text: r.res.Text}); err != nil {
					return nil, err
				}
			}
			return r.record(ctx)
		}
	}

	if err := r.emit(Event{Type: EventSources, Sources: r.sources}); err != nil {
		return nil, err
	}
	if err := r.generate(ctx); err != nil {
		return nil, err
	}
	if err := r.screenTools(ctx); err != nil {
		return nil, err
	}
	start = time.Now()
	r.cite()
	if err := r.timed(StageCite, time.Since(start)+r.citeT); err != nil {
		return nil, err
	}
	return r.record(ctx)
}

// normalize resolves the assistant, the question and the conversation.
func (r *run) normalize(ctx context.Context) error {
	p, req := r.p, r.req
	name := req.Assistant
	if name == "" {
		name = r.cat.def
	}
	a, ok := r.cat.assistants[name]
	if !ok {
		return sextant.Errorf(sextant.ENOTFOUND, "assistant %q not found (have %s)", name, strings.Join(r.cat.order, ", "))
	}
	r.asst = a
	r.res.Assistant = a.Name
	r.res.Model = a.Model
	r.res.Template = a.Template
	r.res.Temperature, r.res.Seed, r.res.MaxTokens = a.Temperature, a.Seed, a.MaxTokens
	if req.Temperature != nil {
		if t := *req.Temperature; t < 0 || t > 2 {
			return sextant.Errorf(sextant.EINVALID, "temperature %v is outside [0, 2]", t)
		}
		r.res.Temperature = req.Temperature
	}
	if req.Seed != nil {
		r.res.Seed = req.Seed
	}
	if req.MaxTokens < 0 {
		return sextant.Errorf(sextant.EINVALID, "max_tokens %d is negative", req.MaxTokens)
	}
	if req.MaxTokens > 0 {
		r.res.MaxTokens = req.MaxTokens
	}
	if r.res.MaxTokens == 0 {
		r.res.MaxTokens = DefaultMaxTokens
	}
	if req.K < 0 || req.K > 1000 {
		return sextant.Errorf(sextant.EINVALID, "k %d is outside 1..1000", req.K)
	}

	switch {
	case req.Question != "" && len(req.Messages) > 0:
		return sextant.Errorf(sextant.EINVALID, "give the question or the messages, not both")
	case len(req.Messages) > 0:
		if err := r.fromMessages(); err != nil {
			return err
		}
	default:
		r.question = req.Question
	}
	if len(r.question) > MaxQuestionBytes {
		return sextant.Errorf(sextant.EINVALID, "question is %d bytes; the limit is %d", len(r.question), MaxQuestionBytes)
	}
	r.question = normalizeText(r.question)
	if r.question == "" {
		return sextant.Errorf(sextant.EINVALID, "question is empty")
	}
	r.res.Question = r.question

	if len(req.Messages) > 0 {
		return nil // the messages carry the conversation
	}
	if req.SessionID != "" && !validSessionID(req.SessionID) {
		return sextant.Errorf(sextant.EINVALID, "session id %q: want 1-128 characters of letters, digits and _.:-", req.SessionID)
	}
	if p.opts.Store == nil {
		if req.SessionID != "" {
			return sextant.Errorf(sextant.EINVALID, "session %q: conversations need an answer store, and none is configured", req.SessionID)
		}
		return nil
	}
	r.res.SessionID, r.res.Turn = req.SessionID, 1
	if req.SessionID == "" {
		r.res.SessionID = p.opts.NewID()
		return nil
	}
	prev, err := p.opts.Store.SessionAnswers(ctx, req.SessionID, p.history)
	if err != nil {
		return fmt.Errorf("rag: load session %s: %w", req.SessionID, err)
	}
	for _, a := range prev {
		if a.Tenant != req.Principal.Tenant || a.Principal != req.Principal.ID {
			return sextant.Errorf(sextant.EFORBIDDEN, "session %q belongs to another caller", req.SessionID)
		}
		r.spent = r.spent.Add(a.Usage)
		r.history = append(r.history,
			sextant.Message{Role: sextant.RoleUser, Content: a.Question},
			sextant.Message{Role: sextant.RoleAssistant, Content: stripMarkers(a.Text)})
	}
	if n := len(prev); n > 0 {
		r.res.Turn = prev[n-1].Turn + 1
	}
	return nil
}

// fromMessages splits an OpenAI-style conversation into system
// instructions, history, the question (the last user message) and the
// tool turns after it.
func (r *run) fromMessages() error {
	msgs := r.req.Messages
	last := -1
	for i, m := range msgs {
		switch m.Role {
		case sextant.RoleSystem, sextant.RoleUser, sextant.RoleAssistant, sextant.RoleTool:
		default:
			return sextant.Errorf(sextant.EINVALID, "messages[%d].role: unknown role %q (want system, user, assistant or tool)", i, m.Role)
		}
		if m.Role == sextant.RoleUser {
			last = i
		}
	}
	if last < 0 {
		return sextant.Errorf(sextant.EINVALID, "messages: no user message to answer")
	}
	for i, m := range msgs[last+1:] {
		if m.Role != sextant.RoleAssistant && m.Role != sextant.RoleTool {
			return sextant.Errorf(sextant.EINVALID, "messages[%d]: only assistant tool calls and tool results may follow the last user message", last+1+i)
		}
	}
	var sys []string
	for _, m := range msgs[:last] {
		if m.Role == sextant.RoleSystem {
			sys = append(sys, strings.TrimSpace(m.Content))
			continue
		}
		h := m
		if h.Role == sextant.RoleAssistant {
			h.Content = stripMarkers(h.Content)
		}
		r.history = append(r.history, h)
	}
	if n := 2 * r.p.history; len(r.history) > n {
		r.history = r.history[len(r.history)-n:]
	}
	r.system = strings.Join(sys, "\n\n")
	r.question = msgs[last].Content
	r.trailing = msgs[last+1:]
	return nil
}

// rewrite sets the retrieval query: the question itself, or for a
// follow-up a standalone rewrite.
func (r *run) rewrite(ctx context.Context) (time.Duration, error) {
	r.query = r.question
	if len(r.history) == 0 {
		r.res.Query = r.query
		return 0, nil
	}
	if m := r.asst.RewriteModel; m != "" {
		start := time.Now()
		q, err := r.p.modelRewrite(ctx, r.cat.templates, m, r.question, r.history)
		if err == nil && q != "" {
			r.query = q
		} else {
			r.p.log.Warn("follow-up rewrite failed; using the heuristic", "model", m, "err", err)
			r.query = r.p.heuristicQuery(r.question, r.history)
		}
		r.res.Query = r.query
		d := time.Since(start)
		return d, r.timed(StageRewrite, d)
	}
	r.query = r.p.heuristicQuery(r.question, r.history)
	r.res.Query = r.query
	return 0, nil
}

func (r *run) retrieve(ctx context.Context) ([]sextant.Hit, error) {
	f, err := narrow(r.asst.Filter, r.req.Filter)
	if err != nil {
		return nil, err
	}
	f = r.req.Principal.Scope(f)
	k := r.req.K
	if k == 0 {
		k = r.asst.TopK
	}
	if k == 0 {
		k = DefaultTopK
	}
	hits, err := r.p.opts.Retriever.Search(ctx, sextant.Query{Text: r.query, K: k, Filter: f})
	if err != nil {
		return nil, fmt.Errorf("rag: retrieve: %w", err)
	}
	if h := r.p.opts.Hooks.Chunks; h != nil && len(hits) > 0 {
		kept, err := h(ctx, ChunkCheck{Principal: r.req.Principal, Assistant: r.asst.Name, Question: r.question, Hits: hits})
		if err != nil {
			return nil, fmt.Errorf("rag: chunk guard: %w", err)
		}
		r.res.ChunksRemoved = len(hits) - len(kept)
		hits = kept
	}
	return hits, nil
}

func sourcesOf(hits []sextant.Hit) []sextant.Source {
	out := make([]sextant.Source, 0, len(hits))
	for i, h := range hits {
		title := h.Document.Title
		if title == "" {
			title = h.Document.ID
		}
		out = append(out, sextant.Source{
			N: i + 1, ChunkID: h.Chunk.ID, DocumentID: h.Chunk.DocumentID, Title: title,
			URI: h.Document.Source, Section: sextant.SectionPath(h.Chunk.Section),
			Start: h.Chunk.Start, End: h.Chunk.End, Text: h.Chunk.Text, Score: h.Score,
		})
	}
	return out
}

// refuse finishes the answer with a fixed text and no model call.
func (r *run) refuse(ctx context.Context, text, finish string) (*Result, error) {
	r.res.Text = text
	r.res.FinishReason = finish
	r.res.Query = r.query
	if r.query == "" {
		r.res.Query = r.question
	}
	if err := r.emit(Event{Type: EventDelta, Text: text}); err != nil {
		return nil, err
	}
	r.cite()
	return r.record(ctx)
}

// generate streams the model's answer through the citation and output
// filters. The generate stage's time is the generator's own: the time
// spent filtering is the cite and output stages', and the time the
// consumer takes to read a delta is nobody's.
func (r *run) generate(ctx context.Context) error {
	p := r.p
	req := &llm.Request{
		Model: r.asst.Model, Messages: r.msgs, Temperature: r.res.Temperature, MaxTokens: r.res.MaxTokens,
		Seed: r.res.Seed, Tools: r.req.Tools, ToolChoice: r.req.ToolChoice, User: r.req.Principal.ID,
		Sources: r.sources,
	}
	var out OutputFilter
	if h := p.opts.Hooks.Output; h != nil {
		out = h(ctx, OutputCheck{Principal: r.req.Principal, Assistant: r.asst.Name, Model: r.asst.Model,
			Question: r.question, Sources: r.sources, System: r.asst.System})
	}
	marks := &markerFilter{n: len(r.sources), keep: p.opts.FlagBadCitations}
	var (
		text               strings.Builder
		call               llm.Call
		citeT, outT, emitT time.Duration
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pass := func(s string) error {
		if s == "" {
			return nil
		}
		t0 := time.Now()
		if out != nil {
			var err error
			if s, err = out.Write(s); err != nil {
				return fmt.Errorf("rag: output guard: %w", err)
			}
		}
		outT += time.Since(t0)
		if s == "" {
			return nil
		}
		text.WriteString(s)
		t1 := time.Now()
		err := r.emit(Event{Type: EventDelta, Text: s})
		emitT += time.Since(t1)
		return err
	}
	start := time.Now()
	for d, err := range p.opts.Model.StreamCall(ctx, req, &call) {
		if err != nil {
			return err
		}
		t0 := time.Now()
		s := marks.Write(d.Text)
		if d.FinishReason != "" {
			s += marks.Close()
		}
		citeT += time.Since(t0)
		if err := pass(s); err != nil {
			return err
		}
		if d.FinishReason != "" {
			r.res.FinishReason = d.FinishReason
			r.res.ToolCalls = d.ToolCalls
			if d.Usage != nil {
				r.res.Usage = *d.Usage
			}
		}
	}
	// The generator's own time: the loop's, less filtering (cite and
	// output stages) and the consumer reading deltas (nobody's).
	gen := time.Since(start) - citeT - outT - emitT
	r.res.Served = call.Target.String()
	if call.Target.Model == "" && call.Target.Provider != "" {
		r.res.Served = call.Target.Provider + ":" + r.asst.Model
	}
	r.res.DroppedCitations = marks.dropped
	if out != nil {
		t0 := time.Now()
		rest, v, err := out.Close()
		if err != nil {
			return fmt.Errorf("rag: output guard: %w", err)
		}
		r.res.Output = v
		outT += time.Since(t0)
		if v.Action == Block {
			r.res.Refusal = "output: " + v.Reason
			r.res.FinishReason = sextant.FinishFilter
			text.Reset()
			text.WriteString(withheldText)
		} else if rest != "" {
			text.WriteString(rest)
			if err := r.emit(Event{Type: EventDelta, Text: rest}); err != nil {
				return err
			}
		}
	}
	r.res.Text = text.String()
	if err := r.timed(StageGenerate, gen); err != nil {
		return err
	}
	if out != nil {
		if err := r.timed(StageOutput, outT); err != nil {
			return err
		}
	}
	r.citeT = citeT
	return nil
}

// screenTools hands the tool calls the model asked for to Hooks.Tools,
// which may block them or park them for approval. When no call is left
// for the caller, the answer finishes as a normal (or filtered) answer
// whose text says why, if the model wrote none.
func (r *run) screenTools(ctx context.Context) error {
	h := r.p.opts.Hooks.Tools
	if h == nil || len(r.res.ToolCalls) == 0 {
		return nil
	}
	start := time.Now()
	v, err := h(ctx, ToolCheck{Principal: r.req.Principal, Assistant: r.asst.Name, Model: r.asst.Model,
		SessionID: r.res.SessionID, AnswerID: r.res.ID, Question: r.question, Calls: r.res.ToolCalls,
		Trailing: r.trailing, Usage: r.res.Usage})
	if err != nil {
		return fmt.Errorf("rag: tool guard: %w", err)
	}
	r.res.ToolCalls = v.Calls
	r.res.Tools = v.Verdict
	r.res.Approvals = append(r.res.Approvals, v.Approvals...)
	if len(v.Calls) == 0 {
		switch {
		case len(v.Approvals) == 0 && v.Verdict.Action == Block:
			r.res.FinishReason = sextant.FinishFilter
			r.res.Refusal = "tools: " + v.Verdict.Reason
		case r.res.FinishReason == sextant.FinishToolCalls:
			r.res.FinishReason = sextant.FinishStop
		}
		if strings.TrimSpace(r.res.Text) == "" && v.Verdict.Reason != "" {
			r.res.Text = v.Verdict.Reason
			if err := r.emit(Event{Type: EventDelta, Text: r.res.Text}); err != nil {
				return err
			}
		}
	}
	return r.done(StageTools, start)
}

// record stores and caches the answer.
func (r *run) record(ctx context.Context) (*Result, error) {
	start := time.Now()
	p := r.p
	if r.cacheKey != "" && !r.noCache && r.res.Cache == "" && r.res.Refusal == "" && r.res.FinishReason == sextant.FinishStop && len(r.res.ToolCalls) == 0 {
		p.opts.Cache.Put(r.cacheEntry())
	}
	r.res.Conversation = r.conversation()
	// What is kept after the response (the stored answer, what the Done
	// hooks see) is the answer as Hooks.Record rewrites it.
	kept := r.res
	if h := p.opts.Hooks.Record; h != nil {
		c := *r.res
		h(ctx, &c.Answer)
		kept = &c
	}
	// The record's own duration cannot be inside the record; it is
	// measured up to the write and reported after.
	t := sextant.StageTiming{Stage: StageRecord}
	if p.opts.Store != nil && (r.res.SessionID != "" || len(r.req.Messages) > 0) {
		a := kept.Answer
		if a.SessionID == "" {
			// A stateless chat completion, reproduced by its recorded
			// Conversation: kept under a session of its own, so it can be
			// looked up and replayed like any other answer.
			a.SessionID, a.Turn = "chat_"+a.ID, 1
		}
		a.Timings = append(append([]sextant.StageTiming(nil), r.res.Timings...), sextant.StageTiming{Stage: StageRecord, Duration: time.Since(start)})
		if err := p.opts.Store.PutAnswer(ctx, &a); err != nil {
			return nil, fmt.Errorf("rag: record answer: %w", err)
		}
	}
	t.Duration = time.Since(start)
	r.res.Timings = append(r.res.Timings, t)
	if kept != r.res {
		kept.Timings = r.res.Timings
		r.recorded = kept
	}
	if err := r.emit(Event{Type: EventStage, Stage: t}); err != nil {
		return nil, err
	}
	return r.res, nil
}

// conversation is what the answer records of a chat request for replay:
// the caller's messages as sent, the tools and tool choice, and the tool
// calls handed back. Nil for a plain question without tools. The slices
// are the request's and the result's, shared: Hooks.Record replaces them
// in its copy rather than writing into them.
func (r *run) conversation() *sextant.Conversation {
	if len(r.req.Messages) == 0 && len(r.req.Tools) == 0 {
		return nil
	}
	return &sextant.Conversation{Messages: r.req.Messages, Tools: r.req.Tools, ToolChoice: r.req.ToolChoice, ToolCalls: r.res.ToolCalls}
}

// normalizeText turns every run of horizontal whitespace into one space,
// keeps at most one blank line, drops control characters, trims, and puts
// the result in Unicode NFC.
func normalizeText(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space, newlines := false, 0
	for _, c := range s {
		switch {
		case c == '\n':
			newlines++
			space = false
		case unicode.IsSpace(c) || c == 0:
			space = true
		case unicode.IsControl(c):
		default:
			if b.Len() > 0 {
				switch {
				case newlines > 1:
					b.WriteString("\n\n")
				case newlines == 1:
					b.WriteByte('\n')
				case space:
					b.WriteByte(' ')
				}
			}
			newlines, space = 0, false
			b.WriteRune(c)
		}
	}
	// NFC last: removing a control character may bring a letter and its
	// combining mark together.
	return norm.NFC.String(b.String())
}

// stripMarkers removes citation markers from an earlier answer before it
// is shown to a model as history (its numbers name other sources).
func stripMarkers(s string) string {
	ms := sextant.ParseCitations(s)
	if len(ms) == 0 {
		return s
	}
	var b strings.Builder
	i := 0
	for _, m := range ms {
		b.WriteString(strings.TrimRight(s[i:m.Start], " "))
		i = m.End
	}
	b.WriteString(s[i:])
	return b.String()
}
