package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/audit"
)

func export(t *testing.T, st *memStore, opts audit.ExportOptions) (string, int64) {
	t.Helper()
	var buf bytes.Buffer
	n, err := audit.Export(context.Background(), st, &buf, opts)
	if err != nil {
		t.Fatal(err)
	}
	return buf.String(), n
}

func TestExportRoundTrip(t *testing.T) {
	key := newKey(t)
	st := filled(t, 25, key)
	// One tombstone, so the export carries both forms of a record.
	st.recs[2].Payload, st.recs[2].PurgedAt = nil, time.Date(2026, 4, 1, 0, 0, 0, 5, time.UTC)
	out, n := export(t, st, audit.ExportOptions{})
	if n != 25 {
		t.Fatalf("exported %d records; want 25", n)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 25+3 {
		t.Fatalf("%d lines; want 25 records + 3 checkpoints", len(lines))
	}
	if !strings.HasPrefix(lines[10], `{"type":"checkpoint","seq":10,`) {
		t.Errorf("line 11 = %s; want the checkpoint of record 10 right after it", lines[10])
	}
	if strings.Contains(lines[2], `"payload"`) || !strings.Contains(lines[2], `"purged_at":"2026-04-01T00:00:00.000000005Z"`) {
		t.Errorf("tombstone line = %s", lines[2])
	}
	// Decoding gives back exactly the stored records and checkpoints.
	var recs []sextant.AuditRecord
	var cps []sextant.AuditCheckpoint
	for e, err := range audit.ReadExport(strings.NewReader(out)) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Record != nil {
			recs = append(recs, *e.Record)
		} else {
			cps = append(cps, *e.Checkpoint)
		}
	}
	if diff := cmp.Diff(st.recs, recs); diff != "" {
		t.Errorf("records (-stored +decoded):\n%s", diff)
	}
	if diff := cmp.Diff(st.cps, cps); diff != "" {
		t.Errorf("checkpoints (-stored +decoded):\n%s", diff)
	}
	ctx := context.Background()
	rep, err := audit.VerifyExport(ctx, strings.NewReader(out), audit.VerifyOptions{PublicKeys: []ed25519.PublicKey{pub(key)}})
	if err != nil || !rep.OK() || rep.Records != 25 || rep.Checkpoints != 3 || rep.Tombstones != 1 {
		t.Fatalf("VerifyExport: %+v, %v", rep, err)
	}

	// Editing the file is caught like editing the store.
	bad := strings.Replace(out, `"note":"event 7 <b>&"`, `"note":"event 7 <i>&"`, 1)
	if rep, err := audit.VerifyExport(ctx, strings.NewReader(bad), audit.VerifyOptions{}); err != nil || rep.OK() || rep.Problem.Seq != 8 {
		t.Fatalf("edited export: %+v, %v", rep.Problem, err)
	}
	// Dropping the last lines is caught by the checkpoint at 25 only if
	// it survives; drop a middle record instead.
	cut := strings.Join(append(append([]string{}, lines[:5]...), lines[6:]...), "\n")
	if rep, _ := audit.VerifyExport(ctx, strings.NewReader(cut), audit.VerifyOptions{}); rep.OK() || rep.Problem.Seq != 6 {
		t.Fatalf("export without record 6: %+v", rep.Problem)
	}
	// A checkpoint moved away from its record is named.
	moved := strings.Join(append(append(append([]string{}, lines[:10]...), lines[11:13]...), append([]string{lines[10]}, lines[13:]...)...), "\n")
	if rep, _ := audit.VerifyExport(ctx, strings.NewReader(moved), audit.VerifyOptions{}); rep.OK() || !rep.Problem.Checkpoint || rep.Problem.Seq != 10 {
		t.Fatalf("moved checkpoint: %+v", rep.Problem)
	}
}

func TestExportSinceAndKinds(t *testing.T) {
	key := newKey(t)
	st := filled(t, 25, key)
	since := st.recs[12].Time
	out, n := export(t, st, audit.ExportOptions{Since: since})
	if n != 13 || !strings.HasPrefix(out, `{"type":"record","seq":13,`) {
		t.Fatalf("--since: %d records, starting %.40s", n, out)
	}
	ctx := context.Background()
	if rep, err := audit.VerifyExport(ctx, strings.NewReader(out), audit.VerifyOptions{}); err != nil || rep.OK() || rep.Problem.Seq != 1 {
		t.Fatalf("a segment must not verify as a whole log: %+v %v", rep, err)
	}
	rep, err := audit.VerifyExport(ctx, strings.NewReader(out), audit.VerifyOptions{Partial: true, PublicKeys: []ed25519.PublicKey{pub(key)}})
	if err != nil || !rep.OK() || rep.First != 13 || rep.Last != 25 || rep.Checkpoints != 2 {
		t.Fatalf("segment: %+v %v", rep, err)
	}
	out, n = export(t, st, audit.ExportOptions{Kinds: []sextant.AuditKind{sextant.AuditAuth}})
	if n != 6 || strings.Count(out, `"kind":"auth"`) != 6 || strings.Contains(out, `"kind":"admin"`) {
		t.Fatalf("--kind auth: %d records\n%s", n, out)
	}
	// Tenants: every record is acme's; the default tenant ("") has none.
	for _, c := range []struct {
		tenants []string
		want    int64
	}{{nil, 25}, {[]string{"acme"}, 25}, {[]string{""}, 0}, {[]string{"other", "acme"}, 25}, {[]string{}, 0}} {
		out, n := export(t, st, audit.ExportOptions{Tenants: c.tenants})
		if n != c.want || strings.Count(out, `"type":"record"`) != int(c.want) {
			t.Errorf("tenants %q: %d records; want %d", c.tenants, n, c.want)
		}
	}
}

func TestDecodeLineErrors(t *testing.T) {
	key := newKey(t)
	st := filled(t, 10, key)
	out, _ := export(t, st, audit.ExportOptions{})
	lines := strings.Split(out, "\n")
	rec, cp := lines[0], lines[10]
	for _, c := range []struct{ line, want string }{
		{`[]`, "not a JSON object"},
		{`{"type":"record"}`, `"seq" is missing`},
		{strings.Replace(rec, `"seq":1`, `"seq":0`, 1), `"seq" is missing or not a positive`},
		{strings.Replace(rec, `"type":"record"`, `"type":"recrod"`, 1), `"type" is "recrod"`},
		{strings.Replace(rec, `"kind":"admin",`, ``, 1), `has no "kind"`},
		{strings.Replace(rec, `"time":"2026`, `"time":"x2026`, 1), `want an RFC 3339 time`},
		{strings.Replace(rec, `"hash":"`, `"hash":"zz`, 1), `"hash" must be 32 bytes`},
		{strings.Replace(rec, `{"type"`, `{"extra":1,"type"`, 1), `unknown field`},
		{rec + ` {}`, "more than one JSON value"},
		{strings.Replace(cp, `"signature":"`, `"signature":"00`, 1), `"signature" must be 64 bytes`},
		{strings.Replace(cp, `"public_key":"`, `"public_key":"0`, 1), `"public_key" must be 32 bytes`},
	} {
		_, err := audit.DecodeLine([]byte(c.line))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("DecodeLine(%.70s...) = %v; want an error containing %q", c.line, err, c.want)
		}
	}
	// Errors through ReadExport carry the line number and EINVALID.
	bad := lines[0] + "\n\n" + `{"type":"x","seq":1,"time":"2026-01-01T00:00:00Z"}` + "\n"
	var gotErr error
	for _, err := range audit.ReadExport(strings.NewReader(bad)) {
		if err != nil {
			gotErr = err
		}
	}
	if sextant.ErrorCode(gotErr) != sextant.EINVALID || !strings.Contains(gotErr.Error(), "line 3") {
		t.Errorf("ReadExport error = %v; want EINVALID naming line 3", gotErr)
	}
}

// FuzzDecodeLine: no input panics; whatever decodes re-encodes to a line
// that decodes to the same entry.
func FuzzDecodeLine(f *testing.F) {
	st := &memStore{}
	_, k, _ := ed25519.GenerateKey(nil)
	l := audit.Open(st, audit.Options{Key: k, CheckpointEvery: 2})
	ctx := context.Background()
	for i := range 4 {
		l.Append(ctx, event(i))
	}
	l.Append(ctx, sextant.AuditEvent{Kind: "x", Actor: "\u2028\"\\\x01é", Payload: "\xff"})
	l.Close(ctx)
	st.recs[1].Payload, st.recs[1].PurgedAt = nil, time.Unix(1, 2)
	var buf bytes.Buffer
	audit.Export(ctx, st, &buf, audit.ExportOptions{})
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		f.Add([]byte(line))
	}
	f.Add([]byte(`{"type":"record","seq":1,"time":"2026-01-01T00:00:00Z","kind":"","actor":"","tenant":"","request_id":"","payload":null,"payload_hash":"` + strings.Repeat("0", 64) + `","prev_hash":"` + strings.Repeat("0", 64) + `","hash":"` + strings.Repeat("0", 64) + `"}`))
	f.Add([]byte(`{"type":"checkpoint","seq":9223372036854775807,"time":"9999-12-31T23:59:59.999999999+14:00"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := audit.DecodeLine(line)
		if err != nil {
			return
		}
		var enc []byte
		if e.Record != nil {
			enc = audit.AppendRecordJSON(nil, e.Record)
		} else {
			enc = audit.AppendCheckpointJSON(nil, e.Checkpoint)
		}
		e2, err := audit.DecodeLine(bytes.TrimSuffix(enc, []byte("\n")))
		if err != nil {
			t.Fatalf("re-encoded line does not decode: %v\n%s", err, enc)
		}
		if diff := cmp.Diff(e, e2); diff != "" {
			t.Fatalf("round trip changed the entry (-first +second):\n%s\nline: %s", diff, enc)
		}
	})
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, audit.KeyFile)
	k1, err := audit.LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o700 {
		t.Errorf("key directory mode %v; want 0700", di.Mode().Perm())
	}
	k2, err := audit.LoadOrCreateKey(path)
	if err != nil || !k1.Equal(k2) {
		t.Fatalf("reloaded key differs (%v)", err)
	}
	p, err := audit.ReadPublicKey(path + ".pub")
	if err != nil || !p.Equal(pub(k1)) {
		t.Fatalf("public key file: %v", err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.LoadOrCreateKey(path); sextant.ErrorCode(err) != sextant.EINVALID || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable key: %v", err)
	}
	os.Chmod(path, 0o600)
	os.WriteFile(path, []byte("not a key"), 0o600)
	if _, err := audit.LoadOrCreateKey(path); sextant.ErrorCode(err) != sextant.EINVALID {
		t.Errorf("garbage key file: %v", err)
	}
	if _, err := audit.ReadPublicKey(path); sextant.ErrorCode(err) != sextant.EINVALID {
		t.Errorf("garbage public key file: %v", err)
	}
}

// FuzzRedactJSON: on any valid JSON, redaction keeps the structure and the
// keys, changes exactly the string values, and yields valid JSON; invalid
// input is an error, never a panic.
func FuzzRedactJSON(f *testing.F) {
	for _, s := range []string{`{"a":"x","b":["y",{"c":"z"}],"d":1}`, `"s"`, `[]`, `{"k\"ey":"v\\u00e9\n"}`,
		`[{"a":[{"b":"c"}]},"d"]`, `{"":""}`, `null`, `{"a":"\u2028"}`, `["\xff"]`} {
		f.Add([]byte(s))
	}
	upper := func(s string) string { return "<" + strings.ToUpper(s) + ">" }
	f.Fuzz(func(t *testing.T, in []byte) {
		var buf bytes.Buffer
		if json.Compact(&buf, in) != nil {
			audit.RedactJSON(nil, in, upper) // must not panic
			return
		}
		src := buf.Bytes()
		out, err := audit.RedactJSON(nil, src, upper)
		if err != nil {
			t.Fatalf("valid JSON %s refused: %v", src, err)
		}
		var a, b any
		if err := json.Unmarshal(src, &a); err != nil {
			return
		}
		if err := json.Unmarshal(out, &b); err != nil {
			t.Fatalf("output %s is not JSON: %v", out, err)
		}
		if diff := cmp.Diff(mapStrings(a, upper), b); diff != "" {
			t.Fatalf("in %s\nout %s\n(-want +got):\n%s", src, out, diff)
		}
		same, err := audit.RedactJSON(nil, src, func(s string) string { return s })
		if err != nil {
			t.Fatal(err)
		}
		var c, orig any
		json.Unmarshal(same, &c)
		json.Unmarshal(src, &orig)
		if diff := cmp.Diff(orig, c); diff != "" {
			t.Fatalf("identity redaction changed the value:\n%s", diff)
		}
	})
}

func mapStrings(v any, f func(string) string) any {
	switch v := v.(type) {
	case string:
		return f(v)
	case []any:
		for i := range v {
			v[i] = mapStrings(v[i], f)
		}
	case map[string]any:
		for k, x := range v {
			v[k] = mapStrings(x, f)
		}
	}
	return v
}
