package web_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/access"
	"github.com/sextant-ai/sextant/audit"
	"github.com/sextant-ai/sextant/web"
)

type authed struct {
	*stack
	routes []web.Route
	keys   map[sextant.Role]string // a key per role, holding only that role
	keyIDs map[sextant.Role]string // their ids
	log    *audit.Log
	auth   *access.Authenticator
	api    *web.Server
}

// authStack is the API with API-key authentication over the stack's own
// store, one key per role, and the audit log recording failures.
// tweaks adjust the options after authentication and the admin
// endpoints are wired.
func authStack(t *testing.T, tweaks ...func(*web.Options)) *authed {
	t.Helper()
	var opts web.Options
	s := newStack(t, stackOptions{tweak: func(o *web.Options) { opts = *o }})
	log := audit.Open(s.store, audit.Options{})
	t.Cleanup(func() { log.Close(context.Background()) })
	auth := access.NewAuthenticator(s.store, access.Options{})
	opts.Authenticate = web.APIKeyAuth(auth, log)
	opts.Admin = adminOptions(t, s.store, auth, log)
	for _, f := range tweaks {
		f(&opts)
	}
	srv, err := web.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	// Serve the authenticated handler in place of the stack's.
	s.srv.Config.Handler = srv.Handler()
	keys, ids := map[sextant.Role]string{}, map[sextant.Role]string{}
	for _, r := range sextant.AllRoles() {
		secret, k, err := access.Create(context.Background(), s.store, access.KeySpec{Name: string(r), Roles: []string{string(r)}}, nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		keys[r], ids[r] = secret, k.ID
	}
	return &authed{s, srv.Routes(), keys, ids, log, auth, srv}
}

// publicRoutes are the only routes served without a key. A route that
// names no permission and is not listed here makes the route table
// invalid (routeTable marks it guarded without a permission), so a route
// added without its permission fails the matrix test.
var publicRoutes = map[string]bool{"GET /healthz": true, "GET /readyz": true, "GET /console/": true}

// routeTable is the server's route table in the access package's form.
func routeTable(routes []web.Route) []access.Route {
	table := make([]access.Route, len(routes))
	for i, rt := range routes {
		pattern := rt.Method + " " + rt.Path
		table[i] = access.Route{Pattern: pattern, Permission: rt.Perm, Public: publicRoutes[pattern]}
	}
	return table
}

var update = flag.Bool("update", false, "rewrite golden files")

// TestRoutePermissionsGolden pins which permission each route needs
// (testdata/routes.golden; go test -run TestRoutePermissionsGolden
// -update rewrites it): changing a route's permission, or adding a route,
// is a deliberate change of policy that shows in review.
func TestRoutePermissionsGolden(t *testing.T) {
	s := newStack(t, stackOptions{})
	srv, err := web.New(web.Options{Pipeline: s.pipeline})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, rt := range srv.Routes() {
		perm := string(rt.Perm)
		if perm == "" {
			perm = "(public)"
		}
		lines = append(lines, fmt.Sprintf("%-40s %s\n", rt.Path+" "+rt.Method, perm))
	}
	slices.Sort(lines)
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
	}
	path := filepath.Join("testdata", "routes.golden")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), b.String()); diff != "" {
		t.Errorf("route permissions changed (-golden +now); if deliberate, run with -update:\n%s", diff)
	}
}

// A route without a permission that is not a known public route is
// caught by the check the matrix test starts with.
func TestRouteTableNeedsPermissions(t *testing.T) {
	s := authStack(t)
	routes := append(s.routes, web.Route{Method: "POST", Path: "/v1/forgotten", Name: "forgotten"})
	if err := access.CheckRoutes(routeTable(routes)); err == nil || !strings.Contains(err.Error(), "/v1/forgotten") {
		t.Fatalf("a route without a permission passed the check: %v", err)
	}
	for p := range publicRoutes {
		found := false
		for _, rt := range s.routes {
			if rt.Method+" "+rt.Path == p {
				found = rt.Perm == ""
			}
		}
		if !found {
			t.Errorf("public route %s is not served without a permission", p)
		}
	}
}

func send(t *testing.T, url, key, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	return res.StatusCode, b.Bytes()
}

// TestRouteRoleMatrix sends one request per route and role with a key
// holding only that role: 403 exactly where the role table denies the
// route's permission, never 401 for a valid key, and 401 for every guarded
// route without a key.
func TestRouteRoleMatrix(t *testing.T) {
	s := authStack(t)
	keys := s.keys
	table := routeTable(s.routes)
	if err := access.CheckRoutes(table); err != nil {
		t.Fatalf("route table: %v", err)
	}
	path := func(p string) string { return strings.NewReplacer("{id}", "doc-none").Replace(p) }
	cells := access.RoleMatrix(table)
	if len(cells) == 0 {
		t.Fatal("no guarded routes")
	}
	t.Logf("%d routes × %d roles", len(cells)/len(sextant.AllRoles()), len(sextant.AllRoles()))
	for _, c := range cells {
		method, p, _ := strings.Cut(c.Route.Pattern, " ")
		status, body := send(t, s.URL, keys[c.Role], method, path(p), "{}")
		switch {
		case !c.Allowed && status != http.StatusForbidden:
			t.Errorf("%s as %s: %d %.120s; want 403", c.Route.Pattern, c.Role, status, body)
		case c.Allowed && (status == http.StatusForbidden || status == http.StatusUnauthorized):
			t.Errorf("%s as %s: %d %.120s; want it allowed", c.Route.Pattern, c.Role, status, body)
		case !c.Allowed && errorType(t, body) != "permission_error":
			t.Errorf("%s as %s: error type %q", c.Route.Pattern, c.Role, errorType(t, body))
		}
	}
	for _, r := range table {
		method, p, _ := strings.Cut(r.Pattern, " ")
		status, body := send(t, s.URL, "", method, path(p), "{}")
		if r.Public && status == http.StatusUnauthorized || !r.Public && status != http.StatusUnauthorized {
			t.Errorf("%s without a key: %d %.120s", r.Pattern, status, body)
		}
	}
}

func TestAPIKeyAuthFailuresAudited(t *testing.T) {
	s := authStack(t)
	keys, log := s.keys, s.log
	ctx := context.Background()
	other, _ := access.NewSecret(nil)
	for _, c := range []struct{ key, want string }{
		{"", "missing API key"},
		{"sk-sextant-nope", "malformed API key"},
		{other, "invalid API key"},
	} {
		status, body := send(t, s.URL, c.key, "POST", "/v1/search", `{"query":"tide"}`)
		if e := apiErr(t, body); status != 401 || e.Type != "authentication_error" || !strings.Contains(e.Message, c.want) {
			t.Errorf("key %q: %d %s", c.key, status, body)
		}
	}
	// A revoked key stops working once the authenticator forgets it.
	viewer := keys[sextant.RoleViewer]
	if status, _ := send(t, s.URL, viewer, "POST", "/v1/search", `{"query":"tide"}`); status != 200 {
		t.Fatalf("viewer before revocation: %d", status)
	}
	k, err := s.store.APIKeyByHash(ctx, access.Hash(viewer))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.store.RevokeAPIKey(ctx, k.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	s.auth.Invalidate(k.ID)
	if status, body := send(t, s.URL, viewer, "POST", "/v1/search", `{"query":"tide"}`); status != 401 || !strings.Contains(string(body), "revoked") {
		t.Errorf("revoked key: %d %s", status, body)
	}
	if err := log.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := audit.Export(ctx, s.store, &buf, audit.ExportOptions{Kinds: []sextant.AuditKind{sextant.AuditAuth}}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if n := strings.Count(out, `"kind":"auth"`); n != 4 {
		t.Fatalf("%d auth failure records; want 4:\n%s", n, out)
	}
	if strings.Contains(out, other) || !strings.Contains(out, access.Fingerprint(other)) || !strings.Contains(out, `"path":"/v1/search"`) {
		t.Errorf("auth records must carry the fingerprint, never the key:\n%s", out)
	}
	if rep, err := audit.Verify(ctx, s.store, audit.VerifyOptions{}); err != nil || !rep.OK() {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
}

// BenchmarkAPIKeyAuth is the per-request cost of authentication once the
// key is cached: header parsing, the key's format and checksum, SHA-256,
// the cache lookup and the principal's copy.
func BenchmarkAPIKeyAuth(b *testing.B) {
	s := newStack(b, stackOptions{})
	secret, _, err := access.Create(context.Background(), s.store, access.KeySpec{Roles: []string{"app"}, Tenant: "acme"}, nil, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	auth := web.APIKeyAuth(access.NewAuthenticator(s.store, access.Options{CacheTTL: time.Hour}), nil)
	req, _ := http.NewRequest("POST", "/v1/chat/completions", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	if _, err := auth(req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := auth(req); err != nil {
			b.Fatal(err)
		}
	}
}
