package web

import (
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/rag"
)

// Answer is the JSON form of an answer: the body of POST /v1/ask and the
// data of its stream's "done" event.
type Answer struct {
	ID           string             `json:"id"`
	SessionID    string             `json:"session_id,omitempty"`
	Turn         int                `json:"turn,omitempty"`
	Assistant    string             `json:"assistant"`
	Question     string             `json:"question"`
	Query        string             `json:"query"`
	Answer       string             `json:"answer"`
	FinishReason string             `json:"finish_reason"`
	Refusal      string             `json:"refusal,omitempty"`
	Sources      []Source           `json:"sources"`
	Sentences    []Sentence         `json:"sentences"`
	Citations    []Citation         `json:"citations"`
	Dropped      int                `json:"dropped_citations"`
	Supported    int                `json:"supported_sentences"`
	Model        string             `json:"model"`
	Served       string             `json:"served"`
	Template     string             `json:"template"`
	TemplateHash string             `json:"template_hash"`
	Usage        Usage              `json:"usage"`
	Cache        string             `json:"cache,omitempty"`
	Timings      []Timing           `json:"timings"`
	TimingsMS    map[string]float64 `json:"timings_ms"`
	OverheadMS   float64            `json:"overhead_ms"` // pipeline time outside the models
	TookMS       float64            `json:"took_ms"`     // the whole request, as the server measured it
	// Approval is set when the question or the model's tool calls wait
	// for a person's approval (approvals.go).
	Approval *ApprovalStatus `json:"approval,omitempty"`
}

// Source is one numbered source of an answer: where the cited text is
// (document, title, URI, section, byte offsets in the document text) and
// the span that supports the sentence citing it.
type Source struct {
	N          int     `json:"n"`
	ChunkID    string  `json:"chunk_id"`
	DocumentID string  `json:"document_id"`
	Title      string  `json:"title"`
	URI        string  `json:"uri"`
	Section    string  `json:"section,omitempty"`
	Start      int     `json:"start"`
	End        int     `json:"end"`
	Quote      string  `json:"quote,omitempty"`
	Score      float64 `json:"score"`
}

// Sentence is one sentence of an answer with its citations and support.
type Sentence struct {
	Text      string     `json:"text"`
	Start     int        `json:"start"`
	End       int        `json:"end"`
	Citations []int      `json:"citations"`
	Supported bool       `json:"supported"`
	Support   float64    `json:"support"`
	Evidence  []Evidence `json:"evidence,omitempty"`
}

// Evidence is the span of a cited source that best supports a sentence;
// Start and End are byte offsets in the document text.
type Evidence struct {
	N     int     `json:"n"`
	Score float64 `json:"score"`
	Start int     `json:"start"`
	End   int     `json:"end"`
	Quote string  `json:"quote"`
}

// Citation is one [n] marker of the answer text.
type Citation struct {
	Start   int   `json:"start"`
	End     int   `json:"end"`
	Sources []int `json:"sources"`
	Valid   bool  `json:"valid"`
}

// Usage counts an answer's tokens.
type Usage struct {
	InputTokens       int  `json:"input_tokens"`
	CachedInputTokens int  `json:"cached_input_tokens"`
	OutputTokens      int  `json:"output_tokens"`
	Estimated         bool `json:"estimated"`
}

// Timing is one pipeline stage's duration.
type Timing struct {
	Stage string  `json:"stage"`
	MS    float64 `json:"ms"`
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

func sourcesJSON(in []sextant.Source) []Source {
	out := make([]Source, 0, len(in))
	for _, s := range in {
		out = append(out, Source{N: s.N, ChunkID: s.ChunkID, DocumentID: s.DocumentID, Title: s.Title, URI: s.URI,
			Section: s.Section, Start: s.Start, End: s.End, Quote: s.Quote, Score: s.Score})
	}
	return out
}

// NewAnswer renders a pipeline result as the API does: the command line's
// --json output uses it so both print the same object.
func NewAnswer(res *rag.Result, took time.Duration) *Answer { return answerJSON(res, took) }

// answerJSON renders a pipeline result.
func answerJSON(res *rag.Result, took time.Duration) *Answer {
	a := &Answer{ID: res.ID, SessionID: res.SessionID, Turn: res.Turn, Assistant: res.Assistant, Question: res.Question,
		Query: res.Query, Answer: res.Text, FinishReason: res.FinishReason, Refusal: res.Refusal, Dropped: res.DroppedCitations,
		Model: res.Model, Served: res.Served, Template: res.Template, TemplateHash: res.TemplateHash, Cache: res.Cache,
		Usage:   Usage{res.Usage.InputTokens, res.Usage.CachedInputTokens, res.Usage.OutputTokens, res.Usage.Estimated},
		Sources: sourcesJSON(res.Sources), Sentences: []Sentence{}, Citations: []Citation{}, Timings: []Timing{},
		TimingsMS: map[string]float64{}, OverheadMS: ms(res.Overhead()), TookMS: ms(took), Approval: approvalStatus(res.Approvals)}
	a.Supported, _ = res.Supported()
	for _, s := range res.Sentences {
		js := Sentence{Text: s.Text, Start: s.Start, End: s.End, Citations: s.Citations, Supported: s.Supported, Support: s.Support}
		if js.Citations == nil {
			js.Citations = []int{}
		}
		for _, ev := range s.Evidence {
			js.Evidence = append(js.Evidence, Evidence(ev))
		}
		a.Sentences = append(a.Sentences, js)
	}
	for _, c := range res.Citations {
		a.Citations = append(a.Citations, Citation{c.Start, c.End, c.Sources, c.Valid})
	}
	for _, t := range res.Timings {
		a.Timings = append(a.Timings, Timing{t.Stage, ms(t.Duration)})
		a.TimingsMS[t.Stage] += ms(t.Duration)
	}
	return a
}
