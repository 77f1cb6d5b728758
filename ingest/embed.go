package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/sextant-ai/sextant"
)

// VectorStore is what embedding chunks needs of the store (sqlite.DB
// provides it).
type VectorStore interface {
	// PendingChunks returns up to limit chunks with no vector in space and
	// an id greater than after, in id order, with DocumentID set.
	PendingChunks(ctx context.Context, space sextant.EmbeddingSpace, after string, limit int) ([]sextant.Chunk, error)
	// CountPending returns how many chunks have no vector in space.
	CountPending(ctx context.Context, space sextant.EmbeddingSpace) (int64, error)
	// LookupDocuments returns the stored documents among ids, without Text.
	LookupDocuments(ctx context.Context, ids []string) (map[string]*sextant.Document, error)
	// PutChunkVectors stores chunk vectors in space (one transaction) and
	// returns how many chunks still existed to receive them.
	PutChunkVectors(ctx context.Context, space sextant.EmbeddingSpace, vecs []sextant.ChunkVector) (int, error)
}

// EmbedOptions configures EmbedChunks.
type EmbedOptions struct {
	// Space is the embedding space the vectors belong to (the embedder's
	// model and dimensions). Required.
	Space sextant.EmbeddingSpace
	// Embed turns texts into vectors (llm.Embedder.Embed: it batches,
	// bounds concurrency, retries and consults the embedding cache).
	// Required.
	Embed sextant.EmbedFunc
	// Group is how many chunks are embedded and then stored together; each
	// group is one Embed call (the embedder splits it into upstream
	// batches sent concurrently) and one store transaction, so an
	// interrupted run keeps every finished group. 0 = 512.
	Group int
	// Progress, when set, is called after each group and once at the end
	// with Done set.
	Progress func(EmbedProgress)
	Now      func() time.Time // nil = time.Now
}

// EmbedProgress is a snapshot of EmbedChunks.
type EmbedProgress struct {
	Done, Total int64 // chunks embedded so far, chunks pending at the start
	Finished    bool
}

// EmbedSummary is what EmbedChunks did.
type EmbedSummary struct {
	Pending  int64         `json:"pending"`  // chunks without a vector at the start
	Embedded int64         `json:"embedded"` // chunks given a vector
	Skipped  int64         `json:"skipped"`  // chunks gone from the store before their vector was stored
	Duration time.Duration `json:"duration_ns"`
}

// EmbedChunks gives every chunk of the store that has no vector in
// opts.Space one: it reads the pending chunks in groups, embeds each
// chunk's EmbedText, and stores the vectors. Progress lives in the store
// (a chunk with a vector is done), so a run that is interrupted — a
// cancelled context, a failing embedder, a killed process — loses at most
// the group in flight, and running it again continues where it stopped.
// The first error stops the run and is returned with what was done.
func EmbedChunks(ctx context.Context, store VectorStore, opts EmbedOptions) (EmbedSummary, error) {
	if err := opts.Space.Validate(); err != nil {
		return EmbedSummary{}, err
	}
	if opts.Embed == nil {
		return EmbedSummary{}, sextant.Errorf(sextant.EINVALID, "embed chunks: no embedder")
	}
	if opts.Group <= 0 {
		opts.Group = 512
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	start := now()
	var sum EmbedSummary
	defer func() { sum.Duration = now().Sub(start) }()
	total, err := store.CountPending(ctx, opts.Space)
	if err != nil {
		return sum, fmt.Errorf("embed chunks: %w", err)
	}
	sum.Pending = total
	report := func(done bool) {
		if opts.Progress != nil {
			opts.Progress(EmbedProgress{Done: sum.Embedded + sum.Skipped, Total: total, Finished: done})
		}
	}
	defer report(true)
	after := ""
	for {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		chunks, err := store.PendingChunks(ctx, opts.Space, after, opts.Group)
		if err != nil {
			return sum, fmt.Errorf("embed chunks: %w", err)
		}
		if len(chunks) == 0 {
			return sum, nil
		}
		after = chunks[len(chunks)-1].ID
		ids := make([]string, 0, len(chunks))
		for i := range chunks {
			if i == 0 || chunks[i].DocumentID != chunks[i-1].DocumentID {
				ids = append(ids, chunks[i].DocumentID)
			}
		}
		docs, err := store.LookupDocuments(ctx, ids)
		if err != nil {
			return sum, fmt.Errorf("embed chunks: %w", err)
		}
		texts := make([]string, 0, len(chunks))
		keep := chunks[:0]
		for i := range chunks {
			d := docs[chunks[i].DocumentID]
			if d == nil {
				sum.Skipped++ // deleted since the chunk was read
				continue
			}
			t := EmbedText(d, &chunks[i])
			if t == "" {
				sum.Skipped++
				continue
			}
			texts = append(texts, t)
			keep = append(keep, chunks[i])
		}
		if len(texts) == 0 {
			report(false)
			continue
		}
		vecs, err := opts.Embed(ctx, texts)
		if err != nil {
			return sum, fmt.Errorf("embed chunks: %w", err)
		}
		if len(vecs) != len(texts) {
			return sum, sextant.Errorf(sextant.EINTERNAL, "embed chunks: embedder returned %d vectors for %d texts", len(vecs), len(texts))
		}
		put := make([]sextant.ChunkVector, len(keep))
		for i := range keep {
			put[i] = sextant.ChunkVector{ChunkID: keep[i].ID, Hash: contentHash(texts[i]), Vector: vecs[i]}
		}
		n, err := store.PutChunkVectors(ctx, opts.Space, put)
		if err != nil {
			return sum, fmt.Errorf("embed chunks: %w", err)
		}
		sum.Embedded += int64(n)
		sum.Skipped += int64(len(put) - n)
		report(false)
	}
}

// EmbedText is the text embedded for a chunk: its document's title, its
// section path when that adds to the title, and its text, one per line.
// Titles and headings carry much of a passage's topic, which a chunk cut
// from the middle of a document would otherwise lack.
func EmbedText(doc *sextant.Document, c *sextant.Chunk) string {
	var parts []string
	title := strings.TrimSpace(doc.Title)
	if title != "" {
		parts = append(parts, title)
	}
	if sec := strings.TrimSpace(sextant.SectionPath(c.Section)); sec != "" && sec != title {
		parts = append(parts, sec)
	}
	if t := strings.TrimSpace(c.Text); t != "" {
		parts = append(parts, t)
	}
	return strings.Join(parts, "\n")
}

// contentHash is the cache key of an embedded text, the same as
// llm.ContentHash: hex SHA-256 of its bytes.
func contentHash(text string) string {
	h := sha256.Sum256([]byte(text))
	return hex.EncodeToString(h[:])
}
