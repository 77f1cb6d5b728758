package sqlite

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/audit"
)

func auditKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func auditEvent(i int) sextant.AuditEvent {
	kinds := []sextant.AuditKind{sextant.AuditAdmin, sextant.AuditAnswer, sextant.AuditAuth}
	return sextant.AuditEvent{Kind: kinds[i%3], Actor: "key_a", Tenant: "acme", RequestID: fmt.Sprintf("req-%d", i),
		Payload: map[string]any{"i": i}}
}

// fillAudit appends n records through an audit.Log (checkpoint every 10).
func fillAudit(t *testing.T, db *DB, n int, key ed25519.PrivateKey, now func() time.Time) {
	t.Helper()
	ctx := context.Background()
	l := audit.Open(db, audit.Options{Key: key, CheckpointEvery: 10, CheckpointInterval: time.Hour, Now: now})
	for i := range n {
		if _, err := l.Append(ctx, auditEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func verifyAudit(t *testing.T, db *DB, key ed25519.PrivateKey) audit.Report {
	t.Helper()
	opts := audit.VerifyOptions{}
	if key != nil {
		opts.PublicKeys = []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}
	}
	rep, err := audit.Verify(context.Background(), db, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestAuditStore(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	if h, err := db.AuditHead(ctx); err != nil || h != (sextant.AuditHead{}) {
		t.Fatalf("empty head = %+v, %v", h, err)
	}
	if rep := verifyAudit(t, db, nil); !rep.OK() || rep.Records != 0 {
		t.Fatalf("empty log: %+v", rep)
	}
	key := auditKey(t)
	i := 0
	now := func() time.Time { i++; return t0.Add(time.Duration(i) * time.Minute) }
	fillAudit(t, db, 25, key, now)
	rep := verifyAudit(t, db, key)
	if !rep.OK() || rep.Records != 25 || rep.Checkpoints != 3 || rep.LastCheckpoint != 25 {
		t.Fatalf("report %+v", rep)
	}
	h, err := db.AuditHead(ctx)
	if err != nil || h.Seq != 25 || h.CheckpointSeq != 25 {
		t.Fatalf("head %+v, %v", h, err)
	}
	var recs []sextant.AuditRecord
	for r, err := range db.AuditRecords(ctx, 20) {
		if err != nil {
			t.Fatal(err)
		}
		r.Payload = bytes.Clone(r.Payload) // valid until the next iteration only
		recs = append(recs, r)
	}
	if len(recs) != 6 || recs[0].Seq != 20 || recs[0].RequestID != "req-19" || string(recs[0].Payload) != `{"i":19}` {
		t.Fatalf("records from 20: %d, first %+v", len(recs), recs[0])
	}
	if h.Hash != recs[5].Hash || !h.Time.Equal(recs[5].Time) {
		t.Errorf("head %+v does not match the last record", h)
	}
	seq, err := db.AuditSeqAt(ctx, recs[2].Time)
	if err != nil || seq != 22 {
		t.Errorf("AuditSeqAt = %d, %v; want 22", seq, err)
	}
	if seq, err := db.AuditSeqAt(ctx, t0.Add(1000*time.Hour)); err != nil || seq != 26 {
		t.Errorf("AuditSeqAt(after the end) = %d, %v; want 26", seq, err)
	}
	// By request id: the record with its payload, nothing for an unknown id.
	byReq, err := db.AuditByRequest(ctx, "req-19")
	if err != nil || len(byReq) != 1 || byReq[0].Seq != 20 || string(byReq[0].Payload) != `{"i":19}` || byReq[0].Hash != recs[0].Hash {
		t.Errorf("AuditByRequest(req-19) = %+v, %v", byReq, err)
	}
	for _, id := range []string{"req-999", ""} {
		if got, err := db.AuditByRequest(ctx, id); err != nil || len(got) != 0 {
			t.Errorf("AuditByRequest(%q) = %+v, %v; want none", id, got, err)
		}
	}

	// Export through the store round-trips and verifies.
	var buf bytes.Buffer
	if n, err := audit.Export(ctx, db, &buf, audit.ExportOptions{}); err != nil || n != 25 {
		t.Fatalf("export: %d, %v", n, err)
	}
	if rep, err := audit.VerifyExport(ctx, &buf, audit.VerifyOptions{}); err != nil || !rep.OK() || rep.Records != 25 {
		t.Fatalf("verify export: %+v %v", rep, err)
	}
	buf.Reset()
	if n, err := audit.Export(ctx, db, &buf, audit.ExportOptions{Since: recs[2].Time}); err != nil || n != 4 {
		t.Fatalf("export --since: %d, %v", n, err)
	}
}

// TestAuditAppendOnly: the schema refuses deletes and changes, except a
// payload turning into a tombstone once.
func TestAuditAppendOnly(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	fillAudit(t, db, 12, auditKey(t), nil)
	for _, q := range []string{
		`DELETE FROM audit_log WHERE seq = 3`,
		`UPDATE audit_log SET actor = 'x' WHERE seq = 3`,
		`UPDATE audit_log SET seq = 100 WHERE seq = 3`,
		`UPDATE audit_log SET hash = x'00' WHERE seq = 3`,
		`UPDATE audit_log SET payload = '{}' WHERE seq = 3`,
		`UPDATE audit_log SET payload = NULL WHERE seq = 3`, // a tombstone needs purged_at
		`DELETE FROM audit_checkpoints`,
		`UPDATE audit_checkpoints SET seq = 1`,
	} {
		if _, err := db.write.ExecContext(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v; want refused as append-only", q, err)
		}
	}
	n, err := db.PurgeAudit(ctx, sextant.AuditAnswer, time.Now().Add(time.Hour), t0)
	if err != nil || n != 4 {
		t.Fatalf("PurgeAudit = %d, %v; want 4", n, err)
	}
	if _, err := db.write.ExecContext(ctx, `UPDATE audit_log SET payload = '{}', purged_at = NULL WHERE seq = 2`); err == nil {
		t.Error("a tombstone was revived")
	}
	if n, err := db.PurgeAudit(ctx, sextant.AuditAnswer, time.Now().Add(time.Hour), t0); err != nil || n != 0 {
		t.Errorf("second purge = %d, %v; want 0", n, err)
	}
	rep := verifyAudit(t, db, nil)
	if !rep.OK() || rep.Tombstones != 4 {
		t.Fatalf("after purge: %+v", rep)
	}
}

// TestAuditTamperSQL tampers with the database as someone holding the file
// would (triggers dropped first) and checks Verify names the first bad
// record.
func TestAuditTamperSQL(t *testing.T) {
	cases := []struct {
		name    string
		sql     []string
		wantSeq int64
		want    string
	}{
		{"edit payload", []string{`UPDATE audit_log SET payload = '{"i":99}' WHERE seq = 7`}, 7, "payload does not match"},
		{"edit hash", []string{`UPDATE audit_log SET hash = randomblob(32) WHERE seq = 7`}, 7, "hash does not match its contents"},
		{"short hash", []string{`UPDATE audit_log SET hash = x'01' WHERE seq = 7`}, 7, "record 7 "},
		{"delete", []string{`DELETE FROM audit_log WHERE seq = 7`}, 7, "record 7 is missing"},
		{"insert copy", []string{
			`UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 7`,
			`UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1007`,
			`INSERT INTO audit_log SELECT 7, time, kind, 'intruder', tenant, request_id, payload, payload_hash, prev_hash, hash, purged_at FROM audit_log WHERE seq = 6`,
		}, 7, "record 7 does not link to record 6"},
		{"insert chained", []string{
			`UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 7`,
			`UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1007`,
			`INSERT INTO audit_log VALUES (7, (SELECT time FROM audit_log WHERE seq = 6), 'admin', 'intruder', '', '', '{}', ?payloadhash, (SELECT hash FROM audit_log WHERE seq = 6), ?hash, NULL)`,
		}, 7, "record 7 was inserted"},
		{"reorder", []string{
			`UPDATE audit_log SET seq = -1 WHERE seq = 7`,
			`UPDATE audit_log SET seq = 7 WHERE seq = 12`,
			`UPDATE audit_log SET seq = 12 WHERE seq = -1`,
		}, 7, "record 7 does not link to record 6"},
		{"truncate", []string{`DELETE FROM audit_log WHERE seq > 14`}, 15, "records 15 to 25 were removed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := openTest(t)
			key := auditKey(t)
			fillAudit(t, db, 25, key, nil)
			ctx := context.Background()
			for _, q := range append([]string{
				`DROP TRIGGER audit_log_no_delete`, `DROP TRIGGER audit_log_no_update`, `DROP TRIGGER audit_log_tombstone_only`,
			}, c.sql...) {
				if strings.Contains(q, "?hash") {
					q = chainedInsert(t, db, q)
				}
				if _, err := db.write.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			rep := verifyAudit(t, db, key)
			if rep.OK() {
				t.Fatalf("not detected: %+v", rep)
			}
			if rep.Problem.Seq != c.wantSeq || !strings.Contains(rep.Problem.Reason, c.want) {
				t.Errorf("problem = %d %q; want %d, containing %q", rep.Problem.Seq, rep.Problem.Reason, c.wantSeq, c.want)
			}
		})
	}
}

// TestAuditTwoProcesses: two store handles on one file (a server and a CLI)
// append concurrently; the chain stays whole.
func TestAuditTwoProcesses(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	key := auditKey(t)
	var dbs []*DB
	for range 2 {
		db, err := Open(ctx, dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		dbs = append(dbs, db)
	}
	var wg sync.WaitGroup
	for w, db := range dbs {
		l := audit.Open(db, audit.Options{Key: key, CheckpointEvery: 7})
		for g := range 4 {
			wg.Go(func() {
				for i := range 25 {
					if _, err := l.Append(ctx, auditEvent(w*1000+g*100+i)); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		defer l.Close(ctx)
	}
	wg.Wait()
	rep := verifyAudit(t, dbs[0], key)
	if !rep.OK() || rep.Records != 200 {
		t.Fatalf("%+v", rep)
	}
	var got []string
	for r, err := range dbs[1].AuditRecords(ctx, 1) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.RequestID)
	}
	seen := map[string]bool{}
	for _, id := range got {
		seen[id] = true
	}
	if len(seen) != 200 {
		t.Errorf("%d distinct request ids; want 200", len(seen))
	}
	if diff := cmp.Diff(200, len(got)); diff != "" {
		t.Error(diff)
	}
}

// chainedInsert fills ?payloadhash and ?hash into an INSERT of record 7
// so that it links correctly to record 6: an insertion made by someone
// who knows how the chain is computed.
func chainedInsert(t *testing.T, db *DB, q string) string {
	t.Helper()
	var prev sextant.AuditRecord
	for r, err := range db.AuditRecords(context.Background(), 6) {
		if err != nil {
			t.Fatal(err)
		}
		prev = r
		break
	}
	r := sextant.AuditRecord{Seq: 7, Time: prev.Time, Kind: "admin", Actor: "intruder", Payload: []byte("{}"), PrevHash: prev.Hash}
	r.PayloadHash = audit.PayloadHash(r.Payload)
	r.Hash = audit.RecordHash(&r)
	q = strings.Replace(q, "?payloadhash", fmt.Sprintf("x'%x'", r.PayloadHash), 1)
	return strings.Replace(q, "?hash", fmt.Sprintf("x'%x'", r.Hash), 1)
}
