package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/access"
	"github.com/sextant-ai/sextant/audit"
	"github.com/sextant-ai/sextant/guard"
	"github.com/sextant-ai/sextant/rag"
	"github.com/sextant-ai/sextant/sqlite"
	"github.com/sextant-ai/sextant/web"
)

func exitCodeOf(err error) int {
	if err == nil {
		return 0
	}
	return exitCode(err)
}

func TestKeysAndAuditCommands(t *testing.T) {
	data := t.TempDir()
	env := map[string]string{"SEXTANT_DATA": data, "USER": "ops"}

	out, _, err := sextantCLI(t, env, "keys", "create", "--role", "app", "--role", "viewer", "--tenant", "acme",
		"--project", "web", "--groups", "eng,ops", "--name", "site", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		Key    string   `json:"key"`
		ID     string   `json:"id"`
		Tenant string   `json:"tenant"`
		Roles  []string `json:"roles"`
		Groups []string `json:"groups"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if access.CheckFormat(created.Key) != nil || created.Tenant != "acme" || len(created.Roles) != 2 || len(created.Groups) != 2 {
		t.Fatalf("created %+v", created)
	}
	// Text output shows the key once, with the warning.
	out, _, err = sextantCLI(t, env, "keys", "create", "--role", "viewer")
	if err != nil || !regexp.MustCompile(`(?m)^    sk-sextant-\w{49}$`).MatchString(out) || !strings.Contains(out, "only time") ||
		!strings.Contains(out, "unlabelled only") {
		t.Fatalf("keys create output: %q, %v", out, err)
	}
	for _, args := range [][]string{
		{"keys", "create"},
		{"keys", "create", "--role", "root"},
		{"keys", "create", "--role", "app", "--name", "two\nlines"},
		{"keys", "frob"},
		{"keys", "revoke"},
		{"audit", "purge"},
		{"audit", "purge", "--retain", "answer=soon"},
		{"audit", "export", "--since", "yesterday"},
		{"audit", "verify", "--partial"},
	} {
		if _, _, err := sextantCLI(t, env, args...); exitCodeOf(err) != 2 {
			t.Errorf("sextant %s: %v; want a usage error (exit 2)", strings.Join(args, " "), err)
		}
	}

	out, _, err = sextantCLI(t, env, "keys", "revoke", created.ID)
	if err != nil || !strings.Contains(out, "revoked "+created.ID) {
		t.Fatalf("revoke: %q, %v", out, err)
	}
	if out, _, _ := sextantCLI(t, env, "keys", "revoke", created.ID); !strings.Contains(out, "already revoked") {
		t.Errorf("second revoke: %q", out)
	}
	if _, _, err := sextantCLI(t, env, "keys", "revoke", "key_nope"); sextant.ErrorCode(err) != sextant.ENOTFOUND {
		t.Errorf("revoke unknown: %v", err)
	}
	out, _, err = sextantCLI(t, env, "keys", "list", "--json")
	var list []struct {
		ID        string  `json:"id"`
		RevokedAt *string `json:"revoked_at"`
	}
	if err != nil || json.Unmarshal([]byte(out), &list) != nil || len(list) != 2 || list[0].ID != created.ID || list[0].RevokedAt == nil {
		t.Fatalf("keys list: %s, %v", out, err)
	}
	if out, _, _ := sextantCLI(t, env, "keys", "list"); !strings.Contains(out, "revoked") || strings.Contains(out, "sk-sextant-") {
		t.Errorf("keys list text: %s", out)
	}
	if out, _, _ := sextantCLI(t, env, "keys", "generate"); access.CheckFormat(strings.TrimSpace(out)) != nil {
		t.Errorf("keys generate: %q", out)
	}

	// The three key changes are in the audit log, which verifies.
	out, _, err = sextantCLI(t, env, "audit", "verify")
	if err != nil || !strings.Contains(out, "OK: 3 records (1 to 3)") || !strings.Contains(out, "signed by:") {
		t.Fatalf("audit verify: %q, %v", out, err)
	}
	out, _, err = sextantCLI(t, env, "audit", "export")
	if err != nil || strings.Count(out, `"type":"record"`) != 3 || !strings.Contains(out, `"type":"checkpoint"`) ||
		!strings.Contains(out, `"action":"key.revoke"`) || !strings.Contains(out, `"actor":"local:ops"`) || strings.Contains(out, created.Key) {
		t.Fatalf("audit export: %s, %v", out, err)
	}
	exp := filepath.Join(t.TempDir(), "audit.jsonl")
	if _, _, err := sextantCLI(t, env, "audit", "export", "-o", exp, "--since", "1h"); err != nil {
		t.Fatal(err)
	}
	if out, _, err := sextantCLI(t, env, "audit", "verify", "--file", exp, "--json"); err != nil || !strings.Contains(out, `"ok": true`) {
		t.Fatalf("verify export: %s, %v", out, err)
	}
	if out, _, _ := sextantCLI(t, env, "audit", "export", "--kind", "answer"); out != "" && strings.Contains(out, `"type":"record"`) {
		t.Errorf("--kind answer exported admin records: %s", out)
	}

	// Retention: purge the admin payloads; the log still verifies.
	out, _, err = sextantCLI(t, env, "audit", "purge", "--retain", "admin=1ns")
	if err != nil || !strings.Contains(out, "admin: 3 payloads") {
		t.Fatalf("purge: %q, %v", out, err)
	}
	out, _, err = sextantCLI(t, env, "audit", "verify", "--json")
	var rep struct {
		OK         bool  `json:"ok"`
		Records    int64 `json:"records"`
		Tombstones int64 `json:"tombstones"`
	}
	if err != nil || json.Unmarshal([]byte(out), &rep) != nil || !rep.OK || rep.Records != 4 || rep.Tombstones != 3 {
		t.Fatalf("verify after purge: %s, %v", out, err)
	}

	// Someone edits the database behind Sextant's back.
	tamper(t, data, `DROP TRIGGER audit_log_no_update`, `UPDATE audit_log SET actor = 'someone' WHERE seq = 2`)
	out, _, err = sextantCLI(t, env, "audit", "verify")
	if exitCodeOf(err) != 1 || !strings.Contains(out, "TAMPERED: first bad record 2") {
		t.Fatalf("tampered log: %q, %v", out, err)
	}
	// A public key that did not sign the log is refused.
	other := filepath.Join(t.TempDir(), "other.pub")
	k, err := audit.LoadOrCreateKey(filepath.Join(t.TempDir(), "k"))
	if err != nil {
		t.Fatal(err)
	}
	audit.WritePublicKey(other, k.Public().(ed25519.PublicKey))
	if _, _, err := sextantCLI(t, env, "audit", "verify", "--file", exp, "--public-key", other); exitCodeOf(err) != 1 {
		t.Errorf("verify with a foreign key: %v; want exit 1", err)
	}
}

func tamper(t *testing.T, data string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(data, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestEnsureAdminKey(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	st, err := sqlite.Open(ctx, data, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l, err := openAuditLog(data, st)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	e := &env{getenv: func(string) string { return "" }}

	var w bytes.Buffer
	created, err := ensureAdminKey(ctx, e, st, l, &w)
	if err != nil {
		t.Fatal(err)
	}
	secret := regexp.MustCompile(`export SEXTANT_API_KEY=(sk-sextant-\w{49})\n`).FindStringSubmatch(w.String())
	if secret == nil || !strings.Contains(w.String(), "only time") || strings.Count(w.String(), created) != 1 || created != secret[1] {
		t.Fatalf("first start printed %q, returned %q", w.String(), created)
	}
	p, err := access.NewAuthenticator(st, access.Options{}).Authenticate(ctx, created)
	if err != nil || !p.HasRole(sextant.RoleAdmin) || p.Groups != nil {
		t.Fatalf("first-start key: %+v, %v", p, err)
	}
	w.Reset()
	if s, err := ensureAdminKey(ctx, e, st, l, &w); s != "" || err != nil || w.Len() != 0 {
		t.Fatalf("second start: %q, %v; want silence", w.String(), err)
	}

	// SEXTANT_ADMIN_KEY: imported once, then accepted as is.
	fixed, _ := access.NewSecret(nil)
	e.getenv = func(k string) string {
		if k == "SEXTANT_ADMIN_KEY" {
			return fixed
		}
		return ""
	}
	if s, err := ensureAdminKey(ctx, e, st, l, &w); s != "" || err != nil || !strings.Contains(w.String(), "imported from SEXTANT_ADMIN_KEY") || strings.Contains(w.String(), fixed) {
		t.Fatalf("import: %q, %v", w.String(), err)
	}
	w.Reset()
	if s, err := ensureAdminKey(ctx, e, st, l, &w); s != "" || err != nil || w.Len() != 0 {
		t.Fatalf("second import: %q, %v", w.String(), err)
	}
	k, _ := st.APIKeyByHash(ctx, access.Hash(fixed))
	if _, err := st.RevokeAPIKey(ctx, k.ID, k.CreatedAt); err != nil {
		t.Fatal(err)
	}
	if _, err := ensureAdminKey(ctx, e, st, l, &w); sextant.ErrorCode(err) != sextant.EFORBIDDEN {
		t.Errorf("revoked SEXTANT_ADMIN_KEY: %v; want EFORBIDDEN", err)
	}
	fixed = "not-a-key"
	if _, err := ensureAdminKey(ctx, e, st, l, &w); err == nil || !strings.Contains(err.Error(), "keys generate") {
		t.Errorf("malformed SEXTANT_ADMIN_KEY: %v", err)
	}
	if _, err := os.Stat(auditKeyPath(data)); err != nil {
		t.Errorf("no audit key created: %v", err)
	}
	if err := l.Sync(ctx); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

// TestAuditRedactorCache: the cached redactor answers exactly what the
// guard's redactor does, the second time as the first.
func TestAuditRedactorCache(t *testing.T) {
	red := auditRedactor()
	sc := guard.New(guard.Options{})
	for _, s := range []string{"", "jane.doe@example.com", "doc0001#3", "gpt-4o-mini", "call me on +1 415 555 2671",
		strings.Repeat("long text without personal data ", 10) + "bob@example.org"} {
		want, _ := (&guard.Redactor{}).Redact(sc, s)
		for range 2 {
			if got := red(s); got != want {
				t.Errorf("redact(%q) = %q; want %q", s, got, want)
			}
		}
	}
}

// TestSecurity: the serve glue creates the first admin key, authenticates
// keys, and records answers with the caller as actor.
func TestSecurity(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	st, err := sqlite.Open(ctx, data, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out bytes.Buffer
	sec, err := newSecurity(ctx, &env{getenv: func(string) string { return "" }}, data, st, &out, nil)
	if err != nil {
		t.Fatal(err)
	}
	secret := regexp.MustCompile(`sk-sextant-\w{49}`).FindString(out.String())
	var wo web.Options
	sec.webOptions(&wo)
	req, _ := http.NewRequest("GET", "/v1/models", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	p, err := wo.Authenticate(req)
	if err != nil || !p.HasRole(sextant.RoleAdmin) {
		t.Fatalf("admin key: %+v, %v", p, err)
	}
	var ro rag.Options
	sec.ragHooks(&ro)
	if len(ro.Hooks.Done) != 1 {
		t.Fatalf("%d Done hooks", len(ro.Hooks.Done))
	}
	res := &rag.Result{Answer: sextant.Answer{ID: "ans_1", Principal: "ignored", Text: "x [1]", Question: "mail bob@example.com?",
		Sources: []sextant.Source{{N: 1, ChunkID: "c1", Score: 1.5}}}}
	ro.Hooks.Done[0](sextant.WithPrincipal(ctx, p), res)
	if err := sec.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := audit.Export(ctx, st, &buf, audit.ExportOptions{Kinds: []sextant.AuditKind{sextant.AuditAnswer}}); err != nil {
		t.Fatal(err)
	}
	line := buf.String()
	if !strings.Contains(line, `"request_id":"ans_1"`) || !strings.Contains(line, `"actor":"`+p.ID+`"`) ||
		strings.Contains(line, "bob@example.com") || !strings.Contains(line, `"chunks":["c1"]`) {
		t.Errorf("answer record: %s", line)
	}
	if rep, err := audit.Verify(ctx, st, audit.VerifyOptions{}); err != nil || !rep.OK() || rep.Records != 2 {
		t.Errorf("verify: %+v, %v", rep, err)
	}
}
