package ingest

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sextant-ai/sextant"
)

// Chunking defaults, chosen by measurement (see docs/ingestion.md).
const (
	DefaultChunkTokens  = 384
	DefaultChunkOverlap = 48
	minChunkTokens      = 16
	maxChunkTokens      = 8192
)

// ChunkOptions sets the chunker's token budget.
type ChunkOptions struct {
	// Tokens is the most tokens (CountTokens) one chunk holds. 0 means
	// DefaultChunkTokens; otherwise 16..8192.
	Tokens int
	// Overlap is how many tokens of whole trailing sentences of a chunk are
	// repeated at the start of the next one in the same section, so a
	// passage cut at a boundary keeps its context. 0 means
	// DefaultChunkOverlap; a negative value means no overlap. It must be
	// less than half of Tokens.
	Overlap int
}

func (o ChunkOptions) withDefaults() ChunkOptions {
	if o.Tokens == 0 {
		o.Tokens = DefaultChunkTokens
	}
	switch {
	case o.Overlap == 0:
		o.Overlap = min(DefaultChunkOverlap, o.Tokens/4)
	case o.Overlap < 0:
		o.Overlap = 0
	}
	return o
}

// Validate reports an option out of range as EINVALID.
func (o ChunkOptions) Validate() error {
	o = o.withDefaults()
	switch {
	case o.Tokens < minChunkTokens || o.Tokens > maxChunkTokens:
		return sextant.Errorf(sextant.EINVALID, "chunk size %d tokens is out of range (%d..%d)", o.Tokens, minChunkTokens, maxChunkTokens)
	case o.Overlap*2 >= o.Tokens:
		return sextant.Errorf(sextant.EINVALID, "chunk overlap %d tokens must be less than half the chunk size %d", o.Overlap, o.Tokens)
	}
	return nil
}

// Section is a span of a document's text under one heading path. Sections
// are hard chunk boundaries: a chunk never spans two.
type Section struct {
	Path  []string // heading path, outermost first; nil for unstructured text
	Start int      // byte offset of the section (its heading line) in the text
	Body  int      // byte offset where the body after the heading starts
	End   int      // byte offset one past the section's end
}

// ChunkID is the stable id of chunk ordinal of document docID.
func ChunkID(docID string, ordinal int) string {
	return docID + "#" + strconv.Itoa(ordinal)
}

// Chunk splits text into chunks of at most opts.Tokens tokens. It works
// down the structure: sections are hard boundaries (a section that is only
// a heading joins the next one); within a section whole paragraphs are
// packed while they fit; a paragraph that does not fit closes the chunk when
// the chunk is at least half full, otherwise it is split between sentences;
// only a single sentence longer than the budget is split, between words (and
// a single word longer than the budget between characters). Consecutive
// chunks of a section share up to opts.Overlap tokens of whole sentences.
//
// Every chunk satisfies Text == text[Start:End], starts and ends on
// non-space characters, and every non-space byte of text lies in some chunk.
// Sections must be ordered and non-overlapping; text outside any section is
// chunked as unstructured. Invalid options are replaced by defaults; call
// opts.Validate to reject them instead.
func Chunk(docID, text string, sections []Section, opts ChunkOptions) []sextant.Chunk {
	opts = opts.withDefaults()
	if opts.Validate() != nil {
		opts = ChunkOptions{}.withDefaults()
	}
	c := chunker{
		docID:   docID,
		text:    text,
		budget:  opts.Tokens * 100,
		overlap: opts.Overlap * 100,
	}
	for _, s := range normalizeSections(text, sections) {
		c.section(s)
	}
	return c.out
}

// normalizeSections clamps sections into text, fills gaps with unstructured
// sections, and joins heading-only sections to the following one.
func normalizeSections(text string, in []Section) []Section {
	var out []Section
	pos := 0
	add := func(s Section) {
		if s.End > s.Start {
			out = append(out, s)
		}
	}
	for _, s := range in {
		// Offsets inside a rune move back to its start.
		s.Start = max(runeStart(text, s.Start), pos)
		s.End = runeStart(text, min(s.End, len(text)))
		s.Body = runeStart(text, min(s.Body, len(text)))
		if s.End <= s.Start {
			continue
		}
		s.Body = min(max(s.Body, s.Start), s.End)
		if s.Start > pos {
			add(Section{Start: pos, Body: pos, End: s.Start})
		}
		add(s)
		pos = s.End
	}
	if pos < len(text) {
		add(Section{Start: pos, Body: pos, End: len(text)})
	}
	// A section with nothing but its heading joins the next one, which
	// keeps "# Guide" above "## Install" instead of a one-line chunk.
	merged := out[:0]
	var carry *Section
	for _, s := range out {
		if carry != nil {
			s.Start = carry.Start
			carry = nil
		}
		if isBlank(text[s.Body:s.End]) && len(s.Path) > 0 {
			carry = &Section{Path: s.Path, Start: s.Start, Body: s.Body, End: s.End}
			continue
		}
		merged = append(merged, s)
	}
	if carry != nil { // a heading at the very end stays a section of its own
		merged = append(merged, *carry)
	}
	return merged
}

func runeStart(text string, i int) int {
	for k := 0; k < utf8.UTFMax-1 && i > 0 && i < len(text) && !utf8.RuneStart(text[i]); k++ {
		i--
	}
	return max(i, 0)
}

func isBlank(s string) bool {
	return strings.TrimSpace(s) == ""
}

// unit is a sentence (or list item, or heading line): the smallest span the
// packer does not split unless it alone exceeds the budget.
type unit struct {
	start, end int  // span in the text, without surrounding space
	cost       int  // centitokens of text[start:next unit's start)
	paraStart  bool // first unit of a paragraph
}

type chunker struct {
	docID           string
	text            string
	budget, overlap int
	out             []sextant.Chunk
	path            []string

	cur     []unit // units of the open chunk
	curCost int
}

func (c *chunker) section(s Section) {
	c.path = s.Path
	c.cur, c.curCost = c.cur[:0], 0
	units := splitUnits(c.text, s.Start, s.End)
	for i := 0; i < len(units); {
		// Paragraph level: the whole paragraph if it fits; close a chunk
		// that is at least half full rather than splitting a paragraph.
		j := i + 1
		pcost := units[i].cost
		for j < len(units) && !units[j].paraStart {
			pcost += units[j].cost
			j++
		}
		if units[i].paraStart && len(c.cur) > 0 && c.curCost+pcost > c.budget && c.curCost*2 >= c.budget {
			c.flush(true)
		}
		for ; i < j; i++ {
			c.add(units[i])
		}
	}
	c.flush(false)
}

// add appends u to the open chunk, closing it first when u does not fit.
func (c *chunker) add(u unit) {
	if u.cost > c.budget {
		c.flush(false)
		c.splitLong(u)
		return
	}
	if len(c.cur) > 0 && c.curCost+u.cost > c.budget {
		c.flush(true)
		// Drop overlap from the front until u fits.
		for len(c.cur) > 0 && c.curCost+u.cost > c.budget {
			c.curCost -= c.cur[0].cost
			c.cur = c.cur[1:]
		}
	}
	c.cur = append(c.cur, u)
	c.curCost += u.cost
}

// flush emits the open chunk. With keepOverlap the next chunk starts with
// the chunk's trailing units worth at most c.overlap, never all of them.
func (c *chunker) flush(keepOverlap bool) {
	if len(c.cur) == 0 {
		return
	}
	c.emit(c.cur[0].start, c.cur[len(c.cur)-1].end, c.curCost)
	if !keepOverlap || c.overlap == 0 {
		c.cur, c.curCost = c.cur[:0], 0
		return
	}
	k, cost := len(c.cur), 0
	for k > 1 && cost+c.cur[k-1].cost <= c.overlap {
		k--
		cost += c.cur[k].cost
	}
	n := copy(c.cur, c.cur[k:])
	c.cur, c.curCost = c.cur[:n], cost
}

func (c *chunker) emit(start, end, cost int) {
	c.out = append(c.out, sextant.Chunk{
		ID:         ChunkID(c.docID, len(c.out)),
		DocumentID: c.docID,
		Ordinal:    len(c.out),
		Text:       c.text[start:end],
		Section:    c.path,
		Start:      start,
		End:        end,
		Tokens:     (cost + 99) / 100,
	})
}

// splitLong chunks one over-budget sentence between words, and a word over
// the budget between characters. Pieces share no overlap.
func (c *chunker) splitLong(u unit) {
	s := c.text
	pieceStart, pieceEnd, cost := -1, -1, 0
	for i := u.start; i < u.end; {
		// Next word: non-space run, with the space after it.
		j := i
		for j < u.end && !isSpaceAt(s, j) {
			_, sz := utf8.DecodeRuneInString(s[j:])
			j += sz
		}
		k := j
		for k < u.end && isSpaceAt(s, k) {
			_, sz := utf8.DecodeRuneInString(s[k:])
			k += sz
		}
		w := centiTokens(s[i:k])
		if w > c.budget {
			if pieceStart >= 0 {
				c.emit(pieceStart, pieceEnd, cost)
				pieceStart, cost = -1, 0
			}
			c.splitWord(i, j)
		} else {
			if pieceStart >= 0 && cost+w > c.budget {
				c.emit(pieceStart, pieceEnd, cost)
				pieceStart, cost = -1, 0
			}
			if pieceStart < 0 {
				pieceStart = i
			}
			pieceEnd, cost = j, cost+w
		}
		i = k
	}
	if pieceStart >= 0 {
		c.emit(pieceStart, pieceEnd, cost)
	}
}

// splitWord emits text[start:end], one "word" with no space, in pieces
// within the budget, cut at rune boundaries.
func (c *chunker) splitWord(start, end int) {
	s := c.text
	for start < end {
		// No rune costs more than 1.5 tokens, so this many runes fit.
		n := c.budget / 150
		e := start
		for r := 0; r < n && e < end; r++ {
			_, sz := utf8.DecodeRuneInString(s[e:])
			e += sz
		}
		cost := centiTokens(s[start:e])
		for cost > c.budget && e > start+1 {
			e = start + (e-start)/2
			for e > start && !utf8.RuneStart(s[e]) {
				e--
			}
			if e == start {
				_, sz := utf8.DecodeRuneInString(s[start:])
				e = start + sz
			}
			cost = centiTokens(s[start:e])
		}
		c.emit(start, e, cost)
		start = e
	}
}

func isSpaceAt(s string, i int) bool {
	c := s[i]
	if c < utf8.RuneSelf {
		return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return unicode.IsSpace(r)
}

// splitUnits splits text[start:end] into sentence units. A blank line ends
// a paragraph; a line break ends a unit before a Markdown block (heading,
// list item, quote, table row, fence) and after a heading; sentence-ending
// punctuation followed by space and a non-lower-case letter ends a sentence,
// except after common abbreviations and initials. Each unit's cost covers
// its text and the space after it.
func splitUnits(text string, start, end int) []unit {
	var units []unit
	s := text[:end]
	i := skipSpace(s, start)
	para := true
	for i < end {
		j, blank := nextBoundary(s, i)
		// Trim trailing space of the unit.
		e := j
		for e > i && isSpaceAt(s, prevRune(s, e)) {
			e = prevRune(s, e)
		}
		next := skipSpace(s, j)
		if next <= i { // cannot happen; guarantees progress
			_, sz := utf8.DecodeRuneInString(s[i:])
			next = i + sz
		}
		if e > i {
			units = append(units, unit{start: i, end: e, cost: centiTokens(s[i:next]), paraStart: para})
			para = false
		}
		if blank {
			para = true
		}
		i = next
	}
	return units
}

func prevRune(s string, i int) int {
	_, sz := utf8.DecodeLastRuneInString(s[:i])
	return i - sz
}

func skipSpace(s string, i int) int {
	for i < len(s) && isSpaceAt(s, i) {
		_, sz := utf8.DecodeRuneInString(s[i:])
		i += sz
	}
	return i
}

// nextBoundary returns the end of the unit starting at i (exclusive; may
// include trailing space) and whether a paragraph break follows it.
func nextBoundary(s string, i int) (int, bool) {
	lineStart := i
	for j := i; j < len(s); {
		c := s[j]
		switch {
		case c == '\n':
			// Blank line: paragraph break.
			k := j + 1
			for k < len(s) && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r') {
				k++
			}
			if k >= len(s) || s[k] == '\n' || s[k] == '\f' {
				return j, true
			}
			if isHeadingLine(s[lineStart:j]) || startsBlock(s[k:]) {
				return j, false
			}
			lineStart = k
			j = k
			continue
		case c == '\f':
			return j, true
		case c == '.' || c == '!' || c == '?':
			k := j + 1
			for k < len(s) && (s[k] == '.' || s[k] == '!' || s[k] == '?') {
				k++
			}
			for k < len(s) && strings.IndexByte(`"')]`, s[k]) >= 0 {
				k++
			}
			k = closingQuote(s, k)
			if k < len(s) && (s[k] == ' ' || s[k] == '\n' || s[k] == '\t' || s[k] == '\r') && c == '.' && isAbbreviation(s, i, j) {
				j = k
				continue
			}
			if k >= len(s) {
				return k, false
			}
			if s[k] == ' ' || s[k] == '\t' || s[k] == '\n' || s[k] == '\r' {
				n := skipSpace(s, k)
				if n >= len(s) || !startsLower(s[n:]) {
					return k, false
				}
			}
			j = k
			continue
		case c >= utf8.RuneSelf:
			r, sz := utf8.DecodeRuneInString(s[j:])
			switch r {
			case '。', '！', '？', '…':
				return closingQuote(s, j+sz), false
			case '\u2028', '\u2029':
				return j, r == '\u2029'
			}
			j += sz
			continue
		}
		j++
	}
	return len(s), false
}

// closingQuote skips closing curly quotes and brackets after sentence
// punctuation.
func closingQuote(s string, k int) int {
	for k < len(s) {
		r, sz := utf8.DecodeRuneInString(s[k:])
		if r != '”' && r != '’' && r != '」' && r != '』' && r != '）' {
			return k
		}
		k += sz
	}
	return k
}

func startsLower(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsLower(r)
}

func isHeadingLine(line string) bool {
	line = strings.TrimLeft(line, " ")
	return strings.HasPrefix(line, "#")
}

// startsBlock reports whether a line starts a Markdown block that is its
// own unit: heading, list item, quote, table row or code fence.
func startsBlock(line string) bool {
	t := strings.TrimLeft(line, " \t")
	if t == "" {
		return false
	}
	switch t[0] {
	case '#', '>', '|':
		return true
	case '-', '*', '+':
		return len(t) > 1 && (t[1] == ' ' || t[1] == '\t' || t[1] == t[0])
	case '`', '~':
		return strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~")
	}
	k := 0
	for k < len(t) && k < 9 && t[k] >= '0' && t[k] <= '9' {
		k++
	}
	return k > 0 && k+1 < len(t) && (t[k] == '.' || t[k] == ')') && t[k+1] == ' '
}

// abbreviations end with a period without ending a sentence.
var abbreviations = map[string]bool{
	"mr": true, "mrs": true, "ms": true, "dr": true, "prof": true, "sr": true, "jr": true, "st": true,
	"vs": true, "etc": true, "e.g": true, "i.e": true, "al": true, "fig": true, "figs": true, "no": true,
	"vol": true, "inc": true, "ltd": true, "co": true, "corp": true, "cf": true, "approx": true, "eq": true,
	"ref": true, "refs": true, "dept": true, "univ": true, "jan": true, "feb": true, "mar": true, "apr": true,
	"jun": true, "jul": true, "aug": true, "sep": true, "sept": true, "oct": true, "nov": true, "dec": true,
	"ca": true, "resp": true, "approx.": true, "u.s": true, "ph.d": true,
}

// isAbbreviation reports whether the word ending at the period at j (the
// unit started at from) is an abbreviation or an initial.
func isAbbreviation(s string, from, j int) bool {
	k := j
	for k > from {
		r, sz := utf8.DecodeLastRuneInString(s[:k])
		if !(unicode.IsLetter(r) || r == '.') {
			break
		}
		k -= sz
	}
	w := s[k:j]
	if w == "" {
		return false
	}
	if utf8.RuneCountInString(w) == 1 {
		r, _ := utf8.DecodeRuneInString(w)
		return unicode.IsUpper(r) // an initial: "J. Smith"
	}
	return abbreviations[strings.ToLower(w)]
}
