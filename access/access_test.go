package access_test

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/access"
)

// memKeys is an in-memory key store counting lookups.
type memKeys struct {
	mu      sync.Mutex
	keys    map[[32]byte]*sextant.APIKey
	lookups atomic.Int64
	touches []map[string]time.Time
}

func newMemKeys() *memKeys { return &memKeys{keys: map[[32]byte]*sextant.APIKey{}} }

func (m *memKeys) CreateAPIKey(ctx context.Context, k *sextant.APIKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.keys {
		if o.ID == k.ID {
			return sextant.Errorf(sextant.ECONFLICT, "dup id")
		}
	}
	if m.keys[k.Hash] != nil {
		return sextant.Errorf(sextant.ECONFLICT, "dup hash")
	}
	c := *k
	m.keys[k.Hash] = &c
	return nil
}

func (m *memKeys) APIKeyByHash(ctx context.Context, h [32]byte) (*sextant.APIKey, error) {
	m.lookups.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	k := m.keys[h]
	if k == nil {
		return nil, sextant.Errorf(sextant.ENOTFOUND, "no key")
	}
	c := *k
	return &c, nil
}

func (m *memKeys) TouchAPIKeys(ctx context.Context, used map[string]time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.touches = append(m.touches, used)
	return nil
}

func (m *memKeys) revoke(id string, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range m.keys {
		if k.ID == id {
			k.RevokedAt = at
		}
	}
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func seeded(seed uint64) *rand.ChaCha8 {
	var s [32]byte
	s[0] = byte(seed)
	return rand.NewChaCha8(s)
}

func TestNewSecret(t *testing.T) {
	a, err := access.NewSecret(seeded(1))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := access.NewSecret(seeded(1))
	c, _ := access.NewSecret(nil)
	if a != b || a == c {
		t.Fatalf("seeded keys differ or a crypto key repeats: %s %s %s", a, b, c)
	}
	if len(a) != 60 || !strings.HasPrefix(a, access.KeyPrefix) {
		t.Fatalf("key %q: want 60 characters starting %s", a, access.KeyPrefix)
	}
	seen := map[byte]int{}
	for i := range 200 {
		k, err := access.NewSecret(seeded(uint64(i)))
		if err != nil {
			t.Fatal(err)
		}
		if err := access.CheckFormat(k); err != nil {
			t.Fatalf("fresh key %s: %v", k, err)
		}
		for j := len(access.KeyPrefix); j < len(k)-6; j++ {
			seen[k[j]]++
		}
	}
	if len(seen) != 62 {
		t.Errorf("%d distinct body characters over 200 keys; want all 62", len(seen))
	}
}

func TestCheckFormat(t *testing.T) {
	k, _ := access.NewSecret(seeded(7))
	// Every single-character change is caught by the checksum.
	for i := len(access.KeyPrefix); i < len(k); i++ {
		for _, c := range []byte{'0', 'Z', 'z', 'q'} {
			if k[i] == c {
				continue
			}
			bad := k[:i] + string(c) + k[i+1:]
			if err := access.CheckFormat(bad); sextant.ErrorCode(err) != sextant.EUNAUTHORIZED {
				t.Fatalf("key with position %d changed accepted: %v", i, err)
			}
		}
	}
	for _, bad := range []string{"", k[:59], k + "x", "sk-other---" + k[11:], strings.Replace(k, k[20:21], "-", 1)} {
		err := access.CheckFormat(bad)
		if sextant.ErrorCode(err) != sextant.EUNAUTHORIZED {
			t.Errorf("CheckFormat(%q) = %v", bad, err)
		}
		if len(bad) > 20 && strings.Contains(err.Error(), bad[11:30]) {
			t.Errorf("error echoes the secret: %v", err)
		}
	}
}

func TestKeyID(t *testing.T) {
	id, err := access.NewKeyID(seeded(3))
	if err != nil || len(id) != 20 || !strings.HasPrefix(id, "key_") || strings.ToLower(id) != id {
		t.Fatalf("NewKeyID = %q, %v", id, err)
	}
}

func TestKeySpecValidate(t *testing.T) {
	ok := access.KeySpec{Name: "ci", Tenant: "acme", Project: "web", Roles: []string{"app", "viewer"}, Groups: []string{"eng"}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []access.KeySpec{
		{},
		{Roles: []string{"root"}},
		{Roles: []string{"app"}, Name: "a\nb"},
		{Roles: []string{"app"}, Tenant: strings.Repeat("t", 201)},
		{Roles: []string{"app"}, Groups: []string{""}},
		{Roles: []string{"app"}, Groups: []string{"a,b"}},
	} {
		if err := bad.Validate(); sextant.ErrorCode(err) != sextant.EINVALID {
			t.Errorf("%+v: %v; want EINVALID", bad, err)
		}
	}
}

func TestParseAuthorization(t *testing.T) {
	for h, want := range map[string]string{"Bearer abc": "abc", "bearer  abc ": "abc", "BEARER x": "x"} {
		if got, err := access.ParseAuthorization(h); err != nil || got != want {
			t.Errorf("ParseAuthorization(%q) = %q, %v", h, got, err)
		}
	}
	for _, h := range []string{"", "Bearer", "Bearer ", "Basic abc", "abc"} {
		if _, err := access.ParseAuthorization(h); sextant.ErrorCode(err) != sextant.EUNAUTHORIZED {
			t.Errorf("ParseAuthorization(%q) = %v; want EUNAUTHORIZED", h, err)
		}
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	st := newMemKeys()
	clk := &fakeClock{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	secret, key, err := access.Create(ctx, st, access.KeySpec{Name: "web", Tenant: "acme", Project: "site",
		Roles: []string{"app"}, Groups: []string{"eng"}}, nil, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if key.Hash != access.Hash(secret) || key.ID == "" || !key.CreatedAt.Equal(clk.Now()) {
		t.Fatalf("created %+v", key)
	}
	a := access.NewAuthenticator(st, access.Options{CacheTTL: 10 * time.Second, TouchEvery: time.Minute, Now: clk.Now})
	p, err := a.Authenticate(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	want := &sextant.Principal{ID: key.ID, Tenant: "acme", Project: "site", Roles: []string{"app"}, Groups: []string{"eng"}}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("principal (-want +got):\n%s", diff)
	}
	p.User = "changed by the caller"
	if p2, _ := a.Authenticate(ctx, secret); p2.User != "" {
		t.Error("a caller's change leaked into the cached principal")
	}
	if n := st.lookups.Load(); n != 1 {
		t.Errorf("%d store lookups for two authentications; want 1 (cached)", n)
	}

	// Failures: all EUNAUTHORIZED; malformed keys never reach the store.
	other, _ := access.NewSecret(seeded(9))
	// The altered key differs from the real one in its last character whatever that character is
	// (appending a fixed "x" was the same key whenever the random secret already ended in "x").
	last := "x"
	if strings.HasSuffix(secret, "x") {
		last = "y"
	}
	for _, tok := range []string{"", "sk-sextant-short", secret[:len(secret)-1] + last, other} {
		if _, err := a.Authenticate(ctx, tok); sextant.ErrorCode(err) != sextant.EUNAUTHORIZED {
			t.Errorf("Authenticate(%q) = %v; want EUNAUTHORIZED", tok, err)
		}
	}
	if n := st.lookups.Load(); n != 2 {
		t.Errorf("%d lookups; want 2 (only the well-formed unknown key is looked up)", n)
	}
	if _, err := a.Authenticate(ctx, other); err == nil || st.lookups.Load() != 2 {
		t.Errorf("an unknown key is not remembered: %d lookups", st.lookups.Load())
	}

	// Revoked elsewhere (another process): works until the cache expires.
	st.revoke(key.ID, clk.Now())
	if _, err := a.Authenticate(ctx, secret); err != nil {
		t.Errorf("cached key refused before its TTL: %v", err)
	}
	clk.add(11 * time.Second)
	if _, err := a.Authenticate(ctx, secret); sextant.ErrorCode(err) != sextant.EUNAUTHORIZED || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("revoked key after TTL: %v", err)
	}

	// Revoked here: Invalidate ends it at once.
	secret2, key2, _ := access.Create(ctx, st, access.KeySpec{Roles: []string{"viewer"}}, nil, clk.Now())
	if p, err := a.Authenticate(ctx, secret2); err != nil || p.Groups != nil {
		t.Fatalf("key without groups: %+v, %v", p, err)
	}
	st.revoke(key2.ID, clk.Now())
	a.Invalidate(key2.ID)
	if _, err := a.Authenticate(ctx, secret2); sextant.ErrorCode(err) != sextant.EUNAUTHORIZED {
		t.Errorf("revoked and invalidated key: %v", err)
	}
}

func TestFlushLastUsed(t *testing.T) {
	ctx := context.Background()
	st := newMemKeys()
	clk := &fakeClock{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	secret, key, _ := access.Create(ctx, st, access.KeySpec{Roles: []string{"app"}}, nil, clk.Now())
	a := access.NewAuthenticator(st, access.Options{CacheTTL: time.Hour, TouchEvery: time.Minute, Now: clk.Now})
	for range 5 {
		a.Authenticate(ctx, secret)
		clk.add(time.Second)
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if len(st.touches) != 1 || !st.touches[0][key.ID].Equal(clk.Now().Add(-time.Second)) {
		t.Fatalf("touches = %v; want one, at the last use", st.touches)
	}
	a.Authenticate(ctx, secret) // 5 s after the written time: not stale yet
	a.Flush(ctx)
	if len(st.touches) != 1 {
		t.Fatalf("touched again within TouchEvery: %v", st.touches)
	}
	clk.add(2 * time.Minute)
	a.Authenticate(ctx, secret)
	a.Flush(ctx)
	if len(st.touches) != 2 {
		t.Fatalf("not touched after TouchEvery: %v", st.touches)
	}
}

// TestAuthenticateConcurrent runs authentications, invalidations and
// flushes together (run with -race).
func TestAuthenticateConcurrent(t *testing.T) {
	ctx := context.Background()
	st := newMemKeys()
	var secrets []string
	var ids []string
	for range 8 {
		s, k, err := access.Create(ctx, st, access.KeySpec{Roles: []string{"app"}}, nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		secrets, ids = append(secrets, s), append(ids, k.ID)
	}
	a := access.NewAuthenticator(st, access.Options{CacheSize: 4, TouchEvery: time.Nanosecond})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 300 {
				p, err := a.Authenticate(ctx, secrets[(g+i)%8])
				if err != nil || p.ID != ids[(g+i)%8] {
					t.Errorf("Authenticate: %+v, %v", p, err)
					return
				}
				if i%50 == 0 {
					a.Invalidate(ids[i%8])
					a.Flush(ctx)
				}
			}
		})
	}
	wg.Wait()
}

func TestCheckRoutes(t *testing.T) {
	routes := []access.Route{
		{Pattern: "POST /v1/chat/completions", Permission: sextant.PermChat},
		{Pattern: "GET /v1/documents/{id}", Permission: sextant.PermDocumentsRead},
		{Pattern: "GET /healthz", Public: true},
	}
	if err := access.CheckRoutes(routes); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]access.Route{
		{{Pattern: "/v1/x", Permission: sextant.PermChat}},
		{{Pattern: "get /v1/x", Permission: sextant.PermChat}},
		{{Pattern: "GET /x", Permission: "nope"}},
		{{Pattern: "GET /x"}},
		{{Pattern: "GET /x", Public: true, Permission: sextant.PermChat}},
		{{Pattern: "GET /x", Public: true}, {Pattern: "GET /x", Public: true}},
	} {
		if err := access.CheckRoutes(bad); sextant.ErrorCode(err) != sextant.EINVALID {
			t.Errorf("CheckRoutes(%+v) = %v; want EINVALID", bad, err)
		}
	}
	m := access.RoleMatrix(routes)
	if len(m) != 2*len(sextant.AllRoles()) {
		t.Fatalf("%d cells; want %d", len(m), 2*len(sextant.AllRoles()))
	}
	allowed := map[string][]sextant.Role{}
	for _, c := range m {
		if c.Allowed {
			allowed[c.Route.Pattern] = append(allowed[c.Route.Pattern], c.Role)
		}
	}
	want := map[string][]sextant.Role{
		"POST /v1/chat/completions": {sextant.RoleAdmin, sextant.RoleAIEngineer, sextant.RoleApp},
		"GET /v1/documents/{id}":    {sextant.RoleAdmin, sextant.RoleAIEngineer, sextant.RoleDataEngineer, sextant.RoleViewer},
	}
	if diff := cmp.Diff(want, allowed); diff != "" {
		t.Errorf("matrix (-want +got):\n%s", diff)
	}
	if got := access.Permissions(routes)["GET /healthz"]; !got.Public {
		t.Error("Permissions lost a route")
	}
}

// FuzzAuthenticate: no token panics, and only the real key authenticates.
func FuzzAuthenticate(f *testing.F) {
	ctx := context.Background()
	st := newMemKeys()
	secret, _, err := access.Create(ctx, st, access.KeySpec{Roles: []string{"app"}}, seeded(5), time.Now())
	if err != nil {
		f.Fatal(err)
	}
	a := access.NewAuthenticator(st, access.Options{})
	f.Add(secret)
	f.Add(secret[:59] + "A")
	f.Add("")
	f.Add("Bearer " + secret)
	f.Add(access.KeyPrefix + strings.Repeat("\xff", 49))
	f.Fuzz(func(t *testing.T, tok string) {
		p, err := a.Authenticate(ctx, tok)
		if (err == nil) != (tok == secret) {
			t.Fatalf("Authenticate(%q) = %+v, %v", tok, p, err)
		}
		if err != nil && sextant.ErrorCode(err) != sextant.EUNAUTHORIZED {
			t.Fatalf("Authenticate(%q) error %v is not EUNAUTHORIZED", tok, err)
		}
		if h, err := access.ParseAuthorization(tok); err == nil && h == "" {
			t.Fatalf("ParseAuthorization(%q) returned an empty token", tok)
		}
	})
}
