package rag

import (
	"context"
	"slices"
	"strings"

	"github.com/sextant-ai/sextant"
)

// compose renders the prompt and fits it to the model's context window
// minus the answer's max tokens. When it does not fit, the lowest-ranked
// source loses whole sentences from its end, then the source goes, then
// the next lowest; after all sources, the oldest history turns. A source
// is never cut inside a sentence, so its Text and End stay true to the
// document.
func (r *run) compose() error {
	tp := r.tmpl // a replay sets the recorded version
	if tp == nil {
		var err error
		if tp, err = r.cat.templates.Template(r.asst.Template); err != nil {
			return err
		}
		r.tmpl = tp
	}
	r.res.Template, r.res.TemplateHash = tp.Name, tp.Hash
	system := r.asst.System
	if r.system != "" {
		if system != "" {
			system += "\n\n"
		}
		system += r.system
	}
	data := &PromptData{Assistant: r.asst.Name, System: system, Question: r.question}

	window := r.asst.ContextWindow
	if window == 0 {
		window = DefaultContextWindow
	}
	budget := window - r.res.MaxTokens
	if window > 0 && budget <= 0 {
		return sextant.Errorf(sextant.EINVALID, "max_tokens %d leaves no room in the model's %d-token context window", r.res.MaxTokens, window)
	}
	for iter := 0; ; iter++ {
		data.Sources = promptSources(r.sources, data.Sources)
		sys, user, err := tp.Render(data)
		if err != nil {
			return err
		}
		r.msgs = r.messages(sys, user)
		if window < 0 {
			return nil
		}
		over := r.over(budget)
		if over <= 0 {
			return nil
		}
		if iter > 4*len(r.sources)+2*len(r.history)+8 {
			return sextant.Errorf(sextant.EINTERNAL, "rag: prompt does not converge to the token budget")
		}
		switch {
		case len(r.sources) > 0:
			r.trimLast(over)
		case len(r.history) > 0:
			r.history = r.history[min(2, len(r.history)):]
		default:
			return sextant.Errorf(sextant.EINVALID, "the question and instructions need %d tokens more than the %d-token context window leaves after max_tokens %d", over, window, r.res.MaxTokens)
		}
	}
}

// PromptTokens counts the tokens of the prompt req would send its
// assistant's model with sources as the retrieved sources: the
// conversation split, system instructions, history limit, template and
// context-window fitting exactly as answering does, in the model's
// tokenizer. Nothing is retrieved, stored or sent, and no guard runs (its
// redactions are not reflected). An unknown assistant is ENOTFOUND; a
// request answering would refuse, EINVALID.
func (p *Pipeline) PromptTokens(ctx context.Context, req *Request, sources []sextant.Source) (int, error) {
	r := &run{p: p, cat: p.cat.Load(), req: req, res: &Result{}}
	if err := r.normalize(ctx); err != nil {
		return 0, err
	}
	r.sources = slices.Clone(sources) // compose trims them
	if err := r.compose(); err != nil {
		return 0, err
	}
	return p.counter.Prompt(r.asst.Model, r.msgs, req.Tools), nil
}

func (r *run) messages(system, user string) []sextant.Message {
	msgs := make([]sextant.Message, 0, 2+len(r.history)+len(r.trailing))
	msgs = append(msgs, sextant.Message{Role: sextant.RoleSystem, Content: system})
	msgs = append(msgs, r.history...)
	msgs = append(msgs, sextant.Message{Role: sextant.RoleUser, Content: user})
	return append(msgs, r.trailing...)
}

// over returns how many tokens the prompt exceeds budget by (≤ 0 when it
// fits). Byte-level BPE never yields more tokens than bytes, so a prompt
// whose bytes fit needs no counting — the common case with today's
// windows, and the reason composing costs microseconds.
func (r *run) over(budget int) int {
	bytes := 3
	for _, m := range r.msgs {
		bytes += 4 + len(m.Role) + len(m.Content) + len(m.Name)
		for _, tc := range m.ToolCalls {
			bytes += 8 + len(tc.Name) + len(tc.Arguments)
		}
	}
	for _, t := range r.req.Tools {
		bytes += 8 + len(t.Name) + len(t.Description) + len(t.Parameters)
	}
	if bytes <= budget {
		return bytes - budget
	}
	return r.p.counter.Prompt(r.asst.Model, r.msgs, r.req.Tools) - budget
}

// trimLast removes about over tokens from the lowest-ranked source: whole
// trailing sentences, or the whole source when that is not enough.
func (r *run) trimLast(over int) {
	last := &r.sources[len(r.sources)-1]
	sents := sextant.SplitSentences(last.Text)
	c := r.p.counter
	cut := len(last.Text)
	freed := 0
	for k := len(sents) - 1; k > 0 && freed < over; k-- {
		freed += c.Text(r.asst.Model, last.Text[sents[k].Start:cut])
		cut = sents[k].Start
	}
	if freed < over || cut == 0 {
		r.sources = r.sources[:len(r.sources)-1]
		return
	}
	last.Text = strings.TrimRight(last.Text[:cut], " \t\n")
	last.End = last.Start + len(last.Text)
}

func promptSources(src []sextant.Source, dst []PromptSource) []PromptSource {
	dst = dst[:0]
	for _, s := range src {
		dst = append(dst, PromptSource{N: s.N, Title: s.Title, Section: s.Section, URI: s.URI, Text: s.Text})
	}
	return dst
}
