// Package guard keeps personal data and secrets out of prompts, answers and
// logs, and scores text for prompt injection and jailbreak attempts.
//
// It owns four things, each usable on its own:
//
//   - Detection: [Scanner.Scan] finds PII and secrets (emails, phone
//     numbers, payment cards, IBANs, US SSNs, IP and MAC addresses, dates of
//     birth, postal addresses, person names, cloud and provider API keys,
//     private keys, JWTs, bearer tokens, high-entropy tokens). Every
//     [Finding] carries its type, byte span, confidence and detector.
//   - Actions: [Redactor] replaces findings with typed placeholders that
//     stay consistent within a conversation ([EMAIL_1]), masks them, hashes
//     them with a keyed HMAC, or lets them through; a [Vault] makes
//     redaction reversible so a provider only sees placeholders while the
//     user sees real values. [NewLogHandler] redacts every slog record.
//   - Injection scoring: [Injection.Score] returns a calibrated probability
//     that a prompt (or a retrieved chunk) tries to override instructions,
//     jailbreak the model or exfiltrate its prompt, combining hand-written
//     signals with a small logistic model trained in Go and embedded.
//   - Output checks: [OutputChecker] looks for leaked secrets and PII, a
//     system-prompt canary, links absent from the sources and denylisted
//     terms, on whole answers or incrementally on a stream ([Stream]).
//
// Every scanner runs in time linear in its input: detectors are
// hand-written single passes with bounded look-around, never backtracking
// regular expressions. The package has no global mutable state; every type
// documents whether it is safe for concurrent use.
package guard

import (
	"slices"
	"sync"
)

// Type names a kind of finding. Placeholders are built from it ([EMAIL_1]).
type Type string

// PII types.
const (
	Email         Type = "EMAIL"
	Phone         Type = "PHONE"
	CreditCard    Type = "CREDIT_CARD"
	IBAN          Type = "IBAN"
	SSN           Type = "US_SSN"
	IPAddress     Type = "IP_ADDRESS"
	MACAddress    Type = "MAC_ADDRESS"
	DateOfBirth   Type = "DATE_OF_BIRTH"
	StreetAddress Type = "ADDRESS"
	Person        Type = "PERSON"
)

// Secret types.
const (
	AWSKey      Type = "AWS_KEY"
	PrivateKey  Type = "PRIVATE_KEY"
	JWT         Type = "JWT"
	BearerToken Type = "BEARER_TOKEN"
	APIKey      Type = "API_KEY"
	Secret      Type = "SECRET" // generic: high-entropy token or a value labelled password/secret/token
)

// Output-check types (see OutputChecker).
const (
	Canary     Type = "CANARY"      // the system-prompt canary appeared in an answer
	PromptLeak Type = "PROMPT_LEAK" // a long verbatim run of the system prompt appeared
	Link       Type = "LINK"        // a link that is not in any source
	Denied     Type = "DENIED"      // a denylisted term or topic
)

// Types returns every type the Scanner detects, PII first, then secrets.
func Types() []Type { return slices.Clone(allTypes[:]) }

// IsSecret reports whether t is a credential rather than personal data.
func (t Type) IsSecret() bool {
	switch t {
	case AWSKey, PrivateKey, JWT, BearerToken, APIKey, Secret:
		return true
	}
	return false
}

// Finding is one detected span. Start and End are byte offsets into the
// scanned text (End exclusive), so text[Start:End] is the matched value.
type Finding struct {
	Type       Type
	Start, End int
	Confidence float64 // in (0,1]; how sure the detector is
	Detector   string  // which detector found it, e.g. "card-luhn", "email"
}

// Options configures a Scanner. The zero value scans for every type with a
// minimum confidence of 0.5.
type Options struct {
	// Types restricts detection to these types; nil means all PII and
	// secret types.
	Types []Type
	// MinConfidence drops findings below it; 0 means 0.5.
	MinConfidence float64
	// Names adds person names (first names or surnames) to the embedded
	// list, e.g. a customer directory.
	Names []string
}

// Scanner finds PII and secrets. It is safe for concurrent use.
type Scanner struct {
	enabled [numTypes]bool
	min     float64
	names   *nameSet
	pool    sync.Pool // *scan scratch
}

// New returns a Scanner configured by opts.
func New(opts Options) *Scanner {
	s := &Scanner{min: opts.MinConfidence, names: defaultNames()}
	if s.min <= 0 {
		s.min = 0.5
	}
	if opts.Types == nil {
		for i := range s.enabled {
			s.enabled[i] = true
		}
	} else {
		for _, t := range opts.Types {
			if i := typeIndex(t); i >= 0 {
				s.enabled[i] = true
			}
		}
	}
	if len(opts.Names) > 0 {
		s.names = s.names.with(opts.Names)
	}
	s.pool.New = func() any { return new(scan) }
	return s
}

// Scan returns the findings in text, sorted by Start, without overlaps
// (where detectors disagree the more confident, then longer, finding wins).
func (s *Scanner) Scan(text string) []Finding {
	fs, _ := s.scan(nil, text, true, nil)
	return fs
}

// AppendScan is Scan appending to dst, for callers that reuse a slice.
func (s *Scanner) AppendScan(dst []Finding, text string) []Finding {
	fs, _ := s.scan(dst, text, true, nil)
	return fs
}

// scan runs every enabled detector over text. When final is false, text is
// a prefix of a stream and hold is the smallest offset whose findings might
// still change when more text arrives; findings at or after hold are
// dropped. When final is true, hold is len(text).
//
// mem, when not nil, is a stream's memory of names confirmed before text:
// the name detector treats its words as confirmed, and on return
// mem.found holds the words of names confirmed in text that start at or
// after mem.from (offsets in text), for the stream to commit once it has
// emitted their start.
func (s *Scanner) scan(dst []Finding, text string, final bool, mem *nameMemory) ([]Finding, int) {
	sc := s.pool.Get().(*scan)
	sc.reset(s, text, final)
	sc.names = mem
	for _, d := range detectors {
		if d.any(s) {
			d.fn(sc)
		}
	}
	if !final {
		sc.holdTrailingRun()
	}
	out := resolve(sc.out, s.min)
	hold := sc.hold
	if !final {
		// A finding that starts before hold but could grow past it moves
		// hold back to its start.
		for _, f := range out {
			if f.End > hold && f.Start < hold {
				hold = f.Start
			}
		}
		n := 0
		for _, f := range out {
			if f.End <= hold {
				out[n] = f
				n++
			}
		}
		out = out[:n]
	}
	dst = append(dst, out...)
	if mem != nil {
		mem.found = append(mem.found[:0], sc.found...)
	}
	sc.out = sc.out[:0]
	sc.text = ""
	sc.names = nil
	s.pool.Put(sc)
	return dst, hold
}

// resolve drops findings under min and removes overlaps, keeping the more
// confident, then the longer, then the earlier finding. It sorts in place.
func resolve(fs []Finding, min float64) []Finding {
	n := 0
	for _, f := range fs {
		if f.Confidence >= min && f.End > f.Start {
			fs[n] = f
			n++
		}
	}
	fs = fs[:n]
	if len(fs) < 2 {
		return fs
	}
	slices.SortFunc(fs, func(a, b Finding) int {
		switch {
		case a.Confidence != b.Confidence:
			if a.Confidence > b.Confidence {
				return -1
			}
			return 1
		case a.End-a.Start != b.End-b.Start:
			return (b.End - b.Start) - (a.End - a.Start)
		default:
			return a.Start - b.Start
		}
	})
	// Greedy by priority; kept spans are few, so a sorted slice of kept
	// intervals with binary search keeps this O(n log n).
	kept := fs[:0:0]
	for _, f := range fs {
		i, _ := slices.BinarySearchFunc(kept, f.Start, func(k Finding, start int) int { return k.Start - start })
		if i > 0 && kept[i-1].End > f.Start {
			continue
		}
		if i < len(kept) && kept[i].Start < f.End {
			continue
		}
		kept = slices.Insert(kept, i, f)
	}
	copy(fs, kept)
	return fs[:len(kept)]
}

const numTypes = 16

var allTypes = [numTypes]Type{Email, Phone, CreditCard, IBAN, SSN, IPAddress, MACAddress, DateOfBirth, StreetAddress, Person, AWSKey, PrivateKey, JWT, BearerToken, APIKey, Secret}

func typeIndex(t Type) int {
	for i, u := range allTypes {
		if u == t {
			return i
		}
	}
	return -1
}

// detector is one detection pass; types are what it may report.
type detector struct {
	types []Type
	fn    func(*scan)
}

func (d detector) any(s *Scanner) bool {
	for _, t := range d.types {
		if i := typeIndex(t); i >= 0 && s.enabled[i] {
			return true
		}
	}
	return false
}

// detectors run in this order; order does not affect results because
// overlaps are resolved by confidence afterwards.
var detectors = []detector{
	{[]Type{PrivateKey}, detectPrivateKeys},
	{[]Type{Email}, detectEmails},
	{[]Type{CreditCard}, detectCards},
	{[]Type{SSN}, detectSSNs},
	{[]Type{Phone}, detectPhones},
	{[]Type{IPAddress}, detectIPs},
	{[]Type{MACAddress}, detectMACs},
	{[]Type{IBAN}, detectIBANs},
	{[]Type{DateOfBirth}, detectDOBs},
	{[]Type{StreetAddress}, detectAddresses},
	{[]Type{Person}, detectNames},
	{[]Type{AWSKey, JWT, BearerToken, APIKey, Secret}, detectTokens},
}
