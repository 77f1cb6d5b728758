package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strconv"
	"time"

	"github.com/sextant-ai/sextant"
)

// An export is JSON Lines: one object per line, records in chain order,
// each checkpoint on the line after the record it signs.
//
//	{"type":"record","seq":1,"time":"2026-01-02T03:04:05.123456789Z","kind":"admin","actor":"key_x",
//	 "tenant":"","request_id":"","payload":{...},"payload_hash":"…","prev_hash":"…","hash":"…"}
//	{"type":"checkpoint","seq":1,"time":"…","hash":"…","public_key":"…","signature":"…"}
//
// Hashes, keys and signatures are lower-case hex; times RFC 3339 in UTC
// with nanoseconds, exactly as hashed. The payload is the stored JSON
// byte for byte. A tombstoned record has no "payload" and a "purged_at".
// An unfiltered export verifies on its own (VerifyExport); one made with
// Since verifies as a segment (VerifyOptions.Partial).

// ExportOptions selects what Export writes. The zero value exports all.
type ExportOptions struct {
	Since time.Time           // records at or after this time; zero = from the start
	Kinds []sextant.AuditKind // only these kinds; empty = all (a filtered export does not verify)
	// Tenants keeps only records of these tenants ("" is the default
	// tenant); nil = every tenant. A filtered export does not verify.
	Tenants []string
}

// seqLocator is implemented by sources that can find the first record at
// or after a time without a scan.
type seqLocator interface {
	AuditSeqAt(ctx context.Context, t time.Time) (int64, error)
}

// Export writes src's records and checkpoints selected by opts to w as
// JSON Lines and returns the number of records written.
func Export(ctx context.Context, src Source, w io.Writer, opts ExportOptions) (int64, error) {
	cps, err := src.AuditCheckpoints(ctx)
	if err != nil {
		return 0, err
	}
	from := int64(1)
	if loc, ok := src.(seqLocator); ok && !opts.Since.IsZero() {
		if from, err = loc.AuditSeqAt(ctx, opts.Since); err != nil {
			return 0, err
		}
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	var (
		n     int64
		buf   []byte
		first = int64(-1)
	)
	for r, err := range src.AuditRecords(ctx, from) {
		if err != nil {
			return n, err
		}
		if r.Time.Before(opts.Since) {
			continue
		}
		if first < 0 {
			first = r.Seq
			for len(cps) > 0 && cps[0].Seq < first {
				cps = cps[1:]
			}
		}
		buf = buf[:0]
		if (len(opts.Kinds) == 0 || slices.Contains(opts.Kinds, r.Kind)) && (opts.Tenants == nil || slices.Contains(opts.Tenants, r.Tenant)) {
			buf = AppendRecordJSON(buf, &r)
			n++
		}
		for len(cps) > 0 && cps[0].Seq <= r.Seq {
			buf = AppendCheckpointJSON(buf, &cps[0])
			cps = cps[1:]
		}
		if _, err := bw.Write(buf); err != nil {
			return n, fmt.Errorf("audit: export: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("audit: export: %w", err)
	}
	return n, nil
}

func appendHex(b []byte, h []byte) []byte {
	b = append(b, '"')
	b = hex.AppendEncode(b, h)
	return append(b, '"')
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// AppendRecordJSON appends r as one export line, newline included.
func AppendRecordJSON(b []byte, r *sextant.AuditRecord) []byte {
	b = append(b, `{"type":"record","seq":`...)
	b = strconv.AppendInt(b, r.Seq, 10)
	b = append(b, `,"time":`...)
	b = appendTime(b, r.Time)
	b = append(b, `,"kind":`...)
	b = appendString(b, string(r.Kind))
	b = append(b, `,"actor":`...)
	b = appendString(b, r.Actor)
	b = append(b, `,"tenant":`...)
	b = appendString(b, r.Tenant)
	b = append(b, `,"request_id":`...)
	b = appendString(b, r.RequestID)
	if r.Payload != nil {
		b = append(b, `,"payload":`...)
		b = append(b, r.Payload...)
	}
	b = append(b, `,"payload_hash":`...)
	b = appendHex(b, r.PayloadHash[:])
	b = append(b, `,"prev_hash":`...)
	b = appendHex(b, r.PrevHash[:])
	b = append(b, `,"hash":`...)
	b = appendHex(b, r.Hash[:])
	if !r.PurgedAt.IsZero() {
		b = append(b, `,"purged_at":`...)
		b = appendTime(b, r.PurgedAt)
	}
	return append(b, "}\n"...)
}

// AppendCheckpointJSON appends cp as one export line, newline included.
func AppendCheckpointJSON(b []byte, cp *sextant.AuditCheckpoint) []byte {
	b = append(b, `{"type":"checkpoint","seq":`...)
	b = strconv.AppendInt(b, cp.Seq, 10)
	b = append(b, `,"time":`...)
	b = appendTime(b, cp.Time)
	b = append(b, `,"hash":`...)
	b = appendHex(b, cp.Hash[:])
	b = append(b, `,"public_key":`...)
	b = appendHex(b, cp.PublicKey)
	b = append(b, `,"signature":`...)
	b = appendHex(b, cp.Signature)
	return append(b, "}\n"...)
}

// Entry is one line of an export: a record or a checkpoint.
type Entry struct {
	Record     *sextant.AuditRecord
	Checkpoint *sextant.AuditCheckpoint
}

// exportLine is the decoded form of any export line.
type exportLine struct {
	Type        string          `json:"type"`
	Seq         *int64          `json:"seq"`
	Time        string          `json:"time"`
	Kind        *string         `json:"kind"`
	Actor       *string         `json:"actor"`
	Tenant      *string         `json:"tenant"`
	RequestID   *string         `json:"request_id"`
	Payload     json.RawMessage `json:"payload"`
	PayloadHash string          `json:"payload_hash"`
	PrevHash    string          `json:"prev_hash"`
	Hash        string          `json:"hash"`
	PurgedAt    string          `json:"purged_at"`
	PublicKey   string          `json:"public_key"`
	Signature   string          `json:"signature"`
}

// maxLine bounds one export line: the largest payload plus its envelope.
const maxLine = 4*maxPayload + 64<<10

// ReadExport decodes an export, line by line. A malformed line yields an
// EINVALID error naming its line number, and ends the sequence.
func ReadExport(r io.Reader) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 0, 64<<10), maxLine)
		line := 0
		for sc.Scan() {
			line++
			b := bytes.TrimSpace(sc.Bytes())
			if len(b) == 0 {
				continue
			}
			e, err := DecodeLine(b)
			if err != nil {
				yield(Entry{}, sextant.Errorf(sextant.EINVALID, "audit export line %d: %v", line, err))
				return
			}
			if !yield(e, nil) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				err = sextant.Errorf(sextant.EINVALID, "audit export line %d: longer than %d bytes", line+1, maxLine)
			} else {
				err = fmt.Errorf("audit: read export: %w", err)
			}
			yield(Entry{}, err)
		}
	}
}

// DecodeLine decodes one export line (without its newline).
func DecodeLine(b []byte) (Entry, error) {
	var l exportLine
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return Entry{}, fmt.Errorf("not a JSON object of an audit export: %v", err)
	}
	if dec.More() {
		return Entry{}, errors.New("more than one JSON value on the line")
	}
	if l.Seq == nil || *l.Seq < 1 {
		return Entry{}, errors.New(`"seq" is missing or not a positive integer`)
	}
	t, err := parseTime("time", l.Time)
	if err != nil {
		return Entry{}, err
	}
	switch l.Type {
	case "record":
		return decodeRecord(&l, t)
	case "checkpoint":
		cp := &sextant.AuditCheckpoint{Seq: *l.Seq, Time: t}
		if err := decodeHash("hash", l.Hash, &cp.Hash); err != nil {
			return Entry{}, err
		}
		if cp.PublicKey, err = decodeHex("public_key", l.PublicKey, 32); err != nil {
			return Entry{}, err
		}
		if cp.Signature, err = decodeHex("signature", l.Signature, 64); err != nil {
			return Entry{}, err
		}
		return Entry{Checkpoint: cp}, nil
	}
	return Entry{}, fmt.Errorf(`"type" is %q; want "record" or "checkpoint"`, l.Type)
}

func decodeRecord(l *exportLine, t time.Time) (Entry, error) {
	for _, f := range [...]struct {
		name string
		v    *string
	}{{"kind", l.Kind}, {"actor", l.Actor}, {"tenant", l.Tenant}, {"request_id", l.RequestID}} {
		if f.v == nil {
			return Entry{}, fmt.Errorf("record %d has no %q", *l.Seq, f.name)
		}
	}
	r := &sextant.AuditRecord{Seq: *l.Seq, Time: t, Kind: sextant.AuditKind(*l.Kind), Actor: *l.Actor,
		Tenant: *l.Tenant, RequestID: *l.RequestID}
	if l.Payload != nil {
		r.Payload = slices.Clone([]byte(l.Payload))
	}
	if l.PurgedAt != "" {
		var err error
		if r.PurgedAt, err = parseTime("purged_at", l.PurgedAt); err != nil {
			return Entry{}, err
		}
	}
	for _, h := range [...]struct {
		name string
		v    string
		dst  *[32]byte
	}{{"payload_hash", l.PayloadHash, &r.PayloadHash}, {"prev_hash", l.PrevHash, &r.PrevHash}, {"hash", l.Hash, &r.Hash}} {
		if err := decodeHash(h.name, h.v, h.dst); err != nil {
			return Entry{}, err
		}
	}
	return Entry{Record: r}, nil
}

func parseTime(name, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is %q: want an RFC 3339 time", name, s)
	}
	return t.UTC(), nil
}

func decodeHex(name, s string, size int) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != size {
		return nil, fmt.Errorf("%q must be %d bytes in hex", name, size)
	}
	return b, nil
}

func decodeHash(name, s string, dst *[32]byte) error {
	b, err := decodeHex(name, s, 32)
	if err != nil {
		return err
	}
	copy(dst[:], b)
	return nil
}

// VerifyExport verifies an export read from r, as Verify does a store. It
// returns an error when r cannot be read or holds a malformed line.
func VerifyExport(ctx context.Context, r io.Reader, opts VerifyOptions) (Report, error) {
	v := NewVerifier(opts)
	for e, err := range ReadExport(r) {
		if err != nil {
			return Report{}, err
		}
		if err := ctx.Err(); err != nil {
			return Report{}, err
		}
		ok := true
		if e.Record != nil {
			ok = v.Add(e.Record)
		} else {
			ok = v.AddCheckpoint(*e.Checkpoint)
		}
		if !ok {
			break
		}
	}
	return v.Finish(), nil
}
