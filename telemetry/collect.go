package telemetry

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// IndexStats is the corpus size and freshness at one moment.
type IndexStats struct {
	Documents      int64
	Chunks         int64
	StaleDocuments int64            // past their TTL
	TextBytes      int64            // bytes of document text
	StoreBytes     int64            // database files on disk; 0 = unknown
	Collections    map[string]int64 // documents per collection; nil = not reported
	// Generation is the store's change counter; Indexed the generation
	// the search index has caught up to. Their difference is the number
	// of changes not yet searchable. Both 0 = not reported.
	Generation, Indexed int64
	// LastChange is when the corpus last changed; zero = unknown.
	LastChange time.Time
	// Quarantined is the number of documents held in quarantine for
	// review; negative = unknown (not exported).
	Quarantined int64
}

// maxCollections bounds the collection label; the smallest collections
// beyond it are summed under "other".
const maxCollections = 50

var (
	descDocuments = prometheus.NewDesc("sextant_index_documents", "Documents in the store, by collection.", []string{"collection"}, nil)
	descChunks    = prometheus.NewDesc("sextant_index_chunks", "Chunks in the store.", nil, nil)
	descStale     = prometheus.NewDesc("sextant_index_stale_documents", "Documents past their time to live.", nil, nil)
	descText      = prometheus.NewDesc("sextant_index_text_bytes", "Bytes of document text in the store.", nil, nil)
	descStore     = prometheus.NewDesc("sextant_store_size_bytes", "Size of the database files on disk.", nil, nil)
	descLag       = prometheus.NewDesc("sextant_index_lag_changes", "Store changes the search index has not applied yet.", nil, nil)
	descLast      = prometheus.NewDesc("sextant_index_last_change_timestamp_seconds", "When the corpus last changed (Unix time).", nil, nil)
	descIndexErr  = prometheus.NewDesc("sextant_index_stats_errors_total", "Failed reads of the index statistics.", nil, nil)
	descQuar      = prometheus.NewDesc("sextant_quarantined_documents", "Documents held in quarantine for review (suspected injection).", nil, nil)
)

// indexCollector reads IndexStats at scrape time, at most once per every.
type indexCollector struct {
	read  func(context.Context) (IndexStats, error)
	every time.Duration
	now   func() time.Time

	mu     sync.Mutex
	at     time.Time
	stats  IndexStats
	ok     bool
	errors float64
}

func newIndexCollector(read func(context.Context) (IndexStats, error), every time.Duration, now func() time.Time) *indexCollector {
	if every <= 0 {
		every = 15 * time.Second
	}
	if now == nil {
		now = time.Now
	}
	return &indexCollector{read: read, every: every, now: now}
}

func (c *indexCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDocuments, descChunks, descStale, descText, descStore, descLag, descLast, descIndexErr, descQuar} {
		ch <- d
	}
}

func (c *indexCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.now(); !c.ok || now.Sub(c.at) >= c.every {
		// A scrape has its own timeout; the stats query gets a shorter one.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s, err := c.read(ctx)
		cancel()
		if err != nil {
			c.errors++
		} else {
			c.stats, c.ok = s, true
		}
		c.at = now
	}
	ch <- prometheus.MustNewConstMetric(descIndexErr, prometheus.CounterValue, c.errors)
	if !c.ok {
		return
	}
	s := c.stats
	if s.Collections == nil {
		ch <- prometheus.MustNewConstMetric(descDocuments, prometheus.GaugeValue, float64(s.Documents), "all")
	} else {
		names := make([]string, 0, len(s.Collections))
		for k := range s.Collections {
			names = append(names, k)
		}
		sort.Slice(names, func(i, j int) bool {
			if a, b := s.Collections[names[i]], s.Collections[names[j]]; a != b {
				return a > b
			}
			return names[i] < names[j]
		})
		var rest float64
		for i, n := range names {
			v := float64(s.Collections[n])
			if i >= maxCollections || n == Other || len(n) > maxLabelLen {
				rest += v
				continue
			}
			if n == "" {
				n = None
			}
			ch <- prometheus.MustNewConstMetric(descDocuments, prometheus.GaugeValue, v, n)
		}
		if rest > 0 {
			ch <- prometheus.MustNewConstMetric(descDocuments, prometheus.GaugeValue, rest, Other)
		}
	}
	ch <- prometheus.MustNewConstMetric(descChunks, prometheus.GaugeValue, float64(s.Chunks))
	ch <- prometheus.MustNewConstMetric(descStale, prometheus.GaugeValue, float64(s.StaleDocuments))
	ch <- prometheus.MustNewConstMetric(descText, prometheus.GaugeValue, float64(s.TextBytes))
	if s.StoreBytes > 0 {
		ch <- prometheus.MustNewConstMetric(descStore, prometheus.GaugeValue, float64(s.StoreBytes))
	}
	if s.Generation > 0 || s.Indexed > 0 {
		ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(max(s.Generation-s.Indexed, 0)))
	}
	if !s.LastChange.IsZero() {
		ch <- prometheus.MustNewConstMetric(descLast, prometheus.GaugeValue, float64(s.LastChange.UnixNano())/1e9)
	}
	if s.Quarantined >= 0 {
		ch <- prometheus.MustNewConstMetric(descQuar, prometheus.GaugeValue, float64(s.Quarantined))
	}
}

// RecordLogStat is the state of one background record writer (the audit
// log, the usage ledger) for the record-log metrics.
type RecordLogStat struct {
	Log     string // "audit", "usage"
	Written int64  // records stored since start
	Lost    int64  // records that will never be stored
	Queued  int    // records waiting now
}

var (
	descLogWritten = prometheus.NewDesc("sextant_log_records_written_total", "Records stored by a background writer since start.", []string{"log"}, nil)
	descLogLost    = prometheus.NewDesc("sextant_log_records_lost_total", "Records a background writer gave up on: never stored.", []string{"log"}, nil)
	descLogQueued  = prometheus.NewDesc("sextant_log_records_queued", "Records waiting for a background writer.", []string{"log"}, nil)
)

// recordLogCollector reads the writers' counters at scrape time.
type recordLogCollector struct{ read func() []RecordLogStat }

func (c recordLogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descLogWritten
	ch <- descLogLost
	ch <- descLogQueued
}

func (c recordLogCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.read() {
		ch <- prometheus.MustNewConstMetric(descLogWritten, prometheus.CounterValue, float64(s.Written), s.Log)
		ch <- prometheus.MustNewConstMetric(descLogLost, prometheus.CounterValue, float64(s.Lost), s.Log)
		ch <- prometheus.MustNewConstMetric(descLogQueued, prometheus.GaugeValue, float64(s.Queued), s.Log)
	}
}

// BudgetStat is one budget's state for the budget gauges.
type BudgetStat struct {
	Name        string // Budget.Name(): "key:ID:daily", "project:TENANT/ID:monthly"
	LimitUSD    float64
	SpentUSD    float64 // settled in the current window
	ReservedUSD float64 // held by requests in flight
}

var (
	descBudgetLimit = prometheus.NewDesc("sextant_budget_limit_usd", "Budget limit per window in US dollars.", []string{"budget"}, nil)
	descBudgetSpent = prometheus.NewDesc("sextant_budget_spent_usd", "Spend settled in the budget's current window, in US dollars.", []string{"budget"}, nil)
	descBudgetRes   = prometheus.NewDesc("sextant_budget_reserved_usd", "Spend reserved by requests in flight, in US dollars.", []string{"budget"}, nil)
	descBudgetUtil  = prometheus.NewDesc("sextant_budget_utilization_ratio", "(spent + reserved) / limit in the current window; 1 = exhausted.", []string{"budget"}, nil)
)

// budgetCollector reads budget state at scrape time. Budget names come
// from configuration and the API (the llmops role), so they are bounded
// by what operators set.
type budgetCollector struct{ read func() []BudgetStat }

func (c budgetCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descBudgetLimit
	ch <- descBudgetSpent
	ch <- descBudgetRes
	ch <- descBudgetUtil
}

func (c budgetCollector) Collect(ch chan<- prometheus.Metric) {
	for _, b := range c.read() {
		ch <- prometheus.MustNewConstMetric(descBudgetLimit, prometheus.GaugeValue, b.LimitUSD, b.Name)
		ch <- prometheus.MustNewConstMetric(descBudgetSpent, prometheus.GaugeValue, b.SpentUSD, b.Name)
		ch <- prometheus.MustNewConstMetric(descBudgetRes, prometheus.GaugeValue, b.ReservedUSD, b.Name)
		util := 0.0
		if b.LimitUSD > 0 {
			util = (b.SpentUSD + b.ReservedUSD) / b.LimitUSD
		} else if b.SpentUSD+b.ReservedUSD > 0 {
			util = 1
		}
		ch <- prometheus.MustNewConstMetric(descBudgetUtil, prometheus.GaugeValue, util, b.Name)
	}
}
