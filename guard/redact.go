package guard

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Redactor applies an action to each finding in a text. The zero value
// redacts everything with unnumbered placeholders ([EMAIL]). It is safe for
// concurrent use if its Vault is (Vaults are).
type Redactor struct {
	// Actions chooses the action per type; types not listed use Default.
	// ActionAllow leaves a finding in place; ActionFlag is treated as
	// allow (flagging is the caller's business).
	Actions map[Type]Action
	// Default is the action for types not in Actions; "" means ActionRedact.
	Default Action
	// HashKey keys ActionHash (HMAC-SHA256). Without a key, ActionHash
	// falls back to ActionRedact: an unkeyed hash of a phone number is
	// reversible by brute force.
	HashKey []byte
	// Vault, when set, numbers placeholders per type and remembers their
	// values ([EMAIL_1] is the same address everywhere in a conversation),
	// so Vault.Restore can put the real values back. Without a Vault,
	// placeholders are unnumbered ([EMAIL]) and nothing is remembered.
	Vault *Vault
}

// Redact scans text with s and applies r to the findings.
func (r *Redactor) Redact(s *Scanner, text string) (string, []Finding) {
	fs := s.Scan(text)
	return r.Apply(text, fs), fs
}

// Apply returns text with each finding replaced according to its action.
// Findings must be sorted by Start and must not overlap (as Scan returns
// them); overlapping ones after the first are skipped.
func (r *Redactor) Apply(text string, fs []Finding) string {
	if len(fs) == 0 {
		return text
	}
	var b strings.Builder
	b.Grow(len(text))
	last := 0
	for _, f := range fs {
		if f.Start < last || f.End > len(text) || f.Start < 0 {
			continue
		}
		b.WriteString(text[last:f.Start])
		b.WriteString(r.replacement(f.Type, text[f.Start:f.End]))
		last = f.End
	}
	b.WriteString(text[last:])
	return b.String()
}

func (r *Redactor) action(t Type) Action {
	if a, ok := r.Actions[t]; ok {
		return a
	}
	if r.Default == "" {
		return ActionRedact
	}
	return r.Default
}

// replacement is what one finding's value becomes.
func (r *Redactor) replacement(t Type, v string) string {
	switch r.action(t) {
	case ActionAllow, ActionFlag:
		return v
	case ActionMask:
		return Mask(t, v)
	case ActionHash:
		if len(r.HashKey) > 0 {
			return "[" + string(t) + ":" + Hash(r.HashKey, t, v) + "]"
		}
	}
	if r.Vault != nil {
		return r.Vault.placeholder(t, v)
	}
	return "[" + string(t) + "]"
}

// normalizeValue is the identity of a value for numbering and hashing:
// case-insensitive for emails, digits and letters only for numbers.
func normalizeValue(t Type, v string) string {
	switch t {
	case Email, Person, StreetAddress:
		return strings.ToLower(strings.Join(strings.Fields(v), " "))
	case Phone, CreditCard, SSN, IBAN, MACAddress:
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			if c := v[i]; isAlnum(c) {
				if isLowerc(c) {
					c -= 'a' - 'A'
				}
				b.WriteByte(c)
			}
		}
		return b.String()
	}
	return v
}

// Hash returns the hex HMAC-SHA256 (first 16 hex digits) of a normalized
// value, so equal values hash equally and can be joined on without being
// stored.
func Hash(key []byte, t Type, v string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(t))
	m.Write([]byte{0})
	m.Write([]byte(normalizeValue(t, v)))
	return hex.EncodeToString(m.Sum(nil))[:16]
}

// Mask hides most of a value while keeping its shape: the last four digits
// of cards and account numbers, the last two of phone numbers, the first
// letter and domain of an email; separators stay.
func Mask(t Type, v string) string {
	keepDigits := 0
	switch t {
	case CreditCard, IBAN, SSN:
		keepDigits = 4
	case Phone:
		keepDigits = 2
	case Email:
		at := strings.LastIndexByte(v, '@')
		if at > 0 {
			_, n := utf8.DecodeRuneInString(v)
			return v[:n] + strings.Repeat("*", max(3, utf8.RuneCountInString(v[n:at]))) + v[at:]
		}
	}
	// Keep the last keepDigits alphanumerics (and IBAN's country code).
	alnum := 0
	for i := 0; i < len(v); i++ {
		if isAlnum(v[i]) {
			alnum++
		}
	}
	b := []byte(v)
	seen := 0
	for i, c := range b {
		if c >= utf8.RuneSelf {
			b[i] = '*'
			continue
		}
		if !isAlnum(c) {
			continue
		}
		seen++
		if seen > alnum-keepDigits || (t == IBAN && seen <= 2) {
			continue
		}
		b[i] = '*'
	}
	return string(b)
}

// Vault remembers, for one conversation, which placeholder stands for
// which value, so redaction is consistent across turns and reversible for
// the user. It is safe for concurrent use. Keep one Vault per
// conversation, in memory or in storage the conversation's owner controls:
// it holds the raw values.
type Vault struct {
	mu      sync.Mutex
	byValue map[string]string // type NUL normalized value → placeholder
	values  map[string]string // placeholder → original value
	counts  map[Type]int
}

// NewVault returns an empty vault.
func NewVault() *Vault {
	return &Vault{byValue: map[string]string{}, values: map[string]string{}, counts: map[Type]int{}}
}

func (v *Vault) placeholder(t Type, value string) string {
	key := string(t) + "\x00" + normalizeValue(t, value)
	v.mu.Lock()
	defer v.mu.Unlock()
	if p, ok := v.byValue[key]; ok {
		return p
	}
	v.counts[t]++
	p := "[" + string(t) + "_" + strconv.Itoa(v.counts[t]) + "]"
	v.byValue[key] = p
	v.values[p] = value
	return p
}

// Len returns the number of distinct values the vault holds.
func (v *Vault) Len() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.values)
}

// Value returns the original value of a placeholder.
func (v *Vault) Value(placeholder string) (string, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	s, ok := v.values[placeholder]
	return s, ok
}

// maxPlaceholder bounds a placeholder's length: "[" TYPE "_" N "]".
const maxPlaceholder = 40

// Restore replaces every placeholder the vault knows with its original
// value; unknown bracketed text is left alone. It runs in linear time.
func (v *Vault) Restore(text string) string {
	out, _ := v.restore(text, true)
	return out
}

// restore rewrites text and returns how many trailing bytes it could not
// decide yet (a '[' that may start a placeholder) when final is false.
func (v *Vault) restore(text string, final bool) (string, int) {
	return v.restoreWith(text, final, nil)
}

// restoreWith is restore with each value passed through escape (nil =
// as is).
func (v *Vault) restoreWith(text string, final bool, escape func(string) string) (string, int) {
	var b strings.Builder
	last := 0
	held := 0
	for i := 0; i < len(text); i++ {
		if text[i] != '[' {
			continue
		}
		j := i + 1
		for j < len(text) && j-i < maxPlaceholder && (isUpper(text[j]) || isDigit(text[j]) || text[j] == '_') {
			j++
		}
		if j == len(text) && !final && j-i < maxPlaceholder {
			held = len(text) - i
			break
		}
		if j < len(text) && text[j] == ']' {
			if val, ok := v.Value(text[i : j+1]); ok {
				if escape != nil {
					val = escape(val)
				}
				b.WriteString(text[last:i])
				b.WriteString(val)
				last = j + 1
			}
		}
	}
	b.WriteString(text[last : len(text)-held])
	return b.String(), held
}

// Restorer restores placeholders in a stream of text deltas, holding back
// only a trailing fragment that could be the start of a placeholder.
type Restorer struct {
	v       *Vault
	pending string
}

// Restorer returns a streaming Restore.
func (v *Vault) Restorer() *Restorer { return &Restorer{v: v} }

// Write adds a delta and returns the text that is safe to show.
func (r *Restorer) Write(delta string) string {
	out, held := r.v.restore(r.pending+delta, false)
	all := r.pending + delta
	r.pending = all[len(all)-held:]
	return out
}

// Flush returns what is still held back, restored.
func (r *Restorer) Flush() string {
	out, _ := r.v.restore(r.pending, true)
	r.pending = ""
	return out
}
