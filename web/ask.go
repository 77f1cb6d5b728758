package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/rag"
	"github.com/sextant-ai/sextant/telemetry"
)

// AskRequest is the body of POST /v1/ask.
type AskRequest struct {
	Question    string   `json:"question"`
	Assistant   string   `json:"assistant,omitempty"`
	Filters     *Filter  `json:"filters,omitempty"`
	SessionID   string   `json:"session_id,omitempty"`
	Stream      bool     `json:"stream,omitempty"`
	K           int      `json:"k,omitempty"`
	MaxTokens   int      `json:"max_tokens,omitempty"`
	Temperature *float64 `json:"temperature,omitempty"`
	Seed        *int64   `json:"seed,omitempty"`
	NoCache     bool     `json:"no_cache,omitempty"`
}

// Event names of the /v1/ask stream.
const (
	EventStage   = "stage"   // {"stage": "retrieve", "ms": 0.41}
	EventSources = "sources" // {"sources": [Source...]} before generation
	EventDelta   = "delta"   // {"text": "..."}: the next piece of the answer
	EventDone    = "done"    // the Answer; the last event
	EventError   = "error"   // {"error": {...}}: the stream failed; the last event
)

// StageEvent, SourcesEvent and DeltaEvent are the data of the /v1/ask
// stream's events of the same names.
type (
	StageEvent struct {
		Stage string  `json:"stage"`
		MS    float64 `json:"ms"`
	}
	SourcesEvent struct {
		Sources []Source `json:"sources"`
	}
	DeltaEvent struct {
		Text string `json:"text"`
	}
)

func (s *Server) ask(w http.ResponseWriter, r *http.Request) {
	start := s.opts.Now()
	if s.opts.Pipeline == nil {
		writeError(w, sextant.Errorf(sextant.EUNAVAILABLE, "no answer pipeline is configured"))
		return
	}
	var in AskRequest
	if err := s.readJSON(w, r, &in); err != nil {
		writeError(w, err)
		return
	}
	if strings.TrimSpace(in.Question) == "" {
		writeError(w, invalidParam("question", "required"))
		return
	}
	if in.K < 0 || in.K > 1000 {
		writeError(w, invalidParam("k", "want 1..1000, got %d", in.K))
		return
	}
	if in.MaxTokens < 0 {
		writeError(w, invalidParam("max_tokens", "must not be negative, got %d", in.MaxTokens))
		return
	}
	f, err := in.Filters.filter("filters")
	if err != nil {
		writeError(w, err)
		return
	}
	req := &rag.Request{Principal: principal(r), Assistant: in.Assistant, Question: in.Question, SessionID: in.SessionID,
		Filter: f, K: in.K, MaxTokens: in.MaxTokens, Temperature: in.Temperature, Seed: in.Seed, NoCache: in.NoCache}
	if !in.Stream {
		res, err := s.opts.Pipeline.Ask(r.Context(), req)
		if err != nil {
			writeError(w, err)
			s.recordUsage(r, in.Assistant, "", nil, false)
			return
		}
		writeJSON(w, http.StatusOK, answerJSON(res, s.opts.Now().Sub(start)))
		s.recordUsage(r, res.Assistant, res.Model, res, true)
		return
	}
	out := newSSE(w)
	var res *rag.Result
	for ev, err := range s.opts.Pipeline.Stream(r.Context(), req) {
		if err != nil {
			if !out.started {
				writeError(w, err)
			} else {
				_, d := errorDetail(err)
				out.data(EventError, ErrorBody{Error: d})
			}
			s.recordUsage(r, in.Assistant, "", nil, false)
			return
		}
		ok := true
		switch ev.Type {
		case rag.EventStage:
			ok = out.data(EventStage, StageEvent{Stage: ev.Stage.Stage, MS: ms(ev.Stage.Duration)})
		case rag.EventSources:
			ok = out.data(EventSources, SourcesEvent{Sources: sourcesJSON(ev.Sources)})
		case rag.EventDelta:
			ok = out.data(EventDelta, DeltaEvent{Text: ev.Text})
			telemetry.RequestFrom(r.Context()).MarkFirstToken()
		case rag.EventDone:
			res = ev.Result
		}
		if !ok {
			return // the client went away: ending the range cancels the pipeline
		}
	}
	if res == nil {
		return
	}
	out.data(EventDone, answerJSON(res, time.Since(start)))
	s.recordUsage(r, res.Assistant, res.Model, res, true)
}
