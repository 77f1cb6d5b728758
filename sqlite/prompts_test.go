package sqlite

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sextant-ai/sextant"
)

// Template versions and runtime assistants round-trip, survive a restart,
// and every change moves the prompt generation.
func TestPromptsRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := db.SchemaVersion(ctx); err != nil || v < 8 {
		t.Fatalf("schema version %d, %v", v, err)
	}
	gen := func() int64 {
		t.Helper()
		g, err := db.PromptGeneration(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	if g := gen(); g != 0 {
		t.Fatalf("generation of a new store %d", g)
	}
	t0 := time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)
	v1, v2 := `{{define "system"}}one{{end}}`, `{{define "system"}}two{{end}}`

	// A version recorded without activating it (a built-in one).
	h1, prev, err := db.PutTemplateVersion(ctx, "answer", v1, "builtin", t0, false)
	if err != nil || prev != "" || h1 != hashText(v1) {
		t.Fatalf("put v1: %s %q %v", h1, prev, err)
	}
	if act, _ := db.ActiveTemplates(ctx); len(act) != 0 {
		t.Errorf("active after an inactive put: %+v", act)
	}
	g1 := gen()
	// The same text again changes nothing.
	if _, _, err := db.PutTemplateVersion(ctx, "answer", v1, "someone", t0.Add(time.Hour), false); err != nil || gen() != g1 {
		t.Errorf("re-put of a stored text: %v, generation %d → %d", err, g1, gen())
	}
	h2, prev, err := db.PutTemplateVersion(ctx, "answer", v2, "key_1", t0.Add(time.Minute), true)
	if err != nil || prev != "" {
		t.Fatalf("put v2: %q %v", prev, err)
	}
	if gen() <= g1 {
		t.Error("activating did not move the generation")
	}
	prev, err = db.ActivateTemplate(ctx, "answer", h1, "key_2", t0.Add(2*time.Minute))
	if err != nil || prev != h2 {
		t.Fatalf("roll back: %q %v", prev, err)
	}
	if _, err := db.ActivateTemplate(ctx, "answer", hashText("nope"), "key_2", t0); sextant.ErrorCode(err) != sextant.ENOTFOUND {
		t.Errorf("activate an unknown version: %v", err)
	}
	if _, _, err := db.PutTemplateVersion(ctx, "", v1, "x", t0, true); sextant.ErrorCode(err) != sextant.EINVALID {
		t.Errorf("put without a name: %v", err)
	}

	if _, err := db.PutAssistantSpec(ctx, AssistantSpec{Name: "hr", Spec: []byte(`{"model":"extractive"}`), UpdatedAt: t0, UpdatedBy: "key_1"}); err != nil {
		t.Fatal(err)
	}
	prevA, err := db.PutAssistantSpec(ctx, AssistantSpec{Name: "hr", Spec: []byte(`{"model":"gpt"}`), UpdatedAt: t0.Add(time.Minute), UpdatedBy: "key_2"})
	if err != nil || prevA == nil || string(prevA.Spec) != `{"model":"extractive"}` || prevA.UpdatedBy != "key_1" {
		t.Fatalf("replace: %+v %v", prevA, err)
	}
	if _, err := db.PutAssistantSpec(ctx, AssistantSpec{Name: "legal", Spec: []byte(`{}`), UpdatedAt: t0, UpdatedBy: "cli"}); err != nil {
		t.Fatal(err)
	}
	g2 := gen()
	if _, err := db.DeleteAssistantSpec(ctx, "legal"); err != nil || gen() <= g2 {
		t.Errorf("delete: %v", err)
	}
	if _, err := db.DeleteAssistantSpec(ctx, "legal"); sextant.ErrorCode(err) != sextant.ENOTFOUND {
		t.Errorf("delete twice: %v", err)
	}
	db.Close()

	// After a restart everything is there.
	if db, err = Open(ctx, dir, Options{}); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	vs, err := db.TemplateVersions(ctx, "answer")
	if err != nil {
		t.Fatal(err)
	}
	want := []TemplateVersion{
		{Name: "answer", Hash: h2, Body: v2, CreatedAt: t0.Add(time.Minute), CreatedBy: "key_1"},
		{Name: "answer", Hash: h1, Body: v1, CreatedAt: t0, CreatedBy: "builtin", Active: true},
	}
	if diff := cmp.Diff(want, vs); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}
	act, err := db.ActiveTemplates(ctx)
	if err != nil || len(act) != 1 || act[0].Hash != h1 || !act[0].Active {
		t.Errorf("active: %+v %v", act, err)
	}
	if body, err := db.TemplateVersionText(ctx, "answer", h2); err != nil || body != v2 {
		t.Errorf("version text: %q %v", body, err)
	}
	if _, err := db.TemplateVersionText(ctx, "answer", hashText("x")); sextant.ErrorCode(err) != sextant.ENOTFOUND {
		t.Errorf("unknown version text: %v", err)
	}
	if vs, err := db.TemplateVersions(ctx, "nope"); err != nil || len(vs) != 0 {
		t.Errorf("versions of an unknown name: %v %v", vs, err)
	}
	specs, err := db.AssistantSpecs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]AssistantSpec{{Name: "hr", Spec: []byte(`{"model":"gpt"}`), UpdatedAt: t0.Add(time.Minute), UpdatedBy: "key_2"}}, specs); diff != "" {
		t.Errorf("assistants (-want +got):\n%s", diff)
	}
}

// The migration adds its tables to a store made before it, keeping what
// the store holds.
func TestPromptsMigration(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	migs, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	// A store at schema 7, as the previous release left it.
	db := &DB{path: dir + "/" + FileName}
	w, err := sql.Open("sqlite", dsn(db.path, nil))
	if err != nil {
		t.Fatal(err)
	}
	w.SetMaxOpenConns(1)
	db.write = w
	var before []migration
	for _, m := range migs {
		if m.version < 8 {
			before = append(before, m)
		}
	}
	if err := db.migrate(ctx, before, time.Now); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ExecContext(ctx, `INSERT INTO eval_verdicts (key, verdict, created_at) VALUES ('k', '{}', 1)`); err != nil {
		t.Fatal(err)
	}
	w.Close()
	full, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	if v, _ := full.SchemaVersion(ctx); v != len(migs) {
		t.Errorf("schema version %d, want %d", v, len(migs))
	}
	if _, ok, err := full.Verdict(ctx, "k"); err != nil || !ok {
		t.Errorf("data before the migration: %v %v", ok, err)
	}
	if g, err := full.PromptGeneration(ctx); err != nil || g != 0 {
		t.Errorf("prompt generation %d, %v", g, err)
	}
}
