package rag

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm"
)

// Follow-up questions lean on earlier turns ("How do I configure it?",
// "And for PDFs?"). Retrieval needs a standalone query. With a rewrite
// model the model writes it; otherwise heuristicQuery builds it:
//
//  1. The topic of the conversation is the longest run of adjacent content
//     words (not stop words) of the most recent earlier question that has
//     one — "the response cache" in "What is the response cache?".
//  2. A pronoun standing for a thing ("it", "they", "them", and "this",
//     "that", "these", "those" when no noun follows) is replaced by the
//     topic; "its"/"their" by the topic's possessive.
//  3. When the question names fewer than three content terms of its own,
//     the earlier question's content words it lacks are appended, so the
//     bag-of-words retrieval sees the subject of the conversation.

// pronouns maps a pronoun to whether it is possessive.
var pronouns = map[string]bool{"it": false, "they": false, "them": false, "its": true, "their": true,
	"this": false, "that": false, "these": false, "those": false}

// determiners are pronouns that are also determiners ("this feature"):
// replaced only when followed by a stop word or the end.
var determiners = map[string]bool{"this": true, "that": true, "these": true, "those": true}

func (p *Pipeline) heuristicQuery(question string, history []sextant.Message) string {
	var prev string
	var topic string
	for i := len(history) - 1; i >= 0; i-- {
		if history[i].Role != sextant.RoleUser {
			continue
		}
		if t := p.topicOf(history[i].Content); t != "" {
			prev, topic = history[i].Content, t
			break
		}
	}
	if topic == "" {
		return question
	}
	q := p.replacePronoun(question, topic)
	if len(distinct(p.analyzer.Terms(question))) >= 3 {
		return q
	}
	have := map[string]bool{}
	for _, t := range p.analyzer.Terms(q) {
		have[t] = true
	}
	var extra []string
	for _, tok := range p.analyzer.Tokens(prev) {
		if !have[tok.Term] {
			have[tok.Term] = true
			extra = append(extra, prev[tok.Start:tok.End])
		}
	}
	if len(extra) == 0 {
		return q
	}
	return q + " (" + strings.Join(extra, " ") + ")"
}

// topicOf returns the longest run of adjacent content words of s (the last
// of equally long runs), or "".
func (p *Pipeline) topicOf(s string) string {
	toks := p.analyzer.Tokens(s)
	bestLo, bestHi, bestN := 0, 0, 0
	for i := 0; i < len(toks); {
		j, n := i, 1
		for j+1 < len(toks) && adjacent(s, toks[j].End, toks[j+1].Start) {
			j++
			if toks[j].Start >= toks[j-1].End {
				n++
			}
		}
		if n >= bestN {
			bestLo, bestHi, bestN = toks[i].Start, toks[j].End, n
		}
		i = j + 1
	}
	if bestN == 0 {
		return ""
	}
	return s[bestLo:bestHi]
}

// adjacent reports whether only spaces or hyphens (or nothing: compound
// parts) separate two words.
func adjacent(s string, end, start int) bool {
	if start < end {
		return true
	}
	gap := s[end:start]
	return len(gap) <= 2 && strings.Trim(gap, " -") == ""
}

func (p *Pipeline) replacePronoun(q, topic string) string {
	for i := 0; i < len(q); {
		r, n := utf8.DecodeRuneInString(q[i:])
		if !unicode.IsLetter(r) {
			i += n
			continue
		}
		j := i
		for j < len(q) {
			r, n := utf8.DecodeRuneInString(q[j:])
			if !unicode.IsLetter(r) && r != '\'' {
				break
			}
			j += n
		}
		w := strings.ToLower(q[i:j])
		if poss, ok := pronouns[w]; ok && (!determiners[w] || p.noNounFollows(q[j:])) {
			rep := topic
			if poss {
				rep += "'s"
			}
			return q[:i] + rep + q[j:]
		}
		i = j
	}
	return q
}

// noNounFollows reports whether the text after a determiner starts with
// punctuation, the end, or a stop word (so the determiner stands alone).
func (p *Pipeline) noNounFollows(rest string) bool {
	rest = strings.TrimLeft(rest, " ")
	if rest == "" {
		return true
	}
	r, _ := utf8.DecodeRuneInString(rest)
	if !unicode.IsLetter(r) {
		return true
	}
	end := strings.IndexFunc(rest, func(r rune) bool { return !unicode.IsLetter(r) })
	if end < 0 {
		end = len(rest)
	}
	return len(p.analyzer.Terms(rest[:end])) == 0
}

func distinct(ts []string) map[string]bool {
	m := make(map[string]bool, len(ts))
	for _, t := range ts {
		m[t] = true
	}
	return m
}

// modelRewrite asks model to rewrite a follow-up as a standalone question.
func (p *Pipeline) modelRewrite(ctx context.Context, templates *Templates, model, question string, history []sextant.Message) (string, error) {
	tp, err := templates.Template(TemplateRewrite)
	if err != nil {
		return "", err
	}
	sys, user, err := tp.Render(&PromptData{Question: question, History: history})
	if err != nil {
		return "", err
	}
	zero := 0.0
	req := &llm.Request{Model: model, Temperature: &zero, MaxTokens: 200, Messages: []sextant.Message{
		{Role: sextant.RoleSystem, Content: sys}, {Role: sextant.RoleUser, Content: user}}}
	var b strings.Builder
	for d, err := range p.opts.Model.StreamCall(ctx, req, nil) {
		if err != nil {
			return "", err
		}
		b.WriteString(d.Text)
	}
	q := normalizeText(strings.Trim(strings.TrimSpace(b.String()), `"`))
	if q == "" || len(q) > 4*len(question)+400 || strings.Contains(q, "\n\n") {
		return "", sextant.Errorf(sextant.EINTERNAL, "rewrite model %q gave an unusable question %q", model, clipText(q, 80))
	}
	return q, nil
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
