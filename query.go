package sextant

import (
	"context"
	"slices"
	"time"
)

// StaleFilter selects documents by TTL state.
type StaleFilter int

const (
	StaleAny     StaleFilter = iota // stale and fresh documents
	StaleExclude                    // only documents within their TTL (or without one)
	StaleOnly                       // only documents past their TTL
)

// Filter restricts which documents a search may return. The zero Filter
// matches every document. All set conditions must hold.
type Filter struct {
	Tenant        string              // documents of this tenant only ("" = the default tenant)
	Collections   []string            // any of these collections; empty = all
	DocumentIDs   []string            // any of these documents; empty = all
	Equals        map[string]string   // metadata key == value, for every entry
	In            map[string][]string // metadata key ∈ set, for every entry
	UpdatedAfter  time.Time           // UpdatedAt >= this, when set
	UpdatedBefore time.Time           // UpdatedAt < this, when set
	Stale         StaleFilter

	// Groups, when non-nil, is the caller's access groups: a document is
	// visible only if its Labels are empty or share an element with Groups.
	// nil means no access restriction (trusted local use); an empty non-nil
	// slice means a caller who may read unlabelled documents only.
	Groups []string
}

// Match reports whether d passes every condition of f at time now. It is the
// reference definition of filter semantics; indexes may compile filters
// differently but must agree with Match.
func (f *Filter) Match(d *Document, now time.Time) bool {
	if d.Tenant != f.Tenant {
		return false
	}
	if len(f.Collections) > 0 && !slices.Contains(f.Collections, collectionOf(d)) {
		return false
	}
	if len(f.DocumentIDs) > 0 && !slices.Contains(f.DocumentIDs, d.ID) {
		return false
	}
	for k, v := range f.Equals {
		if got, ok := d.Metadata[k]; !ok || got != v {
			return false
		}
	}
	for k, set := range f.In {
		if got, ok := d.Metadata[k]; !ok || !slices.Contains(set, got) {
			return false
		}
	}
	if !f.UpdatedAfter.IsZero() && d.UpdatedAt.Before(f.UpdatedAfter) {
		return false
	}
	if !f.UpdatedBefore.IsZero() && !d.UpdatedAt.Before(f.UpdatedBefore) {
		return false
	}
	switch f.Stale {
	case StaleExclude:
		if d.Stale(now) {
			return false
		}
	case StaleOnly:
		if !d.Stale(now) {
			return false
		}
	}
	return f.Readable(d.Labels)
}

// Readable reports whether a document with the given access labels is
// visible to the caller described by f.Groups.
func (f *Filter) Readable(labels []string) bool {
	if f.Groups == nil || len(labels) == 0 {
		return true
	}
	for _, l := range labels {
		if slices.Contains(f.Groups, l) {
			return true
		}
	}
	return false
}

// IsZero reports whether f restricts nothing.
func (f *Filter) IsZero() bool {
	return f.Tenant == "" && len(f.Collections) == 0 && len(f.DocumentIDs) == 0 &&
		len(f.Equals) == 0 && len(f.In) == 0 && f.UpdatedAfter.IsZero() &&
		f.UpdatedBefore.IsZero() && f.Stale == StaleAny && f.Groups == nil
}

func collectionOf(d *Document) string {
	if d.Collection == "" {
		return DefaultCollection
	}
	return d.Collection
}

// SearchMode selects the retrieval method.
type SearchMode string

const (
	ModeAuto    SearchMode = ""        // hybrid when vectors exist, else lexical
	ModeLexical SearchMode = "lexical" // BM25 only
	ModeVector  SearchMode = "vector"  // dense only
	ModeHybrid  SearchMode = "hybrid"  // both, fused
)

// Query is one retrieval request.
type Query struct {
	Text   string     // the query text, as the user wrote it
	K      int        // results wanted; 0 means 10
	Filter Filter     // applied inside the search, not after it
	Mode   SearchMode // retrieval method
	Vector []float32  // optional precomputed query embedding
}

// Validate reports the first thing wrong with q, as an EINVALID *Error.
func (q *Query) Validate() error {
	switch {
	case q.K < 0:
		return Errorf(EINVALID, "k must be positive, got %d", q.K)
	case q.K > 10000:
		return Errorf(EINVALID, "k must be at most 10000, got %d", q.K)
	}
	switch q.Mode {
	case ModeAuto, ModeLexical, ModeVector, ModeHybrid:
	default:
		return Errorf(EINVALID, "unknown search mode %q (want lexical, vector or hybrid)", q.Mode)
	}
	return nil
}

// Hit is one ranked search result.
type Hit struct {
	Chunk    Chunk
	Document Document           // the chunk's document, without Text
	Score    float64            // final score; higher is better
	Scores   map[string]float64 // per-stage scores, e.g. "bm25", "vector", "rerank"
	Snippet  string             // excerpt with matched terms marked «like this»
}

// EmbedFunc turns texts into vectors, one per text, in order.
type EmbedFunc func(ctx context.Context, texts []string) ([][]float32, error)
