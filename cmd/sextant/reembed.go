package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/sextant-ai/sextant"
)

const reembedUsage = `Usage: sextant reembed [--model M] [--dimensions D] [--data DIR] [--config FILE] [--json]

Embed every chunk of the store with an embedding model: the configured
embedder (embedder: in sextant.yaml), or --model/--dimensions to change it.
While it runs, search keeps using the vectors it has; when every chunk has
a vector in the new space, the store switches to it in one step and the
old vectors are dropped (their cache stays). Progress is kept in the store:
interrupt it (Ctrl-C, a failing server) and run it again to continue.
With the current model it only embeds chunks that lack a vector.

After switching models, set embedder.model (and dimensions) in the
configuration to the new one, so queries are embedded the same way.

Flags:
`

func runReembed(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("reembed", e.stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), reembedUsage)
		fs.PrintDefaults()
	}
	dataDir := dataFlag(fs, e)
	configPath := fs.String("config", "", "configuration file (default DATA/sextant.yaml when present; env SEXTANT_CONFIG)")
	model := fs.String("model", "", "embedding model (default: a re-embedding in progress, else embedder.model)")
	dims := fs.Int("dimensions", -1, "vector size asked of the model; 0 = its native size (default: embedder.dimensions)")
	asJSON := fs.Bool("json", false, "print the summary as one JSON object")
	quiet := fs.Bool("quiet", false, "no progress output")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("reembed: unexpected argument %q", pos[0])
	}
	if *dims < -1 || *dims > 65536 {
		return usageErrorf("reembed: --dimensions %d: want 0..65536", *dims)
	}
	cfg, err := loadConfig(*configPath, *dataDir, e.getenv)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, *dataDir)
	if err != nil {
		return err
	}
	defer st.Close()
	state, err := st.VectorState(ctx)
	if err != nil {
		return err
	}
	space := sextant.EmbeddingSpace{Model: cfg.Embedder.Model, Dimensions: cfg.Embedder.Dimensions}
	if *model == "" && *dims < 0 && state.Target != nil {
		space = state.Target.Space // resume the re-embedding in progress
	}
	if *model != "" {
		space = sextant.EmbeddingSpace{Model: *model, Dimensions: max(*dims, 0)}
	} else if *dims >= 0 {
		space.Dimensions = *dims
	}
	if space.Model == "" {
		return usageErrorf("reembed: %v", errNoEmbedder)
	}
	lm, err := cfg.models(e.getenv)
	if err != nil {
		return err
	}
	emb, err := cfg.embedderFor(lm, e.getenv, st, space)
	if err != nil {
		return err
	}
	state, err = st.BeginReembed(ctx, space)
	if err != nil {
		return err
	}
	var progress io.Writer
	if !*quiet && !*asJSON {
		progress = e.stderr
		switch {
		case state.Target != nil:
			fmt.Fprintf(e.stderr, "reembed: %s → %s: %d of %d chunks already done; queries use %s until it finishes\n",
				state.Active.Space, space, state.Target.Vectors, state.Chunks, state.Active.Space)
		default:
			fmt.Fprintf(e.stderr, "reembed: embedding chunks that have no vector from %s\n", space)
		}
	}
	sum, runErr := embedPending(ctx, st, emb, progress)
	switched := false
	if runErr == nil {
		switched, runErr = st.FinishReembed(ctx)
	}
	after, _ := st.VectorState(ctx)
	s := emb.emb.Stats()
	if *asJSON {
		out := struct {
			Model       string  `json:"model"`
			Dimensions  int     `json:"dimensions"`
			Dim         int     `json:"dim"`
			Pending     int64   `json:"pending"`
			Embedded    int64   `json:"embedded"`
			Switched    bool    `json:"switched"`
			Complete    bool    `json:"complete"`
			Seconds     float64 `json:"seconds"`
			CacheHits   int64   `json:"cache_hits"`
			CacheMisses int64   `json:"cache_misses"`
			Requests    int64   `json:"requests"`
			Tokens      int64   `json:"tokens"`
			Error       string  `json:"error,omitempty"`
		}{Model: space.Model, Dimensions: space.Dimensions, Pending: sum.Pending, Embedded: sum.Embedded,
			Switched: switched, Seconds: sum.Duration.Seconds(), CacheHits: s.CacheHits, CacheMisses: s.CacheMisses,
			Requests: s.Requests, Tokens: s.Tokens}
		if after.Active != nil && after.Active.Space == space {
			out.Dim = after.Active.Dim
			out.Complete = after.Target == nil && after.Active.Vectors == after.Chunks
		}
		if runErr != nil {
			out.Error = runErr.Error()
		}
		if err := json.NewEncoder(e.stdout).Encode(out); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(e.stdout, "Embedded %d of %d pending chunks with %s in %.2fs (cache hits %d, misses %d; %d requests, %d tokens)\n",
			sum.Embedded, sum.Pending, space, sum.Duration.Seconds(), s.CacheHits, s.CacheMisses, s.Requests, s.Tokens)
		switch {
		case runErr != nil:
			fmt.Fprintln(e.stdout, "Stopped before the end; run sextant reembed again to continue where it stopped.")
		case switched:
			fmt.Fprintf(e.stdout, "Switched the store to %s: every chunk has a vector from it.\n", space)
		}
		if runErr == nil && (space.Model != cfg.Embedder.Model || space.Dimensions != cfg.Embedder.Dimensions) {
			fmt.Fprintf(e.stdout, "Set embedder.model: %s (dimensions: %d) in the configuration so queries are embedded the same way.\n",
				space.Model, space.Dimensions)
		}
	}
	if runErr != nil {
		return fmt.Errorf("reembed: %w", runErr)
	}
	return nil
}
