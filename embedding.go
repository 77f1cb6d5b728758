package sextant

import "fmt"

// EmbeddingSpace names the vector space an embedding lives in: the model
// that made it and the size it was asked for. Vectors of different spaces
// are never compared, cached under one another's key, or mixed in one
// index; changing the space of a store is an explicit re-embedding.
type EmbeddingSpace struct {
	Model      string // embedding model name, as routed by the model layer
	Dimensions int    // requested vector size; 0 = the model's native size
}

// IsZero reports whether s names no space (no embedder).
func (s EmbeddingSpace) IsZero() bool { return s.Model == "" && s.Dimensions == 0 }

// String formats s for people: "text-embedding-3-small" or
// "text-embedding-3-small (256 dims)".
func (s EmbeddingSpace) String() string {
	if s.Dimensions == 0 {
		return s.Model
	}
	return fmt.Sprintf("%s (%d dims)", s.Model, s.Dimensions)
}

// Validate reports the first thing wrong with s, as an EINVALID *Error.
func (s EmbeddingSpace) Validate() error {
	switch {
	case s.Model == "":
		return Errorf(EINVALID, "embedding space has no model")
	case s.Dimensions < 0 || s.Dimensions > 65536:
		return Errorf(EINVALID, "embedding space %q: dimensions %d out of range 0..65536", s.Model, s.Dimensions)
	}
	return nil
}

// ChunkVector is one chunk's embedding as stored: the chunk, the content
// hash of the text that was embedded (hex SHA-256, the embedding cache's
// key), and the vector.
type ChunkVector struct {
	ChunkID string
	Hash    string
	Vector  []float32
}
