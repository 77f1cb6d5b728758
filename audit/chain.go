// Package audit is Sextant's tamper-evident audit log: who changed what,
// which policy decisions were taken, who approved what, which
// authentications failed, and every answer given (request id, principal,
// template hash, model, chunk ids and scores) — with redacted text only.
//
// The log is append-only and hash-chained. Record n's Hash is SHA-256 over
// a canonical encoding of record n-1's Hash, n, its time, kind, actor,
// tenant, request id and the SHA-256 of its payload (see RecordHash), so
// editing, deleting, inserting or reordering records breaks the chain at
// the first record touched. Because the payload enters the chain only
// through its hash, retention can replace an old payload with a tombstone
// and the chain still verifies.
//
// Anyone who can write the database can also recompute every hash after
// an edit. Signed checkpoints close that gap: every so many records or
// seconds the log signs (seq, hash, time) with an ed25519 key kept in the
// data directory. Verify checks each checkpoint against the chain, so a
// rewritten chain or a tail truncated behind a checkpoint shows; pinning the
// public key elsewhere (VerifyOptions.PublicKeys) also defeats an attacker
// who holds the data directory, key included.
//
// Log appends through a single appender goroutine that commits records in
// batches (group commit): callers of Append wait for their batch's durable
// commit, and the commit cost is shared by everyone in the batch.
package audit

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"time"

	"github.com/sextant-ai/sextant"
)

// recordDomain and checkpointDomain separate the two hashed encodings, so
// no record encoding can be passed off as a checkpoint or the reverse.
const (
	recordDomain     = "sextant-audit-record-v1\x00"
	checkpointDomain = "sextant-audit-checkpoint-v1\x00"
)

// appendRecord appends the canonical encoding of r's chained fields to b:
// the domain tag, PrevHash, Seq and Time as 8-byte big-endian integers
// (time in Unix nanoseconds), Kind, Actor, Tenant and RequestID each
// prefixed by its length as a uvarint, then PayloadHash. Every field has a
// fixed size or a length prefix, so distinct records never encode alike.
func appendRecord(b []byte, r *sextant.AuditRecord) []byte {
	b = append(b, recordDomain...)
	b = append(b, r.PrevHash[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Seq))
	b = binary.BigEndian.AppendUint64(b, uint64(r.Time.UnixNano()))
	for _, s := range [...]string{string(r.Kind), r.Actor, r.Tenant, r.RequestID} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return append(b, r.PayloadHash[:]...)
}

// RecordHash returns the hash record r must carry: SHA-256 over the
// canonical encoding of PrevHash, Seq, Time, Kind, Actor, Tenant,
// RequestID and PayloadHash. r.Hash and r.Payload are not read.
func RecordHash(r *sextant.AuditRecord) [32]byte {
	var buf [256]byte
	return sha256.Sum256(appendRecord(buf[:0], r))
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

// PayloadHash returns the SHA-256 of a stored payload.
func PayloadHash(payload []byte) [32]byte { return sha256.Sum256(payload) }

// checkpointMessage is what a checkpoint signature covers: the domain tag,
// Seq and Time (Unix nanoseconds) as 8-byte big-endian integers, and Hash.
func checkpointMessage(cp *sextant.AuditCheckpoint) []byte {
	b := make([]byte, 0, len(checkpointDomain)+8+8+32)
	b = append(b, checkpointDomain...)
	b = binary.BigEndian.AppendUint64(b, uint64(cp.Seq))
	b = binary.BigEndian.AppendUint64(b, uint64(cp.Time.UnixNano()))
	return append(b, cp.Hash[:]...)
}

// Sign returns the checkpoint for record (seq, hash) at time t, signed
// with key.
func Sign(key ed25519.PrivateKey, seq int64, hash [32]byte, t time.Time) sextant.AuditCheckpoint {
	cp := sextant.AuditCheckpoint{Seq: seq, Hash: hash, Time: t,
		PublicKey: append([]byte(nil), key.Public().(ed25519.PublicKey)...)}
	cp.Signature = ed25519.Sign(key, checkpointMessage(&cp))
	return cp
}

// VerifyCheckpoint reports whether cp carries a valid signature by pub.
func VerifyCheckpoint(pub ed25519.PublicKey, cp *sextant.AuditCheckpoint) bool {
	if len(pub) != ed25519.PublicKeySize || len(cp.Signature) != ed25519.SignatureSize {
		return false
	}
	return ed25519.Verify(pub, checkpointMessage(cp), cp.Signature)
}

// chain fills in seq, prev hash and hash of the records that follow head,
// in order, stamping each with t (never earlier than head's time, so times
// never decrease along the chain).
func chain(head sextant.AuditHead, recs []sextant.AuditRecord, t time.Time) {
	if t.Before(head.Time) {
		t = head.Time
	}
	prev, seq := head.Hash, head.Seq
	var buf [256]byte
	for i := range recs {
		r := &recs[i]
		seq++
		r.Seq, r.Time, r.PrevHash = seq, t, prev
		r.Hash = sha256.Sum256(appendRecord(buf[:0], r))
		prev = r.Hash
	}
}
