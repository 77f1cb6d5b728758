// Package cost turns token usage into money and keeps spending inside its
// limits. It owns:
//
//   - the price table (Prices): US dollars per million input, cached input
//     and output tokens per model, shipped defaults for common models,
//     overridable, with model names matched through provider prefixes and
//     dated variants;
//   - the usage ledger writer (Ledger): one sextant.UsageRecord per request,
//     queued on the request path and written in batches off it;
//   - usage reports (BuildReport): tokens and cost per task, cost per
//     successful task, cache savings and a month-end forecast;
//   - budgets (Budgets): per key and per project, daily or monthly, with a
//     hard stop that holds under concurrency (reserve an estimate before
//     the model call, settle the actual cost after) and alerts at
//     thresholds, once per window, optionally posted to a webhook;
//   - rate limits (Limiter): requests and tokens per minute per key, as
//     token buckets, with the values for 429, Retry-After and the
//     OpenAI-style x-ratelimit-* headers.
//
// The package stores nothing itself: the ledger and budgets take small
// store functions and interfaces (sqlite implements them), and metrics are
// left to callbacks and snapshots so this package depends on no metrics
// library.
package cost
