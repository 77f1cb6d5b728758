// Package ingest turns files into stored documents: bytes and a media type
// become text (plain text, Markdown, HTML, PDF, and JSON, JSON Lines and CSV
// records), text becomes chunks with byte offsets and section paths, and
// chunks go to a Store with stable ids and content hashes.
//
// Contracts:
//   - Every chunk satisfies chunk.Text == doc.Text[chunk.Start:chunk.End].
//     For plain text and Markdown, doc.Text is the file's bytes (after
//     removing a byte-order mark or transcoding a non-UTF-8 file), so
//     offsets are file offsets.
//   - Ids are stable across runs: a file's document id derives from the
//     tenant, collection and absolute path (FileID); a record's from the
//     collection and its id field (RecordID); chunk ids from the document id
//     and ordinal (ChunkID).
//   - Document.Hash is the SHA-256 of the source bytes (of the record's
//     bytes for records), and an unchanged document is never rewritten.
//   - Each document is stored atomically with all its chunks; a run that is
//     killed leaves every document either as it was or fully replaced.
//
// The package reads files and the Store it is given; it never prints or
// logs except through Options.Logger and Options.Progress.
package ingest
