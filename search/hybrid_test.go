package search

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/hnsw"
)

func hnswSearch(k int) hnsw.SearchOptions { return hnsw.SearchOptions{K: k} }

func rk(id string, num uint32, score float64) Ranked {
	return Ranked{ChunkID: id, DocumentID: "d-" + id, Score: score, num: num}
}

var approx = cmpopts.EquateApprox(0, 1e-12)

func TestFuseRRFHandComputed(t *testing.T) {
	lex := []Ranked{rk("a", 1, 9), rk("b", 2, 7), rk("c", 3, 1)}
	vec := []Ranked{rk("c", 3, 0.9), rk("d", 4, 0.8), rk("a", 1, 0.1)}
	got := Fuse(lex, vec, Retrieval{}) // k = 60, w = 0.5
	// a: 0.5/61 + 0.5/63; c: 0.5/63 + 0.5/61; b: 0.5/62; d: 0.5/62.
	// a and c tie (a first by index order), then b and d (b first).
	want := []Ranked{
		{ChunkID: "a", DocumentID: "d-a", Score: 0.5/61 + 0.5/63, Scores: map[string]float64{"bm25": 9, "vector": 0.1, "fused": 0.5/61 + 0.5/63}},
		{ChunkID: "c", DocumentID: "d-c", Score: 0.5/63 + 0.5/61, Scores: map[string]float64{"bm25": 1, "vector": 0.9, "fused": 0.5/63 + 0.5/61}},
		{ChunkID: "b", DocumentID: "d-b", Score: 0.5 / 62, Scores: map[string]float64{"bm25": 7, "fused": 0.5 / 62}},
		{ChunkID: "d", DocumentID: "d-d", Score: 0.5 / 62, Scores: map[string]float64{"vector": 0.8, "fused": 0.5 / 62}},
	}
	if diff := cmp.Diff(want, got, approx, cmpopts.IgnoreUnexported(Ranked{})); diff != "" {
		t.Fatalf("RRF (-want +got):\n%s", diff)
	}
	// k = 1 and w = 0.75: a = 0.25/2 + 0.75/4, c = 0.25/4 + 0.75/2.
	got = Fuse(lex, vec, Retrieval{RRFK: 1, VectorWeight: 0.75})
	if got[0].ChunkID != "c" || math.Abs(got[0].Score-(0.25/4+0.75/2)) > 1e-12 {
		t.Fatalf("weighted RRF top = %+v", got[0])
	}
}

func TestFuseWeightedNormalisation(t *testing.T) {
	lex := []Ranked{rk("a", 1, 10), rk("b", 2, 6), rk("c", 3, 2)}
	vec := []Ranked{rk("b", 2, 0.9), rk("d", 4, 0.5), rk("a", 1, 0.3)}
	score := func(rs []Ranked, id string) float64 {
		for _, r := range rs {
			if r.ChunkID == id {
				return r.Score
			}
		}
		t.Fatalf("%s missing", id)
		return 0
	}
	// Min-max: lex a=1, b=0.5, c=0; vec b=1, d=1/3, a=0; missing = 0.
	mm := Fuse(lex, vec, Retrieval{Fusion: FusionWeighted, VectorWeight: 0.25})
	for id, want := range map[string]float64{"a": 0.75, "b": 0.75*0.5 + 0.25, "c": 0, "d": 0.25 / 3} {
		if got := score(mm, id); math.Abs(got-want) > 1e-12 {
			t.Errorf("min-max %s = %v, want %v", id, got, want)
		}
	}
	// z-score: lex mean 6, sd sqrt(32/3); vec mean 17/30, sd of {0.9,0.5,0.3};
	// a chunk missing from a list gets that list's lowest z.
	zl := func(x float64) float64 { return (x - 6) / math.Sqrt(32.0/3) }
	m := (0.9 + 0.5 + 0.3) / 3
	sd := math.Sqrt(((0.9-m)*(0.9-m) + (0.5-m)*(0.5-m) + (0.3-m)*(0.3-m)) / 3)
	zv := func(x float64) float64 { return (x - m) / sd }
	z := Fuse(lex, vec, Retrieval{Fusion: FusionWeighted, Normalize: NormZScore, VectorWeight: 0.5})
	for id, want := range map[string]float64{
		"a": 0.5*zl(10) + 0.5*zv(0.3), "b": 0.5*zl(6) + 0.5*zv(0.9), "c": 0.5*zl(2) + 0.5*zv(0.3), "d": 0.5*zl(2) + 0.5*zv(0.5),
	} {
		if got := score(z, id); math.Abs(got-want) > 1e-9 {
			t.Errorf("z-score %s = %v, want %v", id, got, want)
		}
	}
	for i := 1; i < len(z); i++ {
		if z[i].Score > z[i-1].Score {
			t.Fatalf("fused list not descending at %d", i)
		}
	}
	// Constant lists normalise without dividing by zero.
	flat := Fuse([]Ranked{rk("a", 1, 3), rk("b", 2, 3)}, nil, Retrieval{Fusion: FusionWeighted, Normalize: NormZScore})
	for _, r := range flat {
		if math.IsNaN(r.Score) {
			t.Fatal("NaN score from a constant list")
		}
	}
}

func TestMMR(t *testing.T) {
	// a and b are near-duplicates; c is different and a little less
	// relevant; e is barely relevant and has no vector. Relevance alone
	// gives a, b, c, e; MMR with λ = 0.5 gives a, c, then e (0.5·0 − 0)
	// over b (0.5·0.85/0.9 − 0.5·0.995 < 0).
	vecs := map[string][]float32{"a": {1, 0}, "b": {0.995, 0.0998}, "c": {0, 1}}
	cands := []Ranked{rk("a", 1, 1.0), rk("b", 2, 0.95), rk("c", 3, 0.8), rk("e", 4, 0.1)}
	vec := func(r Ranked) []float32 { return vecs[r.ChunkID] }
	got := MMR(cands, 3, 0.5, vec)
	if diff := cmp.Diff([]string{"a", "c", "e", "b"}, ids(got)); diff != "" {
		t.Fatalf("MMR order (-want +got):\n%s", diff)
	}
	// a: 0.5·1 − 0 = 0.5; then c: 0.5·(0.7/0.9) − 0.5·0 beats b: 0.5·(0.85/0.9) − 0.5·0.995.
	if v := got[1].Scores[ScoreMMR]; math.Abs(v-0.5*0.7/0.9) > 1e-6 {
		t.Fatalf("c's MMR value %v", v)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Score >= got[i-1].Score {
			t.Fatalf("scores not descending after MMR: %v", got)
		}
	}
	if diff := cmp.Diff([]string{"a", "b", "c", "e"}, ids(MMR(cands, 3, 1, vec))); diff != "" {
		t.Fatalf("λ = 1 must keep relevance order:\n%s", diff)
	}
	// λ near 0: diversity first — after a, the least similar (c, e have
	// e without a vector: similar to nothing).
	div := MMR(cands, 2, 0.01, vec)
	if div[0].ChunkID != "a" || div[1].ChunkID == "b" {
		t.Fatalf("λ = 0.01 picked %v", ids(div))
	}
}

func TestFeatures(t *testing.T) {
	an := NewAnalyzer(AnalyzerOptions{})
	cands := []Candidate{
		{ChunkID: "1", Title: "Key rotation", Text: "Rotate the signing keys every ninety days.", Lexical: 8, HasLexical: true, Fused: 0.9},
		{ChunkID: "2", Title: "Backups", Text: "Keys are stored apart. Much later in a long text we rotate nothing at all here today.", Vector: 0.5, HasVector: true, Fused: 0.4},
		{ChunkID: "3", Title: "Other", Text: "Nothing relevant.", Lexical: 2, HasLexical: true, Vector: 0.9, HasVector: true, Fused: 0.1},
	}
	f := Features(an, "rotate signing keys", cands)
	want := [][]float64{
		// coverage, title, proximity, lexical, vector, fused
		{1, 2.0 / 3, 1, 1, 0, 1}, // title stems: key, rotat
		{2.0 / 3, 0, 1.0 / 3, 0, 0, 0.375},
		{0, 0, 0, 0, 1, 0},
	}
	if diff := cmp.Diff(want, f, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Fatalf("features (-want +got):\n%s", diff)
	}
	fr := &FeatureReranker{Analyzer: an, Weights: FeatureWeights{Coverage: 1}}
	s, err := fr.Rerank(context.Background(), "rotate signing keys", cands)
	if err != nil || !(s[0] > s[1] && s[1] > s[2]) {
		t.Fatalf("coverage-only scores %v %v", s, err)
	}
}

func TestFitFeatureWeights(t *testing.T) {
	// Feature 0 is noise, feature 1 identifies the relevant item: the fit
	// must find weight on feature 1 and reach nDCG 1.
	var qs []FitQuery
	for i := range 20 {
		q := FitQuery{Ideal: []float64{1}}
		for j := range 5 {
			row := make([]float64, len(FeatureNames))
			row[0] = float64((i*7+j*3)%5) / 4
			row[5] = float64((i+j)%5) / 4
			gain := 0.0
			if j == i%5 {
				row[1], gain = 1, 1
			}
			q.Features = append(q.Features, row)
			q.Gains = append(q.Gains, gain)
		}
		qs = append(qs, q)
	}
	start := FeatureWeights{Coverage: 1, Fused: 1}
	w, ndcg := FitFeatureWeights(qs, start)
	if ndcg < 0.999 || w.Title <= 0 {
		t.Fatalf("fit: %+v nDCG %v", w, ndcg)
	}
	if base := meanNDCG(qs, start.slice()); base >= ndcg {
		t.Fatalf("fit did not improve on the start (%v → %v)", base, ndcg)
	}
}

func TestRerankStage(t *testing.T) {
	ctx := context.Background()
	c := newVecCorpus(t, 60, 4)
	ix := c.open(t, Options{})
	// A reranker that prefers higher document numbers.
	rr := RerankFunc(func(_ context.Context, query string, docs []string) ([]float64, error) {
		if query != "alpha" {
			t.Errorf("reranker got query %q", query)
		}
		out := make([]float64, len(docs))
		for i, d := range docs {
			out[i] = float64(len(d)) // titles and texts grow with the number's digits
		}
		return out, nil
	})
	got, err := ix.RankWith(ctx, sextant.Query{Text: "alpha", K: 20, Mode: sextant.ModeLexical}, Retrieval{Reranker: rr, RerankDepth: 10})
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if i < 10 {
			if _, ok := got[i].Scores[ScoreRerank]; !ok {
				t.Fatalf("result %d of the reranked head has no rerank score", i)
			}
		} else if _, ok := got[i].Scores[ScoreRerank]; ok {
			t.Fatalf("result %d beyond the rerank depth was reranked", i)
		}
		if i > 0 && got[i].Score > got[i-1].Score {
			t.Fatalf("scores not descending at %d: %v > %v", i, got[i].Score, got[i-1].Score)
		}
	}
	failing := RerankFunc(func(context.Context, string, []string) ([]float64, error) {
		return nil, sextant.Errorf(sextant.EUNAVAILABLE, "rerank server down")
	})
	if _, err := ix.RankWith(ctx, sextant.Query{Text: "alpha", Mode: sextant.ModeLexical}, Retrieval{Reranker: failing}); sextant.ErrorCode(err) != sextant.EUNAVAILABLE {
		t.Fatalf("failing reranker: %v", err)
	}
	short := RerankFunc(func(context.Context, string, []string) ([]float64, error) { return []float64{1}, nil })
	if _, err := ix.RankWith(ctx, sextant.Query{Text: "alpha", Mode: sextant.ModeLexical}, Retrieval{Reranker: short}); err == nil {
		t.Fatal("a reranker returning too few scores was accepted")
	}
}

func TestRetrievalValidate(t *testing.T) {
	for _, r := range []Retrieval{
		{Fusion: "max"}, {Normalize: "l2"}, {RRFK: -1}, {VectorWeight: 1.5}, {MMRLambda: -0.1}, {Depth: -1}, {RerankDepth: maxK + 1},
	} {
		if err := r.Validate(); sextant.ErrorCode(err) != sextant.EINVALID {
			t.Errorf("%+v: %v, want EINVALID", r, err)
		}
	}
	if err := (Retrieval{}).Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), newVecCorpus(t, 1, 2).db, Options{Retrieval: Retrieval{Fusion: "x"}}); sextant.ErrorCode(err) != sextant.EINVALID {
		t.Fatalf("Open with bad retrieval settings: %v", err)
	}
}

// FuzzVectorSnapshot feeds damaged vector snapshots to the loader: it must
// refuse them with an error, never panic.
func FuzzVectorSnapshot(f *testing.F) {
	c := newVecCorpus(f, 50, 4)
	ix := c.open(f, Options{Dir: c.dir, Vector: VectorOptions{Enabled: true}})
	if err := ix.SaveSnapshot(); err != nil {
		f.Fatal(err)
	}
	path := filepath.Join(c.dir, VectorSnapshotFile)
	good, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(good[:20])
	f.Add([]byte("SXVECTOR\xff\xff\xff\xff"))
	f.Add([]byte{})
	fp := ix.vectorFingerprint(testSpace, 4)
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		v, err := ix.loadVectorSnapshot(testSpace, fp, 4)
		if err == nil {
			// Accepted: it must be a usable index over known chunks.
			if v.hn.Options().Dim != 4 || len(v.chunkOf) != v.hn.Len() {
				t.Fatalf("accepted an inconsistent snapshot")
			}
			if _, err := v.hn.Search([]float32{1, 0, 0, 0}, hnswSearch(5)); err != nil {
				t.Fatal(err)
			}
		} else if errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	})
}
