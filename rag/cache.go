package rag

import (
	"container/list"
	"math"
	"sync"
	"time"

	"github.com/sextant-ai/sextant"
)

// Cache stores answers for reuse. MemoryCache implements it; a shared
// cache (for several server processes) can implement it over a store.
// Implementations must be safe for concurrent use.
type Cache interface {
	// Get returns the entry stored under key.
	Get(key string) (*CacheEntry, bool)
	// Similar returns the entry of scope whose Vector is most similar to
	// vec (cosine) when the similarity reaches min.
	Similar(scope string, vec []float32, min float64) (*CacheEntry, float64, bool)
	// Put stores e under e.Key, replacing any entry with that key.
	Put(e *CacheEntry)
	// Remove drops the entry stored under key.
	Remove(key string)
}

// CacheEntry is a cached answer with what it depends on.
//
// Key is the exact key: a hash of everything the generator's output depends
// on — the assistant's generation settings, the rendered prompt (template,
// instructions, conversation, question) and the numbered sources' chunk
// ids and text. Any corpus change that alters what retrieval returns for
// the conversation changes the key, so a stale entry is never hit.
//
// A semantic entry (single-turn questions without tools only) also has the
// question's Vector and its Scope (assistant and settings); it is reused for
// another question of the same scope when the embeddings are similar enough
// and every source the answer cites is retrieved again, unchanged, for the
// new question (Depends).
type CacheEntry struct {
	Key     string
	Scope   string
	Vector  []float32 // unit length; nil = exact only
	Depends []Dependency
	Answer  sextant.Answer
	Created time.Time
}

// Dependency is a chunk a cached answer cites, with the hash of the text it
// was given.
type Dependency struct {
	ChunkID    string
	DocumentID string
	TextHash   string
}

// CacheStats counts cache outcomes.
type CacheStats struct {
	ExactHits, SemanticHits, Misses int64
	Bypassed                        int64 // requests not eligible (tools, NoCache, assistant opted out)
	Invalidated                     int64 // entries dropped because their sources changed
	Entries                         int
}

// MemoryCacheOptions configures a MemoryCache.
type MemoryCacheOptions struct {
	MaxEntries int           // 0 = 1000
	TTL        time.Duration // 0 = 24 h
	Now        func() time.Time
}

// MemoryCache is an in-process LRU cache with a TTL. It is safe for
// concurrent use.
type MemoryCache struct {
	opts MemoryCacheOptions
	mu   sync.Mutex
	lru  *list.List // of *CacheEntry, most recent first
	keys map[string]*list.Element
}

// NewMemoryCache returns an empty cache.
func NewMemoryCache(o MemoryCacheOptions) *MemoryCache {
	if o.MaxEntries <= 0 {
		o.MaxEntries = 1000
	}
	if o.TTL <= 0 {
		o.TTL = 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &MemoryCache{opts: o, lru: list.New(), keys: map[string]*list.Element{}}
}

func (c *MemoryCache) expired(e *CacheEntry) bool {
	return c.opts.Now().Sub(e.Created) > c.opts.TTL
}

// Get implements Cache.
func (c *MemoryCache) Get(key string) (*CacheEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.keys[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*CacheEntry)
	if c.expired(e) {
		c.removeElement(el)
		return nil, false
	}
	c.lru.MoveToFront(el)
	return e, true
}

// Similar implements Cache with a linear scan of the scope's entries, which
// is cheap at the sizes an in-process cache holds (1,000 × 384 floats in
// well under a millisecond).
func (c *MemoryCache) Similar(scope string, vec []float32, min float64) (*CacheEntry, float64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var best *list.Element
	bestSim := math.Inf(-1)
	for el := c.lru.Front(); el != nil; el = el.Next() {
		e := el.Value.(*CacheEntry)
		if e.Scope != scope || len(e.Vector) != len(vec) || len(vec) == 0 || c.expired(e) {
			continue
		}
		if s := dot(e.Vector, vec); s > bestSim {
			best, bestSim = el, s
		}
	}
	if best == nil || bestSim < min {
		return nil, 0, false
	}
	c.lru.MoveToFront(best)
	return best.Value.(*CacheEntry), bestSim, true
}

// Put implements Cache.
func (c *MemoryCache) Put(e *CacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.keys[e.Key]; ok {
		c.removeElement(el)
	}
	c.keys[e.Key] = c.lru.PushFront(e)
	for c.lru.Len() > c.opts.MaxEntries {
		c.removeElement(c.lru.Back())
	}
}

// Remove implements Cache.
func (c *MemoryCache) Remove(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.keys[key]; ok {
		c.removeElement(el)
	}
}

// InvalidateDocuments drops every entry that cites one of the documents
// (call it with the ids of a corpus change) and returns how many it
// dropped. Entries that only became unreachable (their key can no longer
// be produced) age out of the LRU on their own.
func (c *MemoryCache) InvalidateDocuments(ids ...string) int {
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for el := c.lru.Front(); el != nil; {
		next := el.Next()
		for _, d := range el.Value.(*CacheEntry).Depends {
			if set[d.DocumentID] {
				c.removeElement(el)
				n++
				break
			}
		}
		el = next
	}
	return n
}

// Purge drops every entry and returns how many there were.
func (c *MemoryCache) Purge() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.lru.Len()
	c.lru.Init()
	clear(c.keys)
	return n
}

// Len returns the number of entries.
func (c *MemoryCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

func (c *MemoryCache) removeElement(el *list.Element) {
	delete(c.keys, el.Value.(*CacheEntry).Key)
	c.lru.Remove(el)
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// normalize scales v to unit length in place; it reports false for a zero
// or non-finite vector.
func normalize(v []float32) bool {
	n := math.Sqrt(dot(v, v))
	if n == 0 || math.IsNaN(n) || math.IsInf(n, 0) {
		return false
	}
	for i := range v {
		v[i] = float32(float64(v[i]) / n)
	}
	return true
}
