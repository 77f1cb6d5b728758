package sqlite

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/access"
)

func TestAPIKeys(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	if n, err := db.CountAPIKeys(ctx); err != nil || n != 0 {
		t.Fatalf("CountAPIKeys = %d, %v", n, err)
	}
	secret, k, err := access.Create(ctx, db, access.KeySpec{Name: "site", Tenant: "acme", Project: "web",
		Roles: []string{"app", "viewer"}, Groups: []string{"eng", "ops"}}, nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	_, k2, err := access.Create(ctx, db, access.KeySpec{Roles: []string{"admin"}}, nil, t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	_, k3, err := access.Create(ctx, db, access.KeySpec{Roles: []string{"viewer"}, Groups: []string{}}, nil, t0.Add(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.APIKeyByHash(ctx, access.Hash(secret))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(k, got); diff != "" {
		t.Errorf("read back (-created +stored):\n%s", diff)
	}
	if got, _ := db.APIKey(ctx, k2.ID); got.Groups != nil {
		t.Errorf("nil groups (every document) read back as %v", got.Groups)
	}
	if got, _ := db.APIKey(ctx, k3.ID); got.Groups == nil || len(got.Groups) != 0 {
		t.Errorf("empty groups (unlabelled only) read back as %#v", got.Groups)
	}
	if _, err := db.APIKeyByHash(ctx, [32]byte{1}); sextant.ErrorCode(err) != sextant.ENOTFOUND {
		t.Errorf("unknown hash: %v", err)
	}
	if _, err := db.APIKey(ctx, "key_none"); sextant.ErrorCode(err) != sextant.ENOTFOUND {
		t.Errorf("unknown id: %v", err)
	}
	dup := *k
	dup.ID = "key_other"
	if err := db.CreateAPIKey(ctx, &dup); sextant.ErrorCode(err) != sextant.ECONFLICT {
		t.Errorf("same secret twice: %v", err)
	}
	dup = *k2
	dup.Hash[0] ^= 1
	if err := db.CreateAPIKey(ctx, &dup); sextant.ErrorCode(err) != sextant.ECONFLICT {
		t.Errorf("same id twice: %v", err)
	}

	list, err := db.APIKeys(ctx)
	if err != nil || len(list) != 3 || list[0].ID != k.ID || list[2].ID != k3.ID {
		t.Fatalf("APIKeys = %v, %v", list, err)
	}
	rk, err := db.RevokeAPIKey(ctx, k.ID, t0.Add(time.Hour))
	if err != nil || !rk.RevokedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("revoke: %+v, %v", rk, err)
	}
	if rk, _ := db.RevokeAPIKey(ctx, k.ID, t0.Add(2*time.Hour)); !rk.RevokedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("second revoke moved the time to %v", rk.RevokedAt)
	}
	if _, err := db.RevokeAPIKey(ctx, "key_none", t0); sextant.ErrorCode(err) != sextant.ENOTFOUND {
		t.Errorf("revoke unknown: %v", err)
	}

	if err := db.TouchAPIKeys(ctx, map[string]time.Time{k2.ID: t0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	db.TouchAPIKeys(ctx, map[string]time.Time{k2.ID: t0}) // earlier: ignored
	if got, _ := db.APIKey(ctx, k2.ID); !got.LastUsedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("last used = %v", got.LastUsedAt)
	}

	// The authenticator over the real store.
	a := access.NewAuthenticator(db, access.Options{})
	if _, err := a.Authenticate(ctx, secret); sextant.ErrorCode(err) != sextant.EUNAUTHORIZED {
		t.Errorf("revoked key authenticated: %v", err)
	}
}
