package telemetry

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Label values that stand for "not one of the known values" and "no
// value".
const (
	Other = "other"
	None  = "none"
)

// labelSet bounds the values one label may take. With a fixed list, only
// listed values are kept; without one, the first max distinct values seen
// are kept. Everything else is recorded as Other, so a caller (or an
// attacker choosing model names) cannot grow the series without bound.
type labelSet struct {
	fixed bool
	max   int

	vals atomic.Pointer[map[string]struct{}] // copy-on-write: reads take no lock
	mu   sync.Mutex                          // serialises writers
}

func newLabelSet(allowed []string, max int) *labelSet {
	s := &labelSet{fixed: allowed != nil, max: max}
	m := make(map[string]struct{}, len(allowed))
	for _, v := range allowed {
		if v != "" {
			m[v] = struct{}{}
		}
	}
	s.vals.Store(&m)
	return s
}

// value returns the label value to record for v.
func (s *labelSet) value(v string) string {
	if v == "" {
		return None
	}
	m := *s.vals.Load()
	if _, ok := m[v]; ok {
		return v
	}
	if s.fixed || len(m) >= s.max || len(v) > maxLabelLen {
		return Other
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m = *s.vals.Load()
	if _, ok := m[v]; ok {
		return v
	}
	if len(m) >= s.max {
		return Other
	}
	s.add(v)
	return v
}

// add admits v; callers hold mu.
func (s *labelSet) add(vs ...string) {
	old := *s.vals.Load()
	m := make(map[string]struct{}, len(old)+len(vs))
	for k := range old {
		m[k] = struct{}{}
	}
	for _, v := range vs {
		if v != "" {
			m[v] = struct{}{}
		}
	}
	s.vals.Store(&m)
}

// allow admits values explicitly, beyond any cap (an assistant created
// through the API).
func (s *labelSet) allow(vs ...string) {
	s.mu.Lock()
	s.add(vs...)
	s.mu.Unlock()
}

// maxLabelLen keeps pathological values out of dynamically admitted sets.
const maxLabelLen = 128

// enum is a fixed set of label values known in code.
type enum map[string]bool

func newEnum(vs ...string) enum {
	e := enum{}
	for _, v := range vs {
		e[v] = true
	}
	return e
}

func (e enum) value(v string) string {
	if v == "" {
		return None
	}
	if e[v] {
		return v
	}
	return Other
}

// Stages of the answer pipeline (rag's Stage* names).
var stages = newEnum("normalize", "guard", "rewrite", "retrieve", "rerank", "cache", "compose", "generate", "cite", "output", "record")

// HTTP status codes kept as their own label value.
var statusCodes = newEnum("200", "201", "202", "204", "206", "301", "302", "304", "400", "401", "403", "404", "405", "408",
	"409", "413", "415", "422", "429", "499", "500", "501", "502", "503", "504")

// codeLabels maps a status code to its label value without formatting
// (the request path stays allocation-free).
var codeLabels = func() (a [600]string) {
	for i := range a {
		a[i] = statusCodes.value(strconv.Itoa(i))
	}
	return a
}()

func codeLabel(code int) string {
	if code < 0 || code >= len(codeLabels) {
		return Other
	}
	return codeLabels[code]
}

// Error codes of sextant.Error, plus "ok" and "canceled".
var errorCodes = newEnum("ok", "canceled", "invalid", "not_found", "conflict", "unauthorized", "forbidden", "rate_limited", "unavailable", "internal")

// Kinds of model call (llm.Call.Kind).
var callKinds = newEnum("chat", "embed", "rerank", "forward")

// Guard stages.
var guardStages = newEnum("input", "chunks", "output")

// Circuit breaker states (llm.State.String()).
var circuitStates = []string{"closed", "open", "half-open"}

// guardTypes are the finding kinds kept as label values: the guard's
// detector types, lower-cased, and the policy verdicts.
var guardTypes = newEnum("email", "phone", "credit_card", "iban", "us_ssn", "ip_address", "mac_address", "date_of_birth",
	"address", "person", "aws_key", "private_key", "jwt", "bearer_token", "api_key", "secret", "canary", "prompt_leak",
	"link", "denied", "injection", "jailbreak", "policy", "toxicity", "pii")

// guardType normalises a finding label ("pii:email", "EMAIL",
// "injection") to a bounded value.
func guardType(v string) string {
	v = strings.ToLower(v)
	if kind, rest, ok := strings.Cut(v, ":"); ok {
		if guardTypes[rest] || !guardTypes[kind] {
			return guardTypes.value(rest)
		}
		return kind // "policy:no-medical-advice" → "policy"
	}
	return guardTypes.value(v)
}
