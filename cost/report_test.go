package cost

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/sqlite"
)

func daily(days map[string]float64) []sextant.UsageTotal {
	var out []sextant.UsageTotal
	for d, usd := range days {
		out = append(out, sextant.UsageTotal{Group: d, Requests: 1, CostUSD: usd})
	}
	return out
}

func TestForecastMonth(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC) // 21.5 days left in March
	approx := cmpopts.EquateApprox(0, 1e-9)
	tests := []struct {
		name string
		days map[string]float64
		want Forecast
	}{
		{"no usage", nil, Forecast{Month: "2026-03", DaysRemaining: 21.5}},
		{"long history", map[string]float64{
			"2026-02-28": 100, // before the trailing window (Mar 3..9) and the month
			"2026-03-01": 10, "2026-03-02": 10,
			"2026-03-03": 7, "2026-03-04": 7, "2026-03-05": 7, "2026-03-06": 7, "2026-03-07": 7, "2026-03-08": 7, "2026-03-09": 7,
			"2026-03-10": 3,
		}, Forecast{Month: "2026-03", MonthToDate: 72, DailyAverage: 7, AverageDays: 7, DaysRemaining: 21.5, Projected: 72 + 7*21.5}},
		{"started three days ago", map[string]float64{"2026-03-07": 3, "2026-03-08": 6, "2026-03-09": 9, "2026-03-10": 1},
			Forecast{Month: "2026-03", MonthToDate: 19, DailyAverage: 6, AverageDays: 3, DaysRemaining: 21.5, Projected: 19 + 6*21.5}},
		{"started today", map[string]float64{"2026-03-10": 2},
			Forecast{Month: "2026-03", MonthToDate: 2, DailyAverage: 4, AverageDays: 0.5, DaysRemaining: 21.5, Projected: 2 + 4*21.5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ForecastMonth(daily(tt.days), now)
			if diff := cmp.Diff(tt.want, got, approx); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	// Early in a month the trailing window reaches into the previous one:
	// it counts for the average, not for the month-to-date.
	got := ForecastMonth(daily(map[string]float64{"2026-02-20": 1, "2026-02-27": 14, "2026-02-28": 14, "2026-03-01": 14}), time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))
	if got.MonthToDate != 14 || got.DailyAverage != 6 || got.DaysRemaining != 30 || got.Projected != 14+6*30 {
		t.Errorf("early March: %+v", got)
	}
}

func TestBuildReport(t *testing.T) {
	ctx := t.Context()
	db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	var recs []sextant.UsageRecord
	for d := 1; d <= 10; d++ {
		for i := range 4 {
			r := sextant.UsageRecord{RequestID: "r", Time: time.Date(2026, 3, d, i, 0, 0, 0, time.UTC), Key: "k1", Model: "gpt-4o",
				Assistant: "help", Usage: sextant.Usage{InputTokens: 900, OutputTokens: 100}, CostUSD: 0.5, Success: i != 3, Priced: true}
			if i == 2 {
				r.Key, r.Model, r.Cache, r.CostUSD, r.SavedUSD = "k2", "claude-haiku-4-5", "exact", 0, 0.5
			}
			recs = append(recs, r)
		}
	}
	if err := db.AppendUsage(ctx, recs); err != nil {
		t.Fatal(err)
	}
	rep, err := BuildReport(ctx, db.UsageTotals, sextant.UsageQuery{By: sextant.UsageByKey, Since: time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)}, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Lines) != 2 || rep.Lines[0].Group != "k1" || rep.Lines[1].Group != "k2" {
		t.Fatalf("lines %+v", rep.Lines)
	}
	k1 := rep.Lines[0]
	// k1 on Mar 9 and 10: 6 requests at $0.5, 4 of them successful.
	if k1.Requests != 6 || k1.TokensPerTask != 1000 || k1.CostPerTask != 0.5 || k1.CostPerSuccess != 0.75 || k1.CacheHitRatio != 0 {
		t.Errorf("k1 line %+v", k1)
	}
	if k2 := rep.Lines[1]; k2.CacheHits != 2 || k2.CacheHitRatio != 1 || k2.SavedUSD != 1 || k2.CostPerSuccess != 0 {
		t.Errorf("k2 line %+v", k2)
	}
	if rep.Total.Requests != 8 || rep.Total.CostUSD != 3 || rep.Total.SavedUSD != 1 {
		t.Errorf("total %+v", rep.Total)
	}
	// $1.5 a day; ledger starts Mar 1 so the average covers Mar 3..9.
	f := rep.Forecast
	if f.MonthToDate != 15 || f.DailyAverage != 1.5 || f.AverageDays != 7 || math.Abs(f.Projected-(15+1.5*21.5)) > 1e-9 {
		t.Errorf("forecast %+v", f)
	}
	if _, err := BuildReport(ctx, db.UsageTotals, sextant.UsageQuery{By: "hour"}, now); sextant.ErrorCode(err) != sextant.EINVALID {
		t.Errorf("bad grouping: %v", err)
	}
}
