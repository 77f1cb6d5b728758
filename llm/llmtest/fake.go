// Package llmtest holds protocol-faithful fake LLM servers and the one
// conformance suite every llm/driver implementation passes.
//
// The fakes (NewOpenAIServer, NewAnthropicServer) are httptest servers that
// speak the providers' wire protocols as the providers do — Server-Sent
// Events framed and ordered as the real APIs send them, error bodies in each
// provider's JSON shape with the real status codes, rate-limit headers — so
// a driver that passes against them talks to the real service the same way.
// They are scriptable (Enqueue replies, errors, delays, dropped connections)
// and record every request they receive (Calls), so tests can assert exactly
// what reached the provider, for example that no raw PII did.
package llmtest

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/fnv"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sextant-ai/sextant"
)

// Reply scripts one response of a fake server. The zero Reply answers with
// an echo of the last user message (see Server.Enqueue).
//
// A streamed reply sends Text piece by piece, then ToolCalls as fragments,
// then ends in exactly one of these ways: normally (finish reason, usage,
// end-of-stream marker), with an in-stream error event (StreamError), by
// dropping the connection (Disconnect), by ending the body cleanly without
// the end-of-stream marker (Truncate), or by waiting for the client to give
// up (Hang).
type Reply struct {
	Text      []string           // text pieces, one streamed delta each
	ToolCalls []sextant.ToolCall // calls, streamed as id/name then argument fragments
	Finish    string             // sextant.Finish*; default FinishToolCalls with calls, else FinishStop
	Usage     *sextant.Usage     // reported usage; nil = counted from the request (words) and reply (pieces)
	NoUsage   bool               // report no usage at all

	// An error reply: Status >= 400 answers with the provider's error JSON.
	Status     int
	ErrType    string      // provider error type/code; default chosen from Status
	ErrMessage string      // default chosen from Status
	Header     http.Header // extra response headers, e.g. Retry-After

	StreamError string        // after Text, send an in-stream error event of this provider error type
	Disconnect  bool          // after Text, drop the TCP connection mid-body
	Truncate    bool          // after Text, end the body without the end-of-stream marker
	Hang        bool          // after Text, wait until the client goes away
	Delay       time.Duration // wait before the response headers (slow upstream)
	Gap         time.Duration // wait between streamed events

	Vectors [][]float32 // embeddings reply: vectors to return; nil = derived from each input
}

// Call is one request a fake received: the raw bytes plus a
// provider-neutral decoding for assertions.
type Call struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	Body   []byte

	Model        string
	Stream       bool
	IncludeUsage bool              // OpenAI stream_options.include_usage
	Messages     []sextant.Message // system prompt first (Anthropic's top-level system becomes RoleSystem messages)
	Tools        []sextant.Tool
	ToolChoice   string // "auto", "none", "required" or a tool name, as sent
	MaxTokens    int
	Temperature  *float64
	TopP         *float64
	Seed         *int64
	Stop         []string
	User         string
	Format       string // response format type, as sent

	Inputs     []string // embeddings input
	Dimensions int      // embeddings dimensions
	Encoding   string   // embeddings encoding_format
}

// Server is a fake provider. Create it with NewOpenAIServer or
// NewAnthropicServer; it is closed when the test ends.
type Server struct {
	// URL is the base URL to configure the provider's SDK with: for OpenAI
	// it ends in /v1 (like https://api.openai.com/v1), for Anthropic it is
	// the host root (like https://api.anthropic.com).
	URL string

	// APIKey, when set, is required on every request (401 otherwise).
	APIKey string
	// Models, when set, lists the models that exist (404 otherwise).
	Models []string
	// EmbedDims is the size of derived embedding vectors when the request
	// names no dimensions; 0 = 8.
	EmbedDims int
	// Now stamps responses; nil = time.Now.
	Now func() time.Time

	provider string
	srv      *httptest.Server

	mu       sync.Mutex
	replies  []Reply
	calls    []Call
	canceled chan struct{}
	seq      int
}

func newServer(t testing.TB, provider string, h func(*Server) http.Handler) *Server {
	s := &Server{provider: provider, canceled: make(chan struct{}, 1024)}
	s.srv = httptest.NewServer(h(s))
	t.Cleanup(s.Close)
	return s
}

// Close shuts the server down, interrupting open streams.
func (s *Server) Close() {
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Client returns an HTTP client for the server's connections.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Enqueue adds replies, served in order to the following requests (any
// endpoint). When the queue is empty a request gets the default reply: chat
// echoes "echo: " and the last user message, word by word; embeddings are
// derived from each input.
func (s *Server) Enqueue(r ...Reply) {
	s.mu.Lock()
	s.replies = append(s.replies, r...)
	s.mu.Unlock()
}

// Calls returns the requests received so far, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Canceled is signalled once for each response whose client went away
// before the server finished sending it.
func (s *Server) Canceled() <-chan struct{} { return s.canceled }

func (s *Server) next() (Reply, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.replies) == 0 {
		return Reply{}, false
	}
	r := s.replies[0]
	s.replies = s.replies[1:]
	return r, true
}

func (s *Server) record(c Call) {
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.mu.Unlock()
}

func (s *Server) id(prefix string) string {
	s.mu.Lock()
	s.seq++
	n := s.seq
	s.mu.Unlock()
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789"
	var b strings.Builder
	b.WriteString(prefix)
	x := uint64(n)*0x9E3779B97F4A7C15 + 12345
	for range 24 {
		b.WriteByte(alphabet[x%uint64(len(alphabet))])
		x = x*6364136223846793005 + 1442695040888963407
	}
	return b.String()
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// readCall reads the body of r into a Call with the raw fields set.
func readCall(r *http.Request) (Call, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	if err != nil {
		return Call{}, err
	}
	return Call{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body}, nil
}

// stream writes events with flushes and watches for the client going away.
type stream struct {
	w   http.ResponseWriter
	r   *http.Request
	rc  *http.ResponseController
	gap time.Duration
	s   *Server
}

// write sends one event; false means the client is gone (and was counted).
func (st *stream) write(b []byte) bool {
	if st.gap > 0 {
		t := time.NewTimer(st.gap)
		select {
		case <-st.r.Context().Done():
			t.Stop()
			st.s.canceled <- struct{}{}
			return false
		case <-t.C:
		}
	}
	if st.r.Context().Err() != nil {
		st.s.canceled <- struct{}{}
		return false
	}
	if _, err := st.w.Write(b); err != nil {
		st.s.canceled <- struct{}{}
		return false
	}
	if err := st.rc.Flush(); err != nil {
		st.s.canceled <- struct{}{}
		return false
	}
	return true
}

// disconnect drops the connection without finishing the chunked body, as a
// crashing upstream or a cut network would.
func (st *stream) disconnect() {
	conn, _, err := st.rc.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

// hang waits until the client goes away or a minute passes.
func (st *stream) hang() {
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	select {
	case <-st.r.Context().Done():
		st.s.canceled <- struct{}{}
	case <-t.C:
	}
}

// wait sleeps d unless the client goes away first; false means it went away.
func (s *Server) wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-r.Context().Done():
		s.canceled <- struct{}{}
		return false
	case <-t.C:
		return true
	}
}

// echo is the default chat reply for a conversation.
func echo(msgs []sextant.Message) Reply {
	last := ""
	for _, m := range msgs {
		if m.Role == sextant.RoleUser {
			last = m.Content
		}
	}
	words := strings.Fields(last)
	text := []string{"echo:"}
	for _, w := range words {
		text = append(text, " "+w)
	}
	return Reply{Text: text}
}

// usageFor is the usage a reply reports.
func usageFor(rep *Reply, msgs []sextant.Message) sextant.Usage {
	if rep.Usage != nil {
		return *rep.Usage
	}
	in := 0
	for _, m := range msgs {
		in += len(strings.Fields(m.Content)) + 3
	}
	return sextant.Usage{InputTokens: in, OutputTokens: len(rep.Text) + len(rep.ToolCalls)}
}

func finishFor(rep *Reply) string {
	switch {
	case rep.Finish != "":
		return rep.Finish
	case len(rep.ToolCalls) > 0:
		return sextant.FinishToolCalls
	}
	return sextant.FinishStop
}

// vector derives a deterministic unit vector of n dimensions from text.
func vector(text string, n int) []float32 {
	v := make([]float32, n)
	h := fnv.New64a()
	var norm float64
	var buf [8]byte
	for i := range v {
		h.Reset()
		binary.LittleEndian.PutUint64(buf[:], uint64(i))
		h.Write(buf[:])
		h.Write([]byte(text))
		x := float64(h.Sum64()%2000)/1000 - 1
		v[i] = float32(x)
		norm += x * x
	}
	if norm == 0 {
		v[0], norm = 1, 1
	}
	inv := 1 / math.Sqrt(norm)
	for i := range v {
		v[i] = float32(float64(v[i]) * inv)
	}
	return v
}

// splitArgs cuts JSON arguments into fragments the way providers stream
// them: a few bytes at a time, splitting inside strings and keys.
func splitArgs(args string) []string {
	var out []string
	const step = 7
	for len(args) > step {
		out = append(out, args[:step])
		args = args[step:]
	}
	if args != "" {
		out = append(out, args)
	}
	return out
}

func bearer(r *http.Request) string {
	a := r.Header.Get("Authorization")
	if k, ok := strings.CutPrefix(a, "Bearer "); ok {
		return k
	}
	return ""
}

// obj is a JSON object that keeps its keys in the order written, so the
// fakes' bodies read like the providers' (maps would sort the keys).
type obj []kv

type kv struct {
	k string
	v any
}

func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(f.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
