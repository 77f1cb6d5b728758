package eval

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"sync"
)

// Judge decides whether passages support a claim, typically by asking an
// LLM. The LLM layer implements it; eval only consumes it.
//
// A Judge's verdicts are a function of its prompt: PromptVersion names the
// prompt (and anything else that changes verdicts, such as the model), so
// cached verdicts are reused only while it is unchanged.
type Judge interface {
	PromptVersion() string
	JudgeClaim(ctx context.Context, req JudgeRequest) (Verdict, error)
}

// JudgeRequest is one claim to judge against passages.
type JudgeRequest struct {
	Question string   // the user's question, for context; may be empty
	Claim    string   // the claim to check
	Passages []string // the evidence, in the order the answer numbered it
}

// Verdict labels.
const (
	VerdictSupported    = "supported"
	VerdictContradicted = "contradicted"
	VerdictUnsupported  = "unsupported" // neither supported nor contradicted
)

// Verdict is a judge's decision on one claim.
type Verdict struct {
	Label   string  `json:"label"`            // VerdictSupported, VerdictContradicted or VerdictUnsupported
	Support float64 `json:"support"`          // in [0, 1]; 1 fully supported
	Reason  string  `json:"reason,omitempty"` // the judge's short explanation
}

// VerdictCache stores verdicts by key. Implementations must be safe for
// concurrent use; a persistent one (the evaluation store) keeps verdicts
// across runs, MemoryVerdictCache keeps them in memory.
type VerdictCache interface {
	Get(ctx context.Context, key string) (Verdict, bool, error)
	Put(ctx context.Context, key string, v Verdict) error
}

// VerdictKey is the cache key of a verdict: a SHA-256 over the prompt
// version, the question, the claim and the passages, each length-prefixed
// so that no two distinct requests share a key.
func VerdictKey(promptVersion string, req JudgeRequest) string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	put := func(s string) {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		h.Write([]byte(s))
	}
	put("sextant-verdict-v1")
	put(promptVersion)
	put(req.Question)
	put(req.Claim)
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(req.Passages)))])
	for _, p := range req.Passages {
		put(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// CachedJudge wraps a Judge with a verdict cache: a request seen before
// under the same prompt version is answered from the cache, and concurrent
// identical requests call the judge once.
type CachedJudge struct {
	Judge Judge
	Cache VerdictCache

	mu       sync.Mutex
	inflight map[string]*call
}

type call struct {
	done chan struct{}
	v    Verdict
	err  error
}

// PromptVersion returns the wrapped judge's prompt version.
func (c *CachedJudge) PromptVersion() string { return c.Judge.PromptVersion() }

// JudgeClaim returns the cached verdict for req, or asks the judge and
// caches a valid answer. Errors are not cached.
func (c *CachedJudge) JudgeClaim(ctx context.Context, req JudgeRequest) (Verdict, error) {
	key := VerdictKey(c.Judge.PromptVersion(), req)
	if v, ok, err := c.Cache.Get(ctx, key); err != nil {
		return Verdict{}, err
	} else if ok {
		return v, nil
	}
	c.mu.Lock()
	if c.inflight == nil {
		c.inflight = map[string]*call{}
	}
	if cl, ok := c.inflight[key]; ok {
		c.mu.Unlock()
		select {
		case <-cl.done:
			return cl.v, cl.err
		case <-ctx.Done():
			return Verdict{}, ctx.Err()
		}
	}
	cl := &call{done: make(chan struct{})}
	c.inflight[key] = cl
	c.mu.Unlock()

	cl.v, cl.err = c.Judge.JudgeClaim(ctx, req)
	if cl.err == nil {
		cl.err = validVerdict(cl.v)
	}
	if cl.err == nil {
		cl.err = c.Cache.Put(ctx, key, cl.v)
	}
	c.mu.Lock()
	delete(c.inflight, key)
	c.mu.Unlock()
	close(cl.done)
	return cl.v, cl.err
}

func validVerdict(v Verdict) error {
	switch v.Label {
	case VerdictSupported, VerdictContradicted, VerdictUnsupported:
	default:
		return errorf("judge returned unknown verdict label %q", v.Label)
	}
	if v.Support < 0 || v.Support > 1 || v.Support != v.Support {
		return errorf("judge returned support %v outside [0, 1]", v.Support)
	}
	return nil
}

// MemoryVerdictCache is an in-memory VerdictCache holding at most Max
// verdicts, evicting the least recently used. The zero value holds 10000.
type MemoryVerdictCache struct {
	Max int

	mu    sync.Mutex
	ll    *list.List
	items map[string]*list.Element
}

type cacheEntry struct {
	key string
	v   Verdict
}

// Get returns the verdict stored under key.
func (m *MemoryVerdictCache) Get(_ context.Context, key string) (Verdict, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.items[key]; ok {
		m.ll.MoveToFront(e)
		return e.Value.(*cacheEntry).v, true, nil
	}
	return Verdict{}, false, nil
}

// Put stores v under key.
func (m *MemoryVerdictCache) Put(_ context.Context, key string, v Verdict) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.items == nil {
		m.items = map[string]*list.Element{}
		m.ll = list.New()
	}
	if e, ok := m.items[key]; ok {
		e.Value.(*cacheEntry).v = v
		m.ll.MoveToFront(e)
		return nil
	}
	m.items[key] = m.ll.PushFront(&cacheEntry{key, v})
	limit := m.Max
	if limit <= 0 {
		limit = 10000
	}
	for m.ll.Len() > limit {
		last := m.ll.Back()
		m.ll.Remove(last)
		delete(m.items, last.Value.(*cacheEntry).key)
	}
	return nil
}

// Len returns the number of cached verdicts.
func (m *MemoryVerdictCache) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.items)
}
