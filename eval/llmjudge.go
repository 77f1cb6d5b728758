package eval

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"text/template"

	"github.com/sextant-ai/sextant"
)

// CompleteFunc asks a language model once: a system prompt and a user
// message in, the reply's text out. cmd builds one over llm.Model, so eval
// needs no model layer.
type CompleteFunc func(ctx context.Context, system, user string) (string, error)

// The prompts are versioned files embedded in the binary. A file holds
// the system prompt, a line "---", then the user message as a Go
// text/template. A prompt's version is its name and the first 12 hex
// digits of the SHA-256 of the file, so any edit changes the version and
// cached verdicts of the old prompt are never reused.
var (
	//go:embed prompts/judge.txt
	judgePromptText string
	//go:embed prompts/draft.txt
	draftPromptText string

	judgePrompt = mustPrompt("judge", judgePromptText)
	draftPrompt = mustPrompt("draft", draftPromptText)
)

type prompt struct {
	version string
	system  string
	user    *template.Template
}

func mustPrompt(name, text string) *prompt {
	sys, user, ok := strings.Cut(text, "\n---\n")
	if !ok {
		panic("eval: prompt " + name + " has no --- line") // an embedded file: caught by every test
	}
	sum := sha256.Sum256([]byte(text))
	t := template.Must(template.New(name).Option("missingkey=error").Funcs(template.FuncMap{
		"inc": func(i int) int { return i + 1 },
	}).Parse(user))
	return &prompt{version: name + "-" + hex.EncodeToString(sum[:])[:12], system: strings.TrimSpace(sys), user: t}
}

func (p *prompt) render(data any) (string, error) {
	var b bytes.Buffer
	if err := p.user.Execute(&b, data); err != nil {
		return "", sextant.Errorf(sextant.EINTERNAL, "eval: prompt %s: %v", p.version, err)
	}
	return strings.TrimSpace(b.String()), nil
}

// JudgePromptVersion is the version of the embedded judge prompt.
func JudgePromptVersion() string { return judgePrompt.version }

// LLMJudge is the Judge that asks a language model, with the embedded,
// versioned judge prompt, for a JSON verdict on each claim. Wrap it in a
// CachedJudge to keep verdicts.
type LLMJudge struct {
	Complete CompleteFunc
	// Model names the judge model; it is part of the prompt version, so
	// verdicts of one model are never served for another.
	Model string
}

// PromptVersion is the judge prompt's version and the model.
func (j *LLMJudge) PromptVersion() string { return judgePrompt.version + "/" + j.Model }

// JudgeClaim asks the model for a verdict on req. A reply that is not a
// valid verdict is an EINTERNAL error quoting the start of the reply.
func (j *LLMJudge) JudgeClaim(ctx context.Context, req JudgeRequest) (Verdict, error) {
	user, err := judgePrompt.render(req)
	if err != nil {
		return Verdict{}, err
	}
	text, err := j.Complete(ctx, judgePrompt.system, user)
	if err != nil {
		return Verdict{}, fmt.Errorf("judge %s: %w", j.Model, err)
	}
	v, err := ParseVerdict(text)
	if err != nil {
		return Verdict{}, fmt.Errorf("judge %s: %w", j.Model, err)
	}
	return v, nil
}

// ParseVerdict reads a judge's reply: the first JSON object in text (a
// reply wrapped in a Markdown code fence or with words around it is
// accepted) with "label" (supported, contradicted or unsupported, any
// case) and optionally "support" in [0, 1] (default 1 for supported, 0
// otherwise) and "reason".
func ParseVerdict(text string) (Verdict, error) {
	obj, ok := firstJSONObject(text)
	if !ok {
		return Verdict{}, sextant.Errorf(sextant.EINTERNAL, "judge reply holds no JSON object: %q", clip(text, 120))
	}
	var raw struct {
		Label   string   `json:"label"`
		Support *float64 `json:"support"`
		Reason  string   `json:"reason"`
	}
	if err := json.Unmarshal([]byte(obj), &raw); err != nil {
		return Verdict{}, sextant.Errorf(sextant.EINTERNAL, "judge reply %q: %v", clip(obj, 120), err)
	}
	v := Verdict{Label: strings.ToLower(strings.TrimSpace(raw.Label)), Reason: strings.TrimSpace(raw.Reason)}
	switch v.Label {
	case VerdictSupported:
		v.Support = 1
	case VerdictContradicted, VerdictUnsupported:
	default:
		return Verdict{}, sextant.Errorf(sextant.EINTERNAL, "judge reply: label %q is not supported, contradicted or unsupported", clip(raw.Label, 40))
	}
	if raw.Support != nil {
		s := *raw.Support
		if math.IsNaN(s) || s < 0 || s > 1 {
			return Verdict{}, sextant.Errorf(sextant.EINTERNAL, "judge reply: support %v is outside [0, 1]", s)
		}
		v.Support = s
	}
	return v, nil
}

// firstJSONObject returns the first balanced {...} of text, minding
// strings and escapes.
func firstJSONObject(text string) (string, bool) {
	start := strings.IndexByte(text, '{')
	for start >= 0 {
		depth, inStr, esc := 0, false, false
		for i := start; i < len(text); i++ {
			c := text[i]
			switch {
			case esc:
				esc = false
			case inStr && c == '\\':
				esc = true
			case c == '"':
				inStr = !inStr
			case inStr:
			case c == '{':
				depth++
			case c == '}':
				depth--
				if depth == 0 {
					if cand := text[start : i+1]; json.Valid([]byte(cand)) {
						return cand, true
					}
					i = len(text)
				}
			}
		}
		next := strings.IndexByte(text[start+1:], '{')
		if next < 0 {
			break
		}
		start += 1 + next
	}
	return "", false
}
