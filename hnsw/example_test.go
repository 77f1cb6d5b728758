package hnsw_test

import (
	"bytes"
	"context"
	"fmt"

	"github.com/sextant-ai/sextant/hnsw"
)

func Example() {
	ctx := context.Background()
	vectors := [][]float32{
		{1, 0, 0}, {0.9, 0.1, 0}, {0, 1, 0}, {0, 0.9, 0.1}, {0, 0, 1},
	}
	idx, err := hnsw.Build(ctx, hnsw.Options{Dim: 3, Seed: 1}, vectors)
	if err != nil {
		panic(err)
	}

	// Nearest two to a query.
	res, _ := idx.Search([]float32{1, 0.05, 0}, hnsw.SearchOptions{K: 2})
	fmt.Println("nearest:", res[0].ID, res[1].ID)

	// Only ids 2..4 allowed (a tenant's or a collection's vectors).
	allow := hnsw.NewBitset(idx.Len())
	for id := uint32(2); id <= 4; id++ {
		allow.Set(id)
	}
	res, _ = idx.Search([]float32{1, 0.05, 0}, hnsw.SearchOptions{K: 1, Filter: allow})
	fmt.Println("filtered:", res[0].ID)

	// Delete, compact, snapshot.
	idx.Delete(0)
	idx, remap, _ := idx.Compact(ctx)
	fmt.Println("old id 1 is now", remap[1], "; id 0 removed:", remap[0] == hnsw.Removed)
	var snap bytes.Buffer
	idx.Encode(&snap)
	loaded, _ := hnsw.Decode(&snap, hnsw.DecodeOptions{})
	res, _ = loaded.Search([]float32{1, 0.05, 0}, hnsw.SearchOptions{K: 1})
	fmt.Println("after reload:", res[0].ID, loaded.Len())
	// Output:
	// nearest: 0 1
	// filtered: 2
	// old id 1 is now 0 ; id 0 removed: true
	// after reload: 0 4
}
