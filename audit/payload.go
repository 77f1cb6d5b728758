package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/sextant-ai/sextant"
)

// maxPayload bounds one record's encoded payload. Audit records describe
// events; documents and whole conversations belong in their own stores.
const maxPayload = 1 << 20

// encodePayload returns the stored form of v: compact JSON as
// encoding/json writes it (map keys sorted, struct fields in declaration
// order) without HTML escaping, with redact applied to every string value.
// Object keys are left alone: they are field names chosen by code. A
// json.RawMessage is validated and compacted. A nil v encodes as null.
func encodePayload(v any, redact func(string) string) ([]byte, error) {
	var b []byte
	if raw, ok := v.(json.RawMessage); ok {
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return nil, sextant.Errorf(sextant.EINVALID, "audit: payload is not valid JSON: %v", err)
		}
		b = buf.Bytes()
	} else {
		var err error
		if b, err = marshal(v); err != nil {
			return nil, sextant.Errorf(sextant.EINVALID, "audit: payload cannot be encoded as JSON: %v", err)
		}
	}
	if redact != nil {
		var err error
		if b, err = redactJSON(make([]byte, 0, len(b)+len(b)/8), b, redact); err != nil {
			return nil, sextant.Errorf(sextant.EINVALID, "audit: payload: %v", err)
		}
	}
	if len(b) > maxPayload {
		return nil, sextant.Errorf(sextant.EINVALID, "audit: payload is %d bytes encoded; the limit is %d", len(b), maxPayload)
	}
	return b, nil
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// redactJSON appends to dst the compact, valid JSON src with redact
// applied to every string value (not to object keys), in one pass over
// the bytes: no decoding into a tree. A string redact leaves unchanged is
// copied as it was written.
func redactJSON(dst, src []byte, redact func(string) string) ([]byte, error) {
	// stack holds, per open container, '{' or '[' ; key is set while the
	// next string in the innermost object is a key.
	var stack []byte
	key := false
	for i := 0; i < len(src); {
		c := src[i]
		switch c {
		case '{':
			stack = append(stack, c)
			key = true
		case '[':
			stack = append(stack, c)
			key = false
		case '}', ']':
			if len(stack) == 0 {
				return nil, fmt.Errorf("unbalanced %q at byte %d", c, i)
			}
			stack = stack[:len(stack)-1]
			key = false
		case ':':
			key = false
		case ',':
			key = len(stack) > 0 && stack[len(stack)-1] == '{'
		case '"':
			end, escaped := stringEnd(src, i)
			if end < 0 {
				return nil, fmt.Errorf("unterminated string at byte %d", i)
			}
			tok := src[i:end]
			i = end
			if key {
				dst = append(dst, tok...)
				continue
			}
			var s string
			if escaped {
				if err := json.Unmarshal(tok, &s); err != nil {
					return nil, fmt.Errorf("bad string at byte %d: %v", i, err)
				}
			} else {
				s = string(tok[1 : len(tok)-1])
			}
			r := redact(s)
			if r == s && !escaped && utf8.ValidString(s) {
				dst = append(dst, tok...)
			} else {
				dst = appendString(dst, r)
			}
			continue
		}
		dst = append(dst, c)
		i++
	}
	if len(stack) != 0 {
		return nil, fmt.Errorf("unclosed %q", stack[len(stack)-1])
	}
	return dst, nil
}

// stringEnd returns the index just past the JSON string starting at
// src[i] (a '"'), and whether it holds escapes; -1 if it is unterminated.
func stringEnd(src []byte, i int) (int, bool) {
	escaped := false
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j + 1, escaped
		}
	}
	return -1, escaped
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string: '"', '\\' and control
// characters escaped (\n, \r, \t or \u00XX), U+2028 and U+2029 escaped
// (they end lines in JavaScript), invalid UTF-8 replaced by U+FFFD, and
// everything else as is.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, "\\ufffd"...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// AnswerPayload is what the log records about an answer: who asked what
// (the question, redacted by the log), and everything that shaped the
// answer — template and its hash, model, the chunk ids and scores of the
// numbered sources — without the sources' text. The answer text itself
// stays in the answer store; the record binds it by its SHA-256, so an
// answer changed there no longer matches the tamper-evident log, and the
// log holds no second copy of what the answer may quote. AnswerID names
// the answer in the answer store; the record's RequestID is the id of the
// request that asked (AnswerEvent sets the answer id; a server sets its
// HTTP request id), so an answer is found by either.
type AnswerPayload struct {
	AnswerID     string    `json:"answer_id"`
	Session      string    `json:"session,omitempty"`
	Turn         int       `json:"turn,omitempty"`
	Assistant    string    `json:"assistant"`
	Question     string    `json:"question"`      // redacted by the log
	AnswerSHA256 string    `json:"answer_sha256"` // hex SHA-256 of the answer text as shown
	AnswerBytes  int       `json:"answer_bytes"`
	Template     string    `json:"template"`
	TemplateHash string    `json:"template_hash"`
	Model        string    `json:"model"`
	Served       string    `json:"served,omitempty"`
	Chunks       []string  `json:"chunks"` // chunk ids of the numbered sources, in order
	Scores       []float64 `json:"scores"` // their retrieval scores
	Cited        []int     `json:"cited,omitempty"`
	Supported    float64   `json:"supported"` // fraction of sentences supported by their citations
	Finish       string    `json:"finish,omitempty"`
	Refusal      string    `json:"refusal,omitempty"`
	Cache        string    `json:"cache,omitempty"`
	InputTokens  int       `json:"input_tokens"`
	OutputTokens int       `json:"output_tokens"`
}

// AnswerEvent returns the audit event of an answer, attributed to p (its
// actor and tenant; a nil p uses the answer's own Principal and Tenant).
// Its RequestID is the answer's id; a caller that knows the id of the
// request that asked (the HTTP request id) sets it instead.
func AnswerEvent(a *sextant.Answer, p *sextant.Principal) sextant.AuditEvent {
	sum := sha256.Sum256([]byte(a.Text))
	pl := AnswerPayload{AnswerID: a.ID, Session: a.SessionID, Turn: a.Turn, Assistant: a.Assistant,
		Question: a.Question, AnswerSHA256: hex.EncodeToString(sum[:]), AnswerBytes: len(a.Text),
		Template: a.Template, TemplateHash: a.TemplateHash,
		Model: a.Model, Served: a.Served, Finish: a.FinishReason, Refusal: a.Refusal, Cache: a.Cache,
		InputTokens: a.Usage.InputTokens, OutputTokens: a.Usage.OutputTokens,
		Chunks: make([]string, len(a.Sources)), Scores: make([]float64, len(a.Sources))}
	for i, s := range a.Sources {
		pl.Chunks[i], pl.Scores[i] = s.ChunkID, s.Score
	}
	cited := map[int]bool{}
	supported := 0
	for _, s := range a.Sentences {
		for _, n := range s.Citations {
			cited[n] = true
		}
		if s.Supported {
			supported++
		}
	}
	for n := range cited {
		pl.Cited = append(pl.Cited, n)
	}
	sort.Ints(pl.Cited)
	if len(a.Sentences) > 0 {
		pl.Supported = float64(supported) / float64(len(a.Sentences))
	}
	ev := sextant.AuditEvent{Kind: sextant.AuditAnswer, Actor: a.Principal, Tenant: a.Tenant,
		RequestID: a.ID, Payload: pl}
	if p != nil {
		ev.Actor, ev.Tenant = p.ID, p.Tenant
	}
	return ev
}

// ModelCallPayload is the payload of an AuditModelCall record. It holds no
// prompt or completion text: the gateway passes those through unread.
type ModelCallPayload struct {
	Model             string `json:"model"`
	Provider          string `json:"provider,omitempty"`
	User              string `json:"user,omitempty"`
	Project           string `json:"project,omitempty"`
	InputTokens       int    `json:"input_tokens"`
	CachedInputTokens int    `json:"cached_input_tokens,omitempty"`
	OutputTokens      int    `json:"output_tokens"`
	Success           bool   `json:"success"`
}

// ModelCallEvent returns the audit event of a gateway model call from its
// usage record: attributed to the record's key (or user, for local use)
// and tenant, under the record's request id.
func ModelCallEvent(rec *sextant.UsageRecord) sextant.AuditEvent {
	actor := rec.Key
	if actor == "" {
		actor = rec.User
	}
	return sextant.AuditEvent{Kind: sextant.AuditModelCall, Actor: actor, Tenant: rec.Tenant, RequestID: rec.RequestID,
		Payload: ModelCallPayload{Model: rec.Model, Provider: rec.Provider, User: rec.User, Project: rec.Project,
			InputTokens: rec.Usage.InputTokens, CachedInputTokens: rec.Usage.CachedInputTokens,
			OutputTokens: rec.Usage.OutputTokens, Success: rec.Success}}
}

// AnswerOf returns the answer id the first intact answer record among
// recs names (the records of one request, e.g. from the store's
// request-id index), and whether there was one.
func AnswerOf(recs []sextant.AuditRecord) (string, bool) {
	for i := range recs {
		if recs[i].Kind != sextant.AuditAnswer || recs[i].Payload == nil {
			continue
		}
		var pl struct {
			AnswerID string `json:"answer_id"`
		}
		if json.Unmarshal(recs[i].Payload, &pl) == nil && pl.AnswerID != "" {
			return pl.AnswerID, true
		}
	}
	return "", false
}

// validateEvent reports the first thing wrong with ev's fields.
func validateEvent(ev *sextant.AuditEvent) error {
	if !sextant.ValidAuditKind(ev.Kind) {
		return sextant.Errorf(sextant.EINVALID, "audit: kind %q: want 1-64 lower-case letters, digits, '.', '_' or '-'", ev.Kind)
	}
	for _, f := range [...]struct{ name, v string }{{"actor", ev.Actor}, {"tenant", ev.Tenant}, {"request id", ev.RequestID}} {
		if len(f.v) > 1024 || strings.ContainsRune(f.v, 0) {
			return sextant.Errorf(sextant.EINVALID, "audit: %s must be at most 1024 bytes without NUL", f.name)
		}
	}
	return nil
}
