package hnsw

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
)

// clustered returns n vectors of dimension dim drawn from a mixture of
// Gaussians around `centres` random centres.
func clustered(seed uint64, n, dim, centres int) [][]float32 {
	r := rand.New(rand.NewPCG(seed, 99))
	cs := make([][]float32, centres)
	for i := range cs {
		cs[i] = randVec(r, dim)
	}
	out := make([][]float32, n)
	for i := range out {
		c := cs[r.IntN(centres)]
		v := make([]float32, dim)
		for j := range v {
			v[j] = c[j] + 0.5*float32(r.NormFloat64())
		}
		out[i] = v
	}
	return out
}

func uniform(seed uint64, n, dim int) [][]float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	out := make([][]float32, n)
	for i := range out {
		out[i] = randVec(r, dim)
	}
	return out
}

// recall is the mean fraction of exact's ids that approx also returns.
func recall(t testing.TB, x *Index, queries [][]float32, k, ef int, f Filter) float64 {
	t.Helper()
	var hit, total int
	for _, q := range queries {
		want, err := x.Exact(q, SearchOptions{K: k, Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		got, err := x.Search(q, SearchOptions{K: k, Ef: ef, Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		ids := map[uint32]bool{}
		for _, r := range got {
			ids[r.ID] = true
		}
		for _, r := range want {
			if ids[r.ID] {
				hit++
			}
		}
		total += len(want)
	}
	if total == 0 {
		return 1
	}
	return float64(hit) / float64(total)
}

func build(t testing.TB, opt Options, vecs [][]float32) *Index {
	t.Helper()
	x, err := Build(context.Background(), opt, vecs)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestRecall(t *testing.T) {
	for _, tc := range []struct {
		name   string
		data   [][]float32
		metric Metric
		quant  Quantization
		min    float64
	}{
		{"clustered/cosine", clustered(1, 2000, 48, 30), Cosine, Float32, 0.98},
		{"clustered/dot", clustered(2, 2000, 48, 30), InnerProduct, Float32, 0.97},
		{"clustered/l2", clustered(3, 2000, 48, 30), Euclidean, Float32, 0.98},
		{"uniform/cosine", uniform(4, 2000, 32), Cosine, Float32, 0.95},
		{"clustered/cosine/int8", clustered(5, 2000, 48, 30), Cosine, Int8, 0.97},
		{"clustered/l2/int8", clustered(6, 2000, 48, 30), Euclidean, Int8, 0.97},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.data[:1900]
			queries := tc.data[1900:]
			opt := Options{Dim: len(data[0]), Metric: tc.metric, M: 12, EfConstruction: 80, Seed: 42, Quantization: tc.quant}
			if tc.quant == Int8 {
				opt.Source = func(id uint32, dst []float32) []float32 { return data[id] }
			}
			x := build(t, opt, data)
			r := recall(t, x, queries, 10, 64, nil)
			t.Logf("recall@10 at ef=64: %.4f", r)
			if r < tc.min {
				t.Errorf("recall@10 = %.3f, want >= %.2f", r, tc.min)
			}
		})
	}
}

func TestExactMatchesBruteForce(t *testing.T) {
	data := clustered(7, 500, 19, 5)
	for _, m := range []Metric{Cosine, InnerProduct, Euclidean} {
		x := build(t, Options{Dim: 19, Metric: m, Seed: 1}, data)
		q := data[3]
		got, err := x.Exact(q, SearchOptions{K: 5})
		if err != nil {
			t.Fatal(err)
		}
		// Reference: score every vector with the pure-Go kernels.
		qn := make([]float32, 19)
		best := -1
		var bestScore float32
		for i, v := range data {
			var s float32
			switch m {
			case Cosine:
				vn := make([]float32, 19)
				normalizeInto(qn, q)
				normalizeInto(vn, v)
				s = dotGeneric(qn, vn)
			case InnerProduct:
				s = dotGeneric(q, v)
			case Euclidean:
				s = -l2Generic(q, v)
			}
			if best < 0 || s > bestScore {
				best, bestScore = i, s
			}
		}
		if got[0].ID != uint32(best) {
			t.Errorf("%v: exact top-1 = %d, brute force says %d", m, got[0].ID, best)
		}
		for i := 1; i < len(got); i++ {
			if got[i].Score > got[i-1].Score {
				t.Errorf("%v: results not sorted: %v", m, got)
			}
		}
	}
}

func TestDeterministic(t *testing.T) {
	data := clustered(8, 1500, 24, 10)
	opt := Options{Dim: 24, M: 8, EfConstruction: 60, Seed: 5}
	a, b := build(t, opt, data), build(t, opt, data)
	for i := 0; i < 50; i++ {
		ra, _ := a.Search(data[i], SearchOptions{K: 10})
		rb, _ := b.Search(data[i], SearchOptions{K: 10})
		if len(ra) != len(rb) {
			t.Fatal("different result counts")
		}
		for j := range ra {
			if ra[j] != rb[j] {
				t.Fatalf("query %d: %v vs %v", i, ra, rb)
			}
		}
	}
}

func TestDeleteChurnKeepsRecall(t *testing.T) {
	data := clustered(9, 4000, 32, 40)
	queries := clustered(10, 100, 32, 40)
	x := build(t, Options{Dim: 32, M: 12, EfConstruction: 100, Seed: 3}, data[:2000])
	r := rand.New(rand.NewPCG(1, 1))
	next := 2000
	deleted := map[uint32]bool{}
	// Five rounds: delete 20% of the live vectors, insert as many new ones.
	for round := 0; round < 5; round++ {
		for i := 0; i < 400; i++ {
			id := uint32(r.IntN(x.Len()))
			if deleted[id] {
				continue
			}
			if err := x.Delete(id); err != nil {
				t.Fatal(err)
			}
			deleted[id] = true
		}
		for i := 0; i < 400 && next < len(data); i++ {
			if _, err := x.Add(data[next]); err != nil {
				t.Fatal(err)
			}
			next++
		}
	}
	rc := recall(t, x, queries, 10, 64, nil)
	if rc < 0.93 {
		t.Errorf("recall after churn = %.3f, want >= 0.93", rc)
	}
	for _, q := range queries[:20] {
		res, _ := x.Search(q, SearchOptions{K: 10})
		for _, h := range res {
			if deleted[h.ID] {
				t.Fatalf("search returned deleted id %d", h.ID)
			}
		}
	}
	// Compaction drops tombstones, renumbers and keeps recall.
	c, remap, err := x.Compact(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() != x.Live() || c.Live() != x.Live() {
		t.Fatalf("compacted len %d live %d, want %d", c.Len(), c.Live(), x.Live())
	}
	for old, nw := range remap {
		if deleted[uint32(old)] != (nw == Removed) {
			t.Fatalf("remap[%d] = %d, deleted=%v", old, nw, deleted[uint32(old)])
		}
		if nw != Removed {
			a, _ := x.Vector(uint32(old))
			b, _ := c.Vector(nw)
			if a[0] != b[0] || a[31] != b[31] {
				t.Fatalf("remap[%d]=%d points at a different vector", old, nw)
			}
		}
	}
	if rc2 := recall(t, c, queries, 10, 64, nil); rc2 < 0.93 {
		t.Errorf("recall after compaction = %.3f, want >= 0.93", rc2)
	}
	if c.MemoryBytes() >= x.MemoryBytes() {
		t.Errorf("compaction did not shrink memory: %d -> %d", x.MemoryBytes(), c.MemoryBytes())
	}
}

func TestDeleteAll(t *testing.T) {
	data := clustered(11, 50, 8, 3)
	x := build(t, Options{Dim: 8, Seed: 1}, data)
	for i := range data {
		if err := x.Delete(uint32(i)); err != nil {
			t.Fatal(err)
		}
	}
	res, err := x.Search(data[0], SearchOptions{})
	if err != nil || len(res) != 0 {
		t.Fatalf("search on all-deleted index: %v, %v", res, err)
	}
	if err := x.Delete(999); !errors.Is(err, ErrNotFound) {
		t.Errorf("Delete(999) = %v, want ErrNotFound", err)
	}
	c, _, err := x.Compact(context.Background())
	if err != nil || c.Len() != 0 {
		t.Fatalf("compact of empty: %v %v", c, err)
	}
	if _, err := c.Add(data[0]); err != nil {
		t.Fatal(err)
	}
	if res, _ := c.Search(data[0], SearchOptions{}); len(res) != 1 || res[0].ID != 0 {
		t.Fatalf("after re-add: %v", res)
	}
}

func TestBadInput(t *testing.T) {
	x, err := New(Options{Dim: 4})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		v    []float32
		want error
	}{
		{[]float32{1, 2, 3}, ErrDimension},
		{[]float32{0, 0, 0, 0}, ErrVector},
		{[]float32{1, float32(nan()), 0, 0}, ErrVector},
	} {
		if _, err := x.Add(tc.v); !errors.Is(err, tc.want) {
			t.Errorf("Add(%v) = %v, want %v", tc.v, err, tc.want)
		}
		if _, err := x.Search(tc.v, SearchOptions{}); !errors.Is(err, tc.want) {
			t.Errorf("Search(%v) = %v, want %v", tc.v, err, tc.want)
		}
	}
	for _, o := range []Options{{}, {Dim: 4, M: 1}, {Dim: 4, M: 300}, {Dim: -1}} {
		if _, err := New(o); !errors.Is(err, ErrOptions) {
			t.Errorf("New(%+v) = %v, want ErrOptions", o, err)
		}
	}
	q, _ := New(Options{Dim: 4, Quantization: Int8})
	if _, err := q.Add([]float32{1, 2, 3, 4}); !errors.Is(err, ErrUntrained) {
		t.Errorf("Add on untrained int8 = %v, want ErrUntrained", err)
	}
	if res, err := x.Search([]float32{1, 2, 3, 4}, SearchOptions{}); err != nil || len(res) != 0 {
		t.Errorf("search of empty index = %v, %v", res, err)
	}
}

func nan() float64 { var z float64; return z / z }

// TestConcurrentReadsDuringWrites runs searches while one goroutine adds and
// deletes; under -race it proves the lock-free read path is race-free.
func TestConcurrentReadsDuringWrites(t *testing.T) {
	data := clustered(12, 1600, 16, 10)
	for _, quant := range []Quantization{Float32, Int8} {
		opt := Options{Dim: 16, M: 8, EfConstruction: 40, Seed: 1, Quantization: quant}
		if quant == Int8 {
			opt.Source = func(id uint32, dst []float32) []float32 { return data[id] }
		}
		x := build(t, opt, data[:200]) // small capacity: later adds grow the slabs
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for g := 0; g < 3; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				var buf []Result
				bs := NewBitset(len(data))
				for i := 0; i < len(data); i += 2 {
					bs.Set(uint32(i))
				}
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					q := data[(i*7+g)%len(data)]
					var err error
					switch i % 3 {
					case 0:
						buf, err = x.SearchInto(buf, q, SearchOptions{K: 5})
					case 1:
						buf, err = x.SearchInto(buf, q, SearchOptions{K: 5, Filter: bs})
					default:
						buf, err = x.Exact(q, SearchOptions{K: 5})
					}
					if err != nil {
						t.Error(err)
						return
					}
				}
			}(g)
		}
		for i := 200; i < len(data); i++ {
			if _, err := x.Add(data[i]); err != nil {
				t.Fatal(err)
			}
			if i%5 == 0 {
				if err := x.Delete(uint32(i / 2)); err != nil {
					t.Fatal(err)
				}
			}
		}
		close(stop)
		wg.Wait()
	}
}

// TestMemoryWithinBudget checks the index's own accounting against the
// 1.3× raw-vector budget, for a bulk build and for one-at-a-time inserts
// (whose slabs carry spare capacity), and the int8 index's smaller size.
func TestMemoryWithinBudget(t *testing.T) {
	data := uniform(60, 2500, 384)
	raw := float64(len(data) * 384 * 4)
	opt := Options{Dim: 384, M: 16, EfConstruction: 24, Seed: 1}
	bulk := build(t, opt, data)
	inc, _ := New(opt)
	for _, v := range data {
		if _, err := inc.Add(v); err != nil {
			t.Fatal(err)
		}
	}
	q8 := opt
	q8.Quantization = Int8
	small := build(t, q8, data)
	for name, tc := range map[string]struct {
		x   *Index
		max float64
	}{"bulk": {bulk, 1.3}, "incremental": {inc, 1.3}, "int8": {small, 0.4}} {
		ratio := float64(tc.x.MemoryBytes()) / raw
		t.Logf("%s: %.3f× the raw vectors", name, ratio)
		if ratio > tc.max {
			t.Errorf("%s: memory %.3f× raw, budget %.2f×", name, ratio, tc.max)
		}
	}
}

// TestParallelBuild builds with several goroutines (under -race this checks
// the striped row locks) and expects the serial build's recall.
func TestParallelBuild(t *testing.T) {
	data := clustered(70, 2600, 32, 20)
	base, queries := data[:2500], data[2500:]
	for _, quant := range []Quantization{Float32, Int8} {
		opt := Options{Dim: 32, M: 12, EfConstruction: 80, Seed: 5, BuildWorkers: 4, Quantization: quant}
		if quant == Int8 {
			// data, not base: the vector added below gets id 2500.
			opt.Source = func(id uint32, dst []float32) []float32 { return data[id] }
		}
		x := build(t, opt, base)
		if x.Len() != len(base) {
			t.Fatalf("%v: %d nodes", quant, x.Len())
		}
		r := recall(t, x, queries, 10, 64, nil)
		t.Logf("%v: recall@10 %.4f", quant, r)
		if r < 0.97 {
			t.Errorf("%v: parallel build recall@10 %.4f, want >= 0.97", quant, r)
		}
		// The index keeps working as a normal one afterwards.
		id, err := x.Add(queries[0])
		if err != nil {
			t.Fatal(err)
		}
		if res, _ := x.Search(queries[0], SearchOptions{K: 1}); len(res) != 1 || res[0].ID != id {
			t.Errorf("%v: added vector not found first: %v", quant, res)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Build(ctx, Options{Dim: 32, BuildWorkers: 2}, base); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled parallel build: %v", err)
	}
}
