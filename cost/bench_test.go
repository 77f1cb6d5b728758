package cost

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sextant-ai/sextant"
)

// Per-request costs of the cost package on the gateway path. Run:
//
//	go test -run '^$' -bench . -benchmem ./cost

func BenchmarkCharge(b *testing.B) {
	p, _ := NewPrices(PriceConfig{})
	u := sextant.Usage{InputTokens: 1200, CachedInputTokens: 400, OutputTokens: 300}
	b.ReportAllocs()
	for b.Loop() {
		p.Charge("gpt-4o-mini-2024-07-18", u)
	}
}

func BenchmarkReserveSettle(b *testing.B) {
	newB := func(b *testing.B) *Budgets {
		bs, err := NewBudgets(context.Background(), BudgetOptions{Budgets: []sextant.Budget{
			keyBudget("k1", sextant.BudgetDaily, 1e12), keyBudget("k1", sextant.BudgetMonthly, 1e12),
			{Scope: sextant.BudgetProject, Tenant: "t", ID: "p", Period: sextant.BudgetMonthly, LimitUSD: 1e12},
		}})
		if err != nil {
			b.Fatal(err)
		}
		return bs
	}
	s := Scope{Tenant: "t", Project: "p", Key: "k1"}
	b.Run("serial", func(b *testing.B) {
		bs := newB(b)
		b.ReportAllocs()
		for b.Loop() {
			r, err := bs.Reserve(s, 0.01)
			if err != nil {
				b.Fatal(err)
			}
			r.Settle(0.008)
		}
	})
	// 200 goroutines per CPU hammering one key's and project's budgets:
	// the contended case of the hard-stop target.
	b.Run("parallel-200", func(b *testing.B) {
		bs := newB(b)
		b.ReportAllocs()
		b.SetParallelism(200)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				r, err := bs.Reserve(s, 0.01)
				if err != nil {
					b.Fatal(err)
				}
				r.Settle(0.008)
			}
		})
	})
}

// BenchmarkHardStop200 runs the scenario repeatedly: 200 concurrent
// requests against a budget with room for 4, reporting the worst overshoot
// seen (in units of one request's cost) and the time per round.
func BenchmarkHardStop200(b *testing.B) {
	worst := 0.0
	var admittedTotal int64
	for b.Loop() {
		bs, _ := NewBudgets(context.Background(), BudgetOptions{Budgets: []sextant.Budget{keyBudget("k", sextant.BudgetDaily, 1)}})
		s := Scope{Key: "k"}
		r, _ := bs.Reserve(s, 0.955)
		r.Settle(0.955)
		var wg sync.WaitGroup
		var admitted atomic.Int64
		start := make(chan struct{})
		for range 200 {
			wg.Go(func() {
				<-start
				if r, err := bs.Reserve(s, 0.01); err == nil {
					admitted.Add(1)
					r.Settle(0.01)
				}
			})
		}
		close(start)
		wg.Wait()
		admittedTotal += admitted.Load()
		spent := bs.Status()[0].SpentUSD
		worst = max(worst, (spent-1)/0.01)
	}
	b.ReportMetric(max(worst, 0), "overshoot-requests")
	b.ReportMetric(float64(admittedTotal)/float64(b.N), "admitted/round")
}

func BenchmarkLimiterAllow(b *testing.B) {
	l, _ := NewLimiter(LimiterOptions{Default: RateLimit{RequestsPerMinute: 1 << 50, TokensPerMinute: 1 << 50}})
	keys := make([]string, 64)
	for i := range keys {
		keys[i] = fmt.Sprint("key-", i)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := l.Allow(keys[i&63], 500); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			k := keys[n.Add(1)&63]
			for pb.Next() {
				if _, err := l.Allow(k, 500); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkLedgerRecord is the request path's share of a ledger write:
// validation and a queue send; the batch writer runs on its own goroutine
// (here writing nowhere, so only the queue is measured).
func BenchmarkLedgerRecord(b *testing.B) {
	l := NewLedger(func(context.Context, []sextant.UsageRecord) error { return nil }, LedgerOptions{FlushInterval: time.Millisecond})
	defer l.Close(context.Background())
	r := usageRec(1)
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Record(r); err != nil {
			b.Fatal(err)
		}
	}
}
