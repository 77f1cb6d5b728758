package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/search"
)

// DraftSource is one document to draft questions from.
type DraftSource struct {
	DocumentID string
	// URI is the document's source URI (sextant.Document.Source); a file's
	// ("file:///abs/docs/guide.md") lets its questions name it by path.
	URI    string
	Title  string
	Chunks []sextant.Chunk
}

// DraftOptions configures Draft.
type DraftOptions struct {
	// N is how many questions to draft; 0 means 50.
	N int
	// Complete, when set, asks a language model to write each question and
	// its answer from a passage (the embedded, versioned draft prompt);
	// nil writes templated questions from headings and key sentences.
	Complete CompleteFunc
}

// DraftPromptVersion is the version of the embedded draft prompt.
func DraftPromptVersion() string { return draftPrompt.version }

// minDraftWords is the fewest words a chunk needs to be drafted from.
const minDraftWords = 12

// Draft writes a starter golden set from documents, for a person to review:
// up to N questions, taken round-robin over the documents (in the order
// given) so that every document contributes before any gives a second.
// Each question's reference answer is a sentence of its passage (the key
// sentence, or the model's answer) and its relevant id names the document:
// a document made from a whole file (a "file://" URI without a fragment)
// by the shortest trailing part of its path that no other document's path
// ends with ("guide.md", or "guides/setup.md" when another setup.md
// exists), which keeps the golden set valid on other machines and
// checkouts (file document ids hash the absolute path); any other
// document (a record, a file whose path cannot be told apart) by its id.
// Templated questions are built from the chunk's heading ("What does
// "Title" say about heading?"), from a definition in the key sentence
// ("What is X?"), or from the key sentence's salient words. Tags say how
// the question was made ("draft" and "templated" or "llm"). A model's
// reply that is not the JSON asked for falls back to a templated question.
func Draft(ctx context.Context, docs []DraftSource, o DraftOptions) ([]Item, error) {
	n := o.N
	if n <= 0 {
		n = 50
	}
	stop := map[string]bool{}
	for _, w := range search.EnglishStopWords {
		stop[w] = true
	}
	// Candidate chunks per document: those under a heading of their own
	// first (they give the clearest questions), each group in order.
	cands := make([][]sextant.Chunk, len(docs))
	idf := newIDF(docs, stop)
	for i, d := range docs {
		var headed, other []sextant.Chunk
		for _, c := range d.Chunks {
			if len(strings.Fields(c.Text)) < minDraftWords {
				continue
			}
			if heading(d.Title, c.Section) != "" {
				headed = append(headed, c)
			} else {
				other = append(other, c)
			}
		}
		cands[i] = append(headed, other...)
	}
	names := relevantNames(docs)
	var out []Item
	seen := map[string]bool{}
	for round := 0; len(out) < n; round++ {
		progress := false
		for i := range docs {
			if len(out) >= n {
				break
			}
			if round >= len(cands[i]) {
				continue
			}
			progress = true
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			c := cands[i][spread(round, len(cands[i]))]
			it, ok, err := draftOne(ctx, &docs[i], &c, stop, idf, o.Complete)
			if err != nil {
				return nil, err
			}
			it.RelevantIDs = []string{names[i]}
			key := strings.ToLower(it.Question)
			if !ok || seen[key] {
				continue
			}
			seen[key] = true
			it.ID = fmt.Sprintf("d%03d", len(out)+1)
			out = append(out, it)
		}
		if !progress {
			break
		}
	}
	return out, nil
}

// relevantNames returns the relevant id that names each document: for a
// file, the shortest trailing run of path segments that uriMatch matches
// against no other document's path (the same file ingested into two
// collections has one path and may share it), that uriMatch accepts as a
// path (it holds '.' or '/' and no ':'), and that is no document's id,
// with or without its collection prefix (those match first); otherwise
// the document id. Paths are compared as the URIs spell them, escapes
// included, because uriMatch compares URIs as they are.
func relevantNames(docs []DraftSource) []string {
	paths := make([]string, len(docs))
	ids := make(map[string]bool, 2*len(docs))
	// suffixes counts, per trailing run of segments, the distinct paths
	// that end with it.
	suffixes := map[string]int{}
	counted := map[string]bool{}
	for i, d := range docs {
		ids[d.DocumentID] = true
		if _, short, ok := strings.Cut(d.DocumentID, ":"); ok {
			ids[short] = true
		}
		p := d.URI
		if _, rest, ok := strings.Cut(p, "://"); ok {
			p = rest
		}
		p, _, _ = strings.Cut(p, "#")
		paths[i] = p
		if p == "" || counted[p] {
			continue
		}
		counted[p] = true
		for _, s := range pathSuffixes(p) {
			suffixes[s]++
		}
	}
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.DocumentID
		if !strings.HasPrefix(d.URI, "file://") || strings.Contains(d.URI, "#") {
			continue
		}
		for _, s := range pathSuffixes(paths[i]) {
			if suffixes[s] == 1 && strings.ContainsAny(s, "./") && !strings.Contains(s, ":") && !ids[s] {
				out[i] = s
				break
			}
		}
	}
	return out
}

// pathSuffixes returns the trailing runs of p's '/'-separated segments,
// shortest first: "/a/b/c.md" gives "c.md", "b/c.md", "a/b/c.md".
func pathSuffixes(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	var out []string
	for i := len(p); i >= 0; i-- {
		if i == 0 || p[i-1] == '/' {
			if s := p[i:]; s != "" && !strings.HasPrefix(s, "/") {
				out = append(out, s)
			}
		}
	}
	return out
}

// spread visits a document's chunks in an order that covers it evenly:
// first, middle, then the rest.
func spread(round, n int) int {
	if round == 0 || n <= 1 {
		return 0
	}
	if round == 1 {
		return n / 2
	}
	// The remaining chunks in order, skipping the two already taken.
	k := 0
	for i := 0; i < n; i++ {
		if i == 0 || i == n/2 {
			continue
		}
		k++
		if k == round-1 {
			return i
		}
	}
	return n - 1
}

func draftOne(ctx context.Context, d *DraftSource, c *sextant.Chunk, stop map[string]bool, idf map[string]float64, complete CompleteFunc) (Item, bool, error) {
	title := strings.TrimSpace(d.Title)
	if title == "" {
		title = d.DocumentID
	}
	section := heading(title, c.Section)
	key := keySentence(c.Text, stop, idf)
	if key == "" {
		return Item{}, false, nil
	}
	it := Item{Tags: []string{"draft"}}
	if complete != nil {
		user, err := draftPrompt.render(map[string]string{"Title": title, "Section": strings.Join(c.Section, " › "), "Passage": c.Text})
		if err != nil {
			return Item{}, false, err
		}
		reply, err := complete(ctx, draftPrompt.system, user)
		if err != nil {
			return Item{}, false, fmt.Errorf("drafting a question from %s: %w", d.DocumentID, err)
		}
		if q, a, ok := parseDraft(reply); ok {
			it.Question, it.ReferenceAnswer = q, a
			it.Tags = append(it.Tags, "llm")
			return it, true, nil
		}
	}
	it.Question, it.ReferenceAnswer = templatedQuestion(title, section, key, stop, idf), key
	it.Tags = append(it.Tags, "templated")
	return it, it.Question != "", nil
}

// parseDraft reads the model's {"question", "answer"} reply.
func parseDraft(reply string) (q, a string, ok bool) {
	obj, found := firstJSONObject(reply)
	if !found {
		return "", "", false
	}
	var raw struct {
		Question string `json:"question"`
		Answer   string `json:"answer"`
	}
	if json.Unmarshal([]byte(obj), &raw) != nil {
		return "", "", false
	}
	q, a = strings.TrimSpace(raw.Question), strings.TrimSpace(raw.Answer)
	return q, a, q != "" && a != ""
}

var definitionRE = regexp.MustCompile(`^(The |A |An )?([^,;:()\[\]]{3,60}?) (is|are) (?:a|an|the|one|used|how|what|where|when|made|written|called|kept|stored|set|run)\b`)

// heading returns the innermost heading of a chunk's section path that is
// not the document's title, or "".
func heading(title string, section []string) string {
	for i := len(section) - 1; i >= 0; i-- {
		h := strings.TrimSpace(section[i])
		if h != "" && !strings.EqualFold(h, strings.TrimSpace(title)) {
			return h
		}
	}
	return ""
}

// newIDF returns the inverse document frequency, log(N/df), of every
// content word of the documents: words every document uses (the
// product's name) tell questions apart least.
func newIDF(docs []DraftSource, stop map[string]bool) map[string]float64 {
	df := map[string]int{}
	for _, d := range docs {
		seen := map[string]bool{}
		for _, c := range d.Chunks {
			for _, w := range contentWords(c.Text, stop) {
				if !seen[w] {
					seen[w] = true
					df[w]++
				}
			}
		}
	}
	idf := make(map[string]float64, len(df)+1)
	for w, n := range df {
		idf[w] = math.Log(float64(len(docs)+1) / float64(n))
	}
	// The idf of a word in a quarter of the documents (at least one).
	idf[rareKey] = math.Log(float64(len(docs)+1) / math.Max(1, float64(len(docs))/4))
	return idf
}

// rareKey holds, in an idf table, the idf from which a word counts as
// rare; it is not a word.
const rareKey = " rare"

// templatedQuestion writes a question the key sentence answers.
func templatedQuestion(title, section, key string, stop map[string]bool, idf map[string]float64) string {
	if m := definitionRE.FindStringSubmatch(key); m != nil && definable(m[2], stop, idf) {
		subject := m[2]
		if r, _ := utf8.DecodeRuneInString(subject); m[1] == "" && unicode.IsUpper(r) && !isAcronymStart(subject) {
			subject = strings.ToLower(subject[:1]) + subject[1:]
		}
		verb := "What is"
		if m[3] == "are" {
			verb = "What are"
		}
		// Keep a leading "a"/"an"/"the": "What is a fast hash?"
		return fmt.Sprintf("%s %s%s?", verb, strings.ToLower(m[1]), subject)
	}
	if section != "" {
		return fmt.Sprintf("What does %q say about %s?", title, lowerFirst(section))
	}
	words := salientWords(key, stop, idf, 2)
	if len(words) == 0 {
		return ""
	}
	about := words[0]
	if len(words) > 1 {
		about = strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
	}
	return fmt.Sprintf("What does %q say about %s?", title, about)
}

// definable reports whether the subject of "X is ..." names something a
// question can ask about: one to four words, none a stop word, a pronoun
// or a question word, and at least one of them rare in the documents (in
// at most a quarter of them), so "The result is ..." asks nothing.
func definable(subject string, stop map[string]bool, idf map[string]float64) bool {
	f := strings.Fields(strings.ToLower(subject))
	if len(f) == 0 || len(f) > 4 {
		return false
	}
	rare := false
	for _, w := range f {
		w = strings.Trim(w, "`\"'")
		if w == "" || stop[w] || slices.Contains([]string{"it", "this", "that", "these", "those", "they", "there", "here", "which",
			"what", "how", "why", "when", "where", "who", "one", "he", "she", "we", "you", "i"}, w) {
			return false
		}
		rare = rare || idfOf(idf, w) >= idf[rareKey]
	}
	return rare
}

func isAcronymStart(s string) bool {
	f := strings.Fields(s)
	return len(f) > 0 && len(f[0]) > 1 && strings.ToUpper(f[0]) == f[0]
}

func lowerFirst(s string) string {
	if isAcronymStart(s) || strings.HasPrefix(s, "`") {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToLower(r)) + s[n:]
}

// keySentence returns the sentence of text that best represents it: a
// whole prose sentence of 6 to 45 words whose content words recur most in
// the passage, weighted by how rare they are in the documents (per square
// root of its length), definitions favoured.
func keySentence(text string, stop map[string]bool, idf map[string]float64) string {
	freq := map[string]int{}
	for _, w := range contentWords(text, stop) {
		freq[w]++
	}
	best, bestScore := "", -1.0
	for _, s := range sextant.SplitSentences(text) {
		n := len(strings.Fields(s.Text))
		if n < 6 || n > 45 || strings.HasSuffix(s.Text, ":") || !isProse(s.Text) {
			continue
		}
		score := 0.0
		for _, w := range contentWords(s.Text, stop) {
			score += float64(freq[w]) * idfOf(idf, w)
		}
		score /= math.Sqrt(float64(n))
		if definitionRE.MatchString(s.Text) {
			score *= 1.5
		}
		if score > bestScore {
			best, bestScore = s.Text, score
		}
	}
	return best
}

// idfOf is w's inverse document frequency, 1 when unknown.
func idfOf(idf map[string]float64, w string) float64 {
	if x, ok := idf[w]; ok {
		return x
	}
	return 1
}

// isProse reports a whole sentence of words rather than code, a command
// line, a table row or a list fragment: it starts with a capital letter and
// ends with '.', '!' or '?', holds no code fence or URL, and at least three
// words in four are made of letters.
func isProse(s string) bool {
	first, _ := utf8.DecodeRuneInString(s)
	if !unicode.IsUpper(first) || !strings.ContainsAny(s[len(s)-1:], ".!?") || strings.Contains(s, "```") || strings.Contains(s, "://") {
		return false
	}
	f := strings.Fields(s)
	words := 0
	for _, w := range f {
		w = strings.Trim(w, `.,;:!?()"'`)
		if w != "" && strings.IndexFunc(w, func(r rune) bool { return !unicode.IsLetter(r) && r != '-' && r != '\'' }) < 0 {
			words++
		}
	}
	return 4*words >= 3*len(f)
}

// salientWords returns up to k distinct content words of s, the rarest in
// the documents first (ties: the longest, then in order of appearance).
func salientWords(s string, stop map[string]bool, idf map[string]float64, k int) []string {
	ws := contentWords(s, stop)
	var uniq []string
	for _, w := range ws {
		if !slices.Contains(uniq, w) && strings.IndexFunc(w, unicode.IsLetter) >= 0 {
			uniq = append(uniq, w)
		}
	}
	slices.SortStableFunc(uniq, func(a, b string) int {
		if x, y := idfOf(idf, a), idfOf(idf, b); x != y {
			if x > y {
				return -1
			}
			return 1
		}
		return len(b) - len(a)
	})
	return uniq[:min(k, len(uniq))]
}

// contentWords lowercases s and returns its words of four or more letters
// that are not stop words.
func contentWords(s string, stop map[string]bool) []string {
	var out []string
	for _, f := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' }) {
		f = strings.Trim(f, "-")
		if utf8.RuneCountInString(f) >= 4 && !stop[f] {
			out = append(out, f)
		}
	}
	return out
}
