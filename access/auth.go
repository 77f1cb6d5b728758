package access

import (
	"context"
	"crypto/subtle"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sextant-ai/sextant"
)

// Store is what the Authenticator reads and writes. The sqlite package
// implements it.
type Store interface {
	// APIKeyByHash returns the key whose secret hashes to hash, revoked or
	// not; ENOTFOUND when there is none.
	APIKeyByHash(ctx context.Context, hash [32]byte) (*sextant.APIKey, error)
	// TouchAPIKeys records when keys were last used (key id → time).
	TouchAPIKeys(ctx context.Context, used map[string]time.Time) error
}

// Options configures an Authenticator. The zero value is ready to use.
type Options struct {
	// CacheTTL is how long a looked-up key is trusted without asking the
	// store again. It bounds how long a key revoked by another process
	// (the CLI) keeps working; Invalidate ends it at once in this one. 0
	// means 10 seconds.
	CacheTTL time.Duration
	// CacheSize bounds the cached keys. 0 means 10000.
	CacheSize int
	// TouchEvery is how stale a key's last-used time may get before Flush
	// writes it. 0 means one minute.
	TouchEvery time.Duration
	// Now is the clock. nil means time.Now.
	Now func() time.Time
}

// Authenticator turns bearer tokens into principals. It is safe for
// concurrent use.
type Authenticator struct {
	store Store
	opts  Options

	mu      sync.RWMutex
	cache   map[[32]byte]*cached
	touched map[string]time.Time // key id → last use not yet written
}

type cached struct {
	key     *sextant.APIKey // nil: the hash is not a key (negative entry)
	p       sextant.Principal
	expires time.Time
	written atomic.Int64 // Unix nanoseconds of the last-used time the store has
}

// NewAuthenticator returns an authenticator over store.
func NewAuthenticator(store Store, opts Options) *Authenticator {
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = 10 * time.Second
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = 10000
	}
	if opts.TouchEvery <= 0 {
		opts.TouchEvery = time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Authenticator{store: store, opts: opts, cache: map[[32]byte]*cached{}, touched: map[string]time.Time{}}
}

// ParseAuthorization returns the token of an "Authorization: Bearer TOKEN"
// header value, or an EUNAUTHORIZED error saying what is missing.
func ParseAuthorization(header string) (string, error) {
	if header == "" {
		return "", sextant.Errorf(sextant.EUNAUTHORIZED, "missing API key: send the header Authorization: Bearer KEY")
	}
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", sextant.Errorf(sextant.EUNAUTHORIZED, "the Authorization header must be Bearer KEY")
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", sextant.Errorf(sextant.EUNAUTHORIZED, "missing API key after Bearer")
	}
	return token, nil
}

// Authenticate returns the principal of the key token (the bearer token
// itself, without "Bearer "). Every failure is an EUNAUTHORIZED error: a
// missing, malformed, unknown or revoked key. The principal is a fresh
// copy the caller may change; its Roles and Groups slices are shared and
// must not be modified. A cached key is answered without the store.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (*sextant.Principal, error) {
	if token == "" {
		return nil, sextant.Errorf(sextant.EUNAUTHORIZED, "missing API key: send the header Authorization: Bearer KEY")
	}
	if err := CheckFormat(token); err != nil {
		return nil, err
	}
	h := Hash(token)
	now := a.opts.Now()
	a.mu.RLock()
	c := a.cache[h]
	a.mu.RUnlock()
	if c == nil || now.After(c.expires) {
		var err error
		if c, err = a.lookup(ctx, h, now); err != nil {
			return nil, err
		}
	}
	if c.key == nil {
		return nil, sextant.Errorf(sextant.EUNAUTHORIZED, "invalid API key")
	}
	if c.key.Revoked() {
		return nil, sextant.Errorf(sextant.EUNAUTHORIZED, "API key %s was revoked", c.key.ID)
	}
	if now.Sub(time.Unix(0, c.written.Load())) >= a.opts.TouchEvery {
		a.mu.Lock()
		a.touched[c.key.ID] = now
		a.mu.Unlock()
	}
	p := c.p
	return &p, nil
}

func (a *Authenticator) lookup(ctx context.Context, h [32]byte, now time.Time) (*cached, error) {
	k, err := a.store.APIKeyByHash(ctx, h)
	c := &cached{expires: now.Add(a.opts.CacheTTL)}
	switch {
	case sextant.ErrorCode(err) == sextant.ENOTFOUND:
	case err != nil:
		return nil, fmt.Errorf("access: look up API key: %w", err)
	case subtle.ConstantTimeCompare(k.Hash[:], h[:]) != 1:
		return nil, sextant.Errorf(sextant.EINTERNAL, "access: the store returned key %s for another hash", k.ID)
	default:
		c.key, c.p = k, *k.Principal()
		if !k.LastUsedAt.IsZero() {
			c.written.Store(k.LastUsedAt.UnixNano())
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if old := a.cache[h]; old != nil && c.key != nil && old.written.Load() > c.written.Load() {
		c.written.Store(old.written.Load())
	}
	if len(a.cache) >= a.opts.CacheSize {
		for k, v := range a.cache {
			if now.After(v.expires) {
				delete(a.cache, k)
			}
		}
		if len(a.cache) >= a.opts.CacheSize {
			clear(a.cache)
		}
	}
	a.cache[h] = c
	return c, nil
}

// Invalidate drops key id from the cache, so its next use asks the store:
// call it after revoking or changing the key.
func (a *Authenticator) Invalidate(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for h, c := range a.cache {
		if c.key != nil && c.key.ID == id {
			delete(a.cache, h)
		}
	}
}

// Flush writes the last-used times gathered since the previous Flush. The
// server calls it every minute or so and on shutdown; authentication never
// waits for that write.
func (a *Authenticator) Flush(ctx context.Context) error {
	a.mu.Lock()
	used := a.touched
	a.touched = map[string]time.Time{}
	a.mu.Unlock()
	if len(used) == 0 {
		return nil
	}
	if err := a.store.TouchAPIKeys(ctx, used); err != nil {
		a.mu.Lock()
		for id, t := range used {
			if a.touched[id].Before(t) {
				a.touched[id] = t
			}
		}
		a.mu.Unlock()
		return fmt.Errorf("access: record key use: %w", err)
	}
	a.mu.Lock()
	for _, c := range a.cache {
		if c.key != nil {
			if t, ok := used[c.key.ID]; ok && t.UnixNano() > c.written.Load() {
				c.written.Store(t.UnixNano())
			}
		}
	}
	a.mu.Unlock()
	return nil
}
