package sextant

import "time"

// Quarantine records that a document was taken out of retrieval because
// one of its chunks tried to instruct the model (indirect prompt
// injection). A quarantined document is not searched until a person
// reviews and releases it; the document itself stays in the store
// unchanged.
type Quarantine struct {
	DocumentID string
	Tenant     string
	ChunkID    string  // the chunk that was flagged
	Score      float64 // the injection score of that chunk
	Reason     string  // what the guard found, e.g. "indirect injection (score 0.93): override, new_task"
	Excerpt    string  // the flagged passage, shortened and de-identified, for the reviewer
	CreatedAt  time.Time
	ReleasedAt time.Time // zero while quarantined
	ReleasedBy string    // Principal.ID of who released it
	Note       string    // the reviewer's comment
}

// Active reports whether q still keeps its document out of retrieval.
func (q *Quarantine) Active() bool { return q.ReleasedAt.IsZero() }
