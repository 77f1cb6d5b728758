package guard

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
)

// OutputOptions configures an OutputChecker. Every check is off unless its
// option is set, except PII and secrets, which are always scanned.
type OutputOptions struct {
	// Scanner finds leaked PII and secrets; nil means New(Options{}).
	Scanner *Scanner
	// Canary is a token planted in the system prompt (see NewCanary); an
	// answer containing it, in any case or with separators inserted, leaks
	// the system prompt.
	Canary string
	// SystemPrompt, when set, makes a run of LeakWords or more consecutive
	// words copied from it a PromptLeak finding.
	SystemPrompt string
	// LeakWords is the run length for SystemPrompt; 0 means 12.
	LeakWords int
	// CheckLinks turns on the link check: a URL in the answer that does
	// not occur in Sources is a Link finding.
	CheckLinks bool
	// Sources are the texts and URIs the answer was given: the links it
	// may contain (CheckLinks) and, with PII PIIAllowFromSources, the
	// personal data it may quote.
	Sources []string
	// PII says which personal data an answer may contain; the zero value
	// is PIIRedact. Credentials are reported in every mode.
	PII PIIMode
	// Deny lists denylisted terms by topic ("weapons": {"nerve agent",
	// ...}). Matching is case-insensitive on whole words, after folding
	// look-alike letters. The finding's Detector is "deny:" + topic.
	Deny map[string][]string
}

// PIIMode says which personal-data findings in an answer are reported.
type PIIMode string

// PII modes of OutputOptions.
const (
	// PIIRedact reports all personal data.
	PIIRedact PIIMode = "redact"
	// PIIAllowFromSources lets through personal data that occurs verbatim
	// (case and runs of blanks aside) in the Sources: an answer quoting a
	// document's author or address is repeating what its reader may
	// already see. Payment card numbers and US SSNs are reported even
	// then: an answer never needs to repeat them.
	PIIAllowFromSources PIIMode = "allow_from_sources"
	// PIIAllow reports no personal data, only credentials.
	PIIAllow PIIMode = "allow"
)

// ParsePIIMode checks a PII mode's name; "" is PIIRedact.
func ParsePIIMode(s string) (PIIMode, error) {
	switch m := PIIMode(s); m {
	case "":
		return PIIRedact, nil
	case PIIRedact, PIIAllowFromSources, PIIAllow:
		return m, nil
	}
	return "", fmt.Errorf("output PII mode %q: want redact, allow_from_sources or allow", s)
}

// OutputChecker checks model answers. It is immutable and safe for
// concurrent use.
type OutputChecker struct {
	s          *Scanner
	canary     string // lower-case, alphanumerics only
	leakWords  int
	promptSet  map[uint64]bool // hashes of LeakWords-word shingles of the system prompt
	checkLinks bool
	links      map[string]bool // normalized source URLs
	deny       map[string][]denyTerm
	maxDeny    int // longest denylisted phrase, in words
	pii        PIIMode
	sourceText string // folded Sources, joined by NUL, for PIIAllowFromSources
}

type denyTerm struct {
	words []string
	topic string
}

// NewCanary returns a fresh random canary token to plant in a system
// prompt ("sxc-" and 16 hex digits).
func NewCanary() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return "sxc-" + hex.EncodeToString(b[:])
}

// NewOutputChecker validates opts and builds a checker.
func NewOutputChecker(opts OutputOptions) (*OutputChecker, error) {
	c := &OutputChecker{s: opts.Scanner, leakWords: opts.LeakWords, checkLinks: opts.CheckLinks}
	if c.s == nil {
		c.s = New(Options{})
	}
	var err error
	if c.pii, err = ParsePIIMode(string(opts.PII)); err != nil {
		return nil, fmt.Errorf("output check: %w", err)
	}
	if c.pii == PIIAllowFromSources {
		var b strings.Builder
		for _, src := range opts.Sources {
			b.WriteString(foldBlanks(src))
			b.WriteByte(0)
		}
		c.sourceText = b.String()
	}
	if c.leakWords == 0 {
		c.leakWords = 12
	}
	if opts.Canary != "" {
		c.canary = alnumLower(opts.Canary)
		if len(c.canary) < 8 {
			return nil, fmt.Errorf("output check: canary %q is too short to detect reliably (want at least 8 letters or digits)", opts.Canary)
		}
	}
	if opts.SystemPrompt != "" {
		c.promptSet = map[uint64]bool{}
		ws := lowerWords(opts.SystemPrompt)
		for i := 0; i+c.leakWords <= len(ws); i++ {
			c.promptSet[shingle(ws[i:i+c.leakWords])] = true
		}
	}
	if opts.CheckLinks {
		c.links = map[string]bool{}
		for _, src := range opts.Sources {
			for _, u := range findURLs(src) {
				c.links[normalizeURL(src[u[0]:u[1]])] = true
			}
		}
	}
	if len(opts.Deny) > 0 {
		c.deny = map[string][]denyTerm{}
		for topic, terms := range opts.Deny {
			for _, term := range terms {
				ws := lowerWords(term)
				if len(ws) == 0 {
					return nil, fmt.Errorf("output check: denylist topic %q has an empty term", topic)
				}
				c.deny[ws[0].w] = append(c.deny[ws[0].w], denyTerm{words: wordStrings(ws), topic: topic})
				c.maxDeny = max(c.maxDeny, len(ws))
			}
		}
	}
	return c, nil
}

// Check returns every finding in a complete answer, sorted by Start:
// leaked PII and secrets, the canary, system-prompt runs, unsourced links
// and denylisted terms. Where findings overlap, the earlier one is kept.
func (c *OutputChecker) Check(answer string) []Finding {
	// Output-check findings go first so that, where one overlaps a PII
	// finding at the same offset, the stable sort keeps it.
	fs, _ := c.extraHold(nil, answer, true)
	n := len(fs)
	fs = c.s.AppendScan(fs, answer)
	fs = append(fs[:n], c.allowPII(fs[n:], answer)...)
	sortByStart(fs)
	return resolveOrdered(fs)
}

// extraHold appends the canary, link, denylist and prompt-leak findings
// of text and, when final is false, returns the smallest offset a pending
// canary, link or denylisted phrase could still start at.
func (c *OutputChecker) extraHold(fs []Finding, text string, final bool) ([]Finding, int) {
	hold := len(text)
	if c.canary != "" {
		var h int
		fs, h = c.findCanary(fs, text, final)
		hold = min(hold, h)
	}
	if c.checkLinks {
		for _, u := range findURLs(text) {
			if !final && u[1] == len(text) {
				hold = min(hold, u[0])
				continue
			}
			if !c.links[normalizeURL(text[u[0]:u[1]])] {
				fs = append(fs, Finding{Type: Link, Start: u[0], End: u[1], Confidence: 1, Detector: "link"})
			}
		}
	}
	if c.deny != nil || c.promptSet != nil {
		ws := lowerWords(text)
		if c.deny != nil {
			for i, w := range ws {
				for _, d := range c.deny[w.w] {
					if i+len(d.words) > len(ws) {
						if !final {
							hold = min(hold, w.start)
						}
						continue
					}
					ok := true
					for k, dw := range d.words {
						if ws[i+k].w != dw {
							ok = false
							break
						}
					}
					if ok {
						fs = append(fs, Finding{Type: Denied, Start: w.start, End: ws[i+len(d.words)-1].end, Confidence: 1, Detector: "deny:" + d.topic})
					}
				}
			}
			// The last words (the very last possibly unfinished) could
			// begin a denylisted phrase.
			if !final && len(ws) > 0 {
				k := max(0, len(ws)-c.maxDeny)
				hold = min(hold, ws[k].start)
			}
		}
		if c.promptSet != nil {
			fs = c.findLeaks(fs, ws)
		}
	}
	return fs, hold
}

// findCanary finds the canary exactly, in any case, or with non-alphanumeric
// bytes inserted between its characters.
func (c *OutputChecker) findCanary(fs []Finding, text string, final bool) ([]Finding, int) {
	hold := len(text)
	// Map the alphanumeric bytes of text, lower-cased, to their offsets.
	var stripped []byte
	var at []int
	for i := 0; i < len(text); i++ {
		if b := text[i]; isAlnum(b) {
			if isUpper(b) {
				b += 'a' - 'A'
			}
			stripped = append(stripped, b)
			at = append(at, i)
		}
	}
	s := string(stripped)
	from := 0
	for {
		k := strings.Index(s[from:], c.canary)
		if k < 0 {
			break
		}
		k += from
		fs = append(fs, Finding{Type: Canary, Start: at[k], End: at[k+len(c.canary)-1] + 1, Confidence: 1, Detector: "canary"})
		from = k + len(c.canary)
	}
	if !final {
		// Hold a suffix that could be the canary's beginning.
		for n := min(len(c.canary)-1, len(s)); n > 0; n-- {
			if strings.HasSuffix(s, c.canary[:n]) {
				hold = at[len(s)-n]
				break
			}
		}
	}
	return fs, hold
}

// findLeaks reports runs of LeakWords or more words copied from the system
// prompt, merged into one finding per run.
func (c *OutputChecker) findLeaks(fs []Finding, ws []lword) []Finding {
	start, end := -1, -1
	for i := 0; i+c.leakWords <= len(ws); i++ {
		if !c.promptSet[shingle(ws[i:i+c.leakWords])] {
			continue
		}
		s, e := ws[i].start, ws[i+c.leakWords-1].end
		if start >= 0 && s <= end {
			end = max(end, e)
			continue
		}
		if start >= 0 {
			fs = append(fs, Finding{Type: PromptLeak, Start: start, End: end, Confidence: 0.9, Detector: "prompt-overlap"})
		}
		start, end = s, e
	}
	if start >= 0 {
		fs = append(fs, Finding{Type: PromptLeak, Start: start, End: end, Confidence: 0.9, Detector: "prompt-overlap"})
	}
	return fs
}

// lword is a lower-cased word with its byte span.
type lword struct {
	w          string
	start, end int
}

// lowerWords splits t into lower-cased, look-alike-folded words with spans.
func lowerWords(t string) []lword {
	var out []lword
	for _, w := range tokenize(nil, t) {
		if w.kind != wLetters && w.kind != wDigits {
			continue
		}
		n, _ := normalize(nil, t[w.start:w.end])
		out = append(out, lword{w: string(n), start: w.start, end: w.end})
	}
	return out
}

func wordStrings(ws []lword) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.w
	}
	return out
}

func shingle(ws []lword) uint64 {
	h := uint64(14695981039346656037)
	for _, w := range ws {
		for i := 0; i < len(w.w); i++ {
			h ^= uint64(w.w[i])
			h *= 1099511628211
		}
		h ^= ' '
		h *= 1099511628211
	}
	return h
}

func alnumLower(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; isAlnum(c) {
			if isUpper(c) {
				c += 'a' - 'A'
			}
			b.WriteByte(c)
		}
	}
	return b.String()
}

// findURLs returns the spans of http(s) URLs and www. hosts in t.
func findURLs(t string) [][2]int {
	var out [][2]int
	lower := strings.ToLower(t)
	for i := 0; i < len(t); {
		k := -1
		for _, p := range []string{"https://", "http://", "www."} {
			if j := strings.Index(lower[i:], p); j >= 0 && (k < 0 || j < k) {
				k = j
			}
		}
		if k < 0 {
			break
		}
		s := i + k
		if s > 0 && (isAlnum(t[s-1]) || t[s-1] == '.' || t[s-1] == '/') {
			i = s + 4
			continue
		}
		e := s
		for e < len(t) && !isBlank(t[e]) && strings.IndexByte("<>\"'`()[]{}|\\^", t[e]) < 0 {
			e++
		}
		for e > s && strings.IndexByte(".,;:!?*_", t[e-1]) >= 0 {
			e--
		}
		if e-s > 8 {
			out = append(out, [2]int{s, e})
		}
		i = max(e, s+4)
	}
	return out
}

// normalizeURL lower-cases scheme and host, drops "www.", the fragment and
// a trailing slash, so trivially different spellings of a link compare
// equal.
func normalizeURL(u string) string {
	u, _, _ = strings.Cut(u, "#")
	rest := u
	for _, p := range []string{"https://", "http://", "HTTPS://", "HTTP://"} {
		if r, ok := strings.CutPrefix(rest, p); ok {
			rest = r
			break
		}
	}
	host, path, _ := strings.Cut(rest, "/")
	host = strings.TrimPrefix(strings.ToLower(host), "www.")
	return strings.TrimSuffix(host+"/"+path, "/")
}

// allowPII drops, in place, the personal-data findings the PII mode lets
// through. Credentials are always kept.
func (c *OutputChecker) allowPII(fs []Finding, text string) []Finding {
	if c.pii == PIIRedact || c.pii == "" {
		return fs
	}
	n := 0
	for _, f := range fs {
		if !f.Type.IsSecret() && c.piiAllowed(f, text) {
			continue
		}
		fs[n] = f
		n++
	}
	return fs[:n]
}

func (c *OutputChecker) piiAllowed(f Finding, text string) bool {
	switch {
	case c.pii == PIIAllow:
		return true
	case c.pii != PIIAllowFromSources || f.Type == CreditCard || f.Type == SSN:
		return false
	}
	return containsToken(c.sourceText, foldBlanks(text[f.Start:f.End]))
}

// containsToken reports whether needle occurs in hay with no letter or
// digit glued to either end ("Ann Lee" is not in "Joann Lee").
func containsToken(hay, needle string) bool {
	if needle == "" {
		return false
	}
	for from := 0; ; {
		i := strings.Index(hay[from:], needle)
		if i < 0 {
			return false
		}
		i += from
		e := i + len(needle)
		if (i == 0 || !isWordByte(hay[i-1]) || !isWordByte(needle[0])) &&
			(e == len(hay) || !isWordByte(hay[e]) || !isWordByte(needle[len(needle)-1])) {
			return true
		}
		from = i + 1
	}
}

// foldBlanks lower-cases ASCII letters and turns every run of blanks
// (line breaks included) into one space, so a value wrapped or
// re-capitalized in the answer still matches its source.
func foldBlanks(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	blank := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isBlank(c) || c == '\n' || c == '\r' {
			blank = true
			continue
		}
		if blank && b.Len() > 0 {
			b.WriteByte(' ')
		}
		blank = false
		if isUpper(c) {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}
