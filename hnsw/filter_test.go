package hnsw

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestFilteredSearch checks filtered search against exact filtered search
// at 1%, 10% and 50% selectivity, with a bitset (exact size known) and with
// a predicate (size estimated by sampling): the same top 10 at 1% (the
// exact fallback), recall >= 0.95 at 10% and 50%, and never an id the
// filter rejects.
func TestFilteredSearch(t *testing.T) {
	data := clustered(30, 4000, 32, 40)
	queries := clustered(31, 60, 32, 40)
	x := build(t, Options{Dim: 32, M: 12, EfConstruction: 100, Seed: 4}, data)
	r := rand.New(rand.NewPCG(5, 5))
	for _, sel := range []float64{0.01, 0.1, 0.5} {
		bs := NewBitset(len(data))
		for i := range data {
			if r.Float64() < sel {
				bs.Set(uint32(i))
			}
		}
		// The predicate allows a different set: a hash of the id.
		cut := uint64(sel * (1 << 32))
		pred := FilterFunc(func(id uint32) bool { return (uint64(id)*2654435761)&0xffffffff < cut })
		for _, f := range []struct {
			name       string
			f          Filter
			exactBelow float64
		}{{"bitset", bs, 0}, {"predicate", pred, 0}, {"bitset/graph-only", bs, -1}, {"predicate/graph-only", pred, -1}} {
			if f.exactBelow < 0 && sel < 0.1 {
				continue // the graph-only walk is not expected to be exact
			}
			var hit, total int
			for _, q := range queries {
				want, _ := x.Exact(q, SearchOptions{K: 10, Filter: f.f})
				got, err := x.Search(q, SearchOptions{K: 10, Ef: 64, Filter: f.f, ExactBelow: f.exactBelow})
				if err != nil {
					t.Fatal(err)
				}
				for _, g := range got {
					if !f.f.Allows(g.ID) {
						t.Fatalf("sel %.2f %s: returned id %d the filter rejects", sel, f.name, g.ID)
					}
				}
				if sel <= 0.01 && !slices.Equal(ids(got), ids(want)) {
					t.Fatalf("sel %.2f %s: top-10 %v, exact %v", sel, f.name, ids(got), ids(want))
				}
				w := ids(want)
				for _, g := range got {
					if slices.Contains(w, g.ID) {
						hit++
					}
				}
				total += len(want)
			}
			rc := float64(hit) / float64(total)
			t.Logf("selectivity %.2f %s: recall@10 %.4f", sel, f.name, rc)
			if rc < 0.95 {
				t.Errorf("selectivity %.2f %s: recall@10 %.4f, want >= 0.95", sel, f.name, rc)
			}
		}
	}
}

// TestFilteredSearchCorrelated uses a filter that excludes the query's own
// neighbourhood, the hard case for filtered graph search.
func TestFilteredSearchCorrelated(t *testing.T) {
	data := clustered(32, 4000, 32, 40)
	queries := clustered(33, 40, 32, 40)
	x := build(t, Options{Dim: 32, M: 12, EfConstruction: 100, Seed: 4}, data)
	for _, q := range queries {
		// Allow only vectors on the far side of a hyperplane through the
		// origin, orthogonal to the first coordinate: about half, but not
		// necessarily near q.
		bs := NewBitset(len(data))
		for i, v := range data {
			if (v[0] > 0) != (q[0] > 0) {
				bs.Set(uint32(i))
			}
		}
		want, _ := x.Exact(q, SearchOptions{K: 10, Filter: bs})
		got, _ := x.Search(q, SearchOptions{K: 10, Ef: 64, Filter: bs})
		if len(got) != len(want) {
			t.Fatalf("got %d results, want %d", len(got), len(want))
		}
		for _, g := range got {
			if !bs.Allows(g.ID) {
				t.Fatalf("returned rejected id %d", g.ID)
			}
		}
	}
}

func TestFilterWithDeletes(t *testing.T) {
	data := clustered(34, 2000, 16, 10)
	x := build(t, Options{Dim: 16, M: 8, Seed: 2}, data)
	bs := NewBitset(len(data))
	for i := 0; i < len(data); i += 40 { // 2.5%: the exact path
		bs.Set(uint32(i))
		if i%80 == 0 {
			x.Delete(uint32(i))
		}
	}
	for _, q := range data[:20] {
		got, _ := x.Search(q, SearchOptions{K: 10, Filter: bs})
		for _, g := range got {
			if g.ID%80 == 0 {
				t.Fatalf("deleted id %d returned", g.ID)
			}
		}
		if len(got) != 10 {
			t.Fatalf("got %d results", len(got))
		}
	}
}

func ids(rs []Result) []uint32 {
	out := make([]uint32, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func TestBitset(t *testing.T) {
	b := NewBitset(130)
	b.Set(0)
	b.Set(129)
	b.Set(500) // ignored
	b.Set(64)
	b.Unset(64)
	if !b.Allows(0) || !b.Allows(129) || b.Allows(64) || b.Allows(500) || b.Count() != 2 {
		t.Fatalf("bitset %v", b)
	}
}
