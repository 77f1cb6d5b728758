package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/audit"
)

// clock is a deterministic clock that advances one millisecond per call.
type clock struct{ n atomic.Int64 }

func (c *clock) Now() time.Time {
	return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(c.n.Add(1)) * time.Millisecond)
}

func newKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pub(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

func event(i int) sextant.AuditEvent {
	kinds := []sextant.AuditKind{sextant.AuditAdmin, sextant.AuditAnswer, sextant.AuditAuth, sextant.AuditPolicy}
	return sextant.AuditEvent{Kind: kinds[i%len(kinds)], Actor: fmt.Sprintf("key_%d", i%3), Tenant: "acme",
		RequestID: fmt.Sprintf("req-%d", i), Payload: map[string]any{"i": i, "note": fmt.Sprintf("event %d <b>&", i)}}
}

// filled returns a store holding n records appended one per batch, with a
// checkpoint every 10 records and a final one at Close.
func filled(t *testing.T, n int, key ed25519.PrivateKey) *memStore {
	t.Helper()
	st := &memStore{}
	c := &clock{}
	l := audit.Open(st, audit.Options{Key: key, CheckpointEvery: 10, CheckpointInterval: time.Hour, Now: c.Now})
	ctx := context.Background()
	for i := range n {
		seq, err := l.Append(ctx, event(i))
		if err != nil {
			t.Fatal(err)
		}
		if seq != int64(i+1) {
			t.Fatalf("Append %d returned seq %d", i, seq)
		}
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

func verify(t *testing.T, st *memStore, opts audit.VerifyOptions) audit.Report {
	t.Helper()
	rep, err := audit.Verify(context.Background(), st, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestAppendVerify(t *testing.T) {
	key := newKey(t)
	st := filled(t, 45, key)
	rep := verify(t, st, audit.VerifyOptions{PublicKeys: []ed25519.PublicKey{pub(key)}})
	if !rep.OK() {
		t.Fatalf("fresh log does not verify: %v", rep.Problem)
	}
	want := audit.Report{Records: 45, First: 1, Last: 45, Checkpoints: 5, LastCheckpoint: 45}
	if diff := cmp.Diff(want, rep); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	for _, w := range []int{2, 3, 7, 22, 100} {
		rep, err := audit.Verify(context.Background(), headStore{st}, audit.VerifyOptions{Workers: w})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, rep); diff != "" {
			t.Errorf("%d workers: report (-want +got):\n%s", w, diff)
		}
	}
	var cpSeqs []int64
	for _, cp := range st.cps {
		cpSeqs = append(cpSeqs, cp.Seq)
	}
	if diff := cmp.Diff([]int64{10, 20, 30, 40, 45}, cpSeqs); diff != "" {
		t.Errorf("checkpoints (-want +got):\n%s", diff)
	}
	r := st.recs[3]
	if r.Kind != sextant.AuditPolicy || r.Actor != "key_0" || r.Tenant != "acme" || r.RequestID != "req-3" {
		t.Errorf("record 4 = %+v", r)
	}
	if got := string(r.Payload); got != `{"i":3,"note":"event 3 <b>&"}` {
		t.Errorf("payload = %s; want canonical JSON without HTML escapes", got)
	}
	for i := 1; i < len(st.recs); i++ {
		if st.recs[i].Time.Before(st.recs[i-1].Time) {
			t.Fatalf("record %d time goes backwards", i+1)
		}
	}
}

// TestTamper changes a verified log in every way the audit log must catch
// and checks Verify names the first bad record.
func TestTamper(t *testing.T) {
	key := newKey(t)
	other := newKey(t)
	rehash := func(st *memStore, from int) {
		for i := from; i < len(st.recs); i++ {
			r := &st.recs[i]
			if i > 0 {
				r.PrevHash = st.recs[i-1].Hash
			}
			r.Hash = audit.RecordHash(r)
		}
	}
	cases := []struct {
		name   string
		tamper func(st *memStore)
		want   audit.Problem // Reason is matched as a substring
		pinned bool          // verify with the key pinned
	}{
		{"edit payload", func(st *memStore) { st.recs[16].Payload = []byte(`{"i":999}`) },
			audit.Problem{Seq: 17, Reason: "payload does not match"}, false},
		{"edit payload and its hash", func(st *memStore) {
			st.recs[16].Payload = []byte(`{"i":999}`)
			st.recs[16].PayloadHash = audit.PayloadHash(st.recs[16].Payload)
		}, audit.Problem{Seq: 17, Reason: "hash does not match its contents"}, false},
		{"edit actor", func(st *memStore) { st.recs[16].Actor = "key_admin" },
			audit.Problem{Seq: 17, Reason: "hash does not match its contents"}, false},
		{"edit time", func(st *memStore) { st.recs[16].Time = st.recs[16].Time.Add(time.Second) },
			audit.Problem{Seq: 17, Reason: "hash does not match its contents"}, false},
		{"edit hash", func(st *memStore) { st.recs[16].Hash[0] ^= 1 },
			audit.Problem{Seq: 17, Reason: "hash does not match its contents"}, false},
		{"edit hash and relink successor", func(st *memStore) {
			st.recs[16].Hash[0] ^= 1
			st.recs[17].PrevHash = st.recs[16].Hash
		}, audit.Problem{Seq: 17, Reason: "hash does not match its contents"}, false},
		{"delete record", func(st *memStore) { st.recs = slices.Delete(st.recs, 16, 17) },
			audit.Problem{Seq: 17, Reason: "record 17 is missing"}, false},
		{"delete a run of records", func(st *memStore) { st.recs = slices.Delete(st.recs, 11, 26) },
			audit.Problem{Seq: 12, Reason: "record 12 is missing"}, false},
		{"delete the first records", func(st *memStore) { st.recs = st.recs[3:] },
			audit.Problem{Seq: 1, Reason: "record 1 is missing"}, false},
		{"delete record and renumber", func(st *memStore) {
			st.recs = slices.Delete(st.recs, 16, 17)
			for i := 16; i < len(st.recs); i++ {
				st.recs[i].Seq--
			}
		}, audit.Problem{Seq: 17, Reason: "does not link to record 16"}, false},
		{"insert chained record and renumber", func(st *memStore) {
			ins := st.recs[16]
			ins.Actor, ins.PrevHash = "intruder", st.recs[15].Hash
			ins.Hash = audit.RecordHash(&ins)
			st.recs = slices.Insert(st.recs, 16, ins)
			for i := 17; i < len(st.recs); i++ {
				st.recs[i].Seq++
			}
		}, audit.Problem{Seq: 17, Reason: "record 17 was inserted"}, false},
		{"insert unchained record", func(st *memStore) {
			ins := st.recs[16]
			ins.Actor = "intruder"
			st.recs = slices.Insert(st.recs, 16, ins)
			for i := 17; i < len(st.recs); i++ {
				st.recs[i].Seq++
			}
		}, audit.Problem{Seq: 17, Reason: "record 17 was changed"}, false},
		{"reorder two records", func(st *memStore) {
			st.recs[16].Seq, st.recs[22].Seq = st.recs[22].Seq, st.recs[16].Seq
			slices.SortFunc(st.recs, func(a, b sextant.AuditRecord) int { return int(a.Seq - b.Seq) })
		}, audit.Problem{Seq: 17, Reason: "does not link to record 16"}, false},
		{"swap adjacent contents", func(st *memStore) {
			st.recs[16], st.recs[17] = st.recs[17], st.recs[16]
		}, audit.Problem{Seq: 17, Reason: "record 17 is missing from its place"}, false},
		{"remove payload without tombstone", func(st *memStore) { st.recs[16].Payload = nil },
			audit.Problem{Seq: 17, Reason: "never purged"}, false},
		{"truncate tail behind checkpoint", func(st *memStore) { st.recs = st.recs[:33] },
			audit.Problem{Seq: 34, Reason: "records 34 to 45 were removed"}, false},
		{"truncate to empty", func(st *memStore) { st.recs = nil },
			audit.Problem{Seq: 1, Reason: "records 1 to 45 were removed"}, false},
		{"rewrite chain", func(st *memStore) {
			st.recs[16].Payload = []byte(`{"i":999}`)
			st.recs[16].PayloadHash = audit.PayloadHash(st.recs[16].Payload)
			rehash(st, 16)
		}, audit.Problem{Seq: 11, Through: 20, Reason: "chain was rewritten"}, false},
		{"rewrite chain and re-sign with another key", func(st *memStore) {
			st.recs[16].Actor = "nobody"
			rehash(st, 16)
			for i := range st.cps {
				if st.cps[i].Seq >= 20 {
					r := st.recs[st.cps[i].Seq-1]
					st.cps[i] = audit.Sign(other, r.Seq, r.Hash, st.cps[i].Time)
				}
			}
		}, audit.Problem{Seq: 20, Checkpoint: true, Reason: "not a trusted key"}, true},
		{"edit checkpoint signature", func(st *memStore) { st.cps[1].Signature[5] ^= 1 },
			audit.Problem{Seq: 20, Checkpoint: true, Reason: "invalid signature"}, false},
		{"edit checkpoint hash", func(st *memStore) { st.cps[1].Hash[5] ^= 1 },
			audit.Problem{Seq: 20, Checkpoint: true, Reason: "invalid signature"}, false},
	}
	// Each case runs with one sequential pass and with the log split into
	// 2, 3, 4 and 7 segments verified in parallel (boundaries fall next to
	// and on the tampered records); the answer must not change.
	for _, c := range cases {
		for _, workers := range []int{1, 2, 3, 4, 7} {
			t.Run(fmt.Sprintf("%s/workers=%d", c.name, workers), func(t *testing.T) {
				st := filled(t, 45, key)
				if rep := verify(t, st, audit.VerifyOptions{}); !rep.OK() {
					t.Fatalf("before tampering: %v", rep.Problem)
				}
				c.tamper(st)
				opts := audit.VerifyOptions{Workers: workers}
				if c.pinned {
					opts.PublicKeys = []ed25519.PublicKey{pub(key)}
				}
				rep, err := audit.Verify(context.Background(), headStore{st}, opts)
				if err != nil {
					t.Fatal(err)
				}
				if rep.OK() {
					t.Fatalf("tampering not detected: %+v", rep)
				}
				p := *rep.Problem
				if !strings.Contains(p.Reason, c.want.Reason) {
					t.Errorf("reason %q does not contain %q", p.Reason, c.want.Reason)
				}
				p.Reason = c.want.Reason
				if diff := cmp.Diff(c.want, p); diff != "" {
					t.Errorf("problem (-want +got):\n%s\n(reason: %s)", diff, rep.Problem.Reason)
				}
			})
		}
	}
}

// TestUnpinnedResign documents the limit of an unpinned verification:
// someone holding the signing key can rewrite everything. Pinning the
// public key elsewhere is what rules that out (see TestTamper).
func TestUnpinnedResign(t *testing.T) {
	key, other := newKey(t), newKey(t)
	st := filled(t, 25, key)
	st.recs[5].Actor = "nobody"
	for i := 5; i < len(st.recs); i++ {
		r := &st.recs[i]
		r.PrevHash = st.recs[i-1].Hash
		r.Hash = audit.RecordHash(r)
	}
	for i := range st.cps {
		r := st.recs[st.cps[i].Seq-1]
		st.cps[i] = audit.Sign(other, r.Seq, r.Hash, st.cps[i].Time)
	}
	if rep := verify(t, st, audit.VerifyOptions{}); !rep.OK() {
		t.Fatalf("a consistently re-signed log should verify without a pinned key: %v", rep.Problem)
	}
	rep := verify(t, st, audit.VerifyOptions{PublicKeys: []ed25519.PublicKey{pub(key)}})
	if rep.OK() || rep.Problem.Seq != 10 || !rep.Problem.Checkpoint {
		t.Fatalf("pinned key: want the checkpoint at 10 rejected, got %+v", rep.Problem)
	}
}

func TestCheckpointWrongKey(t *testing.T) {
	key := newKey(t)
	st := filled(t, 12, key)
	rep := verify(t, st, audit.VerifyOptions{PublicKeys: []ed25519.PublicKey{pub(newKey(t))}})
	if rep.OK() || rep.Problem.Seq != 10 || !rep.Problem.Checkpoint || !strings.Contains(rep.Problem.Reason, "not a trusted key") {
		t.Fatalf("wrong key: got %+v", rep.Problem)
	}
	cp := st.cps[0]
	if !audit.VerifyCheckpoint(pub(key), &cp) {
		t.Fatal("checkpoint does not verify with its own key")
	}
	if audit.VerifyCheckpoint(pub(newKey(t)), &cp) {
		t.Fatal("checkpoint verifies with another key")
	}
	cp.Seq++
	if audit.VerifyCheckpoint(pub(key), &cp) {
		t.Fatal("checkpoint verifies after its seq changed")
	}
}

func TestUnsignedLog(t *testing.T) {
	st := filled(t, 7, nil)
	rep := verify(t, st, audit.VerifyOptions{})
	if !rep.OK() || rep.Checkpoints != 0 || rep.Unsigned() != 7 || len(st.cps) != 0 {
		t.Fatalf("unsigned log: %+v, %d checkpoints", rep, len(st.cps))
	}
}

func TestRetentionTombstones(t *testing.T) {
	key := newKey(t)
	st := &memStore{}
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clk := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	l := audit.Open(st, audit.Options{Key: key, CheckpointEvery: 4, Now: clk})
	ctx := context.Background()
	for i := range 12 {
		if _, err := l.Append(ctx, event(i)); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		now = now.Add(24 * time.Hour)
		mu.Unlock()
	}
	// Records are 0..11 days old relative to day 12: keep answers 5 days,
	// auth 100 days; admin and policy forever.
	got, err := l.Purge(ctx, audit.Retention{sextant.AuditAnswer: 5 * 24 * time.Hour, sextant.AuditAuth: 100 * 24 * time.Hour}, "ops")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[sextant.AuditKind]int64{sextant.AuditAnswer: 2, sextant.AuditAuth: 0}, got); diff != "" {
		t.Errorf("purged (-want +got):\n%s", diff)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{1, 5} {
		if r := st.recs[i]; r.Payload != nil || r.PurgedAt.IsZero() {
			t.Errorf("record %d (answer, %d days old) not tombstoned: %+v", r.Seq, 12-i, r)
		}
	}
	if r := st.recs[9]; r.Payload == nil {
		t.Errorf("record 10 (answer, 3 days old) purged")
	}
	last := st.recs[len(st.recs)-1]
	if last.Kind != sextant.AuditAdmin || last.Actor != "ops" || !bytes.Contains(last.Payload, []byte(`"action":"audit.purge"`)) {
		t.Errorf("purge not recorded: %+v %s", last, last.Payload)
	}
	rep := verify(t, st, audit.VerifyOptions{PublicKeys: []ed25519.PublicKey{pub(key)}})
	if !rep.OK() || rep.Tombstones != 2 || rep.Records != 13 {
		t.Fatalf("after purge: %+v", rep)
	}
	// A tombstone whose payload hash was changed is still caught.
	st.recs[1].PayloadHash[0] ^= 1
	if rep := verify(t, st, audit.VerifyOptions{}); rep.OK() || rep.Problem.Seq != 2 {
		t.Fatalf("tampered tombstone: %+v", rep.Problem)
	}
	if _, err := audit.ParseRetention([]string{"answer=0d"}); err == nil {
		t.Error("zero retention accepted")
	}
}

func TestParseRetention(t *testing.T) {
	r, err := audit.ParseRetention([]string{"answer=90d", " auth = 720h"})
	if err != nil {
		t.Fatal(err)
	}
	want := audit.Retention{sextant.AuditAnswer: 90 * 24 * time.Hour, sextant.AuditAuth: 720 * time.Hour}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, bad := range []string{"answer", "=1d", "Answer=1d", "answer=-1h", "answer=xd", "answer=", "answer=1y"} {
		if _, err := audit.ParseRetention([]string{bad}); sextant.ErrorCode(err) != sextant.EINVALID {
			t.Errorf("ParseRetention(%q) = %v; want EINVALID", bad, err)
		}
	}
}

func TestRedactPayload(t *testing.T) {
	st := &memStore{}
	redact := func(s string) string { return strings.ReplaceAll(s, "alice@example.com", "[EMAIL]") }
	l := audit.Open(st, audit.Options{Redact: redact})
	ctx := context.Background()
	type inner struct {
		Email string `json:"alice@example.com"`
	}
	payloads := []any{
		map[string]any{"z": 1, "a": "mail alice@example.com", "list": []any{"alice@example.com", 2.5, true, nil}},
		struct {
			Q string `json:"q"`
			N inner  `json:"n"`
		}{"alice@example.com?", inner{"x"}},
		json.RawMessage(` {"b" : 1e3, "a":"\u2028 \u003c"} `),
		nil,
	}
	want := []string{
		`{"a":"mail [EMAIL]","list":["[EMAIL]",2.5,true,null],"z":1}`,
		`{"q":"[EMAIL]?","n":{"alice@example.com":"x"}}`,
		`{"b":1e3,"a":"\u2028 <"}`,
		`null`,
	}
	for i, p := range payloads {
		if _, err := l.Append(ctx, sextant.AuditEvent{Kind: "test", Payload: p}); err != nil {
			t.Fatalf("payload %d: %v", i, err)
		}
		if got := string(st.recs[i].Payload); got != want[i] {
			t.Errorf("payload %d = %s\nwant %s", i, got, want[i])
		}
	}
	bad := []sextant.AuditEvent{
		{Kind: "", Payload: 1},
		{Kind: "Admin"},
		{Kind: "admin", Payload: make(chan int)},
		{Kind: "admin", Payload: json.RawMessage(`{"a":1} {}`)},
		{Kind: "admin", Payload: json.RawMessage(`{"a":`)},
		{Kind: "admin", Actor: "a\x00b"},
		{Kind: "admin", Payload: strings.Repeat("x", 2<<20)},
	}
	for _, ev := range bad {
		if _, err := l.Append(ctx, ev); sextant.ErrorCode(err) != sextant.EINVALID {
			t.Errorf("Append(%.60v) = %v; want EINVALID", ev, err)
		}
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if rep := verify(t, st, audit.VerifyOptions{}); !rep.OK() || rep.Records != 4 {
		t.Fatalf("%+v", rep)
	}
}

func TestAnswerEvent(t *testing.T) {
	a := &sextant.Answer{ID: "ans_1", SessionID: "s1", Turn: 2, Tenant: "acme", Principal: "key_a", Assistant: "docs",
		Question: "q?", Text: "A [1]. B [2].", Template: "default", TemplateHash: "abc", Model: "m", Served: "p:m",
		Sources:   []sextant.Source{{N: 1, ChunkID: "c1", Score: 2.5}, {N: 2, ChunkID: "c2", Score: 1.25}},
		Sentences: []sextant.AnswerSentence{{Citations: []int{1}, Supported: true}, {Citations: []int{2, 1}}},
		Usage:     sextant.Usage{InputTokens: 10, OutputTokens: 3}}
	ev := audit.AnswerEvent(a, nil)
	if ev.Kind != sextant.AuditAnswer || ev.RequestID != "ans_1" || ev.Actor != "key_a" || ev.Tenant != "acme" {
		t.Errorf("event = %+v", ev)
	}
	pl := ev.Payload.(audit.AnswerPayload)
	if diff := cmp.Diff([]string{"c1", "c2"}, pl.Chunks); diff != "" {
		t.Error(diff)
	}
	if diff := cmp.Diff([]float64{2.5, 1.25}, pl.Scores); diff != "" {
		t.Error(diff)
	}
	if diff := cmp.Diff([]int{1, 2}, pl.Cited); diff != "" {
		t.Error(diff)
	}
	if pl.AnswerID != "ans_1" || pl.Supported != 0.5 || pl.TemplateHash != "abc" || pl.InputTokens != 10 || pl.AnswerBytes != len(a.Text) ||
		pl.AnswerSHA256 != fmt.Sprintf("%x", sha256.Sum256([]byte(a.Text))) {
		t.Errorf("payload = %+v", pl)
	}
	if ev := audit.AnswerEvent(a, &sextant.Principal{ID: "key_b", Tenant: "t2"}); ev.Actor != "key_b" || ev.Tenant != "t2" {
		t.Errorf("with principal: %+v", ev)
	}

	// AnswerOf finds the answer among a request's records, as stored.
	st := &memStore{}
	l := audit.Open(st, audit.Options{})
	ctx := context.Background()
	for _, e := range []sextant.AuditEvent{{Kind: sextant.AuditPolicy, RequestID: "req_1", Payload: map[string]any{"answer_id": "no"}}, ev} {
		e.RequestID = "req_1"
		if _, err := l.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	l.Close(ctx)
	if id, ok := audit.AnswerOf(st.recs); !ok || id != "ans_1" {
		t.Errorf("AnswerOf = %q, %v; want ans_1", id, ok)
	}
	if id, ok := audit.AnswerOf(st.recs[:1]); ok {
		t.Errorf("AnswerOf(a policy record) = %q", id)
	}
	tomb := st.recs[1]
	tomb.Payload = nil
	if _, ok := audit.AnswerOf([]sextant.AuditRecord{tomb}); ok {
		t.Error("AnswerOf read a tombstone")
	}
}

// TestConcurrentAppend appends from many goroutines (run it with -race):
// every Append gets a distinct seq, Enqueue'd records all land, batches
// share commits, and the result verifies.
func TestConcurrentAppend(t *testing.T) {
	key := newKey(t)
	st := &memStore{}
	l := audit.Open(st, audit.Options{Key: key, CheckpointEvery: 50, MaxBatch: 64, QueueSize: 32})
	ctx := context.Background()
	const workers, each = 16, 100
	seqs := make([][]int64, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				ev := event(w*each + i)
				if i%4 == 3 {
					if err := l.Enqueue(ctx, ev); err != nil {
						t.Error(err)
					}
					continue
				}
				seq, err := l.Append(ctx, ev)
				if err != nil {
					t.Error(err)
					return
				}
				seqs[w] = append(seqs[w], seq)
			}
		})
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 5 {
			if err := l.Sync(ctx); err != nil {
				t.Error(err)
			}
		}
	}()
	wg.Wait()
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for _, s := range seqs {
		for _, q := range s {
			if seen[q] {
				t.Fatalf("seq %d returned twice", q)
			}
			seen[q] = true
		}
	}
	if len(st.recs) != workers*each {
		t.Fatalf("%d records stored; want %d", len(st.recs), workers*each)
	}
	if st.commits >= workers*each {
		t.Errorf("%d commits for %d records: no batching", st.commits, workers*each)
	}
	rep := verify(t, st, audit.VerifyOptions{PublicKeys: []ed25519.PublicKey{pub(key)}})
	if !rep.OK() || rep.Unsigned() != 0 {
		t.Fatalf("%+v", rep)
	}
}

func TestAppendFailures(t *testing.T) {
	st := &memStore{fail: sextant.Errorf(sextant.EUNAVAILABLE, "disk full")}
	var logBuf bytes.Buffer
	var mu sync.Mutex
	lg := slog.New(slog.NewTextHandler(&lockedWriter{w: &logBuf, mu: &mu}, nil))
	l := audit.Open(st, audit.Options{Logger: lg})
	ctx := context.Background()
	if _, err := l.Append(ctx, event(1)); sextant.ErrorCode(err) != sextant.EUNAVAILABLE {
		t.Fatalf("Append on a failing store = %v; want EUNAVAILABLE", err)
	}
	if err := l.Enqueue(ctx, event(2)); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(ctx); err == nil {
		t.Fatal("Sync after a failed write reported success")
	}
	mu.Lock()
	if !strings.Contains(logBuf.String(), "audit record lost") {
		t.Errorf("lost Enqueue record not logged: %q", logBuf.String())
	}
	mu.Unlock()
	st.mu.Lock()
	st.fail = nil
	st.mu.Unlock()
	if s := l.Stats(); s.Lost != 1 || s.Written != 0 {
		t.Errorf("after a failed write: %+v, want the enqueued record lost (Append's failure is its caller's)", s)
	}
	if seq, err := l.Append(ctx, event(3)); err != nil || seq != 1 {
		t.Fatalf("after recovery: seq %d, %v", seq, err)
	}
	if s := l.Stats(); s.Lost != 1 || s.Written != 1 {
		t.Errorf("after recovery: %+v", s)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx, event(4)); sextant.ErrorCode(err) != sextant.EUNAVAILABLE {
		t.Fatalf("Append after Close = %v; want EUNAVAILABLE", err)
	}
	if err := l.Enqueue(ctx, event(4)); sextant.ErrorCode(err) != sextant.EUNAVAILABLE {
		t.Fatalf("Enqueue after Close = %v; want EUNAVAILABLE", err)
	}
	if s := l.Stats(); s.Lost != 2 {
		t.Errorf("after an Enqueue refused by a closed log: %+v", s)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	l2 := audit.Open(&memStore{}, audit.Options{})
	if _, err := l2.Append(cctx, event(5)); !errors.Is(err, context.Canceled) && err != nil {
		t.Fatalf("cancelled Append = %v", err)
	}
	l2.Close(ctx)
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// TestMultipleWriters: two logs over one store (a server and a CLI in two
// processes) chain onto each other's records.
func TestMultipleWriters(t *testing.T) {
	key := newKey(t)
	st := &memStore{}
	a := audit.Open(st, audit.Options{Key: key, CheckpointEvery: 3})
	b := audit.Open(st, audit.Options{Key: key, CheckpointEvery: 3})
	ctx := context.Background()
	for i := range 10 {
		l := a
		if i%3 == 0 {
			l = b
		}
		if _, err := l.Append(ctx, event(i)); err != nil {
			t.Fatal(err)
		}
	}
	a.Close(ctx)
	b.Close(ctx)
	if rep := verify(t, st, audit.VerifyOptions{PublicKeys: []ed25519.PublicKey{pub(key)}}); !rep.OK() || rep.Records != 10 {
		t.Fatalf("%+v", rep)
	}
}

// FuzzParseRetention: no input panics; accepted retentions are positive
// with valid kinds.
func FuzzParseRetention(f *testing.F) {
	for _, s := range []string{"answer=90d", "auth=720h", "a=1ns", "=", "x=0d", "answer=99999999999d", "k=1.5h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := audit.ParseRetention([]string{s})
		if err != nil {
			if sextant.ErrorCode(err) != sextant.EINVALID {
				t.Fatalf("ParseRetention(%q): %v is not EINVALID", s, err)
			}
			return
		}
		for k, d := range r {
			if !sextant.ValidAuditKind(k) || d <= 0 {
				t.Fatalf("ParseRetention(%q) = %v", s, r)
			}
		}
	})
}
