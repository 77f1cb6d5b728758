package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/access"
	"github.com/sextant-ai/sextant/llm"
	"github.com/sextant-ai/sextant/llm/driver"
	"github.com/sextant-ai/sextant/llm/openai"
	"github.com/sextant-ai/sextant/rag"
	"github.com/sextant-ai/sextant/web"
)

const benchGatewayUsage = `Usage: sextant bench gateway [--full] [--duration 10s] [--concurrency N] [--json]

Measures what Sextant's gateway adds to an OpenAI-compatible call, in one
run, against a local fake upstream that answers at once (a fixed
chat.completion body): a Go load generator calls (a) the upstream directly
and (b) the same upstream through Sextant's /v1/chat/completions, in
alternating rounds, and reports p50/p99 latency and requests/s for both.

With --full it also calls (c) the gateway as sextant serve builds it: an
API key authenticated on every request, metrics, tracing, the JSON request
log through the guard's redaction, rate limits, budgets, the usage ledger
and the audit log. The three alternate in each round, so what the
operating side adds over the bare gateway is measured in the same run.
Its spans are exported over OTLP/HTTP to a local receiver that discards
them (--trace=false: tracing as the OTEL_* variables say, off by
default, as in serve).

Latency is measured with one request in flight (what a request pays);
throughput with --concurrency requests in flight (what the server sustains).
The load generator, the gateway and the upstream share this machine's
cores, so the gateway figure is what one machine does for all three.
CPU per request is the process's CPU time during a throughput phase
divided by its requests (load generator and upstream included: the
difference between two columns is what the extra hop costs).

With --beir DIR (default ../shared/data/beir-scifact when present) it also
asks every test query over HTTP (POST /v1/ask, extractive generator) and
reports the RAG overhead excluding the generator's own time.

Flags:
`

// gatewayReport is what bench gateway measured.
type gatewayReport struct {
	GOMAXPROCS      int         `json:"gomaxprocs"`
	Full            bool        `json:"full"`
	Tracing         string      `json:"tracing,omitempty"` // --full: where the full stack's spans go
	Duration        string      `json:"duration_per_phase"`
	Rounds          int         `json:"rounds"`
	Stream          bool        `json:"stream"`
	Latency         phasePair   `json:"latency"`      // one request in flight
	Throughput      phasePair   `json:"throughput"`   // --concurrency in flight
	AddedP50MS      float64     `json:"added_p50_ms"` // the measured gateway (full stack with --full) against direct
	AddedP99MS      float64     `json:"added_p99_ms"`
	GatewayRPS      float64     `json:"gateway_rps"`
	StackP50MS      float64     `json:"stack_added_p50_ms,omitempty"` // --full: full stack against the bare gateway
	StackCPUUS      float64     `json:"stack_cpu_us_per_request,omitempty"`
	TargetStackMS   float64     `json:"target_stack_added_p50_ms,omitempty"`
	TargetP50MS     float64     `json:"target_added_p50_ms"`
	TargetP99MS     float64     `json:"target_added_p99_ms"`
	TargetRPS       float64     `json:"target_rps"`
	Pass            bool        `json:"pass"`
	LoadBefore      string      `json:"load_before"`
	LoadAfter       string      `json:"load_after"`
	RAG             *ragHTTPRep `json:"rag,omitempty"`
	RAGTargetP95MS  float64     `json:"rag_target_p95_ms,omitempty"`
	RAGPass         *bool       `json:"rag_pass,omitempty"`
	UpstreamURL     string      `json:"-"`
	GatewayEndpoint string      `json:"-"`
}

type phasePair struct {
	Concurrency int        `json:"concurrency"`
	Direct      phaseStat  `json:"direct"`
	Gateway     phaseStat  `json:"gateway"`        // the bare gateway
	Full        *phaseStat `json:"full,omitempty"` // --full: the gateway as serve builds it
}

type phaseStat struct {
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	RPS      float64 `json:"rps"`
	P50MS    float64 `json:"p50_ms"`
	P90MS    float64 `json:"p90_ms"`
	P99MS    float64 `json:"p99_ms"`
	MeanMS   float64 `json:"mean_ms"`
	// CPUPerReqUS is the process's CPU time during the phase per request;
	// AllocPerReqKB the bytes it allocated (load generator and upstream
	// included, as for CPU).
	CPUPerReqUS   float64 `json:"cpu_us_per_request"`
	AllocPerReqKB float64 `json:"alloc_kb_per_request"`
}

type ragHTTPRep struct {
	Corpus           string  `json:"corpus"`
	Queries          int     `json:"queries"`
	Passes           int     `json:"passes"`
	HTTPOverheadP50  float64 `json:"http_overhead_p50_ms"` // client latency minus the generate stage, all passes pooled
	HTTPOverheadP95  float64 `json:"http_overhead_p95_ms"`
	BestP50          float64 `json:"http_overhead_best_p50_ms"` // per question, the best of the passes (less machine noise)
	BestP95          float64 `json:"http_overhead_best_p95_ms"`
	LayerP50         float64 `json:"http_layer_p50_ms"` // per request: client latency minus all pipeline stages (HTTP, JSON, handler)
	LayerP95         float64 `json:"http_layer_p95_ms"`
	PipelineP50      float64 `json:"pipeline_overhead_p50_ms"` // the pipeline's own stages (Result.Overhead)
	PipelineP95      float64 `json:"pipeline_overhead_p95_ms"`
	GenerateP50      float64 `json:"generate_p50_ms"`
	TotalP50         float64 `json:"total_p50_ms"`
	TotalP95         float64 `json:"total_p95_ms"`
	IngestSeconds    float64 `json:"ingest_seconds,omitempty"`
	SupportedPercent float64 `json:"supported_sentences_percent"`
}

// fakeCompletion is the upstream's answer: a complete chat.completion as
// OpenAI sends it.
var fakeCompletion = []byte(`{"id":"chatcmpl-bench0000000000000000000000","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"Sextant adds little to this answer.","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":19,"completion_tokens":8,"total_tokens":27,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_bench00001"}` + "\n")

// fakeStream is the upstream's streamed answer.
var fakeStream = func() []byte {
	var b bytes.Buffer
	head := `{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","system_fingerprint":"fp_bench00001","choices":[{"index":0,"delta":%s,"logprobs":null,"finish_reason":%s}]}`
	fmt.Fprintf(&b, "data: "+head+"\n\n", `{"role":"assistant","content":"","refusal":null}`, "null")
	for _, w := range strings.Fields("Sextant adds little to this answer .") {
		c, _ := json.Marshal(w + " ")
		fmt.Fprintf(&b, "data: "+head+"\n\n", `{"content":`+string(c)+`}`, "null")
	}
	fmt.Fprintf(&b, "data: "+head+"\n\n", `{}`, `"stop"`)
	b.WriteString("data: [DONE]\n\n")
	return b.Bytes()
}()

// fastUpstream answers every POST at once with a fixed body.
func fastUpstream(stream bool) http.Handler {
	body, ct := fakeCompletion, "application/json"
	if stream {
		body, ct = fakeStream, "text/event-stream; charset=utf-8"
	}
	n := fmt.Sprint(len(body))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		h := w.Header()
		h["Content-Type"] = []string{ct}
		if !stream {
			h["Content-Length"] = []string{n}
		}
		h["X-Request-Id"] = []string{"req_bench"}
		w.Write(body)
	})
}

func runBenchGateway(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("bench gateway", e.stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), benchGatewayUsage)
		fs.PrintDefaults()
	}
	duration := fs.Duration("duration", 10*time.Second, "measured time of each phase (direct and gateway, latency and throughput), split over the rounds")
	concurrency := fs.Int("concurrency", 64, "requests in flight in the throughput phases")
	rounds := fs.Int("rounds", 2, "alternating rounds (direct, gateway, direct, ...); figures pool all rounds")
	warmup := fs.Duration("warmup", time.Second, "unmeasured load before each phase")
	stream := fs.Bool("stream", false, "streamed completions (SSE) instead of JSON bodies")
	asJSON := fs.Bool("json", false, "print one JSON object")
	serve := fs.Bool("serve", false, "only start the upstream and the gateway, print their URLs and wait (for wrk)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measured phases to FILE")
	full := fs.Bool("full", false, "also measure the gateway as sextant serve builds it (API key auth, metrics, tracing, redacted JSON request log (discarded), rate limits, budgets, usage ledger, audit log) beside the bare one")
	trace := fs.Bool("trace", true, "with --full, export the full stack's spans over OTLP/HTTP to a local receiver")
	beirDefault := filepath.Join("..", "shared", "data", "beir-scifact")
	if _, err := os.Stat(beirDefault); err != nil {
		beirDefault = ""
	}
	beir := fs.String("beir", beirDefault, "BEIR folder for the RAG-over-HTTP overhead (\"\" = skip)")
	ragQueries := fs.Int("rag-queries", 0, "ask only the first N test queries (0 = all)")
	ragPasses := fs.Int("rag-passes", 3, "timed passes over the queries (after one warm-up pass)")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	if *concurrency < 1 || *rounds < 1 || *duration <= 0 || *ragPasses < 1 {
		return usageErrorf("bench gateway: --concurrency, --rounds, --rag-passes and --duration must be positive")
	}
	progress := e.stderr
	if *asJSON {
		progress = io.Discard
	}

	// The upstream and the gateway, each on its own loopback listener.
	upLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	upSrv := &http.Server{Handler: fastUpstream(*stream)}
	go upSrv.Serve(upLn)
	defer upSrv.Close()
	upURL := "http://" + upLn.Addr().String() + "/v1"
	op, err := openai.New(openai.Options{Name: "upstream", BaseURL: upURL, HTTPClient: &http.Client{Transport: benchTransport(*concurrency * 2)}})
	if err != nil {
		return err
	}
	model, err := llm.New(llm.Options{Providers: map[string]driver.Provider{"upstream": op}})
	if err != nil {
		return err
	}
	api, err := web.New(web.Options{Model: model})
	if err != nil {
		return err
	}
	listen := func(h http.Handler) (string, func(), error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", nil, err
		}
		srv := &http.Server{Handler: h}
		go srv.Serve(ln)
		return "http://" + ln.Addr().String() + "/v1", func() { srv.Close() }, nil
	}
	gwURL, closeGW, err := listen(api.Handler())
	if err != nil {
		return err
	}
	defer closeGW()
	rep := gatewayReport{GOMAXPROCS: runtime.GOMAXPROCS(0), Full: *full, Duration: duration.String(), Rounds: *rounds, Stream: *stream,
		TargetP50MS: 1, TargetP99MS: 3, TargetRPS: 3000}
	// The targets, called in this order in every round.
	type target struct {
		name, url string
		header    http.Header
		out       func(*phasePair) *phaseStat
	}
	targets := []target{
		{name: "direct", url: upURL + "/chat/completions", out: func(p *phasePair) *phaseStat { return &p.Direct }},
		{name: "gateway", url: gwURL + "/chat/completions", out: func(p *phasePair) *phaseStat { return &p.Gateway }},
	}
	if *full {
		fe := e
		if *trace {
			sinkURL, closeSink, err := listen(otlpSink())
			if err != nil {
				return err
			}
			defer closeSink()
			fe = &env{getenv: func(k string) string {
				if strings.HasPrefix(k, "OTEL_") {
					if k == "OTEL_EXPORTER_OTLP_ENDPOINT" {
						return strings.TrimSuffix(sinkURL, "/v1")
					}
					return ""
				}
				return e.getenv(k)
			}, stdin: e.stdin, stdout: e.stdout, stderr: e.stderr}
			rep.Tracing = "otlp/http to a local receiver"
		}
		fg, err := fullGateway(ctx, fe, upURL)
		if err != nil {
			return err
		}
		defer fg.close()
		fullURL, closeFull, err := listen(fg.handler)
		if err != nil {
			return err
		}
		defer closeFull()
		targets = append(targets, target{name: "full stack", url: fullURL + "/chat/completions",
			header: http.Header{"Authorization": {"Bearer " + fg.key}},
			out: func(p *phasePair) *phaseStat {
				if p.Full == nil {
					p.Full = &phaseStat{}
				}
				return p.Full
			}})
	}

	body := []byte(`{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say how much Sextant adds to this call."}],"temperature":0.2,"max_tokens":64}`)
	if *stream {
		body = []byte(`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Say how much Sextant adds to this call."}]}`)
	}
	if *serve {
		for _, t := range targets {
			fmt.Fprintf(e.stdout, "%-11s %s\n", t.name+":", t.url)
			for k, v := range t.header {
				fmt.Fprintf(e.stdout, "%-11s %s: %s\n", "", k, v[0])
			}
		}
		fmt.Fprintf(e.stdout, "%-11s %s\nCtrl-C to stop.\n", "body:", body)
		<-ctx.Done()
		return nil
	}

	rep.LoadBefore = loadAvg1()
	slice := *duration / time.Duration(*rounds)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("bench gateway: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("bench gateway: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	for _, phase := range []struct {
		conc int
		out  *phasePair
	}{{1, &rep.Latency}, {*concurrency, &rep.Throughput}} {
		phase.out.Concurrency = phase.conc
		lat := make([][]time.Duration, len(targets))
		reqs, errs := make([]int, len(targets)), make([]int, len(targets))
		took := make([]time.Duration, len(targets))
		cpu := make([]float64, len(targets))
		alloc := make([]uint64, len(targets))
		var ms runtime.MemStats
		for r := range *rounds {
			for i, t := range targets {
				fmt.Fprintf(progress, "round %d/%d: %s, %d in flight, %v ...\n", r+1, *rounds, t.name, phase.conc, slice)
				load(ctx, t.url, t.header, body, phase.conc, *warmup, benchTransport(phase.conc))
				runtime.ReadMemStats(&ms)
				a0, c0 := ms.TotalAlloc, cpuSeconds()
				l, n, bad, d := load(ctx, t.url, t.header, body, phase.conc, slice, benchTransport(phase.conc))
				cpu[i] += cpuSeconds() - c0
				runtime.ReadMemStats(&ms)
				alloc[i] += ms.TotalAlloc - a0
				lat[i] = append(lat[i], l...)
				reqs[i] += n
				errs[i] += bad
				took[i] += d
				if err := ctx.Err(); err != nil {
					return err
				}
			}
		}
		for i, t := range targets {
			st := stat(lat[i], reqs[i], errs[i], took[i])
			if reqs[i] > 0 {
				st.CPUPerReqUS = cpu[i] * 1e6 / float64(reqs[i])
				st.AllocPerReqKB = float64(alloc[i]) / 1024 / float64(reqs[i])
			}
			*t.out(phase.out) = st
		}
	}
	rep.LoadAfter = loadAvg1()
	measured := func(p *phasePair) *phaseStat { // what the targets are judged on
		if p.Full != nil {
			return p.Full
		}
		return &p.Gateway
	}
	lg, tg := measured(&rep.Latency), measured(&rep.Throughput)
	rep.AddedP50MS = lg.P50MS - rep.Latency.Direct.P50MS
	rep.AddedP99MS = lg.P99MS - rep.Latency.Direct.P99MS
	rep.GatewayRPS = tg.RPS
	rep.Pass = rep.AddedP50MS <= rep.TargetP50MS && rep.AddedP99MS <= rep.TargetP99MS && rep.GatewayRPS >= rep.TargetRPS &&
		rep.Latency.Gateway.Errors == 0 && rep.Throughput.Gateway.Errors == 0 && lg.Errors == 0 && tg.Errors == 0
	if rep.Full {
		rep.TargetStackMS = 0.3
		rep.StackP50MS = lg.P50MS - rep.Latency.Gateway.P50MS
		rep.StackCPUUS = tg.CPUPerReqUS - rep.Throughput.Gateway.CPUPerReqUS
		rep.Pass = rep.Pass && rep.StackP50MS <= rep.TargetStackMS
	}

	if *beir != "" {
		rag, err := benchRAGOverHTTP(ctx, e, *beir, *ragQueries, *ragPasses, progress)
		if err != nil {
			return err
		}
		rep.RAG = rag
		rep.RAGTargetP95MS = 5
		pass := rag.BestP95 <= rep.RAGTargetP95MS
		rep.RAGPass = &pass
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	writeGatewayReport(e.stdout, &rep)
	return nil
}

// benchTransport is a keep-alive client transport for conc requests in
// flight.
func benchTransport(conc int) *http.Transport {
	return &http.Transport{MaxIdleConns: conc * 2, MaxIdleConnsPerHost: conc * 2, IdleConnTimeout: time.Minute,
		DisableCompression: true, ForceAttemptHTTP2: false}
}

// load sends body to url from conc closed-loop workers for d and returns
// every request's latency, the count, the failures and the wall time.
func load(ctx context.Context, url string, header http.Header, body []byte, conc int, d time.Duration, tr *http.Transport) ([]time.Duration, int, int, time.Duration) {
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		mu   sync.Mutex
		all  []time.Duration
		bad  int
		wg   sync.WaitGroup
		done = ctx.Done()
	)
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 1<<14)
			errs := 0
			for {
				select {
				case <-done:
					mu.Lock()
					all = append(all, lat...)
					bad += errs
					mu.Unlock()
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				req.Header["Content-Type"] = []string{"application/json"}
				for k, v := range header {
					req.Header[k] = v
				}
				t0 := time.Now()
				res, err := client.Do(req)
				if err != nil {
					errs++
					continue
				}
				_, err = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if err != nil || res.StatusCode != http.StatusOK {
					errs++
					continue
				}
				lat = append(lat, time.Since(t0))
			}
		}()
	}
	wg.Wait()
	return all, len(all), bad, time.Since(start)
}

func stat(lat []time.Duration, n, errs int, took time.Duration) phaseStat {
	s := phaseStat{Requests: n, Errors: errs}
	if took > 0 {
		s.RPS = float64(n) / took.Seconds()
	}
	if len(lat) == 0 {
		return s
	}
	slices.Sort(lat)
	at := func(p float64) float64 {
		i := min(len(lat)-1, int(float64(len(lat))*p))
		return float64(lat[i].Nanoseconds()) / 1e6
	}
	var sum time.Duration
	for _, l := range lat {
		sum += l
	}
	s.P50MS, s.P90MS, s.P99MS = at(0.50), at(0.90), at(0.99)
	s.MeanMS = float64(sum.Nanoseconds()) / float64(len(lat)) / 1e6
	return s
}

func writeGatewayReport(w io.Writer, r *gatewayReport) {
	mode := "JSON completions"
	if r.Stream {
		mode = "streamed completions (SSE)"
	}
	fmt.Fprintf(w, "gateway overhead: fake upstream answering at once, %s, %d rounds of %s per phase, GOMAXPROCS %d, load %s -> %s\n\n",
		mode, r.Rounds, r.Duration, r.GOMAXPROCS, r.LoadBefore, r.LoadAfter)
	l, t := r.Latency, r.Throughput
	full := l.Full != nil && t.Full != nil
	if full {
		fmt.Fprintf(w, "%-26s %12s %12s %12s %12s %12s\n", "", "direct", "gateway", "full stack", "full-direct", "full-gateway")
	} else {
		fmt.Fprintf(w, "%-26s %12s %12s %12s\n", "", "direct", "via Sextant", "added")
	}
	row := func(name string, d, g float64, f *float64, unit, num string) {
		diff := "%+" + num[1:]
		fmt.Fprintf(w, "%-26s "+num+" %s "+num+" %s", name, d, unit, g, unit)
		if f == nil {
			fmt.Fprintf(w, " "+diff+" %s\n", g-d, unit)
			return
		}
		fmt.Fprintf(w, " "+num+" %s "+diff+" %s "+diff+" %s\n", *f, unit, *f-d, unit, *f-g, unit)
	}
	pick := func(s *phaseStat, v func(*phaseStat) float64) *float64 {
		if s == nil {
			return nil
		}
		x := v(s)
		return &x
	}
	p50 := func(s *phaseStat) float64 { return s.P50MS }
	p90 := func(s *phaseStat) float64 { return s.P90MS }
	p99 := func(s *phaseStat) float64 { return s.P99MS }
	rps := func(s *phaseStat) float64 { return s.RPS }
	cpu := func(s *phaseStat) float64 { return s.CPUPerReqUS }
	kb := func(s *phaseStat) float64 { return s.AllocPerReqKB }
	ms, n := "%9.3f", "%9.0f"
	row("latency p50 (1 in flight)", l.Direct.P50MS, l.Gateway.P50MS, pick(l.Full, p50), "ms", ms)
	row("latency p90", l.Direct.P90MS, l.Gateway.P90MS, pick(l.Full, p90), "ms", ms)
	row("latency p99", l.Direct.P99MS, l.Gateway.P99MS, pick(l.Full, p99), "ms", ms)
	row("requests/s (1 in flight)", l.Direct.RPS, l.Gateway.RPS, pick(l.Full, rps), "  ", n)
	row(fmt.Sprintf("requests/s (%d in flight)", t.Concurrency), t.Direct.RPS, t.Gateway.RPS, pick(t.Full, rps), "  ", n)
	row(fmt.Sprintf("latency p50 (%d in flight)", t.Concurrency), t.Direct.P50MS, t.Gateway.P50MS, pick(t.Full, p50), "ms", ms)
	row("latency p99", t.Direct.P99MS, t.Gateway.P99MS, pick(t.Full, p99), "ms", ms)
	row("CPU per request", t.Direct.CPUPerReqUS, t.Gateway.CPUPerReqUS, pick(t.Full, cpu), "µs", n)
	row("allocated per request", t.Direct.AllocPerReqKB, t.Gateway.AllocPerReqKB, pick(t.Full, kb), "KB", "%9.1f")
	errs := func(a, b phaseStat) int { return a.Errors + b.Errors }
	if full {
		fmt.Fprintf(w, "%-26s %12d %12d %12d\n", "errors", errs(l.Direct, t.Direct), errs(l.Gateway, t.Gateway), l.Full.Errors+t.Full.Errors)
		fmt.Fprintf(w, "%-26s %12s %12.2f %12.2f\n", "requests/s against direct", "", t.Gateway.RPS/max(t.Direct.RPS, 1), t.Full.RPS/max(t.Direct.RPS, 1))
	} else {
		fmt.Fprintf(w, "%-26s %12d %12d\n", "errors", errs(l.Direct, t.Direct), errs(l.Gateway, t.Gateway))
		fmt.Fprintf(w, "%-26s %12s %12.2f\n", "requests/s against direct", "", t.Gateway.RPS/max(t.Direct.RPS, 1))
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	what := "gateway"
	if full {
		what = "full stack"
		if r.Tracing != "" {
			fmt.Fprintf(w, "full stack spans: %s\n", r.Tracing)
		}
	}
	fmt.Fprintf(w, "\ntargets (%s): added p50 %.3f ms ≤ %.0f ms %s; added p99 %.3f ms ≤ %.0f ms %s; %.0f requests/s ≥ %.0f %s\n",
		what, r.AddedP50MS, r.TargetP50MS, verdict(r.AddedP50MS <= r.TargetP50MS), r.AddedP99MS, r.TargetP99MS, verdict(r.AddedP99MS <= r.TargetP99MS),
		r.GatewayRPS, r.TargetRPS, verdict(r.GatewayRPS >= r.TargetRPS))
	if full {
		fmt.Fprintf(w, "operating side (full stack against the bare gateway): p50 %+.3f ms ≤ %.1f ms %s; CPU %+.0f µs per request\n",
			r.StackP50MS, r.TargetStackMS, verdict(r.StackP50MS <= r.TargetStackMS), r.StackCPUUS)
	}
	if g := r.RAG; g != nil {
		fmt.Fprintf(w, "\nRAG over HTTP (POST /v1/ask, extractive, %s, %d questions):\n", filepath.Base(filepath.Dir(g.Corpus)), g.Queries)
		fmt.Fprintf(w, "  overhead excluding the generator, client-measured, best of %d passes per question: p50 %.2f ms, p95 %.2f ms (target p95 ≤ %.0f ms: %s)\n",
			g.Passes, g.BestP50, g.BestP95, r.RAGTargetP95MS, verdict(*r.RAGPass))
		fmt.Fprintf(w, "  the same, all passes pooled: p50 %.2f ms, p95 %.2f ms\n", g.HTTPOverheadP50, g.HTTPOverheadP95)
		fmt.Fprintf(w, "  of which the pipeline's own stages: p50 %.2f ms, p95 %.2f ms; generator p50 %.2f ms; total p50 %.2f ms, p95 %.2f ms\n",
			g.PipelineP50, g.PipelineP95, g.GenerateP50, g.TotalP50, g.TotalP95)
		fmt.Fprintf(w, "  HTTP layer alone (client latency minus every pipeline stage, per request): p50 %.2f ms, p95 %.2f ms\n", g.LayerP50, g.LayerP95)
		fmt.Fprintf(w, "  %.1f%% of answer sentences supported by their citations\n", g.SupportedPercent)
	}
}

// benchRAGOverHTTP ingests a BEIR corpus, serves the built-in assistant
// and asks every test query over HTTP. The overhead is the client's
// latency minus the generate stage: what retrieval, prompt building,
// citation checking, JSON and HTTP cost around the generator.
func benchRAGOverHTTP(ctx context.Context, e *env, beir string, limit, passes int, progress io.Writer) (*ragHTTPRep, error) {
	queries, err := loadBEIRQueries(filepath.Join(beir, "queries.jsonl"))
	if err != nil {
		return nil, err
	}
	qrels, err := loadQrels(filepath.Join(beir, "qrels", "test.tsv"))
	if err != nil {
		return nil, err
	}
	var qids []string
	for q := range qrels {
		if _, ok := queries[q]; ok {
			qids = append(qids, q)
		}
	}
	sort.Strings(qids)
	if limit > 0 && limit < len(qids) {
		qids = qids[:limit]
	}
	corpus, err := beirCorpus(beir)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "sextant-bench-gateway-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	rep := &ragHTTPRep{Corpus: corpus, Queries: len(qids)}
	st, err := openStore(ctx, dir)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "ingesting %s ...\n", corpus)
	t0 := time.Now()
	if _, err := ingestForBench(ctx, st, corpus); err != nil {
		st.Close()
		return nil, err
	}
	rep.IngestSeconds = time.Since(t0).Seconds()
	st.Close()
	cfg := filepath.Join(dir, "empty.yaml")
	if err := os.WriteFile(cfg, nil, 0o644); err != nil {
		return nil, err
	}
	s, err := openPipeline(ctx, e, dir, cfg, nil)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	api, err := web.New(web.Options{Pipeline: s.pipeline, Retriever: s.eng.index})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: api.Handler()}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/v1/ask"
	client := &http.Client{Transport: benchTransport(2)}
	var httpOver, pipeOver, layer, gen, total []time.Duration
	best := make([]time.Duration, len(qids))
	supported, sentences := 0, 0
	rep.Passes = passes
	for pass := range passes + 1 { // pass 0 warms the page cache and the connection
		fmt.Fprintf(progress, "pass %d of %d: asking %d questions over HTTP ...\n", pass, passes, len(qids))
		for qi, q := range qids {
			b, _ := json.Marshal(web.AskRequest{Question: queries[q], NoCache: true})
			t0 := time.Now()
			res, err := client.Post(url, "application/json", bytes.NewReader(b))
			if err != nil {
				return nil, err
			}
			raw, err := io.ReadAll(res.Body)
			res.Body.Close()
			took := time.Since(t0) // the answer is in; decoding it is the client's cost
			var a web.Answer
			if err == nil {
				err = json.Unmarshal(raw, &a)
			}
			if err != nil || res.StatusCode != 200 {
				return nil, fmt.Errorf("bench gateway: ask %s: status %d: %v", q, res.StatusCode, err)
			}
			if pass == 0 {
				continue
			}
			g := time.Duration(a.TimingsMS["generate"] * float64(time.Millisecond))
			total = append(total, took)
			gen = append(gen, g)
			httpOver = append(httpOver, took-g)
			if pass == 1 || took-g < best[qi] {
				best[qi] = took - g
			}
			po := time.Duration(a.OverheadMS * float64(time.Millisecond))
			pipeOver = append(pipeOver, po)
			layer = append(layer, took-g-po)
			if pass == 1 {
				supported += a.Supported
				sentences += len(a.Sentences)
			}
		}
	}
	rep.HTTPOverheadP50, rep.HTTPOverheadP95 = percentileMS(httpOver, 50), percentileMS(httpOver, 95)
	rep.BestP50, rep.BestP95 = percentileMS(best, 50), percentileMS(best, 95)
	rep.PipelineP50, rep.PipelineP95 = percentileMS(pipeOver, 50), percentileMS(pipeOver, 95)
	rep.GenerateP50 = percentileMS(gen, 50)
	rep.LayerP50, rep.LayerP95 = percentileMS(layer, 50), percentileMS(layer, 95)
	rep.TotalP50, rep.TotalP95 = percentileMS(total, 50), percentileMS(total, 95)
	if sentences > 0 {
		rep.SupportedPercent = 100 * float64(supported) / float64(sentences)
	}
	return rep, nil
}

// otlpSink is an OTLP/HTTP receiver that accepts spans and drops them.
func otlpSink() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	})
}

// benchFull is the gateway as sextant serve builds it, with the API key
// the load generator sends.
type benchFull struct {
	handler http.Handler
	key     string
	close   func()
}

// fullGateway builds the gateway as sextant serve does, over a temporary
// data directory whose configuration routes every model to the upstream:
// the operating side (metrics, tracing, the JSON request log through the
// guard's redaction, rate limits, budgets, the usage ledger) and the
// security side (API keys, the audit log) included. Requests carry an app
// key with a tenant and project, so the rate limits (set too high to
// refuse) and the key's and project's budgets (too large to run out) are
// checked, reserved and settled on every request as in production.
func fullGateway(ctx context.Context, e *env, upURL string) (*benchFull, error) {
	dir, err := os.MkdirTemp("", "sextant-bench-gateway-full-")
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, configFileName)
	yml := fmt.Sprintf(`providers:
  - name: upstream
    type: openai
    base_url: %s
routes:
  - match: "*"
    targets: [{provider: upstream}]
rate_limits:
  default: {requests_per_minute: 100000000, tokens_per_minute: 1000000000000}
budgets:
  projects:
    bench/bench: {daily_usd: 1000000000, monthly_usd: 1000000000}
`, upURL)
	if err := os.WriteFile(cfg, []byte(yml), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// Wired as runServe wires it (serve.go): answers are audited through
	// the pipeline's Done hook, set before the first request.
	var sec *security
	s, ops, err := openOperated(ctx, e, dir, cfg, io.Discard, func(o *rag.Options) {
		o.Hooks.Done = append(o.Hooks.Done, func(ctx context.Context, r *rag.Result) {
			if sec != nil {
				sec.answerDone(ctx, r)
			}
		})
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	sec, err = newSecurity(ctx, e, dir, s.eng.store, io.Discard, ops.log)
	closeAll := func() {
		if sec != nil {
			sec.Close(context.Background())
		}
		ops.Close(context.Background())
		s.Close()
		os.RemoveAll(dir)
	}
	if err != nil {
		closeAll()
		return nil, err
	}
	s.guard.useAuditLog(sec.auditLog())
	ops.auditStats = sec.auditLog().Stats
	key, _, err := access.Create(ctx, s.eng.store, access.KeySpec{Name: "bench", Tenant: "bench", Project: "bench",
		Roles: []string{string(sextant.RoleApp)}}, nil, time.Now())
	if err != nil {
		closeAll()
		return nil, err
	}
	model, _ := s.opts.Model.(*llm.Model)
	wo := web.Options{Pipeline: s.pipeline, Model: model, Retriever: s.eng.index, Store: s.eng.store, Logger: ops.log}
	ops.webOptions(&wo)
	sec.webOptions(&wo)
	ops.record = wo.Usage // abandoned requests go through the whole chain, audit included
	sec.adminOptions(&wo, ops.budgets)
	api, err := web.New(wo)
	if err != nil {
		closeAll()
		return nil, err
	}
	return &benchFull{handler: ops.handler(api.Handler()), key: key, close: closeAll}, nil
}
