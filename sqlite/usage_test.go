package sqlite

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/sextant-ai/sextant"
)

func usageFixture() []sextant.UsageRecord {
	day := func(d, h int) time.Time { return time.Date(2026, 3, d, h, 0, 0, 0, time.UTC) }
	u := func(in, cached, out int) sextant.Usage {
		return sextant.Usage{InputTokens: in, CachedInputTokens: cached, OutputTokens: out}
	}
	return []sextant.UsageRecord{
		{RequestID: "r1", Time: day(1, 9), Tenant: "acme", Project: "support", Key: "k1", User: "u1", Assistant: "help",
			Model: "gpt-4o", Provider: "openai", Usage: u(1000, 200, 100), CostUSD: 0.00325, SavedUSD: 0.00025, Success: true, Priced: true},
		{RequestID: "r2", Time: day(1, 23), Tenant: "acme", Project: "support", Key: "k1", User: "u2", Assistant: "help",
			Model: "gpt-4o", Cache: "exact", SavedUSD: 0.003, Success: true, Priced: true},
		{RequestID: "r3", Time: day(2, 0), Tenant: "acme", Project: "sales", Key: "k2", Assistant: "sales",
			Model: "claude-sonnet-4-5", Provider: "anthropic", Usage: u(500, 0, 50), CostUSD: 0.00225, Priced: true},
		{RequestID: "r4", Time: day(3, 12), Tenant: "beta", Project: "support", Key: "k3", Assistant: "help",
			Model: "local-llama", Provider: "vllm", Usage: sextant.Usage{InputTokens: 10, OutputTokens: 5, Estimated: true}, Success: true},
	}
}

func TestUsageLedger(t *testing.T) {
	db := openTest(t)
	ctx := t.Context()
	recs := usageFixture()
	if err := db.AppendUsage(ctx, recs[:2]); err != nil {
		t.Fatal(err)
	}
	if err := db.AppendUsage(ctx, recs[2:]); err != nil {
		t.Fatal(err)
	}
	got, err := db.UsageRecords(ctx, sextant.UsageQuery{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(recs, got); diff != "" {
		t.Errorf("records round trip (-want +got):\n%s", diff)
	}

	approx := cmpopts.EquateApprox(0, 1e-12)
	tests := []struct {
		name string
		q    sextant.UsageQuery
		want []sextant.UsageTotal
	}{
		{"total", sextant.UsageQuery{}, []sextant.UsageTotal{{Requests: 4, Succeeded: 3, CacheHits: 1, Unpriced: 1,
			InputTokens: 1510, CachedInputTokens: 200, OutputTokens: 155, CostUSD: 0.0055, SavedUSD: 0.00325}}},
		{"empty total", sextant.UsageQuery{Tenant: "nobody"}, []sextant.UsageTotal{{}}},
		{"by day", sextant.UsageQuery{By: sextant.UsageByDay}, []sextant.UsageTotal{
			{Group: "2026-03-01", Requests: 2, Succeeded: 2, CacheHits: 1, InputTokens: 1000, CachedInputTokens: 200, OutputTokens: 100, CostUSD: 0.00325, SavedUSD: 0.00325},
			{Group: "2026-03-02", Requests: 1, InputTokens: 500, OutputTokens: 50, CostUSD: 0.00225},
			{Group: "2026-03-03", Requests: 1, Succeeded: 1, Unpriced: 1, InputTokens: 10, OutputTokens: 5},
		}},
		{"by model since", sextant.UsageQuery{By: sextant.UsageByModel, Since: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}, []sextant.UsageTotal{
			{Group: "claude-sonnet-4-5", Requests: 1, InputTokens: 500, OutputTokens: 50, CostUSD: 0.00225},
			{Group: "gpt-4o", Requests: 1, Succeeded: 1, CacheHits: 1, SavedUSD: 0.003},
			{Group: "local-llama", Requests: 1, Succeeded: 1, Unpriced: 1, InputTokens: 10, OutputTokens: 5},
		}},
		{"by key until", sextant.UsageQuery{By: sextant.UsageByKey, Until: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)}, []sextant.UsageTotal{
			{Group: "k1", Requests: 2, Succeeded: 2, CacheHits: 1, InputTokens: 1000, CachedInputTokens: 200, OutputTokens: 100, CostUSD: 0.00325, SavedUSD: 0.00325},
		}},
		{"by assistant of a tenant", sextant.UsageQuery{By: sextant.UsageByAssistant, Tenant: "acme"}, []sextant.UsageTotal{
			{Group: "help", Requests: 2, Succeeded: 2, CacheHits: 1, InputTokens: 1000, CachedInputTokens: 200, OutputTokens: 100, CostUSD: 0.00325, SavedUSD: 0.00325},
			{Group: "sales", Requests: 1, InputTokens: 500, OutputTokens: 50, CostUSD: 0.00225},
		}},
		{"by user of a project", sextant.UsageQuery{By: sextant.UsageByUser, Project: "support", Key: "k1"}, []sextant.UsageTotal{
			{Group: "u1", Requests: 1, Succeeded: 1, InputTokens: 1000, CachedInputTokens: 200, OutputTokens: 100, CostUSD: 0.00325, SavedUSD: 0.00025},
			{Group: "u2", Requests: 1, Succeeded: 1, CacheHits: 1, SavedUSD: 0.003},
		}},
		{"by tenant", sextant.UsageQuery{By: sextant.UsageByTenant}, []sextant.UsageTotal{
			{Group: "acme", Requests: 3, Succeeded: 2, CacheHits: 1, InputTokens: 1500, CachedInputTokens: 200, OutputTokens: 150, CostUSD: 0.0055, SavedUSD: 0.00325},
			{Group: "beta", Requests: 1, Succeeded: 1, Unpriced: 1, InputTokens: 10, OutputTokens: 5},
		}},
		{"by project", sextant.UsageQuery{By: sextant.UsageByProject}, []sextant.UsageTotal{
			{Group: "sales", Requests: 1, InputTokens: 500, OutputTokens: 50, CostUSD: 0.00225},
			{Group: "support", Requests: 3, Succeeded: 3, CacheHits: 1, Unpriced: 1, InputTokens: 1010, CachedInputTokens: 200, OutputTokens: 105, CostUSD: 0.00325, SavedUSD: 0.00325},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.UsageTotals(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, approx); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	if _, err := db.UsageTotals(ctx, sextant.UsageQuery{By: "week"}); sextant.ErrorCode(err) != sextant.EINVALID {
		t.Errorf("unknown grouping: %v, want invalid", err)
	}
	bad := recs[0]
	bad.Usage.CachedInputTokens = 5000
	if err := db.AppendUsage(ctx, []sextant.UsageRecord{recs[0], bad}); sextant.ErrorCode(err) != sextant.EINVALID {
		t.Errorf("bad record: %v, want invalid", err)
	}
	if n, _ := db.UsageRecords(ctx, sextant.UsageQuery{}, 0); len(n) != 4 {
		t.Errorf("a refused batch wrote %d records", len(n)-4)
	}
	if got, _ := db.UsageRecords(ctx, sextant.UsageQuery{}, 2); len(got) != 2 {
		t.Errorf("limit 2 returned %d records", len(got))
	}
}

func TestBudgetsStore(t *testing.T) {
	db := openTest(t)
	ctx := t.Context()
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	if err := db.AppendUsage(ctx, usageFixture()); err != nil {
		t.Fatal(err)
	}
	kb := sextant.Budget{Scope: sextant.BudgetKey, Tenant: "ignored", ID: "k1", Period: sextant.BudgetDaily, LimitUSD: 5}
	pb := sextant.Budget{Scope: sextant.BudgetProject, Tenant: "acme", ID: "support", Period: sextant.BudgetMonthly, LimitUSD: 100, Thresholds: []float64{0.9}}
	for _, b := range []sextant.Budget{kb, pb} {
		if err := db.PutBudget(ctx, &b, now); err != nil {
			t.Fatal(err)
		}
	}
	kb.LimitUSD = 7
	if err := db.PutBudget(ctx, &kb, now); err != nil {
		t.Fatal(err)
	}
	got, err := db.Budgets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantKB := kb
	wantKB.Tenant = ""
	if diff := cmp.Diff([]sextant.Budget{wantKB, pb}, got); diff != "" {
		t.Errorf("budgets (-want +got):\n%s", diff)
	}
	if err := db.PutBudget(ctx, &sextant.Budget{Scope: "team", ID: "x", Period: "daily"}, now); sextant.ErrorCode(err) != sextant.EINVALID {
		t.Errorf("bad budget: %v", err)
	}

	spent, err := db.Spent(ctx, &kb, kb.WindowStart(time.Date(2026, 3, 1, 15, 0, 0, 0, time.UTC)))
	if err != nil || spent != 0.00325 {
		t.Errorf("key spent = %v, %v; want 0.00325", spent, err)
	}
	spent, err = db.Spent(ctx, &pb, pb.WindowStart(now))
	if err != nil || spent != 0.00325 {
		t.Errorf("project spent = %v, %v; want 0.00325 (beta's support project is another tenant's)", spent, err)
	}

	ws := pb.WindowStart(now)
	for i, want := range []bool{true, false} {
		first, err := db.MarkBudgetAlert(ctx, &pb, ws, 0.9, now)
		if err != nil || first != want {
			t.Errorf("mark %d = %v, %v; want %v", i, first, err, want)
		}
	}
	if first, _ := db.MarkBudgetAlert(ctx, &pb, ws.AddDate(0, 1, 0), 0.9, now); !first {
		t.Error("next window's alert counted as already sent")
	}
	if ths, err := db.BudgetAlerts(ctx, &pb, ws); err != nil || !cmp.Equal(ths, []float64{0.9}) {
		t.Errorf("alerts = %v, %v", ths, err)
	}

	if err := db.DeleteBudget(ctx, &kb); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteBudget(ctx, &kb); sextant.ErrorCode(err) != sextant.ENOTFOUND {
		t.Errorf("second delete: %v, want not found", err)
	}
}

// BenchmarkAppendUsage writes ledger batches of the usage writer's default
// size; records/s is the ledger's sustained capacity.
func BenchmarkAppendUsage(b *testing.B) {
	db, err := Open(b.Context(), b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	batch := make([]sextant.UsageRecord, 256)
	for i := range batch {
		batch[i] = usageFixture()[i%4]
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := db.AppendUsage(b.Context(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "records/s")
}
