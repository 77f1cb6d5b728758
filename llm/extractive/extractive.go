// Package extractive is Sextant's built-in answer generator: a
// driver.Provider that needs no language model. It answers from the
// numbered sources of a retrieval-augmented request (driver.Request.Sources)
// by picking the sentences that best answer the question and quoting them,
// each followed by the citation of the source it comes from. Its answers are
// deterministic (the same request gives the same answer) and grounded by
// construction: every sentence is a sentence of a cited source.
//
// How sentences are chosen:
//
//  1. The question's terms (search analyzer: folded, stemmed, stop words
//     dropped) weigh 1; terms of earlier user turns that the question lacks
//     weigh ½, so a follow-up keeps the conversation's subject.
//  2. Every source is split into sentences (list items count as sentences;
//     headings, code blocks and table rows are skipped; so are fragments —
//     brackets or quotes left open — JSON, continuation lines of commands
//     and example commands that quote a question; a chunk that starts
//     inside a code block is recognised). Each sentence is
//     scored with BM25 over the sentences of all sources, multiplied by its
//     coverage of the question's term weight (a sentence matching more
//     distinct question terms beats one repeating a single term) and by a
//     prior for its source's retrieval rank, and raised when a question
//     term is among its first words (the sentence is about the subject).
//     Table rows and lines of short code blocks count as sentences too.
//  3. Sentences are picked greedily by maximal marginal relevance: score
//     minus similarity to what is already picked, so near-duplicates (the
//     overlap between neighbouring chunks) and restatements are skipped. The
//     pick stops at MaxSentences, MaxWords, or when the next sentence scores
//     below MinScore of the best one.
//  4. The picked sentences are ordered by source (sources in the order of
//     their best sentence) and, within a source, in text order; each ends
//     with its [n].
//
// The answer streams word by word. Usage is counted locally with the
// cl100k_base tokenizer and marked Estimated.
package extractive

import (
	"context"
	"iter"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/tiktoken-go/tokenizer"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm/driver"
	"github.com/sextant-ai/sextant/search"
)

// Model is the model name the provider answers to in Sextant's
// configuration; the provider itself answers any model name.
const Model = "extractive"

// NoAnswer is the answer when no source sentence matches the question.
const NoAnswer = "I could not find an answer to this in the documents."

// Options configures a Provider. The zero value is the tuned default.
type Options struct {
	// Analyzer splits text into terms; nil means the search analyzer
	// with its defaults (the one the index uses).
	Analyzer *search.Analyzer
	// MaxSentences bounds the answer's sentences; 0 means 3.
	MaxSentences int
	// MaxWords bounds the answer's length in words; a sentence that would
	// pass it is not added (the first sentence always is). 0 means 90.
	MaxWords int
	// MinScore is the share of the best sentence's score a further
	// sentence needs; 0 means 0.4.
	MinScore float64
	// Lambda weighs relevance against redundancy in the MMR pick, in
	// (0, 1]; 0 means 0.7.
	Lambda float64
}

// Provider is the extractive generator. It is safe for concurrent use.
type Provider struct {
	o      Options
	codec  lazyCodec
	pieces pieceCounts // count.go
}

// New returns a Provider configured by o.
func New(o Options) *Provider {
	if o.Analyzer == nil {
		o.Analyzer = search.NewAnalyzer(search.AnalyzerOptions{})
	}
	if o.MaxSentences <= 0 {
		o.MaxSentences = 3
	}
	if o.MaxWords <= 0 {
		o.MaxWords = 90
	}
	if o.MinScore <= 0 || o.MinScore > 1 {
		o.MinScore = 0.4
	}
	if o.Lambda <= 0 || o.Lambda > 1 {
		o.Lambda = 0.7
	}
	return &Provider{o: o}
}

// Stream implements driver.Provider: the answer, word by word, then a
// final delta with FinishReason stop (length when MaxTokens cut it) and
// the usage.
func (p *Provider) Stream(ctx context.Context, req *driver.Request) iter.Seq2[sextant.Delta, error] {
	return func(yield func(sextant.Delta, error) bool) {
		if err := ctx.Err(); err != nil {
			yield(sextant.Delta{}, err)
			return
		}
		if req.ToolChoice != "" && req.ToolChoice != "auto" && req.ToolChoice != "none" {
			yield(sextant.Delta{}, sextant.Errorf(sextant.EINVALID, "extractive: tool_choice %q: this generator cannot call tools", req.ToolChoice))
			return
		}
		text, finish := p.answer(req)
		for piece := range words(text) {
			if err := ctx.Err(); err != nil {
				yield(sextant.Delta{}, err)
				return
			}
			if !yield(sextant.Delta{Text: piece}, nil) {
				return
			}
		}
		u := p.usage(req, text)
		yield(sextant.Delta{FinishReason: finish, Usage: &u}, nil)
	}
}

// Answer returns the answer text req would stream and its finish reason.
func (p *Provider) Answer(req *driver.Request) (text, finish string) { return p.answer(req) }

// words yields text in pieces of one word with the whitespace after it.
func words(text string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := 0; i < len(text); {
			j := i
			for j < len(text) && !isSpaceByte(text[j]) {
				j++
			}
			for j < len(text) && isSpaceByte(text[j]) {
				j++
			}
			if !yield(text[i:j]) {
				return
			}
			i = j
		}
	}
}

func isSpaceByte(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

// unit is one candidate sentence.
type unit struct {
	src   int // index in req.Sources
	pos   int // ordinal within the source
	text  string
	terms map[string]int
	lead  []string // the first terms, for the subject boost
	n     int      // term count
	words int
	score float64
	norm  float64 // Euclidean norm of the term-frequency vector
}

func (p *Provider) answer(req *driver.Request) (string, string) {
	qw := p.queryWeights(req.Messages)
	if len(qw) == 0 || len(req.Sources) == 0 {
		return NoAnswer, sextant.FinishStop
	}
	units := p.units(req.Sources, lastUser(req.Messages))
	if len(units) == 0 {
		return NoAnswer, sextant.FinishStop
	}
	p.score(units, qw, req.Sources)
	picked := p.pick(units)
	if len(picked) == 0 {
		return NoAnswer, sextant.FinishStop
	}
	text := render(picked, req.Sources)
	if req.MaxTokens > 0 {
		return p.fit(picked, req.Sources, req.MaxTokens)
	}
	return text, sextant.FinishStop
}

// queryWeights returns the weight of each query term: 1 for terms of the
// last user message, ½ for terms only earlier user messages have.
func (p *Provider) queryWeights(msgs []sextant.Message) map[string]float64 {
	w := map[string]float64{}
	last := -1
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == sextant.RoleUser {
			last = i
			break
		}
	}
	if last < 0 {
		return w
	}
	for _, t := range p.o.Analyzer.Terms(msgs[last].Content) {
		w[t] = 1
	}
	for _, m := range msgs[:last] {
		if m.Role != sextant.RoleUser {
			continue
		}
		for _, t := range p.o.Analyzer.Terms(m.Content) {
			if _, ok := w[t]; !ok {
				w[t] = 0.5
			}
		}
	}
	return w
}

// lastUser returns the content of the last user message.
func lastUser(msgs []sextant.Message) string {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == sextant.RoleUser {
			return msgs[i].Content
		}
	}
	return ""
}

// units splits the sources into candidate sentences.
func (p *Provider) units(srcs []sextant.Source, question string) []unit {
	var out []unit
	// A unit holding the question itself (an example in the docs, a FAQ
	// heading) repeats it rather than answering it.
	q := strings.ToLower(strings.TrimRight(strings.TrimSpace(question), "?!. "))
	if len(q) < 12 {
		q = ""
	}
	for si, s := range srcs {
		pos := 0
		for _, st := range sextant.SplitSentences(prose(s.Text)) {
			// A list item ending in ";" or "," stands as a sentence of
			// its own (the period and citation are added).
			t := strings.TrimRight(strings.TrimSpace(st.Text), ";, ")
			if !usable(t) || (q != "" && strings.Contains(strings.ToLower(t), q)) {
				continue
			}
			u := unit{src: si, pos: pos, text: t, terms: map[string]int{}}
			pos++
			for _, term := range p.o.Analyzer.Terms(t) {
				u.terms[term]++
				u.n++
				if len(u.lead) < leadTerms {
					u.lead = append(u.lead, term)
				}
			}
			if u.n == 0 {
				continue
			}
			u.words = len(strings.Fields(t))
			var sq float64
			for _, f := range u.terms {
				sq += float64(f * f)
			}
			u.norm = math.Sqrt(sq)
			out = append(out, u)
		}
	}
	return out
}

// prose rewrites Markdown-like text into sentence-sized units: prose stays
// as it is; each table row becomes one unit (cells joined by " — ", header
// and separator rows dropped); each line of a shell code block (```sh,
// bash, console, ...) becomes an inline-code unit, a trailing "# comment"
// after it; other code blocks, headings,
// block quotes and HTML lines are dropped. Units are separated by blank
// lines so sentences never run across them. A chunk cut out of a longer
// document may start inside a code block (sextant.StartsInCodeBlock): its text up to
// the first fence is code too.
func prose(text string) string {
	if !strings.ContainsAny(text, "`|#<") {
		return text
	}
	var b strings.Builder
	_, fence := sextant.StartsInCodeBlock(text)
	shell, prevTable := false, false
	for line := range strings.Lines(text) {
		l := strings.TrimSpace(line)
		table := strings.HasPrefix(l, "|")
		switch {
		case strings.HasPrefix(l, "```") || strings.HasPrefix(l, "~~~"):
			fence = !fence
			shell = fence && shellFence(l[3:])
			b.WriteString("\n\n")
		case fence:
			if u := codeUnit(l); u != "" && shell {
				b.WriteString("\n\n" + u + "\n\n")
			}
		case table:
			if u := rowUnit(l); u != "" && prevTable {
				b.WriteString("\n\n" + u + "\n\n")
			}
		case strings.HasPrefix(l, "#"), strings.HasPrefix(l, "<"), strings.HasPrefix(l, ">"):
			b.WriteString("\n\n")
		default:
			b.WriteString(line)
		}
		prevTable = table
	}
	return b.String()
}

// shellFence reports whether a fence's info string names a shell: only
// commands are quoted from code blocks, not program output or config.
func shellFence(info string) bool {
	switch strings.ToLower(strings.TrimSpace(info)) {
	case "sh", "bash", "shell", "console", "zsh", "fish", "powershell", "ps1", "cmd", "bat":
		return true
	}
	return false
}

// codeUnit renders one line of code as `code` — comment, or "" for lines
// that are blank, too long, or only a comment.
func codeUnit(l string) string {
	code, comment := l, ""
	if i := strings.Index(l, " # "); i > 0 {
		code, comment = strings.TrimSpace(l[:i]), strings.TrimSpace(l[i+3:])
	}
	if code == "" || strings.HasPrefix(code, "#") || strings.HasPrefix(code, "//") || len(code) > 100 || strings.Contains(code, "`") {
		return ""
	}
	if comment != "" {
		return "`" + code + "` — " + comment
	}
	return "`" + code + "`"
}

// rowUnit renders a table row as its cells joined by " — ", or "" for a
// separator row.
func rowUnit(l string) string {
	cells := strings.Split(strings.Trim(l, "| "), "|")
	var out []string
	for _, c := range cells {
		c = strings.TrimSpace(c)
		if strings.Trim(c, "-: ") == "" {
			if c != "" {
				return "" // a |---|---| separator
			}
			continue
		}
		out = append(out, c)
	}
	return strings.Join(out, " — ")
}

// usable reports whether a sentence can stand in an answer: long enough,
// not a question, not an introduction to something that follows, not a
// fragment (brackets left open or closed that it did not open), and, for
// a line of code, a command rather than the middle of one or an example
// asking a question.
func usable(t string) bool {
	if len(t) < 12 || strings.HasSuffix(t, ":") || strings.HasSuffix(t, "?") {
		return false
	}
	if strings.HasPrefix(t, "`") && strings.Count(t, "`") == 2 {
		if end := strings.LastIndexByte(t, '`'); end == len(t)-1 || strings.HasPrefix(t[end+1:], " — ") {
			return usableCode(t[1:end]) // a line of code, perhaps with its comment
		}
	}
	if strings.Count(t, "`")%2 != 0 {
		return false // a code span cut in two by the sentence split
	}
	bare := outsideCode(t)
	if strings.Contains(bare, "{\"") || strings.Contains(bare, "\"}") || strings.Contains(bare, "\": ") {
		return false // JSON that escaped a code block's boundaries
	}
	if !balanced(bare) {
		return false
	}
	n := 0
	for _, f := range strings.Fields(t) {
		if r, _ := utf8.DecodeRuneInString(f); unicode.IsLetter(r) || unicode.IsDigit(r) || r == '`' {
			n++
		}
	}
	return n >= 4
}

// usableCode reports whether a line of a shell block can stand alone: it
// starts a command (not a continuation line of flags, quoted data or
// JSON) and is not an example whose argument is a question — quoting "how
// do I ...?" back answers nothing.
func usableCode(code string) bool {
	if code == "" || strings.ContainsAny(code[:1], "-\"'{}[]|&>") {
		return false
	}
	if strings.Contains(code, "{\"") || strings.Contains(code, "\": ") {
		return false
	}
	if strings.Contains(code, "?\"") || strings.Contains(code, "?'") {
		return false
	}
	for _, q := range []string{"\"", "'"} {
		if _, arg, ok := strings.Cut(code, q); ok && questionWord(arg) {
			return false
		}
	}
	return true
}

// questionWord reports whether s starts with a question word: "how do I
// ...", "what is ...".
func questionWord(s string) bool {
	w, _, _ := strings.Cut(strings.ToLower(s), " ")
	switch w {
	case "how", "what", "which", "why", "when", "where", "who", "can", "does", "do", "is", "are":
		return true
	}
	return false
}

// balanced reports whether every ( and [ of s is closed in s and every )
// and ] opened in it, and its straight double quotes pair up.
func balanced(s string) bool {
	if strings.Count(s, "\"")%2 != 0 {
		return false
	}
	paren, bracket := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			paren++
		case ')':
			paren--
		case '[':
			bracket++
		case ']':
			bracket--
		}
		if paren < 0 || bracket < 0 {
			return false
		}
	}
	return paren == 0 && bracket == 0
}

// outsideCode returns t without its `code spans` (an unclosed span runs
// to the end).
func outsideCode(t string) string {
	if !strings.Contains(t, "`") {
		return t
	}
	var b strings.Builder
	for i, part := range strings.Split(t, "`") {
		if i%2 == 0 {
			b.WriteString(part)
		}
	}
	return b.String()
}

const (
	bm25K1 = 1.2
	bm25B  = 0.75
	// rankPrior: a sentence of the source at retrieval rank r (from 0)
	// has its score multiplied by 1/(1+rankPrior·r).
	rankPrior = 0.08
	// A sentence whose first leadTerms terms include a question term is
	// about the question's subject ("Circuit breaker, one per provider:
	// ...") rather than mentioning it in passing: ×leadBoost.
	leadTerms = 3
	leadBoost = 1.25
)

func (p *Provider) score(units []unit, qw map[string]float64, srcs []sextant.Source) {
	df := map[string]int{}
	var total float64
	for i := range units {
		for t := range units[i].terms {
			if _, ok := qw[t]; ok {
				df[t]++
			}
		}
		total += float64(units[i].n)
	}
	n := float64(len(units))
	avg := total / n
	idf := make(map[string]float64, len(qw))
	var qmass float64
	for t, w := range qw {
		idf[t] = math.Log(1 + (n-float64(df[t])+0.5)/(float64(df[t])+0.5))
		qmass += w * idf[t]
	}
	for i := range units {
		u := &units[i]
		var bm, cov float64
		for t, w := range qw {
			f := u.terms[t]
			if f == 0 {
				continue
			}
			tf := float64(f)
			bm += w * idf[t] * tf * (bm25K1 + 1) / (tf + bm25K1*(1-bm25B+bm25B*float64(u.n)/avg))
			cov += w * idf[t]
		}
		if bm == 0 {
			continue
		}
		u.score = bm * (0.5 + 0.5*cov/qmass) / (1 + rankPrior*float64(srcRank(srcs, u.src)))
		for _, t := range u.lead {
			if qw[t] == 1 {
				u.score *= leadBoost
				break
			}
		}
		if pointer(u.text) {
			u.score *= pointerDamp
		}
	}
}

// pointerDamp scales the score of a sentence that points to another page
// (a Markdown link to a .md or .html page): "See [ingestion](ingestion.md)
// for formats" matches the question's words but answers it less well than
// the page it points to, which retrieval usually brings too.
const pointerDamp = 0.5

// pointer reports whether t links to another page of the documentation.
func pointer(t string) bool {
	for rest := t; ; {
		i := strings.Index(rest, "](")
		if i < 0 {
			return false
		}
		rest = rest[i+2:]
		target, _, _ := strings.Cut(rest, ")")
		target, _, _ = strings.Cut(target, "#")
		if strings.HasSuffix(target, ".md") || strings.HasSuffix(target, ".html") {
			return true
		}
	}
}

// srcRank is the source's rank: its position (sources arrive best first).
func srcRank(_ []sextant.Source, i int) int { return i }

// pick chooses sentences by maximal marginal relevance.
func (p *Provider) pick(units []unit) []*unit {
	best := 0.0
	for i := range units {
		best = max(best, units[i].score)
	}
	if best == 0 {
		return nil
	}
	var picked []*unit
	used := make([]bool, len(units))
	words := 0
	for len(picked) < p.o.MaxSentences {
		k, kv := -1, math.Inf(-1)
		for i := range units {
			u := &units[i]
			if used[i] || u.score < p.o.MinScore*best {
				continue
			}
			sim := 0.0
			for _, v := range picked {
				sim = max(sim, cosine(u, v))
			}
			if sim >= 0.8 {
				used[i] = true // a near-duplicate of a picked sentence
				continue
			}
			if v := p.o.Lambda*u.score/best - (1-p.o.Lambda)*sim; v > kv {
				k, kv = i, v
			}
		}
		if k < 0 {
			break
		}
		used[k] = true
		if len(picked) > 0 && words+units[k].words > p.o.MaxWords {
			continue
		}
		picked = append(picked, &units[k])
		words += units[k].words
	}
	return picked
}

func cosine(a, b *unit) float64 {
	if len(a.terms) > len(b.terms) {
		a, b = b, a
	}
	var dot float64
	for t, f := range a.terms {
		dot += float64(f * b.terms[t])
	}
	return dot / (a.norm * b.norm)
}

// order sorts picked sentences: sources by their best sentence, then text
// order within a source.
func order(picked []*unit) []*unit {
	out := slices.Clone(picked)
	bestOf := map[int]int{} // source → rank of its first pick
	for i, u := range picked {
		if _, ok := bestOf[u.src]; !ok {
			bestOf[u.src] = i
		}
	}
	slices.SortStableFunc(out, func(a, b *unit) int {
		if a.src != b.src {
			return bestOf[a.src] - bestOf[b.src]
		}
		return a.pos - b.pos
	})
	return out
}

// render writes the sentences, each ending with its citation.
func render(picked []*unit, srcs []sextant.Source) string {
	var b strings.Builder
	for i, u := range order(picked) {
		if i > 0 {
			if r, _ := utf8.DecodeRuneInString(u.text); unicode.IsLower(r) {
				b.WriteString("\n\n") // a sentence starting lower-case would not read as a new one
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteString(cited(u.text, srcs[u.src].N))
	}
	return b.String()
}

// cited places " [n]" before the sentence's final punctuation (adding a
// period when it has none).
func cited(s string, n int) string {
	mark := " [" + strconv.Itoa(n) + "]"
	end := len(s)
	for end > 0 && strings.ContainsRune(`"')’”*_`, rune(s[end-1])) {
		end--
	}
	if end > 0 && strings.ContainsRune(".!?", rune(s[end-1])) {
		return s[:end-1] + mark + s[end-1:]
	}
	return s + mark + "."
}

// fit renders as many picked sentences as max tokens allow, in pick order;
// the first is cut at a word boundary when even it does not fit.
func (p *Provider) fit(picked []*unit, srcs []sextant.Source, maxTokens int) (string, string) {
	for n := len(picked); n >= 1; n-- {
		text := render(picked[:n], srcs)
		if p.count(text) <= maxTokens {
			if n < len(picked) {
				return text, sextant.FinishLength
			}
			return text, sextant.FinishStop
		}
	}
	text := render(picked[:1], srcs)
	var b strings.Builder
	for w := range words(text) {
		if p.count(b.String()+w) > maxTokens {
			break
		}
		b.WriteString(w)
	}
	return strings.TrimSpace(b.String()), sextant.FinishLength
}

// lazyCodec loads the tokenizer vocabulary on first use.
type lazyCodec struct {
	once  sync.Once
	codec tokenizer.Codec
}

func (p *Provider) count(s string) int {
	if s == "" {
		return 0
	}
	p.codec.once.Do(func() { p.codec.codec, _ = tokenizer.Get(tokenizer.Cl100kBase) })
	if p.codec.codec == nil {
		return (len(s) + 3) / 4
	}
	if n, ok := p.pieces.count(p.codec.codec, s); ok {
		return n
	}
	n, err := p.codec.codec.Count(s)
	if err != nil {
		return (len(s) + 3) / 4
	}
	return n
}

// usage counts the request and the answer as a chat model would be billed:
// message contents plus OpenAI's framing (3 tokens a message, 3 to prime
// the reply).
func (p *Provider) usage(req *driver.Request, answer string) sextant.Usage {
	in := 3
	for _, m := range req.Messages {
		in += 3 + p.count(m.Role) + p.count(m.Content)
	}
	return sextant.Usage{InputTokens: in, OutputTokens: p.count(answer), Estimated: true}
}
