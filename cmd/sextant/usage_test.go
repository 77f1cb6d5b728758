package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/sqlite"
)

// ledgerFixture writes a week of usage ending now into a fresh data
// directory: two models, two keys, failures and cache hits.
func ledgerFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(context.Background(), dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UTC()
	var recs []sextant.UsageRecord
	for d := 0; d < 8; d++ {
		at := now.Add(-time.Duration(d) * 24 * time.Hour)
		recs = append(recs,
			sextant.UsageRecord{RequestID: "a", Time: at, Key: "k1", Assistant: "help", Model: "gpt-4o-mini",
				Usage: sextant.Usage{InputTokens: 1000, OutputTokens: 200}, CostUSD: 0.27, Success: true, Priced: true},
			sextant.UsageRecord{RequestID: "b", Time: at, Key: "k2", Assistant: "help", Model: "claude-haiku-4-5",
				Usage: sextant.Usage{InputTokens: 3000, OutputTokens: 500}, CostUSD: 0.53, Success: false, Priced: true},
			sextant.UsageRecord{RequestID: "c", Time: at, Key: "k1", Assistant: "help", Model: "gpt-4o-mini", Cache: "exact",
				SavedUSD: 0.27, Success: true, Priced: true},
		)
	}
	if err := db.AppendUsage(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestUsageCommand(t *testing.T) {
	data := ledgerFixture(t)
	out, errs, err := runCLI(t, nil, "usage", "--data", data, "--by", "model", "--since", "30d")
	if err != nil {
		t.Fatalf("%v\n%s", err, errs)
	}
	for _, want := range []string{"by model", "MODEL", "TASKS", "COST/SUCCESS", "gpt-4o-mini", "claude-haiku-4-5", "TOTAL", "Forecast for "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, errs, err = runCLI(t, nil, "usage", "--data", data, "--by", "key", "--since", "30d", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, errs)
	}
	var rep struct {
		By    string `json:"by"`
		Lines []struct {
			Group          string  `json:"group"`
			Requests       int64   `json:"requests"`
			Succeeded      int64   `json:"succeeded"`
			CostUSD        float64 `json:"cost_usd"`
			CostPerSuccess float64 `json:"cost_per_success_usd"`
			CacheHitRatio  float64 `json:"cache_hit_ratio"`
			SavedUSD       float64 `json:"saved_usd"`
			TokensPerTask  float64 `json:"tokens_per_task"`
		} `json:"lines"`
		Total struct {
			Requests int64   `json:"requests"`
			CostUSD  float64 `json:"cost_usd"`
		} `json:"total"`
		Forecast struct {
			DailyAverage float64 `json:"daily_average_usd"`
			AverageDays  float64 `json:"average_days"`
			Projected    float64 `json:"projected_usd"`
		} `json:"forecast"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.By != "key" || len(rep.Lines) != 2 || rep.Total.Requests != 24 {
		t.Fatalf("report %+v", rep)
	}
	k1, k2 := rep.Lines[0], rep.Lines[1]
	if k1.Group != "k1" || k1.Requests != 16 || k1.CacheHitRatio != 0.5 || !near(k1.CostPerSuccess, 0.27/2) || !near(k1.SavedUSD, 8*0.27) || k1.TokensPerTask != 600 {
		t.Errorf("k1 %+v", k1)
	}
	if k2.Succeeded != 0 || k2.CostPerSuccess != 0 {
		t.Errorf("k2 %+v: nothing succeeded, cost per success must be 0", k2)
	}
	// $0.80 a day for the 7 days before today.
	if !near(rep.Forecast.DailyAverage, 0.8) || rep.Forecast.AverageDays != 7 {
		t.Errorf("forecast %+v", rep.Forecast)
	}

	for _, args := range [][]string{
		{"usage", "--data", data, "--by", "week"},
		{"usage", "--data", data, "--since", "yesterday"},
		{"usage", "--data", data, "--since", "2026-03-02", "--until", "2026-03-01"},
		{"usage", "--data", data, "extra"},
	} {
		if _, _, err := runCLI(t, nil, args...); exitCode(err) != 2 {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

func TestParseWhen(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"2026-03-01":           time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		"2026-03-01T10:00:00Z": time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC),
		"36h":                  now.Add(-36 * time.Hour),
		"7d":                   now.AddDate(0, 0, -7),
		"1.5d":                 now.Add(-36 * time.Hour),
		"2w":                   now.AddDate(0, 0, -14),
	} {
		got, err := parseWhen(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseWhen(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1d", "xd", "soon", "2026-13-01", "NaNd", "1e300d", "+Infw"} {
		if _, err := parseWhen(bad, now); err == nil {
			t.Errorf("parseWhen(%q) accepted", bad)
		}
	}
}

func TestBudgetsCommand(t *testing.T) {
	data := ledgerFixture(t)
	out, errs, err := runCLI(t, nil, "budgets", "--data", data)
	if err != nil || !strings.Contains(out, "No budgets") {
		t.Fatalf("empty list: %q %v %s", out, err, errs)
	}
	if out, errs, err = runCLI(t, nil, "budgets", "set", "--data", data, "--key", "k1", "--daily", "5", "--monthly", "$100", "--thresholds", "0.5,0.9"); err != nil {
		t.Fatalf("%v\n%s", err, errs)
	}
	if !strings.Contains(out, "set key:k1:daily to $5.00") || !strings.Contains(out, "set key:k1:monthly to $100.00") {
		t.Errorf("set output %q", out)
	}
	if _, errs, err = runCLI(t, nil, "budgets", "set", "--data", data, "--project", "acme/support", "--monthly", "50"); err != nil {
		t.Fatalf("%v\n%s", err, errs)
	}
	out, _, err = runCLI(t, nil, "budgets", "list", "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"key:k1:daily", "key:k1:monthly", "project:acme/support:monthly", "store", "0.5,0.9", "$5.00"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	out, _, _ = runCLI(t, nil, "budgets", "--data", data, "--json")
	var items []struct {
		Budget   string  `json:"budget"`
		SpentUSD float64 `json:"spent_usd"`
		Source   string  `json:"source"`
	}
	if err := json.Unmarshal([]byte(out), &items); err != nil || len(items) != 3 {
		t.Fatalf("json list %v: %s", err, out)
	}
	// k1 spent $0.27 today (the fixture's request at now).
	if items[0].Budget != "key:k1:daily" || !near(items[0].SpentUSD, 0.27) {
		t.Errorf("k1 daily %+v", items[0])
	}
	if _, errs, err = runCLI(t, nil, "budgets", "delete", "--data", data, "--key", "k1", "--period", "daily,monthly"); err != nil {
		t.Fatalf("%v\n%s", err, errs)
	}
	if _, _, err = runCLI(t, nil, "budgets", "delete", "--data", data, "--key", "k1", "--period", "daily"); sextant.ErrorCode(err) != sextant.ENOTFOUND {
		t.Errorf("deleting again: %v", err)
	}
	for _, args := range [][]string{
		{"budgets", "set", "--data", data, "--daily", "5"},
		{"budgets", "set", "--data", data, "--key", "k", "--project", "p", "--daily", "5"},
		{"budgets", "set", "--data", data, "--key", "k"},
		{"budgets", "set", "--data", data, "--key", "k", "--daily", "five"},
		{"budgets", "set", "--data", data, "--key", "k", "--daily", "-1"},
		{"budgets", "set", "--data", data, "--key", "k", "--daily", "1", "--thresholds", "0.5,x"},
		{"budgets", "delete", "--data", data, "--key", "k"},
		{"budgets", "delete", "--data", data, "--key", "k", "--period", "weekly"},
		{"budgets", "frobnicate", "--data", data},
	} {
		if _, _, err := runCLI(t, nil, args...); exitCode(err) != 2 {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}

func FuzzParseWhen(f *testing.F) {
	for _, s := range []string{"2026-03-01", "2026-03-01T10:00:00Z", "36h", "7d", "1.5w", "-1d", "d", "1e308d", "NaNd", "+Infw", ""} {
		f.Add(s)
	}
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseWhen(s, now)
		if err == nil && got.After(now) && !strings.Contains(s, "-") && !strings.Contains(s, "T") {
			t.Fatalf("parseWhen(%q) = %v: an age must not lie in the future", s, got)
		}
	})
}
