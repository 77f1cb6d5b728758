package sextant

import "time"

// AuditKind classifies audit records; retention is configured per kind.
type AuditKind string

// Audit record kinds Sextant writes. Other packages may use their own kinds
// (lower-case letters, digits, '.', '_' and '-').
const (
	AuditAdmin    AuditKind = "admin"    // a change of configuration, keys or data by an operator
	AuditPolicy   AuditKind = "policy"   // a policy or guard decision that blocked, redacted or flagged
	AuditApproval AuditKind = "approval" // a request held for approval, and its decision
	AuditAuth     AuditKind = "auth"     // an authentication failure
	AuditAnswer   AuditKind = "answer"   // an answer: who asked, template, model, chunks and scores
	// AuditModelCall is a model call made through the gateway without the
	// answer pipeline (chat completions for a provider's model,
	// embeddings): who, which model and provider, tokens and outcome.
	AuditModelCall AuditKind = "model_call"
)

// ValidAuditKind reports whether k is a usable kind: 1 to 64 bytes of
// lower-case ASCII letters, digits, '.', '_' and '-'.
func ValidAuditKind(k AuditKind) bool {
	if len(k) == 0 || len(k) > 64 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// AuditEvent is something to record in the audit log: what happened, who
// did it, for which tenant and request, with details. The log stamps the
// time and chains it to the record before.
type AuditEvent struct {
	Kind      AuditKind
	Actor     string // Principal.ID of who acted; "" = local command line
	Tenant    string
	RequestID string // the request it belongs to, when there is one
	// Payload holds the details: any value encoding/json can encode to an
	// object (a struct or a map). The log encodes it and passes every
	// string in it through its redactor before anything is stored; callers
	// still should not put secrets or raw personal data in it.
	Payload any
}

// AuditRecord is an audit event as the log stores it: numbered, stamped
// and chained. Hash is SHA-256 over a canonical encoding of PrevHash, Seq,
// Time, Kind, Actor, Tenant, RequestID and PayloadHash (see package audit),
// so any change to a record, or to its place in the chain, shows.
type AuditRecord struct {
	Seq         int64 // 1, 2, 3, ... without gaps
	Time        time.Time
	Kind        AuditKind
	Actor       string
	Tenant      string
	RequestID   string
	Payload     []byte   // the redacted payload as compact JSON; nil once purged
	PayloadHash [32]byte // SHA-256 of Payload, kept when the payload is purged
	PrevHash    [32]byte // Hash of record Seq-1; zero for the first record
	Hash        [32]byte
	PurgedAt    time.Time // when retention replaced the payload with a tombstone; zero = intact
}

// AuditCheckpoint is a signed statement that the log's record Seq had Hash
// at Time: an ed25519 signature by the log's key over a canonical encoding
// of the three. It pins everything up to Seq, so truncating or rewriting
// the chain before it shows even to someone who can recompute hashes.
type AuditCheckpoint struct {
	Seq       int64
	Hash      [32]byte
	Time      time.Time
	PublicKey []byte // ed25519 public key of the signer (32 bytes)
	Signature []byte // ed25519 signature (64 bytes)
}

// AuditHead is the end of the log as a writer needs it to chain the next
// records: the last record, and the last checkpoint.
type AuditHead struct {
	Seq            int64 // last record; 0 when the log is empty
	Hash           [32]byte
	Time           time.Time
	CheckpointSeq  int64 // last checkpoint; 0 when there is none
	CheckpointTime time.Time
}
