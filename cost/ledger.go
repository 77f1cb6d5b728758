package cost

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sextant-ai/sextant"
)

// AppendFunc writes a batch of usage records durably, all or none
// (sqlite's DB.AppendUsage).
type AppendFunc func(ctx context.Context, recs []sextant.UsageRecord) error

// LedgerOptions configures NewLedger. Zero values have the documented
// defaults.
type LedgerOptions struct {
	// BatchSize is the most records written in one transaction; 0 = 256.
	BatchSize int
	// FlushInterval is the longest a record waits in memory before its
	// batch is written; 0 = 200 ms.
	FlushInterval time.Duration
	// QueueSize bounds the records waiting to be written; Record blocks
	// while it is full (usage is money: it is never dropped silently).
	// 0 = 8192.
	QueueSize int
	// Attempts is how many times a failed batch is tried before it is
	// given up and reported to OnError; 0 = 5. Waits between attempts
	// double from 100 ms.
	Attempts int
	// OnError receives a batch that could not be written after all
	// attempts, with the last error. nil = ignore (the records are lost).
	OnError func(err error, lost []sextant.UsageRecord)
	// Sleep waits between attempts; nil = a timer.
	Sleep func(time.Duration)
}

// Ledger writes usage records off the request path: Record queues a
// record in memory and returns; one goroutine writes queued records in
// batches, one transaction each. A crash loses at most the records of the
// last FlushInterval. It is safe for concurrent use.
type Ledger struct {
	write AppendFunc
	opts  LedgerOptions
	queue chan ledgerItem
	done  chan struct{}

	closeMu sync.RWMutex // Record holds it shared; Close exclusively
	closed  bool

	written, failed atomic.Int64
}

type ledgerItem struct {
	rec   sextant.UsageRecord
	flush chan struct{} // non-nil: a flush marker, closed once everything before it is written
}

// NewLedger starts a ledger writing with write. Close it to flush and stop
// its goroutine.
func NewLedger(write AppendFunc, opts LedgerOptions) *Ledger {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 256
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 200 * time.Millisecond
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 8192
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 5
	}
	if opts.Sleep == nil {
		opts.Sleep = time.Sleep
	}
	l := &Ledger{write: write, opts: opts, queue: make(chan ledgerItem, opts.QueueSize), done: make(chan struct{})}
	go l.run()
	return l
}

// errClosed is returned by Record after Close.
var errClosed = sextant.Errorf(sextant.EUNAVAILABLE, "usage ledger is closed")

// Record queues r for writing. It returns EINVALID for a record that
// cannot be stored (so a bad record never fails a batch) and EUNAVAILABLE
// after Close; otherwise it returns at once unless the queue is full.
func (l *Ledger) Record(r sextant.UsageRecord) error {
	if err := r.Validate(); err != nil {
		return err
	}
	l.closeMu.RLock()
	defer l.closeMu.RUnlock()
	if l.closed {
		return errClosed
	}
	l.queue <- ledgerItem{rec: r}
	return nil
}

// Flush waits until every record queued before the call is written (or
// given up), or ctx ends.
func (l *Ledger) Flush(ctx context.Context) error {
	l.closeMu.RLock()
	if l.closed {
		l.closeMu.RUnlock()
		return nil
	}
	ch := make(chan struct{})
	l.queue <- ledgerItem{flush: ch}
	l.closeMu.RUnlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close writes what is queued and stops the writer; it returns ctx's error
// if ctx ends first (the writer keeps draining in the background).
func (l *Ledger) Close(ctx context.Context) error {
	l.closeMu.Lock()
	if !l.closed {
		l.closed = true
		close(l.queue)
	}
	l.closeMu.Unlock()
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// LedgerStats counts what the writer did.
type LedgerStats struct {
	Written int64 // records written
	Failed  int64 // records given up after all attempts
	Queued  int   // records waiting now
}

// Stats reports the writer's counters.
func (l *Ledger) Stats() LedgerStats {
	return LedgerStats{Written: l.written.Load(), Failed: l.failed.Load(), Queued: len(l.queue)}
}

func (l *Ledger) run() {
	defer close(l.done)
	batch := make([]sextant.UsageRecord, 0, l.opts.BatchSize)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false
	flush := func() {
		if len(batch) > 0 {
			l.writeBatch(batch)
			batch = batch[:0]
		}
		if armed {
			timer.Stop()
			armed = false
		}
	}
	for {
		select {
		case it, ok := <-l.queue:
			if !ok {
				flush()
				return
			}
			if it.flush != nil {
				flush()
				close(it.flush)
				continue
			}
			batch = append(batch, it.rec)
			if len(batch) >= l.opts.BatchSize {
				flush()
			} else if !armed {
				timer.Reset(l.opts.FlushInterval)
				armed = true
			}
		case <-timer.C:
			armed = false
			flush()
		}
	}
}

func (l *Ledger) writeBatch(batch []sextant.UsageRecord) {
	wait := 100 * time.Millisecond
	var err error
	for attempt := 1; attempt <= l.opts.Attempts; attempt++ {
		// The writer outlives any request; a fixed bound keeps a stuck
		// database from stalling it forever.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err = l.write(ctx, batch)
		cancel()
		if err == nil {
			l.written.Add(int64(len(batch)))
			return
		}
		if sextant.ErrorCode(err) == sextant.EINVALID || errors.Is(err, context.Canceled) {
			break
		}
		if attempt < l.opts.Attempts {
			l.opts.Sleep(wait)
			wait *= 2
		}
	}
	l.failed.Add(int64(len(batch)))
	if l.opts.OnError != nil {
		l.opts.OnError(err, append([]sextant.UsageRecord(nil), batch...))
	}
}
