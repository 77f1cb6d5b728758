package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/rag"
	"github.com/sextant-ai/sextant/web"
)

// remoteAsk is a question for a running server (sextant ask --server).
type remoteAsk struct {
	server, apiKey string
	req            web.AskRequest
	asJSON         bool
}

// askServer asks a running server through POST /v1/ask and prints the
// answer as the local ask does: streamed text, then the numbered sources
// (or, with --json, the server's answer object).
func askServer(ctx context.Context, e *env, q remoteAsk) error {
	base, err := url.Parse(strings.TrimRight(q.server, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return usageErrorf("ask: --server %q: want the server's URL, e.g. http://localhost:8080", q.server)
	}
	base.Path = strings.TrimSuffix(base.Path, "/v1")
	q.req.Stream = !q.asJSON
	body, err := json.Marshal(q.req)
	if err != nil {
		return err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, base.String()+"/v1/ask", bytes.NewReader(body))
	if err != nil {
		return err
	}
	hr.Header.Set("Content-Type", "application/json")
	if q.apiKey != "" {
		hr.Header.Set("Authorization", "Bearer "+q.apiKey)
	}
	start := time.Now()
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		return fmt.Errorf("ask: %s: %w", base.Host, err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusUnauthorized && q.apiKey == "" {
		return fmt.Errorf("%w; set SEXTANT_API_KEY or pass --api-key", remoteError(res))
	}
	if res.StatusCode != http.StatusOK {
		return remoteError(res)
	}
	if q.asJSON {
		var a json.RawMessage
		if err := json.NewDecoder(res.Body).Decode(&a); err != nil {
			return fmt.Errorf("ask: reading the answer: %w", err)
		}
		var out bytes.Buffer
		json.Indent(&out, a, "", "  ")
		out.WriteByte('\n')
		_, err := e.stdout.Write(out.Bytes())
		return err
	}
	ans, streamed, err := readAskStream(res.Body, e.stdout)
	if err != nil {
		return err
	}
	if streamed {
		fmt.Fprintln(e.stdout)
	}
	writeSources(e.stdout, resultOf(ans), isTerminal(e.stdout), time.Since(start))
	return nil
}

// remoteError turns an error response into an error naming the server's
// message and code.
func remoteError(res *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	var eb web.ErrorBody
	if json.Unmarshal(b, &eb) == nil && eb.Error.Message != "" {
		code, _ := eb.Error.Code.(string)
		return &sextant.Error{Code: codeOfStatus(res.StatusCode), Message: fmt.Sprintf("server: %s (%d %s)", eb.Error.Message, res.StatusCode, code)}
	}
	return fmt.Errorf("ask: server answered %s: %.200s", res.Status, b)
}

// codeOfStatus maps an HTTP status back to the sextant code the server's
// error table gave it.
func codeOfStatus(status int) string {
	for _, code := range []string{sextant.EINVALID, sextant.ENOTFOUND, sextant.ECONFLICT, sextant.EUNAUTHORIZED,
		sextant.EFORBIDDEN, sextant.ERATELIMIT, sextant.EUNAVAILABLE} {
		if web.StatusOf(sextant.Errorf(code, "")) == status {
			return code
		}
	}
	return sextant.EINTERNAL
}

// readAskStream prints the deltas of a /v1/ask event stream to w and
// returns the final answer.
func readAskStream(r io.Reader, w io.Writer) (*web.Answer, bool, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var event string
	streamed := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = line[len("event: "):]
			continue
		case !strings.HasPrefix(line, "data: "):
			continue
		}
		data := []byte(line[len("data: "):])
		switch event {
		case web.EventDelta:
			var d web.DeltaEvent
			if err := json.Unmarshal(data, &d); err != nil {
				return nil, streamed, fmt.Errorf("ask: bad delta event: %w", err)
			}
			io.WriteString(w, d.Text)
			streamed = true
		case web.EventError:
			var eb web.ErrorBody
			json.Unmarshal(data, &eb)
			return nil, streamed, fmt.Errorf("ask: the server failed mid-answer: %s", eb.Error.Message)
		case web.EventDone:
			var a web.Answer
			if err := json.Unmarshal(data, &a); err != nil {
				return nil, streamed, fmt.Errorf("ask: bad answer event: %w", err)
			}
			return &a, streamed, nil
		}
	}
	if err := sc.Err(); err != nil {
		return nil, streamed, fmt.Errorf("ask: reading the answer stream: %w", err)
	}
	return nil, streamed, errors.New("ask: the answer stream ended without an answer")
}

// resultOf rebuilds enough of a pipeline result from the server's answer
// for writeSources.
func resultOf(a *web.Answer) *rag.Result {
	r := &rag.Result{}
	r.ID, r.SessionID, r.Turn, r.Assistant = a.ID, a.SessionID, a.Turn, a.Assistant
	r.Text, r.Refusal, r.Cache, r.Served, r.Model = a.Answer, a.Refusal, a.Cache, a.Served, a.Model
	r.Usage = sextant.Usage{InputTokens: a.Usage.InputTokens, CachedInputTokens: a.Usage.CachedInputTokens,
		OutputTokens: a.Usage.OutputTokens, Estimated: a.Usage.Estimated}
	for _, s := range a.Sources {
		r.Sources = append(r.Sources, sextant.Source{N: s.N, ChunkID: s.ChunkID, DocumentID: s.DocumentID, Title: s.Title,
			URI: s.URI, Section: s.Section, Start: s.Start, End: s.End, Quote: s.Quote, Score: s.Score})
	}
	for _, s := range a.Sentences {
		r.Sentences = append(r.Sentences, sextant.AnswerSentence{Start: s.Start, End: s.End, Text: s.Text,
			Citations: s.Citations, Supported: s.Supported, Support: s.Support})
	}
	for _, t := range a.Timings {
		r.Timings = append(r.Timings, sextant.StageTiming{Stage: t.Stage, Duration: time.Duration(t.MS * float64(time.Millisecond))})
	}
	return r
}
