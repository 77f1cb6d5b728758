package audit

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sextant-ai/sextant"
)

// Retention is how long the payload of each kind of record is kept. A kind
// not listed is kept forever. Only payloads go: the record's chained
// fields and hashes stay, so the log still verifies and still shows that
// something of that kind happened, when, and by whom.
type Retention map[sextant.AuditKind]time.Duration

// ParseRetention parses "kind=duration" items, e.g. "answer=90d" or
// "auth=720h" (Go durations, or whole days with a "d" suffix).
func ParseRetention(items []string) (Retention, error) {
	r := Retention{}
	for _, it := range items {
		k, d, ok := strings.Cut(it, "=")
		kind := sextant.AuditKind(strings.TrimSpace(k))
		if !ok || !sextant.ValidAuditKind(kind) {
			return nil, sextant.Errorf(sextant.EINVALID, "retention %q: want kind=duration, e.g. answer=90d", it)
		}
		dur, err := parseDays(strings.TrimSpace(d))
		if err != nil {
			return nil, sextant.Errorf(sextant.EINVALID, "retention %q: %v", it, err)
		}
		r[kind] = dur
	}
	return r, nil
}

func parseDays(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 || days > 100*365 {
			return 0, fmt.Errorf("%q: want a positive number of days or a duration like 720h", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q: want a positive number of days or a duration like 720h", s)
	}
	return d, nil
}

// Purge applies r: it tombstones the payload of every record older than
// its kind's retention, then records what it purged as an admin event by
// actor, and returns the count per kind.
func (l *Log) Purge(ctx context.Context, r Retention, actor string) (map[sextant.AuditKind]int64, error) {
	now := l.opts.Now().UTC()
	out := map[sextant.AuditKind]int64{}
	for _, kind := range slices.Sorted(maps.Keys(r)) {
		keep := r[kind]
		if keep <= 0 {
			return out, sextant.Errorf(sextant.EINVALID, "audit: retention of %q must be positive, got %v", kind, keep)
		}
		n, err := l.store.PurgeAudit(ctx, kind, now.Add(-keep), now)
		if err != nil {
			return out, fmt.Errorf("audit: purge %s: %w", kind, err)
		}
		out[kind] = n
	}
	type purged struct {
		Kind   sextant.AuditKind `json:"kind"`
		Before time.Time         `json:"before"`
		Count  int64             `json:"count"`
	}
	var pl struct {
		Action string   `json:"action"`
		Purged []purged `json:"purged"`
	}
	pl.Action = "audit.purge"
	for _, kind := range slices.Sorted(maps.Keys(r)) {
		pl.Purged = append(pl.Purged, purged{kind, now.Add(-r[kind]), out[kind]})
	}
	if _, err := l.Append(ctx, sextant.AuditEvent{Kind: sextant.AuditAdmin, Actor: actor, Payload: pl}); err != nil {
		return out, err
	}
	return out, nil
}
