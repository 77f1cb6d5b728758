package cost

import (
	"context"
	"time"

	"github.com/sextant-ai/sextant"
)

// TotalsFunc sums ledger records (sqlite's DB.UsageTotals).
type TotalsFunc func(ctx context.Context, q sextant.UsageQuery) ([]sextant.UsageTotal, error)

// Line is one row of a usage report: a group's totals and the per-task
// figures derived from them. A task is one request.
type Line struct {
	sextant.UsageTotal
	TokensPerTask  float64 // (input + output tokens) / requests
	CostPerTask    float64 // cost / requests
	CostPerSuccess float64 // cost / successful requests: failures are paid for too; 0 when none succeeded
	CacheHitRatio  float64 // response-cache hits / requests
}

func newLine(t sextant.UsageTotal) Line {
	l := Line{UsageTotal: t}
	if t.Requests > 0 {
		n := float64(t.Requests)
		l.TokensPerTask = float64(t.InputTokens+t.OutputTokens) / n
		l.CostPerTask = t.CostUSD / n
		l.CacheHitRatio = float64(t.CacheHits) / n
	}
	if t.Succeeded > 0 {
		l.CostPerSuccess = t.CostUSD / float64(t.Succeeded)
	}
	return l
}

// Forecast projects the current month's spend.
//
// Method: month-to-date spend plus the trailing daily average times the
// days left in the month (fractional, from now). The trailing average is
// the spend of the last 7 complete UTC days divided by 7; when the ledger
// is younger than that, by the complete days it covers; when it holds
// only today, today's spend divided by the fraction of the day elapsed.
type Forecast struct {
	Month         string  // "2006-01"
	MonthToDate   float64 // USD spent this month up to now
	DailyAverage  float64 // USD per day, trailing
	AverageDays   float64 // days the average is taken over (may be a fraction of today)
	DaysRemaining float64 // from now to the end of the month
	Projected     float64 // MonthToDate + DailyAverage × DaysRemaining
}

// trailingDays is the window of the forecast's daily average.
const trailingDays = 7

// ForecastMonth computes the month-end forecast at now from daily totals
// (Group "2006-01-02", UTC days) covering at least the current month and
// the 7 days before today.
func ForecastMonth(daily []sextant.UsageTotal, now time.Time) Forecast {
	now = now.UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	monthStart := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	monthEnd := monthStart.AddDate(0, 1, 0)
	f := Forecast{Month: monthStart.Format("2006-01"), DaysRemaining: monthEnd.Sub(now).Hours() / 24}

	windowStart := today.AddDate(0, 0, -trailingDays)
	var first time.Time
	var trailing, todaySpend float64
	for _, d := range daily {
		day, err := time.Parse("2006-01-02", d.Group)
		if err != nil || d.Requests == 0 {
			continue
		}
		if first.IsZero() || day.Before(first) {
			first = day
		}
		if !day.Before(monthStart) && day.Before(monthEnd) {
			f.MonthToDate += d.CostUSD
		}
		switch {
		case day.Equal(today):
			todaySpend += d.CostUSD
		case !day.Before(windowStart) && day.Before(today):
			trailing += d.CostUSD
		}
	}
	switch {
	case first.IsZero():
		// No usage at all: nothing to project.
	case first.Before(today):
		days := float64(trailingDays)
		if first.After(windowStart) {
			days = today.Sub(first).Hours() / 24
		}
		f.AverageDays, f.DailyAverage = days, trailing/days
	default:
		if elapsed := now.Sub(today).Hours() / 24; elapsed > 0 {
			f.AverageDays, f.DailyAverage = elapsed, todaySpend/elapsed
		}
	}
	f.Projected = f.MonthToDate + f.DailyAverage*f.DaysRemaining
	return f
}

// Report is a usage report over a period.
type Report struct {
	Since, Until time.Time // the period; zero = unbounded
	By           string    // the grouping (a sextant.UsageBy* value); "" = total only
	Lines        []Line    // one per group, in group order; nil when By is ""
	Total        Line
	Forecast     Forecast // for the month containing the report's Now
}

// BuildReport sums the ledger for q (its By groups the lines) and adds the
// month-end forecast at now, computed from the whole ledger of the same
// tenant, project and key filters (not limited to q's period).
func BuildReport(ctx context.Context, totals TotalsFunc, q sextant.UsageQuery, now time.Time) (*Report, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	r := &Report{Since: q.Since, Until: q.Until, By: q.By}
	tq := q
	tq.By = ""
	all, err := totals(ctx, tq)
	if err != nil {
		return nil, err
	}
	if len(all) > 0 {
		r.Total = newLine(all[0])
	}
	if q.By != "" {
		groups, err := totals(ctx, q)
		if err != nil {
			return nil, err
		}
		r.Lines = make([]Line, len(groups))
		for i, g := range groups {
			r.Lines[i] = newLine(g)
		}
	}
	now = now.UTC()
	monthStart := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	since := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -trailingDays)
	if monthStart.Before(since) {
		since = monthStart
	}
	// Probe one earlier day so a ledger that started before the window is
	// told from one that started inside it.
	fq := sextant.UsageQuery{Since: since.AddDate(0, 0, -1), Until: now.Add(time.Nanosecond), Tenant: q.Tenant, Project: q.Project, Key: q.Key, By: sextant.UsageByDay}
	daily, err := totals(ctx, fq)
	if err != nil {
		return nil, err
	}
	r.Forecast = ForecastMonth(daily, now)
	return r, nil
}
