package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/rag"
	"github.com/sextant-ai/sextant/web"
)

const replayUsage = `Usage: sextant replay REQUEST_ID|ANSWER_ID [--json] [--data DIR] [--config FILE]

Re-run a recorded answer with what it was made with — the same prompt
template (checked by its hash), the same numbered sources with the text
they had, the same conversation (a session's earlier turns, or a chat
completion's recorded messages: system instructions, earlier turns, tool
calls and results), the same tools, model, temperature, seed and token
limit — and show what differs: the answer text (a sentence diff),
citations added or removed, sentences whose support changed, the finish
reason, refusal and tool calls. It also says which recorded sources read differently in the store
now (documents edited, re-ingested or deleted since): the replay still
uses the recorded text, a new question would not.

The id is an answer id, or the request id of the HTTP request that asked
(its X-Request-Id header; the audit log maps one to the other). Every
answer of /v1/ask, /v1/chat/completions and /v1/messages to an assistant
is stored and can be replayed.

A template changed since the answer cannot be replayed exactly: the
command says which and exits 1.

Exit status: 0 when the replay is identical, 1 when it differs or cannot
be replayed, 2 for a command-line mistake.

Flags:
`

func runReplay(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("replay", e.stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), replayUsage)
		fs.PrintDefaults()
	}
	dataDir := dataFlag(fs, e)
	configPath := fs.String("config", "", "configuration file (default DATA/sextant.yaml when present; env SEXTANT_CONFIG)")
	asJSON := fs.Bool("json", false, "print the replay and its differences as JSON (the body of POST /v1/answers/{id}/replay)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErrorf("replay: give one request id or answer id")
	}
	id := pos[0]
	s, err := openPipeline(ctx, e, *dataDir, *configPath, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	st := s.eng.store
	a, err := st.Answer(ctx, id)
	requestID := ""
	if sextant.ErrorCode(err) == sextant.ENOTFOUND {
		var aid string
		if aid, err = answerByRequest(ctx, st, id, nil); err == nil {
			requestID = id
			a, err = st.Answer(ctx, aid)
		} else if sextant.ErrorCode(err) == sextant.ENOTFOUND {
			err = sextant.Errorf(sextant.ENOTFOUND, "no stored answer has id %q, and no answer was recorded for a request with that id", id)
		}
	}
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	// The command line holds the data directory: it replays as the asker.
	res, err := s.pipeline.Replay(ctx, sextant.Principal{ID: a.Principal, Tenant: a.Tenant}, a.ID)
	if sextant.ErrorCode(err) == sextant.ECONFLICT {
		msg := sextant.ErrorMessage(err)
		if *asJSON {
			writeJSON(e.stdout, map[string]any{"object": "answer.replay", "answer_id": a.ID, "identical": false,
				"error": map[string]string{"code": "template_changed", "message": msg}})
		}
		return &exitStatus{code: 1, err: fmt.Errorf("replay: the answer cannot be replayed exactly: %s. "+
			"Restore the template it was made with (DATA/templates/%s.tmpl, or the built-in one) to replay it", msg, a.Template)}
	}
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	cur, err := web.CurrentChunks(ctx, st.DocumentChunks, a)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	d := rag.CompareReplay(a, &res.Answer, cur)
	if *asJSON {
		if err := writeJSON(e.stdout, web.ReplayJSON(a, res, d)); err != nil {
			return err
		}
	} else {
		writeReplay(e.stdout, a, requestID, d)
	}
	if !d.Identical {
		return &exitStatus{code: 1, err: fmt.Errorf("replay: the answer differs from the record")}
	}
	return nil
}

// writeReplay prints a replay's comparison for a person.
func writeReplay(w io.Writer, a *sextant.Answer, requestID string, d *rag.ReplayDiff) {
	fmt.Fprintf(w, "Answer %s", a.ID)
	if requestID != "" {
		fmt.Fprintf(w, " (request %s)", requestID)
	}
	fmt.Fprintf(w, ", asked %s by %s", a.CreatedAt.Local().Format("2006-01-02 15:04:05"), dash(a.Principal))
	if a.Tenant != "" {
		fmt.Fprintf(w, " (tenant %s)", a.Tenant)
	}
	fmt.Fprintf(w, "\nAssistant %s, template %s (%.12s), model %s, %d sources\nQuestion: %s\n", a.Assistant, a.Template, a.TemplateHash,
		a.Model, len(a.Sources), clip(a.Question, 200))
	if c := a.Conversation; c != nil {
		fmt.Fprintf(w, "Conversation: %d messages (%s), %d tools", len(c.Messages), roleCounts(c.Messages), len(c.Tools))
		if c.ToolChoice != "" {
			fmt.Fprintf(w, ", tool choice %s", c.ToolChoice)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
	if d.Identical {
		fmt.Fprintln(w, "Replay: identical to the record.")
	} else {
		fmt.Fprintln(w, "Replay: DIFFERENT from the record.")
	}
	if len(d.Text) > 0 {
		fmt.Fprintln(w, "\nAnswer text (- recorded, + replayed):")
		for _, l := range d.Text {
			op := " "
			if l.Op != '=' {
				op = string(l.Op)
			}
			fmt.Fprintf(w, "  %s %s\n", op, l.Text)
		}
	}
	if len(d.CitedAdded)+len(d.CitedRemoved) > 0 {
		fmt.Fprintf(w, "\nCitations: added %s; removed %s\n", sourceList(a, d.CitedAdded), sourceList(a, d.CitedRemoved))
	}
	if len(d.Support) > 0 {
		fmt.Fprintln(w, "\nSupport changed:")
		for _, c := range d.Support {
			if c.Was != "" {
				fmt.Fprintf(w, "  %q (in place of %q): %.2f %s -> %.2f %s\n", clip(c.Sentence, 100), clip(c.Was, 100),
					c.Before, supported(c.SupportedBefore), c.After, supported(c.SupportedNow))
				continue
			}
			fmt.Fprintf(w, "  %q: %.2f %s -> %.2f %s\n", clip(c.Sentence, 100), c.Before, supported(c.SupportedBefore), c.After, supported(c.SupportedNow))
		}
	}
	if d.Finish != nil {
		fmt.Fprintf(w, "\nFinish reason: %s -> %s\n", dash(d.Finish[0]), dash(d.Finish[1]))
	}
	if d.Refusal != nil {
		fmt.Fprintf(w, "\nRefusal: %q -> %q\n", d.Refusal[0], d.Refusal[1])
	}
	if d.ToolCalls != nil {
		fmt.Fprintln(w, "\nTool calls (- recorded, + replayed):")
		for i, calls := range d.ToolCalls {
			for _, c := range calls {
				fmt.Fprintf(w, "  %c %s(%s)\n", "-+"[i], c.Name, clip(c.Arguments, 200))
			}
		}
	}
	if len(d.Changed) > 0 {
		fmt.Fprintln(w, "\nSources that changed in the store since the answer (the replay used the recorded text; a new question would not):")
		for _, c := range d.Changed {
			what := "its text differs now"
			if c.Gone {
				what = "gone (the document was deleted, or re-ingested into other chunks)"
			}
			fmt.Fprintf(w, "  [%d] %s (%s): %s\n", c.N, dash(c.URI), c.ChunkID, what)
		}
	}
}

// roleCounts summarises messages by role: "1 system, 3 user, 2 assistant".
func roleCounts(msgs []sextant.Message) string {
	if len(msgs) == 0 {
		return "none: the session's turns are the conversation"
	}
	var parts []string
	for _, role := range []string{sextant.RoleSystem, sextant.RoleUser, sextant.RoleAssistant, sextant.RoleTool} {
		n := 0
		for _, m := range msgs {
			if m.Role == role {
				n++
			}
		}
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, role))
		}
	}
	return strings.Join(parts, ", ")
}

func supported(ok bool) string {
	if ok {
		return "supported"
	}
	return "unsupported"
}

// sourceList names source numbers with their documents: "[3] a.md".
func sourceList(a *sextant.Answer, ns []int) string {
	if len(ns) == 0 {
		return "none"
	}
	var parts []string
	for _, n := range ns {
		name := ""
		for _, s := range a.Sources {
			if s.N == n {
				name = " " + s.URI
				if i := strings.LastIndex(name, "/"); i >= 0 {
					name = " " + name[i+1:]
				}
			}
		}
		parts = append(parts, fmt.Sprintf("[%d]%s", n, name))
	}
	return strings.Join(parts, ", ")
}
