package audit

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"iter"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/sextant-ai/sextant"
)

// Source is what Verify and Export read: the records in chain order and
// the checkpoints. The sqlite store implements it, and so does an export
// file (ReadExport).
type Source interface {
	// AuditRecords yields the records with Seq >= from in ascending Seq
	// order, from one consistent snapshot. A record's Payload may be reused
	// by the next iteration: consumers copy it to keep it.
	AuditRecords(ctx context.Context, from int64) iter.Seq2[sextant.AuditRecord, error]
	// AuditCheckpoints returns every checkpoint, ascending by Seq.
	AuditCheckpoints(ctx context.Context) ([]sextant.AuditCheckpoint, error)
}

// VerifyOptions configures verification.
type VerifyOptions struct {
	// PublicKeys are the keys trusted to have signed checkpoints; a
	// checkpoint signed by any other key is a problem. Empty trusts the key
	// each checkpoint names, which still catches edits by someone without
	// the signing key but proves nothing against someone who can also sign:
	// pin the key (a copy kept away from the data directory) to rule that
	// out.
	PublicKeys []ed25519.PublicKey
	// Partial accepts a log that starts after record 1 (an export made
	// with --since): the first record's predecessor is taken on trust.
	Partial bool
	// Workers is how many segments of a store's log Verify checks in
	// parallel. 0 means GOMAXPROCS for logs of 65536 records or more, one
	// below that.
	Workers int
}

// Report is the outcome of a verification.
type Report struct {
	Records        int64 `json:"records"`         // records checked
	First          int64 `json:"first"`           // Seq of the first (0 when none)
	Last           int64 `json:"last"`            // Seq of the last
	Tombstones     int64 `json:"tombstones"`      // records whose payload retention replaced with a tombstone
	Checkpoints    int   `json:"checkpoints"`     // checkpoints whose signature and hash matched
	LastCheckpoint int64 `json:"last_checkpoint"` // Seq of the last matching checkpoint (0 = none)
	// Problem is the first thing found wrong, in chain order; nil when the
	// log verifies. Verification stops at it.
	Problem *Problem `json:"problem"`
}

// OK reports whether the log verified.
func (r *Report) OK() bool { return r.Problem == nil }

// Unsigned is the number of records after the last checkpoint: the tail
// that is chained but not yet covered by a signature.
func (r *Report) Unsigned() int64 { return r.Last - max(r.LastCheckpoint, r.First-1) }

// Problem is the first bad record (or checkpoint) and what is wrong with it.
type Problem struct {
	// Seq is the first bad record: the first one missing, out of place,
	// changed or not linked to its predecessor. When the chain was
	// rewritten with recomputed hashes only checkpoints show it, and the
	// change lies somewhere from Seq to Through.
	Seq     int64 `json:"seq"`
	Through int64 `json:"through,omitempty"`
	// Checkpoint is set when the bad thing is the checkpoint at Seq, not a
	// record.
	Checkpoint bool   `json:"checkpoint,omitempty"`
	Reason     string `json:"reason"`
}

func (p *Problem) Error() string { return p.Reason }

// Verifier checks a stream of records and checkpoints. Feed it the
// checkpoints (all at once before the records, or each right after its
// record, as an export has them) and the records in order; it stops at the
// first problem. Verify drives one over a Source.
type Verifier struct {
	opts    VerifyOptions
	rep     Report
	started bool
	next    int64    // the Seq expected next
	prev    [32]byte // hash of the last record accepted
	prev2   [32]byte // hash of the record before it
	pending []sextant.AuditCheckpoint
	lastCP  sextant.AuditCheckpoint
	segment bool // verifying one segment of a whole log (Verify), not a partial export
	buf     []byte
}

// NewVerifier returns a verifier with nothing fed yet.
func NewVerifier(opts VerifyOptions) *Verifier {
	return &Verifier{opts: opts, next: 1, buf: make([]byte, 0, 512)}
}

func (v *Verifier) fail(p *Problem) bool {
	v.rep.Problem = p
	return false
}

// AddCheckpoint feeds a checkpoint. It reports false once a problem is
// known.
func (v *Verifier) AddCheckpoint(cp sextant.AuditCheckpoint) bool {
	if v.rep.Problem != nil {
		return false
	}
	if v.started && cp.Seq < v.next {
		if cp.Seq != v.next-1 {
			return v.fail(&Problem{Seq: cp.Seq, Checkpoint: true, Reason: fmt.Sprintf(
				"checkpoint for record %d appears after record %d: it was moved", cp.Seq, v.next-1)})
		}
		return v.checkCheckpoint(&cp, v.prev)
	}
	i, _ := slices.BinarySearchFunc(v.pending, cp.Seq, func(c sextant.AuditCheckpoint, s int64) int { return int(c.Seq - s) })
	v.pending = slices.Insert(v.pending, i, cp)
	return true
}

// checkCheckpoint checks cp's signature and that record cp.Seq has hash
// recHash.
func (v *Verifier) checkCheckpoint(cp *sextant.AuditCheckpoint, recHash [32]byte) bool {
	if p := v.badSignature(cp); p != nil {
		return v.fail(p)
	}
	if cp.Hash != recHash {
		from := v.lastCP.Seq + 1
		if v.opts.Partial && !v.segment && from < v.rep.First {
			from = v.rep.First // nothing before a partial export is known
		}
		return v.fail(&Problem{Seq: from, Through: cp.Seq, Reason: fmt.Sprintf(
			"record %d's hash differs from the one its checkpoint signed at %s: the chain was rewritten, "+
				"so a record from %d to %d was changed, inserted or removed and the hashes after it recomputed",
			cp.Seq, cp.Time.UTC().Format(time.RFC3339), from, cp.Seq)})
	}
	v.rep.Checkpoints++
	v.rep.LastCheckpoint = cp.Seq
	v.lastCP = *cp
	return true
}

func (v *Verifier) badSignature(cp *sextant.AuditCheckpoint) *Problem {
	pub := ed25519.PublicKey(cp.PublicKey)
	if len(v.opts.PublicKeys) > 0 && !slices.ContainsFunc(v.opts.PublicKeys, func(k ed25519.PublicKey) bool { return k.Equal(pub) }) {
		return &Problem{Seq: cp.Seq, Checkpoint: true, Reason: fmt.Sprintf(
			"checkpoint for record %d is signed by key %s, which is not a trusted key", cp.Seq, KeyID(pub))}
	}
	if !VerifyCheckpoint(pub, cp) {
		return &Problem{Seq: cp.Seq, Checkpoint: true, Reason: fmt.Sprintf(
			"checkpoint for record %d has an invalid signature: it was changed or forged", cp.Seq)}
	}
	return nil
}

// Add feeds the next record. It reports false once a problem is known.
func (v *Verifier) Add(r *sextant.AuditRecord) bool {
	if v.rep.Problem != nil {
		return false
	}
	if !v.started {
		v.started = true
		if v.opts.Partial {
			v.next, v.prev = r.Seq, r.PrevHash
			for len(v.pending) > 0 && v.pending[0].Seq < r.Seq {
				v.pending = v.pending[1:] // before the segment: cannot be checked
			}
		}
		v.rep.First = v.next
	}
	switch {
	case r.Seq > v.next:
		return v.fail(&Problem{Seq: v.next, Reason: fmt.Sprintf(
			"record %d is missing from its place: the log goes from record %d to record %d (records were deleted or moved)", v.next, v.next-1, r.Seq)})
	case r.Seq < v.next:
		return v.fail(&Problem{Seq: r.Seq, Reason: fmt.Sprintf(
			"record %d appears again after record %d (duplicated or moved)", r.Seq, v.next-1)})
	case r.PrevHash != v.prev:
		if r.Seq > v.rep.First && r.PrevHash == v.prev2 && v.shifted(r) {
			return v.fail(&Problem{Seq: r.Seq - 1, Reason: fmt.Sprintf(
				"record %d was inserted: record %d links to record %d, not to it", r.Seq-1, r.Seq, r.Seq-2)})
		}
		return v.fail(&Problem{Seq: r.Seq, Reason: fmt.Sprintf(
			"record %d does not link to record %d: its prev_hash is not that record's hash (it was moved, or records around it were inserted or removed)",
			r.Seq, r.Seq-1)})
	}
	switch {
	case r.Payload != nil && !r.PurgedAt.IsZero():
		return v.fail(&Problem{Seq: r.Seq, Reason: fmt.Sprintf("record %d has a payload and a purge time: it was changed", r.Seq)})
	case r.Payload == nil && r.PurgedAt.IsZero():
		return v.fail(&Problem{Seq: r.Seq, Reason: fmt.Sprintf("record %d has no payload but was never purged: its payload was removed", r.Seq)})
	case r.Payload != nil && PayloadHash(r.Payload) != r.PayloadHash:
		return v.fail(&Problem{Seq: r.Seq, Reason: fmt.Sprintf("record %d was changed: its payload does not match its payload hash", r.Seq)})
	case r.Payload == nil:
		v.rep.Tombstones++
	}
	v.buf = appendRecord(v.buf[:0], r)
	if sum := sha256Sum(v.buf); sum != r.Hash {
		return v.fail(&Problem{Seq: r.Seq, Reason: fmt.Sprintf("record %d was changed: its hash does not match its contents", r.Seq)})
	}
	v.prev2, v.prev = v.prev, r.Hash
	v.next++
	v.rep.Records++
	v.rep.Last = r.Seq
	for len(v.pending) > 0 && v.pending[0].Seq <= r.Seq {
		cp := v.pending[0]
		v.pending = v.pending[1:]
		if cp.Seq < r.Seq {
			continue // unreachable: every Seq below r.Seq was checked in turn
		}
		if !v.checkCheckpoint(&cp, r.Hash) {
			return false
		}
	}
	return true
}

// shifted reports whether r is an intact record moved one place up: it
// hashes correctly with the Seq before its own. Then the record just
// accepted before it was inserted.
func (v *Verifier) shifted(r *sextant.AuditRecord) bool {
	orig := *r
	orig.Seq--
	v.buf = appendRecord(v.buf[:0], &orig)
	return sha256Sum(v.buf) == r.Hash
}

// Finish returns the report. Checkpoints for records beyond the last one
// fed mean the tail of the log was removed.
func (v *Verifier) Finish() Report {
	if v.rep.Problem == nil && len(v.pending) > 0 {
		cp := &v.pending[len(v.pending)-1]
		if p := v.badSignature(cp); p != nil {
			v.rep.Problem = p
		} else {
			v.rep.Problem = &Problem{Seq: v.next, Reason: fmt.Sprintf(
				"record %d is missing: records %d to %d were removed, though a checkpoint signed at %s covers record %d (the log was truncated)",
				v.next, v.next, cp.Seq, cp.Time.UTC().Format(time.RFC3339), cp.Seq)}
		}
	}
	return v.rep
}

// Verify checks the whole log in src. It returns an error only when src
// cannot be read; what is wrong with the log is in Report.Problem.
//
// When src can report its head (the sqlite store can), the log is split
// into VerifyOptions.Workers consecutive segments verified in parallel,
// each from its own read, and the segments are then stitched: each must
// start right after the previous one ends and link to its last hash. The
// report is the same as a sequential pass would give: problems are
// reported in chain order.
func Verify(ctx context.Context, src Source, opts VerifyOptions) (Report, error) {
	// Checkpoints first: the records' snapshot, taken after, then covers
	// every checkpoint, so concurrent appends never look like truncation.
	cps, err := src.AuditCheckpoints(ctx)
	if err != nil {
		return Report{}, err
	}
	bounds, err := segments(ctx, src, opts.Workers)
	if err != nil {
		return Report{}, err
	}
	segs := make([]segment, len(bounds))
	var wg sync.WaitGroup
	for i := range segs {
		seg := &segs[i]
		seg.from = bounds[i]
		seg.to = int64(math.MaxInt64)
		if i+1 < len(bounds) {
			seg.to = bounds[i+1]
		}
		segOpts := opts
		segOpts.Partial = i > 0 || opts.Partial
		seg.v = NewVerifier(segOpts)
		seg.v.segment = i > 0
		for _, cp := range cps {
			switch {
			case cp.Seq < seg.from:
				seg.v.lastCP = cp // the range of a rewritten chain starts after it
			case cp.Seq < seg.to:
				seg.v.AddCheckpoint(cp)
			}
		}
		wg.Go(func() { seg.err = seg.run(ctx, src) })
	}
	wg.Wait()
	for i := range segs {
		if segs[i].err != nil {
			return Report{}, segs[i].err
		}
	}
	return stitch(segs, opts.Partial), nil
}

// headSource is implemented by sources that know their last record.
type headSource interface {
	AuditHead(ctx context.Context) (sextant.AuditHead, error)
}

// minParallel is the smallest log split across workers by default: below
// it one pass is as fast.
const minParallel = 1 << 16

// segments returns the first Seq of each segment to verify: just 1 unless
// src knows its head and the log is worth splitting.
func segments(ctx context.Context, src Source, workers int) ([]int64, error) {
	hs, ok := src.(headSource)
	if !ok || workers == 1 {
		return []int64{1}, nil
	}
	h, err := hs.AuditHead(ctx)
	if err != nil {
		return nil, err
	}
	n := int64(workers)
	if workers <= 0 {
		n = int64(runtime.GOMAXPROCS(0))
		if h.Seq < minParallel {
			n = 1
		}
	}
	n = max(1, min(n, h.Seq/2))
	out := make([]int64, n)
	for i := range n {
		out[i] = 1 + i*h.Seq/n
	}
	return out, nil
}

// segment is the records with from <= Seq < to, verified on their own.
type segment struct {
	from, to  int64
	v         *Verifier
	firstSeq  int64    // Seq of the segment's first record; 0 = none
	firstPrev [32]byte // and its PrevHash
	err       error
}

func (s *segment) run(ctx context.Context, src Source) error {
	first := true
	for r, err := range src.AuditRecords(ctx, s.from) {
		if err != nil {
			return err
		}
		if r.Seq >= s.to {
			break
		}
		if first {
			s.firstSeq, s.firstPrev, first = r.Seq, r.PrevHash, false
		}
		if !s.v.Add(&r) {
			break
		}
	}
	return nil
}

// stitch joins segment reports in order, checking that each segment that
// saw records continues the one before, and returns the first problem in
// chain order.
func stitch(segs []segment, partial bool) Report {
	var (
		out      Report
		started  = !partial // a whole log continues "record 0"
		prevLast int64
		prevHash [32]byte
	)
	for i := range segs {
		s := &segs[i]
		if !s.v.started {
			// A segment that saw no record continues, for the
			// truncation check, from the last record seen before it.
			s.v.next = prevLast + 1
		}
		r := s.v.Finish()
		if s.firstSeq > 0 {
			switch {
			case !started:
			case s.firstSeq != prevLast+1:
				out.Problem = &Problem{Seq: prevLast + 1, Reason: fmt.Sprintf(
					"record %d is missing from its place: the log goes from record %d to record %d (records were deleted or moved)",
					prevLast+1, prevLast, s.firstSeq)}
				return out
			case s.firstPrev != prevHash:
				out.Problem = &Problem{Seq: s.firstSeq, Reason: fmt.Sprintf(
					"record %d does not link to record %d: its prev_hash is not that record's hash (it was moved, or records around it were inserted or removed)",
					s.firstSeq, prevLast)}
				return out
			}
			if out.First == 0 {
				out.First = r.First
			}
			started = true
		}
		if r.Records > 0 {
			prevLast, prevHash = r.Last, s.v.prev
			out.Last = r.Last
		}
		out.Records += r.Records
		out.Tombstones += r.Tombstones
		out.Checkpoints += r.Checkpoints
		out.LastCheckpoint = max(out.LastCheckpoint, r.LastCheckpoint)
		if r.Problem != nil {
			out.Problem = r.Problem
			return out
		}
	}
	return out
}

// KeyID is a short printable id of a public key: the first 8 bytes of its
// SHA-256, in hex.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256Sum(pub)
	return hex.EncodeToString(sum[:8])
}
