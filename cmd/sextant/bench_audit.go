package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/audit"
	"github.com/sextant-ai/sextant/sqlite"
)

// auditBenchReport is `sextant bench audit --json`.
type auditBenchReport struct {
	Records             int     `json:"records"`
	Writers             int     `json:"writers"`
	PayloadBytes        float64 `json:"payload_bytes_mean"`
	Redact              bool    `json:"redact"`
	AppendSeconds       float64 `json:"append_seconds"`
	AppendPerSec        float64 `json:"append_records_per_s"`
	AppendCPUUS         float64 `json:"append_cpu_us_per_record"` // process CPU time (all goroutines, SQLite included) per record
	Commits             int64   `json:"commits"`
	RecordsPerCommit    float64 `json:"records_per_commit"`
	AppendP50MS         float64 `json:"append_p50_ms"`
	AppendP99MS         float64 `json:"append_p99_ms"`
	SingleP50MS         float64 `json:"single_writer_append_p50_ms"`
	SinglePerSec        float64 `json:"single_writer_records_per_s"`
	Checkpoints         int     `json:"checkpoints"`
	VerifiedRecords     int64   `json:"verified_records"`
	VerifySeconds       float64 `json:"verify_seconds"` // best of --verify-runs, wall time
	VerifyMedianSeconds float64 `json:"verify_median_seconds"`
	VerifyCPUSeconds    float64 `json:"verify_cpu_seconds"` // process CPU time, median
	VerifyPerSec        float64 `json:"verify_records_per_s"`
	ExportSeconds       float64 `json:"export_seconds"`
	ExportMBPerSec      float64 `json:"export_mb_per_s"`
	BytesPerRecord      float64 `json:"store_bytes_per_record"`
	Load1               string  `json:"load1"`
}

// countingStore counts the store's append transactions (group commits).
type countingStore struct {
	*sqlite.DB
	commits atomic.Int64
}

func (c *countingStore) AppendAudit(ctx context.Context, build func(sextant.AuditHead) ([]sextant.AuditRecord, []sextant.AuditCheckpoint, error)) error {
	c.commits.Add(1)
	return c.DB.AppendAudit(ctx, build)
}

func runBenchAudit(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("bench audit", e.stderr)
	records := fs.Int("records", 1_000_000, "records appended, then verified")
	writers := fs.Int("writers", 64, "concurrent appenders (callers each waiting for their record's durable commit)")
	redact := fs.Bool("redact", true, "pass payloads through the guard's PII/secret redactor, as the server does")
	single := fs.Duration("single", 3*time.Second, "how long to measure one writer appending alone (commit latency)")
	dir := fs.String("dir", "", "data directory to use (default: a temporary one, removed afterwards)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the append phase to FILE")
	verifyProfile := fs.String("verify-cpuprofile", "", "write a CPU profile of the verify phase to FILE")
	verifyRuns := fs.Int("verify-runs", 3, "times to verify the whole log (the best and the median are reported)")
	verifyWorkers := fs.Int("verify-workers", 0, "segments verified in parallel (0: GOMAXPROCS)")
	verifyOnly := fs.Bool("verify-only", false, "only verify (and export) the log already in --dir")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: sextant bench audit [--records N] [--writers W] [--redact=false] [--dir DIR] [--json]")
		fs.PrintDefaults()
	}
	if err := noArgs(fs, args, "bench audit"); err != nil {
		return err
	}
	switch {
	case *records < 1 || *writers < 1 || *verifyRuns < 1:
		return usageErrorf("bench audit: --records, --writers and --verify-runs must be positive")
	case *verifyOnly && *dir == "":
		return usageErrorf("bench audit: --verify-only needs --dir with a log in it")
	}
	logf := func(format string, a ...any) {
		w := e.stdout
		if *asJSON {
			w = e.stderr
		}
		fmt.Fprintf(w, format+"\n", a...)
	}
	data := *dir
	if data == "" {
		tmp, err := os.MkdirTemp("", "sextant-bench-audit-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		data = tmp
	}
	db, err := sqlite.Open(ctx, data, sqlite.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	key, err := audit.LoadOrCreateKey(auditKeyPath(data))
	if err != nil {
		return err
	}
	st := &countingStore{DB: db}
	opts := audit.Options{Key: key}
	if *redact {
		opts.Redact = auditRedactor()
	}
	rep := auditBenchReport{Records: *records, Writers: *writers, Redact: *redact}
	var sizeBefore int64
	if !*verifyOnly {
		sizeBefore = dirBytes(data)
	}

	// Payloads: answer events shaped like the pipeline's, with text that
	// the redactor has work to do on.
	events := make([]sextant.AuditEvent, 64)
	var payloadBytes int
	for i := range events {
		events[i] = benchAnswerEvent(i)
		b := benchPayloadSize(events[i])
		payloadBytes += b
	}
	rep.PayloadBytes = float64(payloadBytes) / float64(len(events))

	if !*verifyOnly {
		if err := benchAuditAppend(ctx, st, db, opts, events, *records, *writers, *single, *cpuProfile, &rep, logf); err != nil {
			return err
		}
	}
	return benchAuditVerify(ctx, e, db, key, data, sizeBefore, *verifyRuns, *verifyWorkers, *verifyProfile, *asJSON, &rep, logf)
}

// benchAuditAppend measures appends: concurrent writers, each waiting for
// its record's durable commit; then one writer alone.
func benchAuditAppend(ctx context.Context, st *countingStore, db *sqlite.DB, opts audit.Options, events []sextant.AuditEvent,
	records, writers int, single time.Duration, cpuProfile string, rep *auditBenchReport, logf func(string, ...any)) error {
	logf("appending %d records from %d writers (durable: synchronous=FULL, group commit)...", records, writers)
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer f.Close()
	}
	l := audit.Open(st, opts)
	cpu0 := cpuSeconds()
	lat := make([][]time.Duration, writers)
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	start := time.Now()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(records) {
					return
				}
				t0 := time.Now()
				if _, err := l.Append(ctx, events[i%int64(len(events))]); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				if i%16 == 0 {
					lat[w] = append(lat[w], time.Since(t0))
				}
			}
		})
	}
	wg.Wait()
	if err := l.Close(ctx); err != nil && firstErr == nil {
		firstErr = err
	}
	if firstErr != nil {
		return firstErr
	}
	el := time.Since(start)
	rep.AppendCPUUS = (cpuSeconds() - cpu0) / float64(records) * 1e6
	if cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	rep.AppendSeconds = el.Seconds()
	rep.AppendPerSec = float64(records) / el.Seconds()
	rep.Commits = st.commits.Load()
	rep.RecordsPerCommit = float64(records) / float64(rep.Commits)
	all := slices.Concat(lat...)
	slices.Sort(all)
	rep.AppendP50MS, rep.AppendP99MS = pct(all, 0.50), pct(all, 0.99)
	logf("append: %.0f records/s (%.1fs), %.0f µs CPU per record, %d commits (%.0f records each), latency p50 %.2f ms p99 %.2f ms",
		rep.AppendPerSec, rep.AppendSeconds, rep.AppendCPUUS, rep.Commits, rep.RecordsPerCommit, rep.AppendP50MS, rep.AppendP99MS)

	// 2. One writer alone: every append is its own durable commit.
	if single > 0 {
		l := audit.Open(db, opts)
		var one []time.Duration
		end := time.Now().Add(single)
		for time.Now().Before(end) {
			t0 := time.Now()
			if _, err := l.Append(ctx, events[len(one)%len(events)]); err != nil {
				return err
			}
			one = append(one, time.Since(t0))
		}
		if err := l.Close(ctx); err != nil {
			return err
		}
		var sum time.Duration
		for _, d := range one {
			sum += d
		}
		slices.Sort(one)
		rep.SingleP50MS = pct(one, 0.5)
		rep.SinglePerSec = float64(len(one)) / sum.Seconds()
		logf("single writer: %.0f records/s, append p50 %.2f ms (one fsync'd commit each)", rep.SinglePerSec, rep.SingleP50MS)
	}

	return nil
}

// benchAuditVerify verifies the whole log runs times, then exports it.
func benchAuditVerify(ctx context.Context, e *env, db *sqlite.DB, key ed25519.PrivateKey, data string, sizeBefore int64,
	runs, workers int, profile string, asJSON bool, rep *auditBenchReport, logf func(string, ...any)) error {
	total, err := db.AuditHead(ctx)
	if err != nil {
		return err
	}
	if total.Seq == 0 {
		return fmt.Errorf("bench audit: the log in %s is empty", data)
	}
	rep.VerifiedRecords = total.Seq
	rep.BytesPerRecord = float64(dirBytes(data)-sizeBefore) / float64(total.Seq)
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer f.Close()
	}
	var walls, cpus []float64
	for range runs {
		cpu0, start := cpuSeconds(), time.Now()
		vr, err := audit.Verify(ctx, db, audit.VerifyOptions{PublicKeys: pubKeys(key), Workers: workers})
		if err != nil {
			return err
		}
		wall, cpu := time.Since(start).Seconds(), cpuSeconds()-cpu0
		if !vr.OK() {
			return fmt.Errorf("bench audit: the log does not verify: %s", vr.Problem.Reason)
		}
		rep.Checkpoints = vr.Checkpoints
		walls, cpus = append(walls, wall), append(cpus, cpu)
		logf("verify: %d records, %d checkpoints in %.2fs wall, %.2fs CPU (%.0f records/s)", vr.Records, vr.Checkpoints, wall, cpu, float64(vr.Records)/wall)
	}
	if profile != "" {
		pprof.StopCPUProfile()
	}
	slices.Sort(walls)
	slices.Sort(cpus)
	rep.VerifySeconds, rep.VerifyMedianSeconds, rep.VerifyCPUSeconds = walls[0], walls[len(walls)/2], cpus[len(cpus)/2]
	rep.VerifyPerSec = float64(total.Seq) / rep.VerifySeconds
	logf("verify: best %.2fs, median %.2fs wall (%.0f records/s at best); %.2fs CPU (median)",
		rep.VerifySeconds, rep.VerifyMedianSeconds, rep.VerifyPerSec, rep.VerifyCPUSeconds)

	cw := &countWriter{}
	start := time.Now()
	if _, err := audit.Export(ctx, db, cw, audit.ExportOptions{}); err != nil {
		return err
	}
	el := time.Since(start)
	rep.ExportSeconds = el.Seconds()
	rep.ExportMBPerSec = float64(cw.n) / 1e6 / el.Seconds()
	logf("export: %.0f MB of JSON Lines in %.2fs (%.0f MB/s); store: %.0f bytes/record", float64(cw.n)/1e6, rep.ExportSeconds, rep.ExportMBPerSec, rep.BytesPerRecord)
	rep.Load1 = benchLoad1()
	logf("machine load (1 min): %s", rep.Load1)
	if asJSON {
		return writeJSON(e.stdout, rep)
	}
	return nil
}

func benchAnswerEvent(i int) sextant.AuditEvent {
	a := &sextant.Answer{ID: fmt.Sprintf("ans_%08d", i), SessionID: fmt.Sprintf("ses_%d", i/4), Turn: i%4 + 1,
		Tenant: "acme", Principal: "key_benchbenchbench", Assistant: "support",
		Question: fmt.Sprintf("Hi, I'm jane.doe%d@example.com — how do I rotate the API key for project %d without downtime?", i, i),
		Text: "Create a second key, deploy it to every client, then revoke the first [1]. Keys are shown once, so store it in " +
			"your secret manager straight away [2]. Revocation takes effect within ten seconds on every server [1].",
		Template: "default", TemplateHash: strings.Repeat("9f86d081884c7d65", 4), Model: "gpt-4o-mini", Served: "openai:gpt-4o-mini",
		FinishReason: "stop", Usage: sextant.Usage{InputTokens: 1834, OutputTokens: 61}}
	for n := 1; n <= 8; n++ {
		a.Sources = append(a.Sources, sextant.Source{N: n, ChunkID: fmt.Sprintf("doc%04d#%d", (i*7+n)%5000, n), Score: 12.5 / float64(n)})
	}
	a.Sentences = []sextant.AnswerSentence{{Citations: []int{1}, Supported: true}, {Citations: []int{2}, Supported: true}, {Citations: []int{1}}}
	return audit.AnswerEvent(a, nil)
}

func benchPayloadSize(ev sextant.AuditEvent) int {
	b, _ := json.Marshal(ev.Payload)
	return len(b)
}

func pct(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[min(len(sorted)-1, int(q*float64(len(sorted))))].Microseconds()) / 1000
}

func pubKeys(k ed25519.PrivateKey) []ed25519.PublicKey {
	return []ed25519.PublicKey{k.Public().(ed25519.PublicKey)}
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

var _ io.Writer = (*countWriter)(nil)

// dirBytes is the total size of the regular files under dir.
func dirBytes(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// benchLoad1 is the 1-minute load average ("" where unknown): the machine
// is shared, so figures are printed with it.
func benchLoad1() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return ""
}
