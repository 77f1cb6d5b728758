package cost

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/sqlite"
)

// memLedger is an AppendFunc recording batches; failures makes its first
// calls fail.
type memLedger struct {
	mu       sync.Mutex
	batches  [][]sextant.UsageRecord
	failures int
}

func (m *memLedger) append(_ context.Context, recs []sextant.UsageRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failures > 0 {
		m.failures--
		return sextant.Errorf(sextant.EUNAVAILABLE, "database busy")
	}
	m.batches = append(m.batches, append([]sextant.UsageRecord(nil), recs...))
	return nil
}

func (m *memLedger) count() (batches, records int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range m.batches {
		records += len(b)
	}
	return len(m.batches), records
}

func usageRec(i int) sextant.UsageRecord {
	return sextant.UsageRecord{RequestID: fmt.Sprint("r", i), Time: t0.Add(time.Duration(i) * time.Millisecond),
		Key: "k", Model: "gpt-4o", Usage: sextant.Usage{InputTokens: 100, OutputTokens: 10}, CostUSD: 0.00035, Success: true, Priced: true}
}

func TestLedgerBatches(t *testing.T) {
	m := &memLedger{}
	l := NewLedger(m.append, LedgerOptions{BatchSize: 10, FlushInterval: time.Hour})
	var wg sync.WaitGroup
	for g := range 5 {
		wg.Go(func() {
			for i := range 20 {
				if err := l.Record(usageRec(g*100 + i)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if err := l.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	b, n := m.count()
	if n != 100 || b != 10 {
		t.Errorf("%d records in %d batches, want 100 in 10 (batch size 10, interval never reached)", n, b)
	}
	if err := l.Record(sextant.UsageRecord{RequestID: "bad"}); sextant.ErrorCode(err) != sextant.EINVALID {
		t.Errorf("record without time: %v, want invalid", err)
	}
	if err := l.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := l.Record(usageRec(1)); sextant.ErrorCode(err) != sextant.EUNAVAILABLE {
		t.Errorf("Record after Close: %v", err)
	}
	if s := l.Stats(); s.Written != 100 || s.Failed != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestLedgerInterval(t *testing.T) {
	m := &memLedger{}
	l := NewLedger(m.append, LedgerOptions{BatchSize: 1000, FlushInterval: 5 * time.Millisecond})
	defer l.Close(t.Context())
	l.Record(usageRec(1))
	l.Record(usageRec(2))
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, n := m.count(); n == 2 {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Error("records not written after the flush interval")
}

func TestLedgerRetriesAndGivesUp(t *testing.T) {
	var slept []time.Duration
	m := &memLedger{failures: 2}
	var lost []sextant.UsageRecord
	var lostErr error
	l := NewLedger(m.append, LedgerOptions{FlushInterval: time.Hour, Attempts: 3,
		Sleep:   func(d time.Duration) { slept = append(slept, d) },
		OnError: func(err error, recs []sextant.UsageRecord) { lostErr, lost = err, recs }})
	l.Record(usageRec(1))
	l.Flush(t.Context())
	if _, n := m.count(); n != 1 || len(slept) != 2 || slept[0] != 100*time.Millisecond || slept[1] != 200*time.Millisecond {
		t.Errorf("after 2 failures: %d written, waits %v; want 1 written after waits of 100ms and 200ms", n, slept)
	}
	m.mu.Lock()
	m.failures = 5
	m.mu.Unlock()
	l.Record(usageRec(2))
	l.Close(t.Context())
	if len(lost) != 1 || lost[0].RequestID != "r2" || sextant.ErrorCode(lostErr) != sextant.EUNAVAILABLE {
		t.Errorf("given up: %v %v", lost, lostErr)
	}
	if s := l.Stats(); s.Written != 1 || s.Failed != 1 {
		t.Errorf("stats %+v", s)
	}
}

// TestLedgerSQLite writes through the real store and reads the report back.
func TestLedgerSQLite(t *testing.T) {
	ctx := t.Context()
	db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l := NewLedger(db.AppendUsage, LedgerOptions{})
	for i := range 500 {
		if err := l.Record(usageRec(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	tot, err := db.UsageTotals(ctx, sextant.UsageQuery{})
	if err != nil || len(tot) != 1 || tot[0].Requests != 500 {
		t.Fatalf("totals %+v, %v", tot, err)
	}
	if !errors.Is(l.Flush(ctx), nil) {
		t.Error("Flush after Close failed")
	}
}
