package sqlite

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sextant-ai/sextant"
)

func TestQuarantine(t *testing.T) {
	ctx := t.Context()
	db := openTest(t)
	q := &sextant.Quarantine{DocumentID: "d1", Tenant: "t", ChunkID: "d1#0", Score: 0.93, Reason: "indirect injection", Excerpt: "ignore…", CreatedAt: t0}
	if err := db.Quarantine(ctx, q); err != nil {
		t.Fatal(err)
	}
	// A second finding in the same document keeps the first.
	if err := db.Quarantine(ctx, &sextant.Quarantine{DocumentID: "d1", ChunkID: "d1#3", Score: 0.99, CreatedAt: t0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := db.Quarantine(ctx, &sextant.Quarantine{DocumentID: "d2", Tenant: "u", ChunkID: "d2#1", Score: 0.8, CreatedAt: t0.Add(2 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	ids, err := db.ActiveQuarantines(ctx)
	if err != nil || !cmp.Equal(ids, []string{"d1", "d2"}) {
		t.Fatalf("active = %v, %v", ids, err)
	}
	list, err := db.Quarantines(ctx, QuarantineFilter{Tenant: "t"})
	if err != nil || len(list) != 1 || list[0].ChunkID != "d1#0" || !list[0].CreatedAt.Equal(t0) || !list[0].Active() {
		t.Fatalf("list = %+v, %v", list, err)
	}
	rel, err := db.ReleaseQuarantine(ctx, "d1", "alice", "false positive: a security manual", t0.Add(time.Hour))
	if err != nil || rel.ReleasedBy != "alice" || !rel.ReleasedAt.Equal(t0.Add(time.Hour)) || rel.Active() {
		t.Fatalf("release = %+v, %v", rel, err)
	}
	if _, err := db.ReleaseQuarantine(ctx, "d1", "alice", "", time.Time{}); sextant.ErrorCode(err) != sextant.ENOTFOUND {
		t.Errorf("second release: %v", err)
	}
	if ids, _ := db.ActiveQuarantines(ctx); !cmp.Equal(ids, []string{"d2"}) {
		t.Errorf("active after release = %v", ids)
	}
	if s, err := db.Stats(ctx, t0); err != nil || s.Quarantined != 1 {
		t.Errorf("Stats after release: %d quarantined, %v; want 1", s.Quarantined, err)
	}
	all, _ := db.Quarantines(ctx, QuarantineFilter{Tenant: "*", All: true})
	if len(all) != 2 {
		t.Errorf("history = %+v", all)
	}
	// Quarantined again after a release: a new active record.
	if err := db.Quarantine(ctx, &sextant.Quarantine{DocumentID: "d1", ChunkID: "d1#5", CreatedAt: t0.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if ids, _ := db.ActiveQuarantines(ctx); !cmp.Equal(ids, []string{"d1", "d2"}) {
		t.Errorf("active after re-quarantine = %v", ids)
	}
}

func TestApprovals(t *testing.T) {
	ctx := t.Context()
	db := openTest(t)
	a := &sextant.Approval{ID: "apr_01", Kind: sextant.ApprovalToolCall, Tenant: "t", Principal: "bob", Assistant: "ops",
		Model: "m", SessionID: "s1", AnswerID: "a1", Tool: "send_payment", CallID: "call_1", Arguments: `{"to":"[IBAN_1]"}`,
		Question: "pay", Key: "call:call_1", Reason: "critical", Rule: "tool.critical", Status: sextant.ApprovalPending, CreatedAt: t0}
	if err := db.PutApproval(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := db.PutApproval(ctx, a); sextant.ErrorCode(err) != sextant.ECONFLICT {
		t.Errorf("duplicate: %v", err)
	}
	if err := db.PutApproval(ctx, &sextant.Approval{ID: "x", Kind: "other", Status: sextant.ApprovalPending}); sextant.ErrorCode(err) != sextant.EINVALID {
		t.Errorf("bad kind: %v", err)
	}
	got, err := db.Approval(ctx, "apr_01")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if _, err := db.Approval(ctx, "nope"); sextant.ErrorCode(err) != sextant.ENOTFOUND {
		t.Errorf("unknown: %v", err)
	}
	byKey, err := db.ApprovalByKey(ctx, "t", "call:call_1")
	if err != nil || byKey.ID != "apr_01" {
		t.Errorf("by key = %+v, %v", byKey, err)
	}
	if _, err := db.ApprovalByKey(ctx, "other", "call:call_1"); sextant.ErrorCode(err) != sextant.ENOTFOUND {
		t.Errorf("other tenant by key: %v", err)
	}
	// Using a pending approval is a conflict; deciding is once only.
	if err := db.UseApproval(ctx, "apr_01", t0); sextant.ErrorCode(err) != sextant.ECONFLICT {
		t.Errorf("use pending: %v", err)
	}
	d, err := db.DecideApproval(ctx, "apr_01", sextant.ApprovalApproved, "carol", "ok", t0.Add(time.Minute))
	if err != nil || d.Status != sextant.ApprovalApproved || d.DecidedBy != "carol" || !d.DecidedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("decide = %+v, %v", d, err)
	}
	if _, err := db.DecideApproval(ctx, "apr_01", sextant.ApprovalRejected, "dave", "", time.Time{}); sextant.ErrorCode(err) != sextant.ECONFLICT {
		t.Errorf("second decision: %v", err)
	}
	if _, err := db.DecideApproval(ctx, "apr_01", "maybe", "dave", "", time.Time{}); sextant.ErrorCode(err) != sextant.EINVALID {
		t.Errorf("bad status: %v", err)
	}
	if err := db.UseApproval(ctx, "apr_01", t0.Add(2*time.Minute)); err != nil {
		t.Errorf("use: %v", err)
	}
	if err := db.UseApproval(ctx, "apr_01", t0.Add(3*time.Minute)); sextant.ErrorCode(err) != sextant.ECONFLICT {
		t.Errorf("use twice: %v", err)
	}
	for i, id := range []string{"apr_02", "apr_03"} {
		if err := db.PutApproval(ctx, &sextant.Approval{ID: id, Kind: sextant.ApprovalRequest, Tenant: "t", Principal: "eve",
			Status: sextant.ApprovalPending, CreatedAt: t0.Add(time.Duration(i+1) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(as []sextant.Approval) (out []string) {
		for _, a := range as {
			out = append(out, a.ID)
		}
		return out
	}
	all, err := db.ListApprovals(ctx, sextant.ApprovalFilter{Tenant: "t"})
	if err != nil || !cmp.Equal(ids(all), []string{"apr_03", "apr_02", "apr_01"}) {
		t.Errorf("all = %v, %v", ids(all), err)
	}
	pending, _ := db.ListApprovals(ctx, sextant.ApprovalFilter{Tenant: "t", Status: sextant.ApprovalPending, Limit: 1})
	if !cmp.Equal(ids(pending), []string{"apr_03"}) {
		t.Errorf("pending, limit 1 = %v", ids(pending))
	}
	page, _ := db.ListApprovals(ctx, sextant.ApprovalFilter{Tenant: "t", Before: "apr_03", Principal: "eve"})
	if !cmp.Equal(ids(page), []string{"apr_02"}) {
		t.Errorf("before apr_03, eve's = %v", ids(page))
	}
	if _, err := db.ListApprovals(ctx, sextant.ApprovalFilter{Status: "done"}); sextant.ErrorCode(err) != sextant.EINVALID {
		t.Errorf("bad status filter: %v", err)
	}
}
