package sextant

// Change records that a document was stored (added or replaced) or deleted
// at a corpus generation. The store keeps a log of changes so derived
// structures (indexes, caches) can catch up incrementally from the
// generation they were built at.
type Change struct {
	Generation int64  // corpus generation after the change; strictly increasing
	DocumentID string // the document concerned
	Deleted    bool   // true when the document was removed
}
