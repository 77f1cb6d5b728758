package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/audit"
	"github.com/sextant-ai/sextant/guard"
	"github.com/sextant-ai/sextant/sqlite"
)

const auditUsage = `Usage: sextant audit verify [--public-key FILE]... [--file EXPORT [--partial]] [--json]
       sextant audit export [--since TIME] [--kind K]... [-o FILE]
       sextant audit purge --retain KIND=AGE [--retain KIND=AGE]...

The audit log is append-only and hash-chained, with ed25519-signed
checkpoints (key: DATA/keys/audit_ed25519).

verify  checks every record and checkpoint and names the first bad record;
        exit status 1 when the log does not verify. By default the public
        key beside the data directory's signing key is trusted; pin a copy
        kept elsewhere with --public-key. --file verifies an export (- for
        standard input) instead of the store.
export  writes the log as JSON Lines (records and checkpoints). --since
        takes an RFC 3339 time or an age (24h, 7d); --kind filters kinds.
purge   applies retention: the payload of each record older than its kind's
        AGE (e.g. answer=90d, auth=720h) becomes a tombstone; hashes stay,
        so the chain still verifies. The purge itself is recorded.

Flags:
`

func runAudit(ctx context.Context, e *env, args []string) error {
	if wantsHelp(args) {
		fmt.Fprint(e.stdout, auditUsage)
		if len(args) == 0 {
			return usageErrorf("audit: name a subcommand (verify, export or purge)")
		}
		return nil
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("audit "+sub, e.stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), auditUsage)
		fs.PrintDefaults()
	}
	dataDir := dataFlag(fs, e)
	switch sub {
	case "verify":
		var keys multiFlag
		fs.Var(&keys, "public-key", "trust checkpoints signed by this PEM public key (repeatable; default: DATA/keys/audit_ed25519.pub)")
		file := fs.String("file", "", "verify this export file (- = standard input) instead of the store")
		partial := fs.Bool("partial", false, "with --file: the export starts mid-log (made with --since)")
		asJSON := fs.Bool("json", false, "print the report as JSON")
		if err := noArgs(fs, args, "audit verify"); err != nil {
			return err
		}
		return auditVerify(ctx, e, *dataDir, keys, *file, *partial, *asJSON)
	case "export":
		since := fs.String("since", "", "only records at or after this time (RFC 3339) or this long ago (24h, 7d)")
		var kinds multiFlag
		fs.Var(&kinds, "kind", "only records of this kind (repeatable); a filtered export does not verify")
		out := fs.String("o", "", "write to this file instead of standard output")
		if err := noArgs(fs, args, "audit export"); err != nil {
			return err
		}
		return auditExport(ctx, e, *dataDir, *since, kinds, *out)
	case "purge":
		var retain multiFlag
		fs.Var(&retain, "retain", "KIND=AGE: purge payloads of KIND records older than AGE (repeatable)")
		if err := noArgs(fs, args, "audit purge"); err != nil {
			return err
		}
		if len(retain) == 0 {
			return usageErrorf("audit purge: give at least one --retain KIND=AGE, e.g. --retain answer=90d")
		}
		r, err := audit.ParseRetention(retain)
		if err != nil {
			return usageErrorf("audit purge: %v", err)
		}
		return auditPurge(ctx, e, *dataDir, r)
	}
	fmt.Fprint(e.stderr, auditUsage)
	return usageErrorf("audit: unknown subcommand %q (want verify, export or purge)", sub)
}

// noArgs parses flags and refuses positional arguments.
func noArgs(fs *flag.FlagSet, args []string, cmd string) error {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("%s: unexpected argument %q", cmd, pos[0])
	}
	return nil
}

// auditKeyPath is the checkpoint signing key of the data directory dir.
func auditKeyPath(dir string) string { return filepath.Join(dir, filepath.FromSlash(audit.KeyFile)) }

// auditRedactor returns the redactor every audit payload goes through: the
// guard's PII and secret scanner with typed placeholders ([EMAIL]). Short
// strings repeat from record to record (assistant, model and template
// names, the template hash, popular chunk ids), so their redactions are
// remembered in a bounded cache, emptied when full; redaction is a pure
// function of the text, so a remembered result is the result.
func auditRedactor() func(string) string {
	const maxLen, maxEntries = 128, 8192
	sc := guard.New(guard.Options{})
	r := &guard.Redactor{}
	var (
		mu    sync.RWMutex
		cache = map[string]string{}
	)
	return func(s string) string {
		if s == "" {
			return s
		}
		if len(s) <= maxLen {
			mu.RLock()
			out, ok := cache[s]
			mu.RUnlock()
			if ok {
				return out
			}
		}
		out, _ := r.Redact(sc, s)
		if len(s) <= maxLen {
			mu.Lock()
			if len(cache) >= maxEntries {
				clear(cache)
			}
			cache[s] = out
			mu.Unlock()
		}
		return out
	}
}

// openAuditLog opens the audit log of the store in dir, signing with the
// data directory's key (created on first use).
func openAuditLog(dir string, st *sqlite.DB) (*audit.Log, error) {
	key, err := audit.LoadOrCreateKey(auditKeyPath(dir))
	if err != nil {
		return nil, err
	}
	return audit.Open(st, audit.Options{Key: key, Redact: auditRedactor()}), nil
}

// localActor names the person at the command line in audit records.
func localActor(e *env) string {
	if u := e.getenv("USER"); u != "" {
		return "local:" + u
	}
	return "local"
}

func auditVerify(ctx context.Context, e *env, dir string, keyFiles []string, file string, partial, asJSON bool) error {
	var keys []ed25519.PublicKey
	if len(keyFiles) == 0 {
		k, err := audit.ReadPublicKey(auditKeyPath(dir) + ".pub")
		switch {
		case err == nil:
			keys = append(keys, k)
		case errors.Is(err, fs.ErrNotExist):
			// No key yet: the log has no checkpoints either, or they are
			// checked against the key each one names.
		default:
			return err
		}
	}
	for _, f := range keyFiles {
		k, err := audit.ReadPublicKey(f)
		if err != nil {
			return err
		}
		keys = append(keys, k)
	}
	if partial && file == "" {
		return usageErrorf("audit verify: --partial applies to --file only")
	}
	opts := audit.VerifyOptions{PublicKeys: keys, Partial: partial}
	start := time.Now()
	rep, err := verifySource(ctx, e, dir, file, opts)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	if asJSON {
		out := struct {
			OK bool `json:"ok"`
			audit.Report
			Unsigned    int64    `json:"unsigned"`
			TrustedKeys []string `json:"trusted_keys"`
			Seconds     float64  `json:"seconds"`
		}{OK: rep.OK(), Report: rep, Unsigned: rep.Unsigned(), Seconds: elapsed.Seconds()}
		for _, k := range keys {
			out.TrustedKeys = append(out.TrustedKeys, audit.KeyID(k))
		}
		if err := writeJSON(e.stdout, out); err != nil {
			return err
		}
	} else {
		writeAuditReport(e.stdout, &rep, keys, elapsed)
	}
	if !rep.OK() {
		return &exitStatus{code: 1, err: fmt.Errorf("audit log does not verify: %s", rep.Problem.Reason)}
	}
	return nil
}

// verifySource verifies the export file (- = stdin) or, when file is "",
// the store in dir.
func verifySource(ctx context.Context, e *env, dir, file string, opts audit.VerifyOptions) (audit.Report, error) {
	switch file {
	case "":
		st, err := openStore(ctx, dir)
		if err != nil {
			return audit.Report{}, err
		}
		defer st.Close()
		return audit.Verify(ctx, st, opts)
	case "-":
		return audit.VerifyExport(ctx, e.stdin, opts)
	}
	f, err := os.Open(file)
	if err != nil {
		return audit.Report{}, fmt.Errorf("audit verify: %w", err)
	}
	defer f.Close()
	return audit.VerifyExport(ctx, f, opts)
}

func writeAuditReport(w io.Writer, rep *audit.Report, keys []ed25519.PublicKey, elapsed time.Duration) {
	if !rep.OK() {
		what := "record"
		if rep.Problem.Checkpoint {
			what = "checkpoint of record"
		}
		fmt.Fprintf(w, "TAMPERED: first bad %s %d\n  %s\n", what, rep.Problem.Seq, rep.Problem.Reason)
		fmt.Fprintf(w, "records 1 to %d verified before it (%d checkpoints)\n", rep.Last, rep.Checkpoints)
		return
	}
	if rep.Records == 0 {
		fmt.Fprintln(w, "OK: the audit log is empty")
		return
	}
	fmt.Fprintf(w, "OK: %d records (%d to %d), %d tombstones, verified in %.2fs (%.0f records/s)\n",
		rep.Records, rep.First, rep.Last, rep.Tombstones, elapsed.Seconds(), float64(rep.Records)/max(elapsed.Seconds(), 1e-9))
	fmt.Fprintf(w, "checkpoints: %d valid, last at record %d; %d records after it not yet signed\n",
		rep.Checkpoints, rep.LastCheckpoint, rep.Unsigned())
	if len(keys) == 0 {
		fmt.Fprintln(w, "note: no trusted public key: each checkpoint was checked against the key it names (pin one with --public-key)")
	} else {
		ids := make([]string, len(keys))
		for i, k := range keys {
			ids[i] = audit.KeyID(k)
		}
		fmt.Fprintf(w, "signed by: %s\n", strings.Join(ids, ", "))
	}
}

// parseSince parses an RFC 3339 time or an age before now (24h, 7d).
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := parseTTL(s); err == nil {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("want an RFC 3339 time (2026-03-01T00:00:00Z) or an age (24h, 7d)")
}

func auditExport(ctx context.Context, e *env, dir, since string, kinds []string, outPath string) error {
	var opts audit.ExportOptions
	if since != "" {
		t, err := parseSince(since, time.Now())
		if err != nil {
			return usageErrorf("audit export: --since %q: %v", since, err)
		}
		opts.Since = t
	}
	for _, k := range kinds {
		if !sextant.ValidAuditKind(sextant.AuditKind(k)) {
			return usageErrorf("audit export: --kind %q is not a record kind", k)
		}
		opts.Kinds = append(opts.Kinds, sextant.AuditKind(k))
	}
	st, err := openStore(ctx, dir)
	if err != nil {
		return err
	}
	defer st.Close()
	w := e.stdout
	if outPath != "" {
		f, err := os.Create(outPath)
		if err != nil {
			return fmt.Errorf("audit export: %w", err)
		}
		defer f.Close()
		w = f
	}
	n, err := audit.Export(ctx, st, w, opts)
	if err != nil {
		return err
	}
	if outPath != "" {
		fmt.Fprintf(e.stderr, "exported %d records to %s\n", n, outPath)
		if f, ok := w.(*os.File); ok {
			return f.Sync()
		}
	}
	return nil
}

func auditPurge(ctx context.Context, e *env, dir string, r audit.Retention) error {
	st, err := openStore(ctx, dir)
	if err != nil {
		return err
	}
	defer st.Close()
	l, err := openAuditLog(dir, st)
	if err != nil {
		return err
	}
	got, perr := l.Purge(ctx, r, localActor(e))
	if err := l.Close(ctx); err != nil && perr == nil {
		perr = err
	}
	for _, kind := range slices.Sorted(maps.Keys(got)) {
		n := got[kind]
		fmt.Fprintf(e.stdout, "%s: %d payloads older than %s purged (tombstones keep their hashes)\n", kind, n, r[kind])
	}
	return perr
}
