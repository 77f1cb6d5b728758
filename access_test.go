package sextant_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sextant-ai/sextant"
)

// TestRolePermissions pins the role → permission table: each role gets
// exactly what its holder is accountable for (issue 6), nothing more. A
// change here is a change of policy and must be deliberate.
func TestRolePermissions(t *testing.T) {
	want := map[sextant.Role][]sextant.Permission{
		sextant.RoleAdmin: sextant.AllPermissions(),
		sextant.RoleAIEngineer: {"chat", "search", "documents.read", "assistants.write", "templates.write",
			"eval.write", "eval.run", "eval.read", "settings.read"},
		sextant.RoleDataEngineer: {"search", "documents.read", "documents.write"},
		sextant.RoleLLMOps: {"providers.write", "budgets.write", "ratelimits.write", "cache.write",
			"settings.read", "usage.read", "metrics.read"},
		sextant.RoleSecurity: {"guard.write", "policy.write", "settings.read", "audit.read", "approvals.decide"},
		sextant.RoleProduct:  {"eval.read", "usage.read", "metrics.read"},
		sextant.RoleQA:       {"eval.run", "eval.read", "redteam.run"},
		sextant.RoleViewer:   {"search", "documents.read"},
		sextant.RoleApp:      {"chat"},
	}
	if len(want) != len(sextant.AllRoles()) {
		t.Fatalf("the table covers %d roles; AllRoles has %d", len(want), len(sextant.AllRoles()))
	}
	for _, r := range sextant.AllRoles() {
		got := map[sextant.Permission]bool{}
		for _, p := range sextant.AllPermissions() {
			p1 := &sextant.Principal{Roles: []string{string(r)}}
			if sextant.Allowed(p1, p) != r.Grants(p) {
				t.Errorf("%s/%s: Allowed and Grants disagree", r, p)
			}
			if r.Grants(p) {
				got[p] = true
			}
		}
		wantSet := map[sextant.Permission]bool{}
		for _, p := range want[r] {
			wantSet[p] = true
		}
		if diff := cmp.Diff(wantSet, got); diff != "" {
			t.Errorf("role %s (-want +got):\n%s", r, diff)
		}
		perms := r.Permissions()
		if len(perms) != len(want[r]) {
			t.Errorf("%s.Permissions() = %v", r, perms)
		}
	}
}

// TestReadOnlyRoles: the read-only roles hold no permission that changes
// anything, runs suites or decides.
func TestReadOnlyRoles(t *testing.T) {
	for _, r := range []sextant.Role{sextant.RoleProduct, sextant.RoleViewer} {
		for _, p := range r.Permissions() {
			if !strings.HasSuffix(string(p), ".read") && p != sextant.PermSearch {
				t.Errorf("read-only role %s holds %s", r, p)
			}
		}
	}
	for _, r := range sextant.AllRoles() {
		if r != sextant.RoleAdmin && r.Grants(sextant.PermKeysAdmin) {
			t.Errorf("%s may administer keys", r)
		}
	}
}

func TestAllowed(t *testing.T) {
	cases := []struct {
		p    *sextant.Principal
		perm sextant.Permission
		want bool
	}{
		{nil, sextant.PermChat, false},
		{&sextant.Principal{}, sextant.PermChat, false},
		{&sextant.Principal{Roles: []string{"nobody"}}, sextant.PermChat, false},
		{&sextant.Principal{Roles: []string{"admin"}}, "made.up", false},
		{&sextant.Principal{Roles: []string{"admin"}}, "", false},
		{&sextant.Principal{Roles: []string{"admin"}}, sextant.PermKeysAdmin, true},
		{&sextant.Principal{Roles: []string{"app"}}, sextant.PermChat, true},
		{&sextant.Principal{Roles: []string{"app"}}, sextant.PermSearch, false},
		{&sextant.Principal{Roles: []string{"app", "viewer"}}, sextant.PermSearch, true},
		{&sextant.Principal{Roles: []string{"Admin"}}, sextant.PermChat, false}, // roles are case-sensitive
		{&sextant.Principal{Roles: []string{"qa"}}, sextant.PermRedteamRun, true},
		{&sextant.Principal{Roles: []string{"security"}}, sextant.PermAuditRead, true},
		{&sextant.Principal{Roles: []string{"llmops"}}, sextant.PermAuditRead, false},
	}
	for _, c := range cases {
		if got := sextant.Allowed(c.p, c.perm); got != c.want {
			t.Errorf("Allowed(%+v, %q) = %v; want %v", c.p, c.perm, got, c.want)
		}
	}
	p := &sextant.Principal{Roles: []string{"viewer", "app"}}
	if n := testing.AllocsPerRun(100, func() { sextant.Allowed(p, sextant.PermChat) }); n != 0 {
		t.Errorf("Allowed allocates %.0f times", n)
	}
}

func TestParseRoleAndPermission(t *testing.T) {
	for _, r := range sextant.AllRoles() {
		if got, err := sextant.ParseRole(string(r)); err != nil || got != r {
			t.Errorf("ParseRole(%q) = %q, %v", r, got, err)
		}
	}
	_, err := sextant.ParseRole("root")
	if sextant.ErrorCode(err) != sextant.EINVALID || !strings.Contains(err.Error(), "ai_engineer") {
		t.Errorf("ParseRole(root) = %v; want EINVALID listing the roles", err)
	}
	for _, p := range sextant.AllPermissions() {
		if got, err := sextant.ParsePermission(string(p)); err != nil || got != p {
			t.Errorf("ParsePermission(%q) = %q, %v", p, got, err)
		}
	}
	if _, err := sextant.ParsePermission("chat "); sextant.ErrorCode(err) != sextant.EINVALID {
		t.Errorf("ParsePermission(\"chat \") = %v", err)
	}
	perms := sextant.AllPermissions()
	if len(slices.Compact(slices.Sorted(slices.Values(perms)))) != len(perms) {
		t.Error("AllPermissions has duplicates")
	}
}

func TestPrincipalContext(t *testing.T) {
	ctx := context.Background()
	if p, ok := sextant.PrincipalFrom(ctx); ok || p != nil {
		t.Fatalf("empty context has principal %+v", p)
	}
	want := &sextant.Principal{ID: "key_a", Tenant: "acme", Project: "p", Roles: []string{"app"}}
	got, ok := sextant.PrincipalFrom(sextant.WithPrincipal(ctx, want))
	if !ok || got != want {
		t.Fatalf("PrincipalFrom = %+v, %v", got, ok)
	}
	if _, ok := sextant.PrincipalFrom(sextant.WithPrincipal(ctx, nil)); ok {
		t.Error("a nil principal reads back as present")
	}
	if !want.HasRole(sextant.RoleApp) || want.HasRole(sextant.RoleAdmin) {
		t.Error("HasRole")
	}
}

func TestAPIKeyPrincipal(t *testing.T) {
	k := &sextant.APIKey{ID: "key_a", Tenant: "acme", Project: "web", Roles: []string{"viewer"}, Groups: []string{}}
	p := k.Principal()
	if p.ID != "key_a" || p.Tenant != "acme" || p.Project != "web" || p.Groups == nil || len(p.Groups) != 0 {
		t.Errorf("Principal = %+v; want empty non-nil groups (unlabelled documents only)", p)
	}
	k.Groups = nil
	if p := k.Principal(); p.Groups != nil {
		t.Errorf("nil groups (all documents) became %v", p.Groups)
	}
}

func TestValidAuditKind(t *testing.T) {
	for k, want := range map[sextant.AuditKind]bool{
		"admin": true, "guard.block": true, "a-b_c9": true, "": false, "Admin": false, "a b": false,
		sextant.AuditKind(strings.Repeat("a", 64)): true, sextant.AuditKind(strings.Repeat("a", 65)): false,
	} {
		if got := sextant.ValidAuditKind(k); got != want {
			t.Errorf("ValidAuditKind(%q) = %v", k, got)
		}
	}
}
