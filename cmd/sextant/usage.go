package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/cost"
	"github.com/sextant-ai/sextant/web"
)

const usageUsage = `Usage: sextant usage [--by day|key|model|assistant|project|tenant|user] [--since WHEN] [--until WHEN] [--json]

Report tokens and cost from the usage ledger: per task (request) tokens and
cost, cost per successful task (all spend over the requests that
succeeded), response-cache savings, and a forecast of this month's spend
(month to date plus the trailing 7-day daily average times the days left).

WHEN is a date (2026-03-01), an RFC 3339 time, or an age (36h, 7d, 4w)
before now. The default period is the current month (UTC).

Flags:
`

func runUsage(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("usage", e.stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageUsage)
		fs.PrintDefaults()
	}
	dataDir := dataFlag(fs, e)
	by := fs.String("by", "", "group by day, key, model, assistant, project, tenant or user (default: totals only)")
	since := fs.String("since", "", "start of the period (default: the first of this month, UTC)")
	until := fs.String("until", "", "end of the period, exclusive (default: now)")
	tenant := fs.String("tenant", "", "only this tenant's usage")
	project := fs.String("project", "", "only this project's usage")
	key := fs.String("key", "", "only this API key's usage")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("usage: unexpected argument %q", pos[0])
	}
	now := time.Now().UTC()
	q := sextant.UsageQuery{By: *by, Tenant: *tenant, Project: *project, Key: *key}
	q.Since = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	if *since != "" {
		if q.Since, err = parseWhen(*since, now); err != nil {
			return usageErrorf("--since %q: %v", *since, err)
		}
	}
	if *until != "" {
		if q.Until, err = parseWhen(*until, now); err != nil {
			return usageErrorf("--until %q: %v", *until, err)
		}
	}
	if err := q.Validate(); err != nil {
		return usageErrorf("%s", sextant.ErrorMessage(err))
	}
	db, err := openStore(ctx, *dataDir)
	if err != nil {
		return err
	}
	defer db.Close()
	rep, err := cost.BuildReport(ctx, db.UsageTotals, q, now)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeUsageJSON(e.stdout, rep)
	}
	writeUsageText(e.stdout, rep)
	return nil
}

// parseWhen reads a date, an RFC 3339 time or an age before now ("36h",
// "7d", "4w"), as the HTTP API does.
func parseWhen(s string, now time.Time) (time.Time, error) { return web.ParseWhen(s, now) }

// writeUsageJSON writes the report as GET /v1/usage answers it.
func writeUsageJSON(w io.Writer, rep *cost.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(web.UsageReportJSON(rep))
}

func writeUsageText(w io.Writer, rep *cost.Report) {
	until := "now"
	if !rep.Until.IsZero() {
		until = rep.Until.UTC().Format(time.RFC3339)
	}
	since := "the beginning"
	if !rep.Since.IsZero() {
		since = rep.Since.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(w, "Usage from %s to %s (UTC)", since, until)
	if rep.By != "" {
		fmt.Fprintf(w, ", by %s", rep.By)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 2, 0, 2, ' ', tabwriter.AlignRight)
	head := strings.ToUpper(rep.By)
	if head == "" {
		head = " "
	}
	fmt.Fprintf(tw, "%s\tTASKS\tOK\tTOKENS IN\tTOKENS OUT\tTOKENS/TASK\tCOST\tCOST/TASK\tCOST/SUCCESS\tCACHE HITS\tSAVED\t\n", head)
	row := func(name string, l cost.Line) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%.0f\t%s\t%s\t%s\t%.1f%%\t%s\t\n", name, l.Requests, l.Succeeded,
			tokenCount(l.InputTokens), tokenCount(l.OutputTokens), l.TokensPerTask, formatUSD(l.CostUSD), formatUSD(l.CostPerTask),
			formatUSD(l.CostPerSuccess), 100*l.CacheHitRatio, formatUSD(l.SavedUSD))
	}
	for _, l := range rep.Lines {
		name := l.Group
		if name == "" {
			name = "(none)"
		}
		row(name, l)
	}
	row("TOTAL", rep.Total)
	tw.Flush()
	if n := rep.Total.Unpriced; n > 0 {
		fmt.Fprintf(w, "\n%d requests used models without a price (counted at $0): add them under prices.models in the configuration.\n", n)
	}
	f := rep.Forecast
	fmt.Fprintf(w, "\nForecast for %s: %s  (month to date %s + %s/day × %.1f days left; daily average of the last %.1f days)\n",
		f.Month, formatUSD(f.Projected), formatUSD(f.MonthToDate), formatUSD(f.DailyAverage), f.DaysRemaining, f.AverageDays)
}

// formatUSD formats dollars: cents from a dollar up, four significant digits
// below.
func formatUSD(v float64) string {
	switch {
	case v == 0:
		return "$0"
	case v >= 1:
		return "$" + strconv.FormatFloat(v, 'f', 2, 64)
	}
	return "$" + strconv.FormatFloat(v, 'g', 4, 64)
}

// tokenCount formats a token count: 1234 → 1.2k, 1234567 → 1.2M.
func tokenCount(n int64) string {
	switch {
	case n >= 10_000_000:
		return strconv.FormatInt(n/1_000_000, 10) + "M"
	case n >= 1_000_000:
		return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + "M"
	case n >= 10_000:
		return strconv.FormatInt(n/1000, 10) + "k"
	case n >= 1000:
		return strconv.FormatFloat(float64(n)/1e3, 'f', 1, 64) + "k"
	}
	return strconv.FormatInt(n, 10)
}
