package audit

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sextant-ai/sextant"
)

// Store is the storage the log appends to and purges. It is implemented by
// the sqlite package.
type Store interface {
	// AppendAudit runs build with the current head of the log inside one
	// write transaction that holds the store's write lock, then stores the
	// records and checkpoints build returns, and commits
	// durably: once AppendAudit returns nil the records survive a crash or
	// power loss. Because build sees the head under the lock, writers in
	// several processes chain correctly. An error from build aborts the
	// transaction and is returned.
	AppendAudit(ctx context.Context, build func(head sextant.AuditHead) ([]sextant.AuditRecord, []sextant.AuditCheckpoint, error)) error
	// PurgeAudit replaces the payload of every record of kind older than
	// before with a tombstone stamped now, and returns how many it purged.
	PurgeAudit(ctx context.Context, kind sextant.AuditKind, before, now time.Time) (int64, error)
}

// Options configures a Log. The zero value is usable but neither redacts
// nor signs; the server sets both.
type Options struct {
	// Redact is applied to every string of every payload before it is
	// stored (the guard's redactor). nil stores strings as given.
	Redact func(string) string
	// Key signs checkpoints. nil writes no checkpoints, and Verify can then
	// only check the chain, not detect a rewritten chain or a truncated tail.
	Key ed25519.PrivateKey
	// CheckpointEvery is the most records between two checkpoints. 0 means
	// 1000.
	CheckpointEvery int
	// CheckpointInterval is the longest time unsigned records wait for a
	// checkpoint. 0 means 30 seconds.
	CheckpointInterval time.Duration
	// MaxBatch is the most records committed in one transaction. 0 means
	// 2048.
	MaxBatch int
	// QueueSize is how many submitted records may wait for the appender
	// before Append and Enqueue block. 0 means 16384.
	QueueSize int
	// Now is the clock records and checkpoints are stamped with. nil means
	// time.Now.
	Now func() time.Time
	// Logger receives write failures of records submitted with Enqueue,
	// which has no caller left to return them to. nil discards.
	Logger *slog.Logger
}

func (o *Options) withDefaults() Options {
	d := *o
	if d.CheckpointEvery <= 0 {
		d.CheckpointEvery = 1000
	}
	if d.CheckpointInterval <= 0 {
		d.CheckpointInterval = 30 * time.Second
	}
	if d.MaxBatch <= 0 {
		d.MaxBatch = 2048
	}
	if d.QueueSize <= 0 {
		d.QueueSize = 16384
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return d
}

// request is one record waiting for the appender; done (nil for Enqueue)
// receives the outcome.
type request struct {
	rec  sextant.AuditRecord // Kind, Actor, Tenant, RequestID, Payload, PayloadHash set
	done chan result
}

type result struct {
	seq int64
	err error
}

// Log appends events to the audit log. It is safe for concurrent use: every
// record goes through one appender goroutine that commits them in batches.
type Log struct {
	store Store
	opts  Options

	reqs chan *request
	sync chan chan error // Checkpoint requests
	quit chan struct{}   // closed by Close
	done chan struct{}   // closed when the appender has exited

	mu     sync.RWMutex // guards closed against sends on reqs
	closed bool

	written, lost atomic.Int64 // records stored; records not stored (see Stats)

	// Appender goroutine only:
	failed        error     // first write error since the last Sync
	unsignedSince time.Time // when the oldest unsigned record was first seen; zero = none
	cps           []sextant.AuditCheckpoint
}

// Open starts a log over store. Close it to flush pending records and write
// a final checkpoint.
func Open(store Store, opts Options) *Log {
	l := &Log{store: store, opts: opts.withDefaults(), sync: make(chan chan error), quit: make(chan struct{}), done: make(chan struct{})}
	l.reqs = make(chan *request, l.opts.QueueSize)
	go l.run()
	return l
}

var errClosed = sextant.Errorf(sextant.EUNAVAILABLE, "audit: log is closed")

// prepare validates ev and encodes its payload in the caller's goroutine,
// so the appender only chains and writes.
func (l *Log) prepare(ev *sextant.AuditEvent) (*request, error) {
	if err := validateEvent(ev); err != nil {
		return nil, err
	}
	payload, err := encodePayload(ev.Payload, l.opts.Redact)
	if err != nil {
		return nil, err
	}
	return &request{rec: sextant.AuditRecord{Kind: ev.Kind, Actor: ev.Actor, Tenant: ev.Tenant,
		RequestID: ev.RequestID, Payload: payload, PayloadHash: PayloadHash(payload)}}, nil
}

func (l *Log) submit(ctx context.Context, r *request) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return errClosed
	}
	select {
	case l.reqs <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Append records ev and returns its sequence number once it is durably
// stored. Records appended concurrently share one commit. If ctx ends
// first Append returns ctx's error, and the record may or may not be
// written.
func (l *Log) Append(ctx context.Context, ev sextant.AuditEvent) (int64, error) {
	r, err := l.prepare(&ev)
	if err != nil {
		return 0, err
	}
	r.done = make(chan result, 1)
	if err := l.submit(ctx, r); err != nil {
		return 0, err
	}
	select {
	case res := <-r.done:
		return res.seq, res.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// Enqueue queues ev for the log and returns without waiting for the write,
// for paths that must not wait for a commit (the answer path records after
// responding). It blocks only while the queue is full. A write that fails
// later is reported to Options.Logger.
func (l *Log) Enqueue(ctx context.Context, ev sextant.AuditEvent) error {
	r, err := l.prepare(&ev)
	if err == nil {
		err = l.submit(ctx, r)
	}
	if err != nil {
		l.lost.Add(1)
	}
	return err
}

// LogStats are a log's counters since it was opened.
type LogStats struct {
	Written int64 // records stored
	// Lost counts records that will never be stored: Enqueue refused them
	// (invalid, the log closed, the caller's context ended) or their write
	// failed. Append's failures are returned to its caller, not counted.
	Lost   int64
	Queued int // records waiting for the appender now
}

// Stats reports the log's counters; safe to call at any time.
func (l *Log) Stats() LogStats {
	return LogStats{Written: l.written.Load(), Lost: l.lost.Load(), Queued: len(l.reqs)}
}

// Sync waits until every record submitted before it is stored, signs a
// checkpoint over them when the log has a key, and returns the first write
// error since the previous Sync — so a caller of Enqueue can learn that
// records were lost.
func (l *Log) Sync(ctx context.Context) error {
	ch := make(chan error, 1)
	select {
	case l.sync <- ch:
	case <-l.done:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting records, writes those still queued, signs a final
// checkpoint and stops the appender. It waits for that, or for ctx.
func (l *Log) Close(ctx context.Context) error {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.quit)
	}
	l.mu.Unlock()
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run is the appender: it takes a first request, gathers whatever else is
// queued (up to MaxBatch), commits the batch in one transaction, and
// answers every caller in it.
func (l *Log) run() {
	defer close(l.done)
	ctx := context.Background()
	// Ticking at half the interval bounds an unsigned record's wait for
	// its checkpoint by 1.5 intervals.
	tick := time.NewTicker(l.opts.CheckpointInterval / 2)
	defer tick.Stop()
	batch := make([]*request, 0, l.opts.MaxBatch)
	recs := make([]sextant.AuditRecord, 0, l.opts.MaxBatch)
	for {
		var syncReq chan error
		select {
		case r := <-l.reqs:
			batch = append(batch, r)
		case syncReq = <-l.sync:
		case <-tick.C:
			l.write(ctx, nil, nil, false)
			continue
		case <-l.quit:
			// Senders hold the read lock while sending and Close set
			// closed under the write lock, so nothing more arrives.
			for {
				batch = l.gather(batch[:0])
				if len(batch) == 0 {
					break
				}
				recs = l.write(ctx, batch, recs, false)
			}
			l.write(ctx, nil, nil, true)
			return
		}
		batch = l.gather(batch)
		recs = l.write(ctx, batch, recs, syncReq != nil)
		if syncReq != nil {
			// Everything submitted before the Checkpoint call was
			// queued before it, so gather has taken it; drain the rest
			// of the queue first only if the batch was full.
			for len(batch) == l.opts.MaxBatch {
				batch = l.gather(batch[:0])
				recs = l.write(ctx, batch, recs, true)
			}
			syncReq <- l.failed
			l.failed = nil
		}
		batch = batch[:0]
	}
}

// gather appends queued requests to batch without blocking, up to MaxBatch.
func (l *Log) gather(batch []*request) []*request {
	for len(batch) < l.opts.MaxBatch {
		select {
		case r := <-l.reqs:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// write commits batch (which may be empty) with the checkpoints due, or,
// when force is set, with a checkpoint of the last record whatever is due,
// then answers the batch's callers. It returns recs for reuse.
func (l *Log) write(ctx context.Context, batch []*request, recs []sextant.AuditRecord, force bool) []sextant.AuditRecord {
	if len(batch) == 0 && (l.opts.Key == nil || !force && l.unsignedSince.IsZero()) {
		return recs
	}
	recs = recs[:0]
	for _, r := range batch {
		recs = append(recs, r.rec)
	}
	now := l.opts.Now().UTC()
	var unsignedSince time.Time
	err := l.store.AppendAudit(ctx, func(head sextant.AuditHead) ([]sextant.AuditRecord, []sextant.AuditCheckpoint, error) {
		chain(head, recs, now)
		var cps []sextant.AuditCheckpoint
		cps, unsignedSince = l.checkpoints(head, recs, now, force)
		return recs, cps, nil
	})
	if err != nil {
		err = fmt.Errorf("audit: append: %w", err)
		if l.failed == nil {
			l.failed = err
		}
	} else {
		l.unsignedSince = unsignedSince
		l.written.Add(int64(len(batch)))
	}
	for i, r := range batch {
		if r.done != nil {
			res := result{err: err}
			if err == nil {
				res.seq = recs[i].Seq
			}
			r.done <- res
		} else if err != nil {
			l.lost.Add(1)
			l.opts.Logger.Error("audit record lost", "kind", r.rec.Kind, "request_id", r.rec.RequestID, "err", err)
		}
	}
	if err != nil && len(batch) == 0 {
		l.opts.Logger.Error("audit checkpoint failed", "err", err)
	}
	return recs
}

// checkpoints returns the checkpoints to write with recs, which follow
// head: one at every record CheckpointEvery records past the previous
// checkpoint, and one at the last record when force is set or unsigned
// records have waited CheckpointInterval. It also returns the new
// unsignedSince.
func (l *Log) checkpoints(head sextant.AuditHead, recs []sextant.AuditRecord, now time.Time, force bool) ([]sextant.AuditCheckpoint, time.Time) {
	if l.opts.Key == nil {
		return nil, time.Time{}
	}
	cps := l.cps[:0]
	every := int64(l.opts.CheckpointEvery)
	lastSeq := head.CheckpointSeq
	for i := range recs {
		if r := &recs[i]; r.Seq-lastSeq >= every {
			cps = append(cps, Sign(l.opts.Key, r.Seq, r.Hash, r.Time))
			lastSeq = r.Seq
		}
	}
	endSeq, endHash, endTime := head.Seq, head.Hash, head.Time
	if n := len(recs); n > 0 {
		endSeq, endHash, endTime = recs[n-1].Seq, recs[n-1].Hash, recs[n-1].Time
	}
	since := l.unsignedSince
	if endSeq > lastSeq {
		if since.IsZero() {
			since = now
		}
		if force || now.Sub(since) >= l.opts.CheckpointInterval {
			cps = append(cps, Sign(l.opts.Key, endSeq, endHash, endTime))
			lastSeq = endSeq
		}
	}
	if lastSeq == endSeq {
		since = time.Time{}
	}
	l.cps = cps
	return cps, since
}
