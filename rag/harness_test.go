package rag_test

import (
	"context"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/ingest"
	"github.com/sextant-ai/sextant/llm"
	"github.com/sextant-ai/sextant/llm/driver"
	"github.com/sextant-ai/sextant/llm/extractive"
	"github.com/sextant-ai/sextant/rag"
	"github.com/sextant-ai/sextant/search"
	"github.com/sextant-ai/sextant/sqlite"
)

// world is a data directory with the fixture documents ingested, its index,
// and a pipeline over them answering with the extractive generator.
type world struct {
	dir   string
	docs  string // a writable copy of testdata/docs
	db    *sqlite.DB
	index *search.Index
	model *llm.Model
	p     *rag.Pipeline
}

func newWorld(t *testing.T, tweak func(*rag.Options)) *world { return newWorldTB(t, tweak) }

func newWorldB(b *testing.B) *world { return newWorldTB(b, nil) }

func newWorldTB(t testing.TB, tweak func(*rag.Options)) *world {
	t.Helper()
	ctx := t.Context()
	w := &world{dir: t.TempDir()}
	w.docs = filepath.Join(w.dir, "docs")
	if err := os.CopyFS(w.docs, os.DirFS("testdata/docs")); err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(w.dir, "data"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	w.db = db
	w.ingest(t)
	if w.index, err = search.Open(ctx, db, search.Options{}); err != nil {
		t.Fatal(err)
	}
	w.model, err = llm.New(llm.Options{Providers: map[string]driver.Provider{"extractive": extractive.New(extractive.Options{})}})
	if err != nil {
		t.Fatal(err)
	}
	opts := rag.Options{
		Retriever:  w.index,
		Model:      w.model,
		Store:      db,
		Assistants: []rag.Assistant{{Name: "sextant", Model: "extractive", ContextWindow: -1}},
	}
	if tweak != nil {
		tweak(&opts)
	}
	if w.p, err = rag.New(opts); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) ingest(t testing.TB) {
	t.Helper()
	sum, err := ingest.Run(t.Context(), []string{w.docs}, ingest.Options{Prune: true}, w.db)
	if err != nil || sum.Failed > 0 {
		t.Fatalf("ingest: %v (%+v)", err, sum)
	}
	if w.index != nil {
		if err := w.index.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

func (w *world) edit(t *testing.T, name, old, new string) {
	t.Helper()
	p := filepath.Join(w.docs, name)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s has no %q", name, old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	w.ingest(t)
}

func ask(t *testing.T, p *rag.Pipeline, req *rag.Request) *rag.Result {
	t.Helper()
	res, err := p.Ask(t.Context(), req)
	if err != nil {
		t.Fatalf("Ask(%q): %v", req.Question, err)
	}
	return res
}

// script is a Generator that answers with fixed deltas and records the
// requests it got.
type script struct {
	mu     sync.Mutex
	deltas []sextant.Delta
	err    error
	reqs   []*llm.Request
}

func (s *script) StreamCall(ctx context.Context, req *llm.Request, call *llm.Call) iter.Seq2[sextant.Delta, error] {
	return func(yield func(sextant.Delta, error) bool) {
		s.mu.Lock()
		s.reqs = append(s.reqs, req)
		ds, err := s.deltas, s.err
		s.mu.Unlock()
		if call != nil {
			call.Target = llm.Target{Provider: "script", Model: req.Model}
		}
		for _, d := range ds {
			if !yield(d, nil) {
				return
			}
		}
		if err != nil {
			yield(sextant.Delta{}, err)
		}
	}
}

func (s *script) last() *llm.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reqs[len(s.reqs)-1]
}

// says scripts text in pieces of n bytes, then a stop.
func says(text string, n int) []sextant.Delta {
	var out []sextant.Delta
	for i := 0; i < len(text); i += n {
		out = append(out, sextant.Delta{Text: text[i:min(len(text), i+n)]})
	}
	return append(out, sextant.Delta{FinishReason: sextant.FinishStop, Usage: &sextant.Usage{InputTokens: 10, OutputTokens: 5}})
}

// hits is a fixed Retriever.
type hits []sextant.Hit

func (h hits) Search(_ context.Context, q sextant.Query) ([]sextant.Hit, error) {
	k := q.K
	if k == 0 || k > len(h) {
		k = len(h)
	}
	return h[:k], nil
}

func hit(doc, text string, start int) sextant.Hit {
	return sextant.Hit{
		Chunk:    sextant.Chunk{ID: doc + "#0", DocumentID: doc, Text: text, Start: start, End: start + len(text), Section: []string{"Sec"}},
		Document: sextant.Document{ID: doc, Title: "Title " + doc, Source: "file:///" + doc + ".md"},
		Score:    1,
	}
}
