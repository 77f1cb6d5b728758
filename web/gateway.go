package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm/driver"
	"github.com/sextant-ai/sextant/telemetry"
)

// copyPool holds the buffers responses are relayed through.
var copyPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// tailPool holds the 4 KB rings gateway usage is read from: one per
// request was most of what accounting allocated on the gateway path.
var tailPool = sync.Pool{New: func() any { return new(tail) }}

// forward proxies body to the provider model routes to and relays the
// answer: status, the headers a client needs (content type, rate limits,
// Retry-After, OpenAI's processing headers) and the body as bytes, flushed
// as it arrives when it is an event stream. Nothing is decoded or
// re-encoded (a route that renames the model rewrites only that field,
// in llm.Model.Forward). The request context reaches the upstream, so a
// client that disconnects cancels the upstream call.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, path, model string, body []byte) {
	if s.opts.Model == nil {
		writeError(w, &apiError{err: sextant.Errorf(sextant.ENOTFOUND, "the model %q does not exist: it is not an assistant and no model providers are configured", model), param: "model", code: "model_not_found"})
		return
	}
	if model == "" {
		writeError(w, invalidParam("model", "required: name an assistant or a routed model"))
		return
	}
	h := http.Header{"Content-Type": {"application/json"}}
	if a := r.Header.Get("Accept"); a != "" {
		h["Accept"] = []string{a}
	}
	res, err := s.opts.Model.Forward(r.Context(), model, &driver.ForwardRequest{Method: http.MethodPost, Path: path, Header: h, Body: body})
	if err != nil {
		if sextant.ErrorCode(err) == sextant.ENOTFOUND && driver.Status(err) == 0 {
			err = &apiError{err: sextant.Errorf(sextant.ENOTFOUND, "the model %q does not exist: it is not an assistant and no route covers it", model), param: "model", code: "model_not_found"}
		}
		writeError(w, err)
		s.recordGateway(r, model, nil, false)
		return
	}
	defer res.Body.Close()
	out := w.Header()
	for k, vs := range res.Header {
		switch {
		case k == "Content-Type", k == "Content-Length", k == "Retry-After", k == "Retry-After-Ms", k == "Cache-Control",
			strings.HasPrefix(k, "X-Ratelimit-"), strings.HasPrefix(k, "Openai-"):
			out[k] = vs
		case k == "X-Request-Id":
			out["X-Upstream-Request-Id"] = vs
		}
	}
	stream := strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream")
	if stream {
		out.Del("Content-Length")
		out.Set("X-Accel-Buffering", "no")
	}
	w.WriteHeader(res.StatusCode)

	var tl *tail
	if s.opts.Usage != nil {
		tl = tailPool.Get().(*tail)
		tl.n, tl.pos = 0, 0
		defer tailPool.Put(tl)
	}
	bp := copyPool.Get().(*[]byte)
	defer copyPool.Put(bp)
	buf := *bp
	var rc *http.ResponseController
	if stream {
		rc = http.NewResponseController(w)
	}
	for {
		n, rerr := res.Body.Read(buf)
		if n > 0 {
			if tl != nil {
				tl.write(buf[:n])
			}
			if _, werr := w.Write(buf[:n]); werr != nil {
				return // the client went away; closing the body cancels the upstream
			}
			if stream {
				if rc.Flush() != nil {
					return
				}
				// The body is passed through unread: the first chunk the
				// upstream streamed stands for the first token.
				telemetry.RequestFrom(r.Context()).MarkFirstToken()
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if r.Context().Err() != nil {
				return
			}
			s.log.Warn("gateway: upstream failed mid-response", "model", model, "request_id", RequestID(r.Context()), "err", rerr)
			if !stream {
				// The status and part of the body are out: the only honest
				// signal left is a broken response.
				panic(http.ErrAbortHandler)
			}
			// An error event, as OpenAI sends one inside a stream: SDKs
			// raise it instead of ending the stream as if complete.
			b, _ := json.Marshal(ErrorBody{Error: ErrorDetail{Message: "the upstream connection failed mid-stream: " + errText(rerr),
				Type: "server_error", Code: "upstream_disconnected"}})
			w.Write(append(append([]byte("\ndata: "), b...), '\n', '\n'))
			http.NewResponseController(w).Flush()
			s.recordGateway(r, model, nil, false)
			return
		}
	}
	s.recordGateway(r, model, tl, res.StatusCode < 300)
}

func errText(err error) string {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "connection closed early"
	}
	return sextant.ErrorMessage(err)
}

// embeddings proxies POST /v1/embeddings to the model's provider.
func (s *Server) embeddings(w http.ResponseWriter, r *http.Request) {
	buf, err := s.jsonBody(w, r, true) // an empty body is reported as "not a JSON object"
	if err != nil {
		writeError(w, err)
		return
	}
	model, _, err := peekModel(buf.Bytes())
	if err != nil {
		writeError(w, invalidParam("", "the body is not a JSON object (%s)", jsonSyntaxHint(buf.Bytes())))
		return
	}
	if s.isAssistant(model) && model != "" {
		writeError(w, invalidParam("model", "%q is an assistant; embeddings need an embedding model", model))
		return
	}
	s.forward(w, r, "embeddings", model, buf.Bytes())
}

// models serves GET /v1/models: the assistants, then the routed models.
func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
		// Sextant extensions.
		Kind        string `json:"kind"` // "assistant" or "model"
		Description string `json:"description,omitempty"`
	}
	data := []model{}
	seen := map[string]bool{}
	if p := s.opts.Pipeline; p != nil {
		for _, a := range p.Assistants() {
			data = append(data, model{ID: a.Name, Object: "model", OwnedBy: "sextant", Kind: "assistant", Description: a.Description})
			seen[a.Name] = true
		}
	}
	var names []string
	switch {
	case s.opts.GatewayModels != nil:
		names = s.opts.GatewayModels()
	case s.opts.Model != nil:
		names = s.opts.Model.Models()
	}
	for _, n := range names {
		if !seen[n] {
			data = append(data, model{ID: n, Object: "model", OwnedBy: "gateway", Kind: "model"})
			seen[n] = true
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

// tail keeps the last bytes of a relayed body, where OpenAI puts usage
// (the end of a completion object; the last chunk before [DONE]).
type tail struct {
	buf [4096]byte
	n   int // bytes held (≤ len(buf)), at the end of buf's logical order
	pos int // next write position in the ring
}

func (t *tail) write(p []byte) {
	if len(p) >= len(t.buf) {
		copy(t.buf[:], p[len(p)-len(t.buf):])
		t.pos, t.n = 0, len(t.buf)
		return
	}
	k := copy(t.buf[t.pos:], p)
	if k < len(p) {
		copy(t.buf[:], p[k:])
	}
	t.pos = (t.pos + len(p)) % len(t.buf)
	t.n = min(len(t.buf), t.n+len(p))
}

func (t *tail) bytes() []byte {
	if t.n < len(t.buf) {
		return t.buf[:t.n]
	}
	out := make([]byte, 0, len(t.buf))
	return append(append(out, t.buf[t.pos:]...), t.buf[:t.pos]...)
}

// usage finds the last "usage" object in the tail and reads its counts.
func (t *tail) usage() (sextant.Usage, bool) {
	b := t.bytes()
	i := bytes.LastIndex(b, []byte(`"usage":{`))
	if i < 0 {
		i = bytes.LastIndex(b, []byte(`"usage": {`))
	}
	if i < 0 {
		return sextant.Usage{}, false
	}
	start := i + bytes.IndexByte(b[i:], '{')
	end := skipValue(b, start, 0)
	if end < 0 {
		return sextant.Usage{}, false
	}
	u, ok := decodeUsage(b[start:end])
	if !ok {
		return sextant.Usage{}, false
	}
	return sextant.Usage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens, CachedInputTokens: u.Details.CachedTokens}, true
}

// recordGateway hands a gateway request's usage record to Options.Usage.
// Usage is read from the response's tail; a stream without
// stream_options.include_usage reports none (recorded as zero tokens).
func (s *Server) recordGateway(r *http.Request, model string, tl *tail, ok bool) {
	if s.opts.Usage == nil {
		return
	}
	p := principal(r)
	rec := sextant.UsageRecord{RequestID: RequestID(r.Context()), Time: s.opts.Now(), Tenant: p.Tenant, Project: p.Project,
		Key: p.ID, User: p.User, Model: model, Success: ok}
	if p.ID == LocalPrincipal.ID {
		rec.Key = ""
	}
	if s.opts.Model != nil {
		if ts, err := s.opts.Model.Targets(model); err == nil && len(ts) > 0 {
			rec.Provider = ts[0].Provider
		}
	}
	if tl != nil {
		rec.Usage, _ = tl.usage()
	}
	s.opts.Usage(r.Context(), rec)
}
