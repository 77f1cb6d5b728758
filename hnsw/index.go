package hnsw

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
)

// Metric is the similarity an index ranks by. Scores are always "higher is
// better".
type Metric uint8

const (
	// Cosine ranks by cosine similarity. Vectors (and queries) are
	// normalised to unit length, after which cosine is the dot product.
	Cosine Metric = iota
	// InnerProduct ranks by the raw dot product.
	InnerProduct
	// Euclidean ranks by squared Euclidean distance; the score is its
	// negation.
	Euclidean
)

// String returns the metric's name as used on command lines.
func (m Metric) String() string {
	switch m {
	case Cosine:
		return "cosine"
	case InnerProduct:
		return "dot"
	case Euclidean:
		return "l2"
	}
	return fmt.Sprintf("Metric(%d)", uint8(m))
}

// ParseMetric parses "cosine", "dot" (or "ip") or "l2".
func ParseMetric(s string) (Metric, error) {
	switch s {
	case "cosine", "":
		return Cosine, nil
	case "dot", "ip", "inner_product":
		return InnerProduct, nil
	case "l2", "euclidean":
		return Euclidean, nil
	}
	return 0, fmt.Errorf("unknown metric %q (want cosine, dot or l2)", s)
}

// Quantization selects how vectors are held in memory.
type Quantization uint8

const (
	// Float32 keeps every vector as float32 (the default).
	Float32 Quantization = iota
	// Int8 keeps one byte per dimension: per-dimension min/max scalar
	// quantization. The graph is walked with 8-bit distances and the best
	// candidates are rescored with float vectors read from Options.Source.
	Int8
)

// String returns "none" or "int8".
func (q Quantization) String() string {
	switch q {
	case Float32:
		return "none"
	case Int8:
		return "int8"
	}
	return fmt.Sprintf("Quantization(%d)", uint8(q))
}

// VectorSource returns the float vector stored for id, written into dst
// when dst is large enough, or nil when the vector is unavailable. It is
// how a quantized index reads full-precision vectors for rescoring (from
// the document store, for instance); it must be safe for concurrent use.
type VectorSource func(id uint32, dst []float32) []float32

// Options configure an index. The zero value of every field except Dim has
// a documented default.
type Options struct {
	Dim    int    // vector dimension; required, 1..65536
	Metric Metric // default Cosine

	// M is the number of neighbours kept per node on the upper levels;
	// level 0 keeps 2·M. Default 16; range 2..255.
	M int
	// EfConstruction is the candidate list size while inserting.
	// Default 200.
	EfConstruction int
	// EfSearch is the default candidate list size of Search. Default 64.
	EfSearch int
	// Seed seeds the level generator. The same seed, vectors and insertion
	// order give the same graph.
	Seed uint64
	// Capacity preallocates room for this many vectors (default 0: grow
	// by 12.5% at a time).
	Capacity int
	// BuildWorkers is how many goroutines Build inserts with. Default 1,
	// which is deterministic; more is faster on several cores, but the
	// graph then depends on scheduling.
	BuildWorkers int

	// Quantization selects float32 (default) or int8 storage.
	Quantization Quantization
	// Source supplies float vectors to rescore int8 candidates. With Int8
	// and no Source, scores are the 8-bit approximations.
	Source VectorSource
}

// Errors callers may branch on (with errors.Is).
var (
	ErrDimension = errors.New("hnsw: wrong vector dimension")
	ErrVector    = errors.New("hnsw: invalid vector")
	ErrNotFound  = errors.New("hnsw: no such id")
	ErrCorrupt   = errors.New("hnsw: corrupt snapshot")
	ErrOptions   = errors.New("hnsw: invalid options")
	ErrUntrained = errors.New("hnsw: int8 quantizer has no range yet")
)

const maxLevel = 31

func (o *Options) normalize() error {
	if o.Dim < 1 || o.Dim > 1<<16 {
		return fmt.Errorf("%w: dimension %d out of range 1..65536", ErrOptions, o.Dim)
	}
	if o.M == 0 {
		o.M = 16
	}
	if o.M < 2 || o.M > 255 {
		return fmt.Errorf("%w: M %d out of range 2..255", ErrOptions, o.M)
	}
	if o.EfConstruction == 0 {
		o.EfConstruction = 200
	}
	if o.EfSearch == 0 {
		o.EfSearch = 64
	}
	if o.EfConstruction < 1 || o.EfSearch < 1 {
		return fmt.Errorf("%w: ef must be positive", ErrOptions)
	}
	if o.Metric > Euclidean {
		return fmt.Errorf("%w: unknown metric %d", ErrOptions, o.Metric)
	}
	if o.Quantization > Int8 {
		return fmt.Errorf("%w: unknown quantization %d", ErrOptions, o.Quantization)
	}
	if o.Capacity < 0 || o.BuildWorkers < 0 {
		return fmt.Errorf("%w: negative capacity or build workers", ErrOptions)
	}
	return nil
}

// storage is every slab of the graph. A writer that must grow a slab copies
// the struct and publishes the copy; readers keep whichever they loaded.
type storage struct {
	cap      int
	vecs     []float32 // cap·dim, Float32 mode
	codes    []uint8   // cap·dim, Int8 mode
	sqnorm   []float32 // cap, Euclidean only: ‖x‖² (of the stored form)
	links0   []uint32  // cap·(1+m0): count, then ids
	level    []uint8   // cap
	upperOff []uint32  // cap: start of the node's rows in upper
	upper    []uint32  // rows of (1+m) for levels 1..level of each node
	deleted  []uint64  // bitset of tombstones
}

// Index is an HNSW graph. Create it with New, Build or Decode.
type Index struct {
	opt     Options
	dim     int
	m, m0   int
	stride  int // 1+m0
	ustride int // 1+m
	ml      float64

	quant *quantizer // Int8 only; immutable once set

	mu       sync.Mutex   // serialises writers
	n        int          // nodes written (writer-owned)
	upperLen int          // used length of upper (writer-owned)
	rng      uint64       // level generator state (writer-owned)
	rowLocks []sync.Mutex // per-row locks, only during a parallel Build

	st      atomic.Pointer[storage]
	top     atomic.Uint64 // entry point id<<8 | level, plus hasTop bit
	count   atomic.Int64  // published node count
	ndel    atomic.Int64  // tombstones
	scratch sync.Pool
}

const hasTopBit = 1 << 63

// New returns an empty index.
func New(opt Options) (*Index, error) {
	if err := opt.normalize(); err != nil {
		return nil, err
	}
	x := &Index{
		opt: opt,
		dim: opt.Dim,
		m:   opt.M,
		m0:  2 * opt.M,
		ml:  1 / math.Log(float64(opt.M)),
		rng: opt.Seed ^ 0x9e3779b97f4a7c15,
	}
	x.stride = 1 + x.m0
	x.ustride = 1 + x.m
	x.st.Store(x.alloc(nil, opt.Capacity, 0))
	return x, nil
}

// Options returns the options the index was created with, defaults filled.
func (x *Index) Options() Options { return x.opt }

// Len returns the number of ids handed out, deleted ones included.
func (x *Index) Len() int { return int(x.count.Load()) }

// Live returns the number of vectors not deleted.
func (x *Index) Live() int { return int(x.count.Load() - x.ndel.Load()) }

// alloc returns storage for capacity nodes and upper slab length upperCap,
// copying old's contents when old is non-nil.
func (x *Index) alloc(old *storage, capacity, upperCap int) *storage {
	st := &storage{cap: capacity}
	if x.opt.Quantization == Int8 {
		st.codes = make([]uint8, capacity*x.dim)
	} else {
		st.vecs = make([]float32, capacity*x.dim)
	}
	if x.opt.Metric == Euclidean {
		st.sqnorm = make([]float32, capacity)
	}
	st.links0 = make([]uint32, capacity*x.stride)
	st.level = make([]uint8, capacity)
	st.upperOff = make([]uint32, capacity)
	st.upper = make([]uint32, upperCap)
	st.deleted = make([]uint64, (capacity+63)/64)
	if old != nil {
		copy(st.vecs, old.vecs)
		copy(st.codes, old.codes)
		copy(st.sqnorm, old.sqnorm)
		copy(st.level, old.level)
		copy(st.upperOff, old.upperOff)
		// Link rows and tombstones change under readers: copy atomically.
		for i := range old.links0 {
			st.links0[i] = atomic.LoadUint32(&old.links0[i])
		}
		for i := range min(len(old.upper), len(st.upper)) {
			st.upper[i] = atomic.LoadUint32(&old.upper[i])
		}
		for i := range old.deleted {
			st.deleted[i] = atomic.LoadUint64(&old.deleted[i])
		}
	}
	return st
}

// MemoryBytes returns the bytes held by the index's slabs (vectors or
// codes, links, levels, tombstones, quantizer), capacity included.
func (x *Index) MemoryBytes() int64 {
	st := x.st.Load()
	b := int64(cap(st.vecs))*4 + int64(cap(st.codes)) + int64(cap(st.sqnorm))*4 +
		int64(cap(st.links0))*4 + int64(cap(st.level)) + int64(cap(st.upperOff))*4 +
		int64(cap(st.upper))*4 + int64(cap(st.deleted))*8
	if x.quant != nil {
		b += int64(len(x.quant.lo)+len(x.quant.step)) * 4
	}
	return b
}

func (x *Index) randomLevel() int {
	// splitmix64
	x.rng += 0x9e3779b97f4a7c15
	z := x.rng
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	u := (float64(z>>11) + 1) / (1 << 53) // (0, 1]
	l := int(-math.Log(u) * x.ml)
	return min(l, maxLevel)
}

// checkVector validates v for insertion or querying.
func (x *Index) checkVector(v []float32) error {
	if len(v) != x.dim {
		return fmt.Errorf("%w: got %d values, index has dimension %d", ErrDimension, len(v), x.dim)
	}
	var ss float64
	for i, f := range v {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return fmt.Errorf("%w: value %d is %v", ErrVector, i, f)
		}
		ss += float64(f) * float64(f)
	}
	if x.opt.Metric == Cosine && ss == 0 {
		return fmt.Errorf("%w: zero vector has no direction for cosine similarity", ErrVector)
	}
	return nil
}

// normalizeInto writes v scaled to unit length into dst.
func normalizeInto(dst, v []float32) {
	var ss float64
	for _, f := range v {
		ss += float64(f) * float64(f)
	}
	inv := float32(1 / math.Sqrt(ss))
	if ss == 0 {
		inv = 0
	}
	for i, f := range v {
		dst[i] = f * inv
	}
}

// Train fits the int8 quantizer's per-dimension range to sample. It must be
// called (directly, or through Build) before the first Add of an Int8 index;
// values outside the range are clamped. It is an error on a Float32 index
// or once vectors have been added.
func (x *Index) Train(sample [][]float32) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.opt.Quantization != Int8 {
		return fmt.Errorf("%w: Train needs Quantization Int8", ErrOptions)
	}
	if x.n > 0 || x.quant != nil {
		return fmt.Errorf("%w: Train must come before the first Add", ErrOptions)
	}
	if len(sample) == 0 {
		return fmt.Errorf("%w: empty training sample", ErrVector)
	}
	buf := make([]float32, x.dim)
	q := newQuantizer(x.dim)
	for _, v := range sample {
		if err := x.checkVector(v); err != nil {
			return err
		}
		if x.opt.Metric == Cosine {
			normalizeInto(buf, v)
			v = buf
		}
		q.observe(v)
	}
	q.finish()
	x.quant = q
	return nil
}

// Add inserts v and returns its id. v is copied (normalised for Cosine).
func (x *Index) Add(v []float32) (uint32, error) {
	if err := x.checkVector(v); err != nil {
		return 0, err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.addLocked(v)
}

// AddBatch inserts vectors in order and returns the id of the first; the
// others follow consecutively. It stops at the first invalid vector (the
// ones before it stay inserted) or when ctx is cancelled.
func (x *Index) AddBatch(ctx context.Context, vectors [][]float32) (uint32, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	first := uint32(x.n)
	if need := x.n + len(vectors); need > x.st.Load().cap {
		x.grow(need)
	}
	for i, v := range vectors {
		if i&255 == 0 {
			if err := ctx.Err(); err != nil {
				return first, err
			}
		}
		if err := x.checkVector(v); err != nil {
			return first, fmt.Errorf("vector %d: %w", i, err)
		}
		if _, err := x.addLocked(v); err != nil {
			return first, fmt.Errorf("vector %d: %w", i, err)
		}
	}
	return first, nil
}

// Build returns a new index holding vectors, with ids 0..len-1 in order.
// An Int8 index is trained on vectors first. It is how an index is rebuilt
// from the store.
func Build(ctx context.Context, opt Options, vectors [][]float32) (*Index, error) {
	if opt.Capacity < len(vectors) && opt.Quantization != Int8 {
		opt.Capacity = len(vectors)
	}
	x, err := New(opt)
	if err != nil {
		return nil, err
	}
	if opt.Quantization != Int8 || len(vectors) == 0 {
		if err := x.addAll(ctx, vectors); err != nil {
			return nil, err
		}
		return x, nil
	}
	if err := x.Train(vectors); err != nil {
		return nil, err
	}
	// The caller holds every float vector now: build the graph with exact
	// distances, then keep only the codes. The graph is better and the
	// build several times faster than walking 8-bit codes.
	fopt := opt
	fopt.Quantization, fopt.Source = Float32, nil
	fopt.Capacity = len(vectors)
	f, err := New(fopt)
	if err != nil {
		return nil, err
	}
	if err := f.addAll(ctx, vectors); err != nil {
		return nil, err
	}
	x.adoptQuantized(f)
	return x, nil
}

// addAll inserts vectors into the empty index x, in parallel when
// BuildWorkers asks for it and there is enough to share.
func (x *Index) addAll(ctx context.Context, vectors [][]float32) error {
	if w := x.opt.BuildWorkers; w > 1 && len(vectors) >= 2*w && x.opt.Quantization == Float32 {
		return x.buildParallel(ctx, vectors, w)
	}
	_, err := x.AddBatch(ctx, vectors)
	return err
}

// adoptQuantized makes the empty Int8 index x hold f's graph, with f's
// float vectors encoded by x's quantizer.
func (x *Index) adoptQuantized(f *Index) {
	fs := f.st.Load()
	n := f.n
	st := &storage{
		cap:      n,
		codes:    make([]uint8, n*x.dim),
		links0:   fs.links0[:n*x.stride],
		level:    fs.level[:n],
		upperOff: fs.upperOff[:n],
		upper:    fs.upper[:f.upperLen],
		deleted:  fs.deleted[:(n+63)/64],
	}
	for i := range n {
		x.quant.encode(st.codes[i*x.dim:(i+1)*x.dim], fs.vecs[i*x.dim:(i+1)*x.dim])
	}
	if fs.sqnorm != nil {
		st.sqnorm = make([]float32, n)
		buf := make([]float32, x.dim)
		for i := range n {
			st.sqnorm[i] = x.storedSqNorm(st, uint32(i), buf)
		}
	}
	x.n, x.upperLen, x.rng = n, f.upperLen, f.rng
	x.st.Store(st)
	x.count.Store(int64(n))
	x.ndel.Store(f.ndel.Load())
	x.top.Store(f.top.Load())
}

// grow publishes storage with room for at least need nodes.
func (x *Index) grow(need int) {
	st := x.st.Load()
	// Grow by an eighth: the unused tail then stays under 12.5%, keeping an
	// incrementally built index within 1.3× the raw vectors.
	c := max(need, st.cap+st.cap/8, 16)
	x.st.Store(x.alloc(st, c, len(st.upper)))
}

// growUpper publishes storage whose upper slab holds at least need entries.
func (x *Index) growUpper(need int) {
	st := x.st.Load()
	c := max(need, len(st.upper)+len(st.upper)/4, 64)
	nst := *st
	nst.upper = make([]uint32, c)
	for i := range x.upperLen {
		nst.upper[i] = atomic.LoadUint32(&st.upper[i])
	}
	x.st.Store(&nst)
}

func (x *Index) addLocked(v []float32) (uint32, error) {
	if x.opt.Quantization == Int8 && x.quant == nil {
		return 0, fmt.Errorf("%w: call Train or Build first", ErrUntrained)
	}
	if x.n >= math.MaxUint32-1 {
		return 0, fmt.Errorf("%w: index full", ErrOptions)
	}
	if x.n >= x.st.Load().cap {
		x.grow(x.n + 1)
	}
	id := uint32(x.n)
	level := x.randomLevel()
	if level > 0 {
		need := x.upperLen + level*x.ustride
		if need > len(x.st.Load().upper) {
			x.growUpper(need)
		}
	}
	st := x.st.Load()

	s := x.getScratch(st)
	defer x.scratch.Put(s)
	q := &s.q
	x.prepare(q, v)

	// Store the vector in its stored form.
	off := int(id) * x.dim
	if st.vecs != nil {
		copy(st.vecs[off:off+x.dim], q.f)
	} else {
		x.quant.encode(st.codes[off:off+x.dim], q.f)
	}
	if st.sqnorm != nil {
		st.sqnorm[id] = x.storedSqNorm(st, id, s.vbuf)
	}
	st.level[id] = uint8(level)
	if level > 0 {
		st.upperOff[id] = uint32(x.upperLen)
		x.upperLen += level * x.ustride
	}
	x.n++
	x.count.Store(int64(x.n))

	t := x.top.Load()
	if t&hasTopBit == 0 {
		x.top.Store(hasTopBit | uint64(id)<<8 | uint64(level))
		return id, nil
	}
	x.connect(st, s, q, id, level, t)
	if level > int(t&0xff) {
		x.top.Store(hasTopBit | uint64(id)<<8 | uint64(level))
	}
	return id, nil
}

// connect links node id (its vector, level and rows already in st, q its
// prepared vector) into the graph below the entry point t.
func (x *Index) connect(st *storage, s *scratch, q *prepared, id uint32, level int, t uint64) {
	ep := uint32(t >> 8)
	topLevel := int(t & 0xff)
	epd := x.distOne(st, q, ep)
	for l := topLevel; l > level; l-- {
		ep, epd = x.greedy(st, q, s, ep, epd, l)
	}
	for l := min(level, topLevel); l >= 0; l-- {
		x.searchLayer(st, q, s, ep, epd, x.opt.EfConstruction, l, nil, false)
		found := s.sorted()
		// Never link to tombstones: they are gone at the next compaction.
		sel := s.sel[:0]
		for _, c := range found {
			if c.id != id && !isDeleted(st, c.id) {
				sel = append(sel, c)
			}
		}
		sel = x.selectNeighbours(st, s, sel, x.m)
		s.sel = sel
		x.setRow(st, id, l, sel)
		for _, c := range sel {
			x.link(st, s, c.id, id, c.d, l)
		}
		if len(found) > 0 {
			ep, epd = found[0].id, found[0].d
		}
	}
}

// setRow replaces node id's row at level l.
func (x *Index) setRow(st *storage, id uint32, l int, nbrs []item) {
	if m := x.rowLock(id); m != nil {
		m.Lock()
		defer m.Unlock()
	}
	arr, base := x.row(st, id, l)
	for i, c := range nbrs {
		atomic.StoreUint32(&arr[base+1+i], c.id)
	}
	atomic.StoreUint32(&arr[base], uint32(len(nbrs)))
}

// rowLock returns the lock guarding node id's rows while a parallel Build
// runs, or nil: otherwise the writer mutex already serialises all writes.
func (x *Index) rowLock(id uint32) *sync.Mutex {
	if x.rowLocks == nil {
		return nil
	}
	return &x.rowLocks[id&(rowLockStripes-1)]
}

// rowLockStripes is the number of row locks of a parallel build; a node's
// lock is chosen by its low id bits.
const rowLockStripes = 4096

// buildParallel inserts vectors into the empty Float32 index x with
// several goroutines. Levels are drawn in id order, so they match a serial
// build; the node with the highest level goes in first and stays the entry
// point, and the others are inserted concurrently, each row guarded by a
// striped lock. The graph depends on scheduling, so it is not
// deterministic.
func (x *Index) buildParallel(ctx context.Context, vectors [][]float32, workers int) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	for i, v := range vectors {
		if err := x.checkVector(v); err != nil {
			return fmt.Errorf("vector %d: %w", i, err)
		}
	}
	n := len(vectors)
	if n > x.st.Load().cap {
		x.grow(n)
	}
	levels := make([]uint8, n)
	upperLen, ep := 0, 0
	for i := range n {
		l := x.randomLevel()
		levels[i] = uint8(l)
		upperLen += l * x.ustride
		if l > int(levels[ep]) {
			ep = i
		}
	}
	if upperLen > len(x.st.Load().upper) {
		x.growUpper(upperLen)
	}
	st := x.st.Load()
	for i, v := range vectors {
		row := st.vecs[i*x.dim : (i+1)*x.dim]
		if x.opt.Metric == Cosine {
			normalizeInto(row, v)
		} else {
			copy(row, v)
		}
		if st.sqnorm != nil {
			st.sqnorm[i] = Dot(row, row)
		}
		st.level[i] = levels[i]
		if levels[i] > 0 {
			st.upperOff[i] = uint32(x.upperLen)
			x.upperLen += int(levels[i]) * x.ustride
		}
	}
	x.n = n
	x.count.Store(int64(n))
	t := hasTopBit | uint64(ep)<<8 | uint64(levels[ep])
	x.top.Store(t)

	x.rowLocks = make([]sync.Mutex, rowLockStripes)
	defer func() { x.rowLocks = nil }()
	var next atomic.Int64
	var wg sync.WaitGroup
	var cancelled atomic.Bool
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := x.getScratch(st)
			defer x.scratch.Put(s)
			for {
				i := int(next.Add(1) - 1)
				if i >= n || cancelled.Load() {
					return
				}
				if i&255 == 0 && ctx.Err() != nil {
					cancelled.Store(true)
					return
				}
				if i == ep {
					continue
				}
				clear(s.visited) // one scratch serves many inserts
				q := &s.q
				copy(q.f, st.vecs[i*x.dim:(i+1)*x.dim])
				if st.sqnorm != nil {
					q.qn = st.sqnorm[i]
				}
				x.connect(st, s, q, uint32(i), int(levels[i]), t)
			}
		}()
	}
	wg.Wait()
	if cancelled.Load() {
		return ctx.Err()
	}
	return nil
}

// row returns the slab and offset of node id's link row at level l.
func (x *Index) row(st *storage, id uint32, l int) ([]uint32, int) {
	if l == 0 {
		return st.links0, int(id) * x.stride
	}
	return st.upper, int(st.upperOff[id]) + (l-1)*x.ustride
}

func (x *Index) maxLinks(l int) int {
	if l == 0 {
		return x.m0
	}
	return x.m
}

// link adds newID (at distance d) to node's row at level l, pruning the row
// with the heuristic when it is full.
func (x *Index) link(st *storage, s *scratch, node, newID uint32, d float32, l int) {
	if m := x.rowLock(node); m != nil {
		m.Lock()
		defer m.Unlock()
	}
	arr, base := x.row(st, node, l)
	n := int(atomic.LoadUint32(&arr[base]))
	limit := x.maxLinks(l)
	if n < limit {
		atomic.StoreUint32(&arr[base+1+n], newID)
		atomic.StoreUint32(&arr[base], uint32(n+1))
		return
	}
	ids := s.kids[:0]
	for i := range n {
		ids = append(ids, atomic.LoadUint32(&arr[base+1+i]))
	}
	ds := s.kd[:len(ids)]
	x.prepareNode(&s.pq, st, node, s)
	x.dists(st, &s.pq, s, ids, ds)
	cands := append(s.prune[:0], item{d, newID})
	for i, o := range ids {
		cands = append(cands, item{ds[i], o})
	}
	sortItems(cands)
	cands = x.selectNeighbours(st, s, cands, limit)
	s.prune = cands
	for i, c := range cands {
		atomic.StoreUint32(&arr[base+1+i], c.id)
	}
	atomic.StoreUint32(&arr[base], uint32(len(cands)))
}

// selectNeighbours keeps at most m of cands (sorted by distance to the base
// node): a candidate is kept only if it is closer to the base than to every
// candidate kept so far, which spreads links across directions (the
// heuristic of the HNSW paper, algorithm 4). It reuses cands' storage.
func (x *Index) selectNeighbours(st *storage, s *scratch, cands []item, m int) []item {
	if len(cands) <= m {
		return cands
	}
	kept := cands[:0]
	for i := 0; i < len(cands) && len(kept) < m; i++ {
		c := cands[i]
		good := true
		if len(kept) > 0 {
			// One batched call for the distances from c to every kept node.
			ids := s.kids[:0]
			for _, k := range kept {
				ids = append(ids, k.id)
			}
			ds := s.kd[:len(ids)]
			x.prepareNode(&s.pq, st, c.id, s)
			x.dists(st, &s.pq, s, ids, ds)
			for _, dk := range ds {
				if dk < c.d {
					good = false
					break
				}
			}
		}
		if good {
			kept = append(kept, c)
		}
	}
	return kept
}

// prepareNode makes p the prepared query for node id's stored vector, so
// node-to-node distances go through the same batched kernels as searches.
// For Float32, p.f aliases the slab: p must never be passed to prepare.
func (x *Index) prepareNode(p *prepared, st *storage, id uint32, s *scratch) {
	off := int(id) * x.dim
	if st.vecs != nil {
		p.f = st.vecs[off : off+x.dim]
	} else {
		x.quant.decode(s.nbuf, st.codes[off:off+x.dim])
		p.f = s.nbuf
		x.quant.weights(p, p.f)
	}
	if st.sqnorm != nil {
		p.qn = st.sqnorm[id]
	}
}

// nodeVec returns node id's stored vector as floats (decoded into buf for
// Int8).
func (x *Index) nodeVec(st *storage, id uint32, buf []float32) []float32 {
	off := int(id) * x.dim
	if st.vecs != nil {
		return st.vecs[off : off+x.dim]
	}
	x.quant.decode(buf, st.codes[off:off+x.dim])
	return buf
}

func (x *Index) storedSqNorm(st *storage, id uint32, buf []float32) float32 {
	v := x.nodeVec(st, id, buf)
	return Dot(v, v)
}

func isDeleted(st *storage, id uint32) bool {
	return atomic.LoadUint64(&st.deleted[id>>6])&(1<<(id&63)) != 0
}

// IsDeleted reports whether id has been deleted. Unknown ids report true.
func (x *Index) IsDeleted(id uint32) bool {
	n := x.count.Load()
	if int64(id) >= n {
		return true
	}
	return isDeleted(x.st.Load(), id)
}

// Vector returns a copy of the stored vector of id: normalised for Cosine,
// decoded from its codes for Int8.
func (x *Index) Vector(id uint32) ([]float32, error) {
	n := x.count.Load()
	if int64(id) >= n {
		return nil, fmt.Errorf("%w: %d (index has %d)", ErrNotFound, id, n)
	}
	st := x.st.Load()
	out := make([]float32, x.dim)
	copy(out, x.nodeVec(st, id, out))
	return out, nil
}

// Delete marks id deleted: searches stop returning it at once. The graph
// around it is repaired (each neighbour that linked to it relinks among its
// own and the deleted node's neighbours), but its vector and links stay, so
// it keeps helping navigation until Compact. Deleting twice is a no-op.
func (x *Index) Delete(id uint32) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if int(id) >= x.n {
		return fmt.Errorf("%w: %d (index has %d)", ErrNotFound, id, x.n)
	}
	st := x.st.Load()
	if isDeleted(st, id) {
		return nil
	}
	atomic.OrUint64(&st.deleted[id>>6], 1<<(id&63))
	x.ndel.Add(1)

	s := x.getScratch(st)
	defer x.scratch.Put(s)
	for l := int(st.level[id]); l >= 0; l-- {
		arr, base := x.row(st, id, l)
		n := int(atomic.LoadUint32(&arr[base]))
		dn := append(s.ids[:0], arr[base+1:base+1+n]...)
		s.ids = dn
		for _, nb := range dn {
			if isDeleted(st, nb) {
				continue
			}
			x.repair(st, s, nb, id, dn, l)
		}
	}
	return nil
}

// repair removes gone from node's row at level l, if present, and refills
// the row from the node's remaining neighbours and gone's neighbours.
func (x *Index) repair(st *storage, s *scratch, node, gone uint32, goneNbrs []uint32, l int) {
	arr, base := x.row(st, node, l)
	n := int(atomic.LoadUint32(&arr[base]))
	found := false
	for i := range n {
		if atomic.LoadUint32(&arr[base+1+i]) == gone {
			found = true
			break
		}
	}
	if !found {
		return
	}
	ids := s.kids[:0]
	add := func(c uint32) {
		if c == node || c == gone || isDeleted(st, c) || slices.Contains(ids, c) {
			return
		}
		ids = append(ids, c)
	}
	for i := range n {
		add(atomic.LoadUint32(&arr[base+1+i]))
	}
	for _, c := range goneNbrs {
		add(c)
	}
	ds := s.kd[:len(ids)]
	x.prepareNode(&s.pq, st, node, s)
	x.dists(st, &s.pq, s, ids, ds)
	cands := s.prune[:0]
	for i, c := range ids {
		cands = append(cands, item{ds[i], c})
	}
	sortItems(cands)
	cands = x.selectNeighbours(st, s, cands, x.maxLinks(l))
	s.prune = cands
	for i, c := range cands {
		atomic.StoreUint32(&arr[base+1+i], c.id)
	}
	atomic.StoreUint32(&arr[base], uint32(len(cands)))
}
