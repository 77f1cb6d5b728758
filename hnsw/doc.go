// Package hnsw is an approximate nearest-neighbour index over dense float32
// vectors: a Hierarchical Navigable Small World graph (Malkov & Yashunin,
// 2016) with heuristic neighbour selection, tombstone deletes with neighbour
// repair, compaction, filtered search with an exact fallback, optional 8-bit
// scalar quantization with float rescoring, and versioned, checksummed
// snapshots. It imports only the standard library.
//
// # Identifiers
//
// The index numbers vectors itself: Add returns a dense uint32 id (0, 1, 2,
// ...). Callers keep their own mapping from stable keys (chunk ids) to these
// ids. Ids never change except through Compact, which returns a new Index
// and the old→new remapping.
//
// # Memory layout
//
// Vectors live in one contiguous slab (or, quantized, one slab of 8-bit
// codes); level-0 links live in one flat []uint32 of fixed-size rows
// (count + 2M ids); the few nodes with upper levels keep their rows in a
// second flat slab. There are no per-node pointers or maps, so the index
// costs the vectors plus about 4·(2M+2) bytes per node.
//
// # Concurrency
//
// Searches never lock: they may run concurrently with each other and with
// one writer (Add, Delete). Writers serialise on a mutex. Link rows are
// read and written with atomic loads and stores, and slabs that must grow
// are copied and published through an atomic pointer, so a search sees a
// consistent, possibly slightly stale, graph. Compact and Decode build new
// indexes; callers swap them in together with their id mapping.
//
// # Determinism
//
// Node levels come from a generator seeded by Options.Seed; inserting the
// same vectors in the same order with the same options yields the same
// graph and the same search results.
package hnsw
