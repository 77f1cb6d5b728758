package audit

import (
	"bytes"
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

// encodePayload returns the stored form of v: compact JSON with object
// keys sorted and no HTML escaping, with redact applied to every string
// value (object keys are left alone: they are field names chosen by code).
// A nil v encodes as null.
func encodePayload(v any, redact func(string) string) ([]byte, error) {
	raw, ok := v.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = marshal(v); err != nil {
			return nil, sextant.Errorf(sextant.EINVALID, "audit: payload cannot be encoded as JSON: %v", err)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, sextant.Errorf(sextant.EINVALID, "audit: payload is not valid JSON: %v", err)
	}
	if dec.More() {
		return nil, sextant.Errorf(sextant.EINVALID, "audit: payload holds more than one JSON value")
	}
	if redact != nil {
		tree = redactTree(tree, redact)
	}
	b := appendCanonical(nil, tree)
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

// redactTree applies redact to every string value of a decoded JSON tree.
func redactTree(v any, redact func(string) string) any {
	switch v := v.(type) {
	case string:
		return redact(v)
	case []any:
		for i := range v {
			v[i] = redactTree(v[i], redact)
		}
	case map[string]any:
		for k, x := range v {
			v[k] = redactTree(x, redact)
		}
	}
	return v
}

// appendCanonical appends the canonical JSON of a decoded tree: compact,
// object keys sorted by bytes, strings escaped as encoding/json does but
// without HTML escaping, numbers as written.
func appendCanonical(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		if v {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case json.Number:
		return append(b, v...)
	case string:
		return appendString(b, v)
	case []any:
		b = append(b, '[')
		for i, x := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCanonical(b, x)
		}
		return append(b, ']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendCanonical(b, v[k])
		}
		return append(b, '}')
	}
	// A decoded tree holds only the types above.
	return appendString(b, fmt.Sprint(v))
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

// AnswerPayload is what the log records about an answer: enough to find
// and replay it (request id is the record's RequestID, Answer.ID) without
// its sources' text.
type AnswerPayload struct {
	Session      string    `json:"session,omitempty"`
	Turn         int       `json:"turn,omitempty"`
	Assistant    string    `json:"assistant"`
	Question     string    `json:"question"` // redacted by the log
	Answer       string    `json:"answer"`   // redacted by the log
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
func AnswerEvent(a *sextant.Answer, p *sextant.Principal) sextant.AuditEvent {
	pl := AnswerPayload{Session: a.SessionID, Turn: a.Turn, Assistant: a.Assistant,
		Question: a.Question, Answer: a.Text, Template: a.Template, TemplateHash: a.TemplateHash,
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
