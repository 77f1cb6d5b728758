package web

import (
	"net/http"
	"strings"

	"github.com/sextant-ai/sextant"
)

// SearchRequest is the body of POST /v1/search.
type SearchRequest struct {
	Query   string  `json:"query"`
	K       int     `json:"k,omitempty"`    // results; 0 = 10
	Mode    string  `json:"mode,omitempty"` // lexical (default when no vectors), vector, hybrid
	Filters *Filter `json:"filters,omitempty"`
}

// SearchHit is one search result.
type SearchHit struct {
	ChunkID    string             `json:"chunk_id"`
	DocumentID string             `json:"document_id"`
	Collection string             `json:"collection"`
	Title      string             `json:"title"`
	URI        string             `json:"uri"`
	Section    string             `json:"section,omitempty"`
	Start      int                `json:"start"`
	End        int                `json:"end"`
	Text       string             `json:"text"`
	Snippet    string             `json:"snippet"`
	Score      float64            `json:"score"`
	Scores     map[string]float64 `json:"scores,omitempty"`
	Metadata   map[string]string  `json:"metadata,omitempty"`
}

// SearchResponse is the answer of POST /v1/search.
type SearchResponse struct {
	Query  string      `json:"query"`
	Hits   []SearchHit `json:"hits"`
	TookMS float64     `json:"took_ms"`
}

func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	if s.opts.Retriever == nil {
		writeError(w, sextant.Errorf(sextant.EUNAVAILABLE, "no search index is configured"))
		return
	}
	var in SearchRequest
	if err := s.readJSON(w, r, &in); err != nil {
		writeError(w, err)
		return
	}
	if strings.TrimSpace(in.Query) == "" {
		writeError(w, invalidParam("query", "required"))
		return
	}
	if in.K < 0 || in.K > 1000 {
		writeError(w, invalidParam("k", "want 1..1000, got %d", in.K))
		return
	}
	f, err := in.Filters.filter("filters")
	if err != nil {
		writeError(w, err)
		return
	}
	p := principal(r)
	q := sextant.Query{Text: in.Query, K: in.K, Filter: p.Scope(f), Mode: sextant.SearchMode(in.Mode)}
	if err := q.Validate(); err != nil {
		writeError(w, invalidParam("mode", "%s", sextant.ErrorMessage(err)))
		return
	}
	start := s.opts.Now()
	hits, err := s.opts.Retriever.Search(r.Context(), q)
	if err != nil {
		writeError(w, err)
		return
	}
	out := SearchResponse{Query: in.Query, Hits: make([]SearchHit, 0, len(hits)), TookMS: ms(s.opts.Now().Sub(start))}
	for _, h := range hits {
		title := h.Document.Title
		if title == "" {
			title = h.Document.ID
		}
		coll := h.Document.Collection
		if coll == "" {
			coll = sextant.DefaultCollection
		}
		out.Hits = append(out.Hits, SearchHit{ChunkID: h.Chunk.ID, DocumentID: h.Chunk.DocumentID, Collection: coll, Title: title,
			URI: h.Document.Source, Section: sextant.SectionPath(h.Chunk.Section), Start: h.Chunk.Start, End: h.Chunk.End,
			Text: h.Chunk.Text, Snippet: h.Snippet, Score: h.Score, Scores: h.Scores, Metadata: h.Document.Metadata})
	}
	writeJSON(w, http.StatusOK, out)
}
