package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sextant-ai/sextant/hnsw"
)

// annResult is one line of `sextant bench ann --json`. The first nine keys
// are shared with the hnswlib peer script (bench/ann_peer.py).
type annResult struct {
	Engine       string  `json:"engine"`
	Param        string  `json:"param"`
	Ef           int     `json:"ef"`
	RecallAt10   float64 `json:"recall_at_10"`
	QPS          float64 `json:"qps"`
	P50us        float64 `json:"p50_us"`
	P99us        float64 `json:"p99_us"`
	BuildSeconds float64 `json:"build_seconds"`
	MemoryBytes  int64   `json:"memory_bytes"`

	Run           int     `json:"run,omitempty"`
	RawBytes      int64   `json:"raw_bytes,omitempty"`
	RSSBytes      int64   `json:"rss_bytes,omitempty"`
	ScanGBps      float64 `json:"scan_gbps,omitempty"`
	ReadGBps      float64 `json:"read_bandwidth_gbps,omitempty"`
	CopyGBps      float64 `json:"copy_bandwidth_gbps,omitempty"`
	BandwidthFrac float64 `json:"scan_fraction_of_bandwidth,omitempty"`
	QPSRatio      float64 `json:"qps_ratio,omitempty"`
	Note          string  `json:"note,omitempty"`
}

type annConfig struct {
	n, dim, nq, k, m, efc, centres, repeat int
	buildWorkers                           int
	sigma                                  float64
	seed                                   uint64
	dist, base, queries, efs, quant, gt    string
	metric, peer, python, peerScript       string
	filters, peerSource, cxx               string
	json, exact                            bool
}

func runBenchANN(ctx context.Context, e *env, args []string) error {
	var c annConfig
	fs := newFlagSet("bench ann", e.stderr)
	fs.IntVar(&c.n, "n", 100000, "base vectors to generate")
	fs.IntVar(&c.dim, "dim", 384, "dimension of generated vectors")
	fs.IntVar(&c.nq, "nq", 1000, "queries to generate (or the most to read from --queries)")
	fs.StringVar(&c.dist, "dist", "clustered", "generated distribution: clustered (Gaussian mixture) or uniform (one Gaussian)")
	fs.IntVar(&c.centres, "centres", 256, "mixture components for --dist clustered")
	fs.Float64Var(&c.sigma, "sigma", 0.6, "per-dimension spread of each component (centres are N(0,1))")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the generated data and of the index")
	fs.StringVar(&c.base, "base", "", "base vectors (.fvecs) instead of generated ones")
	fs.StringVar(&c.queries, "queries", "", "query vectors (.fvecs); required with --base")
	fs.StringVar(&c.gt, "gt", "", "ground-truth neighbours (.ivecs, one row per query) instead of exact search; needs --base")
	fs.IntVar(&c.k, "k", 10, "neighbours per query (recall is measured at 10)")
	fs.IntVar(&c.m, "m", 16, "HNSW M (links per node; 2M on level 0)")
	fs.IntVar(&c.efc, "ef-construction", 200, "HNSW efConstruction")
	fs.IntVar(&c.buildWorkers, "build-workers", 1, "goroutines building the index (1 is deterministic and compares with the single-threaded peer)")
	fs.StringVar(&c.efs, "ef", "16,32,64,128,256", "comma-separated efSearch values to sweep")
	fs.StringVar(&c.quant, "quant", "none", "vector storage: none (float32) or int8 (rescored with float vectors)")
	fs.StringVar(&c.metric, "metric", "cosine", "similarity: cosine, dot or l2")
	fs.BoolVar(&c.json, "json", false, "print one JSON object per line, one line per setting")
	fs.BoolVar(&c.exact, "exact", false, "also measure the brute-force scan rate against the machine's memory bandwidth")
	fs.StringVar(&c.peer, "peer", "", "run a peer on the same vectors in the same run: hnswlib (Debian's python3-hnswlib) or hnswlib-native (libhnswlib-dev compiled here with -O3 -march=native)")
	fs.StringVar(&c.python, "python", "", "Python interpreter for the peer (default /usr/bin/python3, else python3)")
	fs.StringVar(&c.peerScript, "peer-script", "bench/ann_peer.py", "the hnswlib peer script, relative to the repository root")
	fs.StringVar(&c.peerSource, "peer-source", "bench/ann_peer.cc", "the hnswlib-native peer's C++ source, relative to the repository root")
	fs.StringVar(&c.cxx, "cxx", "c++", "C++ compiler for --peer hnswlib-native")
	fs.StringVar(&c.filters, "filter", "", "comma-separated filter selectivities to sweep too, e.g. 0.01,0.1,0.5 (random allowed sets)")
	fs.IntVar(&c.repeat, "repeat", 1, "query sweeps per engine, interleaved with the peer's")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	efs, err := parseInts(c.efs)
	if err != nil {
		return usageErrorf("--ef %q: %v", c.efs, err)
	}
	var sels []float64
	if c.filters != "" {
		for _, f := range strings.Split(c.filters, ",") {
			v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil || v <= 0 || v > 1 {
				return usageErrorf("--filter %q: want fractions in (0, 1]", c.filters)
			}
			sels = append(sels, v)
		}
	}
	metric, err := hnsw.ParseMetric(c.metric)
	if err != nil {
		return usageErrorf("--metric: %v", err)
	}
	var quant hnsw.Quantization
	switch c.quant {
	case "none", "":
	case "int8":
		quant = hnsw.Int8
	default:
		return usageErrorf("--quant %q: want none or int8", c.quant)
	}
	switch {
	case c.k < 1 || c.k > 1000:
		return usageErrorf("--k %d: want 1..1000", c.k)
	case c.repeat < 1:
		return usageErrorf("--repeat %d: want at least 1", c.repeat)
	case c.buildWorkers < 1:
		return usageErrorf("--build-workers %d: want at least 1", c.buildWorkers)
	case c.peer != "" && c.peer != "hnswlib" && c.peer != "hnswlib-native":
		return usageErrorf("--peer %q: want hnswlib or hnswlib-native", c.peer)
	case (c.base == "") != (c.queries == ""):
		return usageErrorf("--base and --queries go together")
	case c.gt != "" && c.base == "":
		return usageErrorf("--gt needs --base and --queries")
	case c.base == "" && (c.n < 1 || c.dim < 1 || c.nq < 1):
		return usageErrorf("--n, --dim and --nq must be positive")
	case c.dist != "clustered" && c.dist != "uniform":
		return usageErrorf("--dist %q: want clustered or uniform", c.dist)
	}

	out := e.stdout
	// The peer's stderr is copied by another goroutine into the same
	// writer as our progress lines.
	errw := &lockedWriter{w: e.stderr}
	logf := func(format string, a ...any) {
		if !c.json {
			fmt.Fprintf(out, format+"\n", a...)
		} else {
			fmt.Fprintf(errw, format+"\n", a...)
		}
	}
	emit := func(r annResult) {
		if c.json {
			b, _ := json.Marshal(r)
			fmt.Fprintln(out, string(b))
			return
		}
		fmt.Fprintf(out, "%-8s ef=%-4d recall@10=%.4f qps=%8.0f p50=%7.1fµs p99=%7.1fµs build=%.1fs mem=%.1fMB  %s\n",
			r.Engine, r.Ef, r.RecallAt10, r.QPS, r.P50us, r.P99us, r.BuildSeconds, float64(r.MemoryBytes)/1e6, r.Param)
	}

	// Data.
	var base, queries [][]float32
	if c.base != "" {
		if base, err = hnsw.ReadFvecsFile(c.base, 0); err != nil {
			return err
		}
		if queries, err = hnsw.ReadFvecsFile(c.queries, c.nq); err != nil {
			return err
		}
		if len(base) == 0 || len(queries) == 0 {
			return fmt.Errorf("bench ann: %s or %s holds no vectors", c.base, c.queries)
		}
		if len(base[0]) != len(queries[0]) {
			return fmt.Errorf("bench ann: %s has dimension %d but %s has %d", c.base, len(base[0]), c.queries, len(queries[0]))
		}
		c.dim = len(base[0])
		logf("data: %d base and %d query vectors of dimension %d from %s, %s", len(base), len(queries), c.dim, c.base, c.queries)
	} else {
		centres := c.centres
		if c.dist == "uniform" {
			centres = 1
		}
		base, queries = mixture(c.seed, c.n, c.nq, c.dim, centres, c.sigma)
		logf("data: %d base + %d query vectors, dim %d, %s (%d centres, sigma %.2f, seed %d)", c.n, c.nq, c.dim, c.dist, centres, c.sigma, c.seed)
	}
	rawBytes := int64(len(base)) * int64(c.dim) * 4

	// Build.
	opt := hnsw.Options{Dim: c.dim, Metric: metric, M: c.m, EfConstruction: c.efc, Seed: c.seed, Quantization: quant, BuildWorkers: c.buildWorkers}
	if quant == hnsw.Int8 {
		// Float vectors stay outside the index (in the store, in Sextant);
		// here they are the benchmark's own copy.
		opt.Source = func(id uint32, _ []float32) []float32 { return base[id] }
	}
	runtime.GC()
	start := time.Now()
	idx, err := hnsw.Build(ctx, opt, base)
	if err != nil {
		return fmt.Errorf("bench ann: build: %w", err)
	}
	buildSec := time.Since(start).Seconds()
	mem := idx.MemoryBytes()
	runtime.GC()
	param := fmt.Sprintf("M=%d,efC=%d,quant=%s,metric=%s,build_workers=%d", c.m, c.efc, c.quant, metric, c.buildWorkers)
	logf("sextant: built in %.1fs with %d goroutine(s); index %.1f MB = %.3f× the raw float32 vectors (%.1f MB); process RSS %.1f MB; kernels: %s",
		buildSec, c.buildWorkers, float64(mem)/1e6, float64(mem)/float64(rawBytes), float64(rawBytes)/1e6, float64(rssBytes())/1e6, kernelName())

	// Ground truth: a supplied .ivecs file, or exact search on the same
	// index (float scores).
	var gt [][]int32
	if c.gt != "" {
		if gt, err = readGroundTruth(c.gt, len(queries), len(base)); err != nil {
			return err
		}
	} else {
		gt = make([][]int32, len(queries))
		for i, q := range queries {
			res, err := idx.Exact(q, hnsw.SearchOptions{K: 10})
			if err != nil {
				return err
			}
			for _, r := range res {
				gt[i] = append(gt[i], int32(r.ID))
			}
		}
	}

	// The peer runs in its own process on the same vectors, files and ground
	// truth; its query sweeps alternate with ours so both see the same noise.
	var peer *annPeer
	if c.peer != "" {
		peer, err = startPeer(ctx, errw, &c, base, queries, gt, efs)
		if err != nil {
			return err
		}
		defer peer.close()
		logf("%s: built in %.1fs single-threaded; index memory %.1f MB (%s)", c.peer, peer.ready.BuildSeconds, float64(peer.ready.MemoryBytes)/1e6, peer.ready.Note)
	}

	var ours, theirs [][]annResult
	for run := 1; run <= c.repeat; run++ {
		var sweep []annResult
		for _, ef := range efs {
			r := measureANN(idx, queries, gt, c.k, ef)
			r.Engine, r.Param, r.BuildSeconds, r.MemoryBytes, r.RawBytes = "sextant", param, buildSec, mem, rawBytes
			r.RSSBytes = rssBytes()
			if c.repeat > 1 {
				r.Run = run
			}
			sweep = append(sweep, r)
			emit(r)
		}
		ours = append(ours, sweep)
		if peer != nil {
			ps, err := peer.sweep()
			if err != nil {
				return err
			}
			for i := range ps {
				if c.repeat > 1 {
					ps[i].Run = run
				}
				emit(ps[i])
			}
			theirs = append(theirs, ps)
		}
	}
	if peer != nil {
		reportRatios(out, c.json, c.peer, ours, theirs, emit)
	}

	for _, sel := range sels {
		// A random allowed set of the given size, fixed by the seed; the
		// ground truth is exact filtered search.
		r := rand.New(rand.NewPCG(c.seed, uint64(sel*1e6)))
		allow := hnsw.NewBitset(len(base))
		for i := range base {
			if r.Float64() < sel {
				allow.Set(uint32(i))
			}
		}
		fgt := make([][]int32, len(queries))
		for i, q := range queries {
			res, err := idx.Exact(q, hnsw.SearchOptions{K: 10, Filter: allow})
			if err != nil {
				return err
			}
			for _, h := range res {
				fgt[i] = append(fgt[i], int32(h.ID))
			}
		}
		for _, ef := range efs {
			res := measureANNFiltered(idx, queries, fgt, c.k, ef, allow)
			res.Engine, res.BuildSeconds, res.MemoryBytes = "sextant", buildSec, mem
			res.Param = fmt.Sprintf("%s,filter=%g", param, sel)
			emit(res)
		}
	}

	if c.exact {
		r, err := measureExact(idx, queries, rawBytes)
		if err != nil {
			return err
		}
		r.Param = param
		r.BuildSeconds, r.MemoryBytes = 0, mem
		if c.json {
			emit(r)
		} else {
			fmt.Fprintf(out, "exact    scan %.2f GB/s (p50 %.0fµs per query); memory bandwidth: read %.2f GB/s, copy %.2f GB/s; scan = %.0f%% of bandwidth\n",
				r.ScanGBps, r.P50us, r.ReadGBps, r.CopyGBps, 100*r.BandwidthFrac)
		}
	}
	return nil
}

func kernelName() string {
	if hnsw.Accelerated() {
		return "AVX2+FMA assembly"
	}
	return "pure Go"
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, v)
	}
	return out, nil
}

// mixture draws n base and nq query vectors from one Gaussian mixture:
// centres ~ N(0, I), points = centre + sigma·N(0, I). Queries come from the
// same distribution, drawn separately, so none is in the base set. Rows
// share one backing array per set.
func mixture(seed uint64, n, nq, dim, centres int, sigma float64) (base, queries [][]float32) {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	cs := make([]float32, centres*dim)
	for i := range cs {
		cs[i] = float32(r.NormFloat64())
	}
	draw := func(count int, r *rand.Rand) [][]float32 {
		slab := make([]float32, count*dim)
		rows := make([][]float32, count)
		for i := range rows {
			c := cs[r.IntN(centres)*dim:]
			v := slab[i*dim : (i+1)*dim : (i+1)*dim]
			for j := range v {
				v[j] = c[j] + float32(sigma*r.NormFloat64())
			}
			rows[i] = v
		}
		return rows
	}
	base = draw(n, r)
	queries = draw(nq, rand.New(rand.NewPCG(seed, 0x9e77)))
	return base, queries
}

// measureANN runs every query once, single-threaded, after a warm-up, and
// returns recall@10 (against gt), QPS and latency percentiles.
func measureANN(idx *hnsw.Index, queries [][]float32, gt [][]int32, k, ef int) annResult {
	return measureANNFiltered(idx, queries, gt, k, ef, nil)
}

func measureANNFiltered(idx *hnsw.Index, queries [][]float32, gt [][]int32, k, ef int, f hnsw.Filter) annResult {
	opt := hnsw.SearchOptions{K: k, Ef: ef, Filter: f}
	var buf []hnsw.Result
	for i := range min(len(queries), 200) {
		buf, _ = idx.SearchInto(buf, queries[i], opt)
	}
	lat := make([]float64, len(queries))
	hits, total := 0, 0
	// Throughput is the median over ten slices of the queries: a burst of
	// load from other processes on a shared machine then spoils one slice,
	// not the figure. The peer script measures the same way.
	const slicesN = 10
	var rates []float64
	for s := range slicesN {
		lo, hi := s*len(queries)/slicesN, (s+1)*len(queries)/slicesN
		if lo == hi {
			continue
		}
		start := time.Now()
		for i := lo; i < hi; i++ {
			t0 := time.Now()
			buf, _ = idx.SearchInto(buf, queries[i], opt)
			lat[i] = float64(time.Since(t0).Nanoseconds()) / 1e3
			hits += overlap(buf, gt[i])
			total += min(10, len(gt[i]))
		}
		rates = append(rates, float64(hi-lo)/time.Since(start).Seconds())
	}
	slices.Sort(rates)
	slices.Sort(lat)
	return annResult{
		Ef:         ef,
		RecallAt10: float64(hits) / float64(max(total, 1)),
		QPS:        rates[len(rates)/2],
		P50us:      percentile(lat, 0.50),
		P99us:      percentile(lat, 0.99),
	}
}

// overlap counts how many of the first 10 exact ids appear in the first 10
// results.
func overlap(res []hnsw.Result, want []int32) int {
	n := 0
	want = want[:min(10, len(want))]
	for _, r := range res[:min(10, len(res))] {
		if slices.Contains(want, int32(r.ID)) {
			n++
		}
	}
	return n
}

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// rssBytes returns the process's resident set size (Linux), or 0.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

// measureExact times brute-force scans against the machine's single-core
// memory bandwidth. The two are interleaved pass by pass, each pass reading
// about the same bytes (one scan of the vectors), and each side keeps its
// best of the same number of passes, so background load on a shared machine
// hits both alike. Bandwidth is measured here with two streaming loops over
// buffers larger than the caches: a read-only dot product over two buffers
// (the kernel family the scan uses, so the ratio is the scan's overhead)
// and a copy (read + written bytes).
func measureExact(idx *hnsw.Index, queries [][]float32, rawBytes int64) (annResult, error) {
	const passes = 25
	bufA, bufB := bandwidthBuffers(rawBytes)
	lat := make([]float64, 0, passes)
	var bestScan, read, cp float64
	for pass := range passes {
		q := queries[pass%len(queries)]
		t0 := time.Now()
		if _, err := idx.Exact(q, hnsw.SearchOptions{K: 10}); err != nil {
			return annResult{}, err
		}
		el := time.Since(t0)
		lat = append(lat, float64(el.Nanoseconds())/1e3)
		bestScan = max(bestScan, float64(rawBytes)/el.Seconds()/1e9)
		r, c := memoryBandwidth(bufA, bufB)
		read, cp = max(read, r), max(cp, c)
	}
	slices.Sort(lat)
	return annResult{
		Engine: "sextant-exact", Ef: 0, RecallAt10: 1,
		QPS:   1e6 / percentile(lat, 0.5),
		P50us: percentile(lat, 0.5), P99us: percentile(lat, 0.99),
		RawBytes: rawBytes, ScanGBps: bestScan, ReadGBps: read, CopyGBps: cp,
		BandwidthFrac: bestScan / max(read, cp),
		Note: fmt.Sprintf("brute-force scan, one thread, best of %d; bandwidth = best of %d interleaved single-thread read (dot over 2x%d MiB) and copy (%d MiB) passes",
			passes, passes, len(bufA)>>18, len(bufA)>>18),
	}, nil
}

// bandwidthBuffers returns two buffers holding half the scanned bytes each
// (so a read pass reads what one scan reads), at least 64 MiB each: well
// past the last-level cache.
func bandwidthBuffers(rawBytes int64) (a, b []float32) {
	n := int(max(rawBytes/2, 64<<20) / 4)
	a = make([]float32, n)
	b = make([]float32, n)
	for i := range a {
		a[i], b[i] = 1, 2
	}
	return a, b
}

func memoryBandwidth(a, b []float32) (readGBps, copyGBps float64) {
	n := len(a)
	const piece = 1 << 18 // 1 MiB of float32
	var sink float32
	t0 := time.Now()
	for off := 0; off < n; off += piece {
		end := min(off+piece, n)
		sink += hnsw.Dot(a[off:end], b[off:end])
	}
	readGBps = float64(2*4*n) / time.Since(t0).Seconds() / 1e9
	t0 = time.Now()
	copy(b, a)
	copyGBps = float64(2*4*n) / time.Since(t0).Seconds() / 1e9
	runtime.KeepAlive(sink)
	return readGBps, copyGBps
}

// annPeer is the hnswlib peer process (bench/ann_peer.py) speaking JSON
// lines: it builds, prints {"event":"ready",...}, then runs one sweep per
// "sweep" line it reads, ending each with {"event":"done"}.
type annPeer struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Scanner
	dir   string
	ready annResult
}

func startPeer(ctx context.Context, stderr io.Writer, c *annConfig, base, queries [][]float32, gt [][]int32, efs []int) (*annPeer, error) {
	python := c.python
	if python == "" {
		python = "python3"
		// Debian's python3-hnswlib lives in the system interpreter, which a
		// PATH-first pyenv or venv python may not see.
		if _, err := os.Stat("/usr/bin/python3"); err == nil {
			python = "/usr/bin/python3"
		}
	}
	dir, err := os.MkdirTemp("", "sextant-ann-")
	if err != nil {
		return nil, err
	}
	var argv []string
	switch c.peer {
	case "hnswlib":
		if _, err := os.Stat(c.peerScript); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("bench ann: peer script %s: %w (run from the repository root or pass --peer-script)", c.peerScript, err)
		}
		argv = []string{python, c.peerScript}
	case "hnswlib-native":
		bin := filepath.Join(dir, "ann_peer")
		cc := exec.CommandContext(ctx, c.cxx, "-O3", "-march=native", "-std=c++14", "-w", c.peerSource, "-o", bin)
		if msg, err := cc.CombinedOutput(); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("bench ann: compiling %s (needs a C++ compiler and libhnswlib-dev): %w\n%s", c.peerSource, err, msg)
		}
		argv = []string{bin}
	}
	p := &annPeer{dir: dir}
	write := func(name string, f func(io.Writer) error) error {
		fh, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if err := f(fh); err != nil {
			fh.Close()
			return err
		}
		return fh.Close()
	}
	err = write("base.fvecs", func(w io.Writer) error { return hnsw.WriteFvecs(w, base) })
	if err == nil {
		err = write("queries.fvecs", func(w io.Writer) error { return hnsw.WriteFvecs(w, queries) })
	}
	if err == nil {
		err = write("gt.ivecs", func(w io.Writer) error { return hnsw.WriteIvecs(w, gt) })
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("bench ann: writing peer data: %w", err)
	}
	efList := make([]string, len(efs))
	for i, ef := range efs {
		efList[i] = strconv.Itoa(ef)
	}
	space := map[string]string{"cosine": "cosine", "dot": "ip", "l2": "l2"}[c.metric]
	if space == "" {
		space = "cosine"
	}
	p.cmd = exec.CommandContext(ctx, argv[0], append(argv[1:],
		"--base", filepath.Join(dir, "base.fvecs"),
		"--queries", filepath.Join(dir, "queries.fvecs"),
		"--gt", filepath.Join(dir, "gt.ivecs"),
		"--space", space,
		"--k", strconv.Itoa(c.k),
		"--m", strconv.Itoa(c.m),
		"--ef-construction", strconv.Itoa(c.efc),
		"--ef", strings.Join(efList, ","),
		"--seed", strconv.FormatUint(c.seed, 10),
		"--serve")...)
	p.cmd.Stderr = stderr
	if p.in, err = p.cmd.StdinPipe(); err != nil {
		p.close()
		return nil, err
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		p.close()
		return nil, err
	}
	p.out = bufio.NewScanner(stdout)
	if err := p.cmd.Start(); err != nil {
		p.close()
		return nil, fmt.Errorf("bench ann: starting %s: %w", strings.Join(argv, " "), err)
	}
	ev, err := p.next()
	if err != nil {
		p.close()
		return nil, err
	}
	if ev.event != "ready" {
		p.close()
		return nil, fmt.Errorf("bench ann: peer said %q before ready", ev.event)
	}
	p.ready = ev.annResult
	return p, nil
}

type peerEvent struct {
	annResult
	event string
}

func (p *annPeer) next() (peerEvent, error) {
	if !p.out.Scan() {
		err := p.out.Err()
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return peerEvent{}, fmt.Errorf("bench ann: the peer stopped (for hnswlib, is python3-hnswlib installed?): %w", err)
	}
	var raw struct {
		annResult
		Event string `json:"event"`
	}
	if err := json.Unmarshal(p.out.Bytes(), &raw); err != nil {
		return peerEvent{}, fmt.Errorf("bench ann: peer printed %q: %w", p.out.Text(), err)
	}
	return peerEvent{annResult: raw.annResult, event: raw.Event}, nil
}

func (p *annPeer) sweep() ([]annResult, error) {
	if _, err := io.WriteString(p.in, "sweep\n"); err != nil {
		return nil, fmt.Errorf("bench ann: peer: %w", err)
	}
	var out []annResult
	for {
		ev, err := p.next()
		if err != nil {
			return nil, err
		}
		if ev.event == "done" {
			return out, nil
		}
		out = append(out, ev.annResult)
	}
}

func (p *annPeer) close() {
	if p.in != nil {
		p.in.Close()
	}
	if p.cmd != nil && p.cmd.Process != nil {
		p.cmd.Wait()
	}
	os.RemoveAll(p.dir)
}

// reportRatios prints, per run, the QPS ratio sextant/peer at each ef and
// at matched recall: each engine's fastest setting with recall@10 >= 0.95.
func reportRatios(w io.Writer, asJSON bool, peer string, ours, theirs [][]annResult, emit func(annResult)) {
	var matched []float64
	for run := range ours {
		a, b := ours[run], theirs[run]
		for i := range min(len(a), len(b)) {
			if !asJSON {
				fmt.Fprintf(w, "ratio    ef=%-4d qps sextant/%s = %.2f, p50 latency %s/sextant = %.2f (recall %.4f vs %.4f)\n",
					a[i].Ef, peer, a[i].QPS/b[i].QPS, peer, b[i].P50us/a[i].P50us, a[i].RecallAt10, b[i].RecallAt10)
			}
		}
		ba, oka := fastestAt(a, 0.95)
		bb, okb := fastestAt(b, 0.95)
		if oka && okb {
			r := ba.QPS / bb.QPS
			matched = append(matched, r)
			if asJSON {
				emit(annResult{Engine: "ratio", Param: fmt.Sprintf("sextant ef=%d vs %s ef=%d at recall@10>=0.95", ba.Ef, peer, bb.Ef),
					Ef: ba.Ef, RecallAt10: ba.RecallAt10, QPS: ba.QPS, P50us: ba.P50us, P99us: ba.P99us, QPSRatio: r, Run: run + 1,
					Note: fmt.Sprintf("%s: %.0f qps, p50 %.1fµs, recall %.4f; p50 latency ratio %s/sextant %.2f", peer, bb.QPS, bb.P50us, bb.RecallAt10, peer, bb.P50us/ba.P50us)})
			} else {
				fmt.Fprintf(w, "matched  recall@10>=0.95: sextant ef=%d %.0f qps (recall %.4f) vs %s ef=%d %.0f qps (recall %.4f): qps ratio %.2f, p50 latency ratio %.2f\n",
					ba.Ef, ba.QPS, ba.RecallAt10, peer, bb.Ef, bb.QPS, bb.RecallAt10, r, bb.P50us/ba.P50us)
			}
		} else if !asJSON {
			fmt.Fprintln(w, "matched  no ef setting reached recall@10 0.95 for both engines; widen --ef")
		}
	}
	if len(matched) > 1 && !asJSON {
		s := slices.Clone(matched)
		slices.Sort(s)
		fmt.Fprintf(w, "matched  over %d runs: median ratio %.2f, min %.2f, max %.2f\n", len(s), s[len(s)/2], s[0], s[len(s)-1])
	}
}

// fastestAt returns the setting with the highest QPS among those reaching
// the recall target.
func fastestAt(rs []annResult, target float64) (annResult, bool) {
	var best annResult
	ok := false
	for _, r := range rs {
		if r.RecallAt10 >= target && (!ok || r.QPS > best.QPS) {
			best, ok = r, true
		}
	}
	return best, ok
}

// lockedWriter serialises writes from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// readGroundTruth reads the first nq rows of an .ivecs ground-truth file
// and checks them against the data: one row per query, ids within the base.
func readGroundTruth(path string, nq, nbase int) ([][]int32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := hnsw.ReadIvecs(f, path, nq)
	if err != nil {
		return nil, err
	}
	if len(rows) < nq {
		return nil, fmt.Errorf("bench ann: %s has %d rows for %d queries", path, len(rows), nq)
	}
	for i, r := range rows {
		for _, id := range r {
			if id < 0 || int(id) >= nbase {
				return nil, fmt.Errorf("bench ann: %s: row %d names id %d, outside the %d base vectors", path, i, id, nbase)
			}
		}
	}
	return rows, nil
}
