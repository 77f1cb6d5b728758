package audit_test

import (
	"context"
	"iter"
	"slices"
	"sync"
	"time"

	"github.com/sextant-ai/sextant"
)

// memStore is an in-memory Store and Source: the reference the sqlite
// store is tested against, and the log tests' fixture.
type memStore struct {
	mu      sync.Mutex
	recs    []sextant.AuditRecord
	cps     []sextant.AuditCheckpoint
	commits int
	fail    error // returned by the next AppendAudit calls when set
}

func (m *memStore) AppendAudit(ctx context.Context, build func(sextant.AuditHead) ([]sextant.AuditRecord, []sextant.AuditCheckpoint, error)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	var h sextant.AuditHead
	if n := len(m.recs); n > 0 {
		r := m.recs[n-1]
		h.Seq, h.Hash, h.Time = r.Seq, r.Hash, r.Time
	}
	if n := len(m.cps); n > 0 {
		h.CheckpointSeq, h.CheckpointTime = m.cps[n-1].Seq, m.cps[n-1].Time
	}
	recs, cps, err := build(h)
	if err != nil {
		return err
	}
	for _, r := range recs {
		r.Payload = slices.Clone(r.Payload)
		m.recs = append(m.recs, r)
	}
	for _, cp := range cps {
		m.cps = append(m.cps, cp)
	}
	m.commits++
	return nil
}

func (m *memStore) PurgeAudit(ctx context.Context, kind sextant.AuditKind, before, now time.Time) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for i := range m.recs {
		r := &m.recs[i]
		if r.Kind == kind && r.Time.Before(before) && r.Payload != nil {
			r.Payload, r.PurgedAt = nil, now
			n++
		}
	}
	return n, nil
}

func (m *memStore) AuditRecords(ctx context.Context, from int64) iter.Seq2[sextant.AuditRecord, error] {
	m.mu.Lock()
	recs := slices.Clone(m.recs)
	m.mu.Unlock()
	return func(yield func(sextant.AuditRecord, error) bool) {
		for _, r := range recs {
			if r.Seq >= from && !yield(r, nil) {
				return
			}
		}
	}
}

// headStore is a memStore that reports its head, so Verify splits the log
// into segments.
type headStore struct{ *memStore }

func (h headStore) AuditHead(ctx context.Context) (sextant.AuditHead, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var hd sextant.AuditHead
	if n := len(h.recs); n > 0 {
		hd.Seq = h.recs[n-1].Seq
	}
	return hd, nil
}

func (m *memStore) AuditCheckpoints(ctx context.Context) ([]sextant.AuditCheckpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.cps), nil
}
