package eval

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/sextant-ai/sextant"
)

// Item is one question of a golden set: what is asked, what a good answer
// says, and which documents (or chunks) hold the answer.
type Item struct {
	// ID names the question in reports and history; ReadDataset numbers
	// questions without one "q1", "q2", ... by line.
	ID       string `json:"id,omitempty"`
	Question string `json:"question"`
	// ReferenceAnswer is a correct answer, for exact match, token F1,
	// ROUGE and BLEU; "" skips those metrics for the question.
	ReferenceAnswer string `json:"reference_answer,omitempty"`
	// RelevantIDs are the documents or chunks that answer the question,
	// for the retrieval metrics; empty leaves the question out of them. A
	// retrieved source matches by chunk id, by document id, or by the
	// document id without its collection prefix ("scifact:123" matches
	// "123"), so golden sets may use record ids of the source corpus.
	RelevantIDs []string `json:"relevant_ids,omitempty"`
	// Grades optionally grades relevance (BEIR qrels): id → grade, 1 or
	// more relevant. Without it every relevant id has grade 1.
	Grades map[string]int `json:"grades,omitempty"`
	Tags   []string       `json:"tags,omitempty"`
}

// Dataset is a golden set.
type Dataset struct {
	Name  string
	Items []Item
}

// maxDatasetLine bounds one JSONL line of a dataset.
const maxDatasetLine = 4 << 20

// ReadDataset reads a golden set in JSON Lines: one object per line with
// "question" (required), "reference_answer", "relevant_ids", "tags" and
// optional "id" and "grades". Blank lines are skipped. Unknown keys,
// missing questions and duplicate ids are EINVALID errors naming the line;
// name labels the errors (typically the file name).
func ReadDataset(r io.Reader, name string) (*Dataset, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxDatasetLine)
	d := &Dataset{Name: name}
	seen := map[string]int{}
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		fail := func(format string, args ...any) error {
			return sextant.Errorf(sextant.EINVALID, "%s line %d: %s", name, line, fmt.Sprintf(format, args...))
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		var it Item
		if err := dec.Decode(&it); err != nil {
			return nil, fail("%v", err)
		}
		if dec.More() {
			return nil, fail("more than one JSON value on the line")
		}
		if err := it.Prepare(line); err != nil {
			return nil, fail("%v", err)
		}
		if prev, dup := seen[it.ID]; dup {
			return nil, fail("id %q is used on line %d too", it.ID, prev)
		}
		seen[it.ID] = line
		d.Items = append(d.Items, it)
	}
	if err := sc.Err(); err != nil {
		return nil, sextant.Errorf(sextant.EINVALID, "%s: %w", name, err)
	}
	if len(d.Items) == 0 {
		return nil, sextant.Errorf(sextant.EINVALID, "%s: no questions", name)
	}
	return d, nil
}

// WriteDataset writes items as JSON Lines, the format ReadDataset reads.
func WriteDataset(w io.Writer, items []Item) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for i := range items {
		if err := enc.Encode(&items[i]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// ReadBEIR reads the questions of a BEIR folder: queries.jsonl ("_id" and
// "text"; metadata is never read) and the judgements of qrels/SPLIT.tsv.
// Only judged queries become items, ordered by id (numerically when every
// id is a number); their relevant ids are the judged documents with grade
// 1 or more. The corpus is not read: ingest it to answer the questions.
func ReadBEIR(fsys fs.FS, split string) (*Dataset, error) {
	if split == "" {
		split = "test"
	}
	qrelsName := path.Join("qrels", split+".tsv")
	qf, err := fsys.Open(qrelsName)
	if err != nil {
		return nil, sextant.Errorf(sextant.EINVALID, "beir: %w", err)
	}
	qrels, err := ReadQrels(qf, qrelsName)
	qf.Close()
	if err != nil {
		return nil, err
	}
	f, err := fsys.Open("queries.jsonl")
	if err != nil {
		return nil, sextant.Errorf(sextant.EINVALID, "beir: %w", err)
	}
	defer f.Close()
	texts := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), maxDatasetLine)
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var q struct {
			ID   json.RawMessage `json:"_id"`
			Text string          `json:"text"`
		}
		if err := json.Unmarshal(b, &q); err != nil {
			return nil, sextant.Errorf(sextant.EINVALID, "queries.jsonl line %d: %v", line, err)
		}
		id := strings.Trim(string(q.ID), `"`)
		if id == "" {
			return nil, sextant.Errorf(sextant.EINVALID, "queries.jsonl line %d: no _id", line)
		}
		texts[id] = strings.TrimSpace(q.Text)
	}
	if err := sc.Err(); err != nil {
		return nil, sextant.Errorf(sextant.EINVALID, "queries.jsonl: %w", err)
	}
	ids := make([]string, 0, len(qrels))
	for id := range qrels {
		if texts[id] == "" {
			return nil, sextant.Errorf(sextant.EINVALID, "beir: query %q is judged in %s but has no text in queries.jsonl", id, qrelsName)
		}
		ids = append(ids, id)
	}
	sortIDs(ids)
	d := &Dataset{Name: "beir:" + split}
	for _, id := range ids {
		it := Item{ID: id, Question: texts[id], Grades: qrels[id]}
		for doc, g := range qrels[id] {
			if g >= 1 {
				it.RelevantIDs = append(it.RelevantIDs, doc)
			}
		}
		slices.Sort(it.RelevantIDs)
		d.Items = append(d.Items, it)
	}
	return d, nil
}

// ReadQrels reads relevance judgements in BEIR TSV (query-id, corpus-id,
// score, with an optional header line) or TREC layout (query-id, iteration,
// doc-id, grade). Every row counts, grade 0 included (judged non-relevant),
// as trec_eval reads qrels. name labels errors.
func ReadQrels(r io.Reader, name string) (Qrels, error) {
	q := Qrels{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) == 4 {
			f = []string{f[0], f[2], f[3]}
		}
		if len(f) != 3 {
			return nil, sextant.Errorf(sextant.EINVALID, "%s line %d: want query-id, corpus-id, score", name, n)
		}
		grade, err := strconv.Atoi(f[2])
		if err != nil {
			if n == 1 {
				continue // header
			}
			return nil, sextant.Errorf(sextant.EINVALID, "%s line %d: score %q is not an integer", name, n, f[2])
		}
		if q[f[0]] == nil {
			q[f[0]] = map[string]int{}
		}
		q[f[0]][f[1]] = grade
	}
	if err := sc.Err(); err != nil {
		return nil, sextant.Errorf(sextant.EINVALID, "%s: %w", name, err)
	}
	if len(q) == 0 {
		return nil, sextant.Errorf(sextant.EINVALID, "%s holds no judgements", name)
	}
	return q, nil
}

// sortIDs sorts ids numerically when all are integers, else bytewise.
func sortIDs(ids []string) {
	numeric := true
	for _, id := range ids {
		if _, err := strconv.ParseInt(id, 10, 64); err != nil {
			numeric = false
			break
		}
	}
	if !numeric {
		slices.Sort(ids)
		return
	}
	slices.SortFunc(ids, func(a, b string) int {
		x, _ := strconv.ParseInt(a, 10, 64)
		y, _ := strconv.ParseInt(b, 10, 64)
		return cmpInt(x, y)
	})
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// grades returns the item's judgements: Grades, or grade 1 for each
// relevant id.
func (it *Item) grades() map[string]int {
	if len(it.Grades) > 0 {
		return it.Grades
	}
	m := make(map[string]int, len(it.RelevantIDs))
	for _, id := range it.RelevantIDs {
		m[id] = 1
	}
	return m
}

// RankedIDs maps retrieved sources, best first, to the ids the item's
// judgements use: a source counts as its chunk id when the judgements name
// it, else its document id, else its document id without the collection
// prefix when the judgements name that; unjudged sources keep their
// document id. The first occurrence of an id keeps its rank.
func (it *Item) RankedIDs(sources []sextant.Source) []string {
	rel := it.grades()
	out := make([]string, 0, len(sources))
	seen := make(map[string]bool, len(sources))
	for _, s := range sources {
		id := s.DocumentID
		if _, ok := rel[s.ChunkID]; ok && s.ChunkID != "" {
			id = s.ChunkID
		} else if _, ok := rel[s.DocumentID]; !ok {
			if _, short, cut := strings.Cut(s.DocumentID, ":"); cut {
				if _, ok := rel[short]; ok {
					id = short
				}
			}
			if id == s.DocumentID {
				if p := uriMatch(s.URI, rel); p != "" {
					id = p
				}
			}
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// ErrNoQuestion is Item.Prepare's error for an item without a question.
var ErrNoQuestion = errors.New(`missing or empty "question"`)

// Prepare readies an item read at position pos (from 1) of a golden set:
// the question trimmed (ErrNoQuestion when nothing is left), the id
// defaulted to "q<pos>", and the ids of positive grades added to
// RelevantIDs.
func (it *Item) Prepare(pos int) error {
	it.Question = strings.TrimSpace(it.Question)
	if it.Question == "" {
		return ErrNoQuestion
	}
	if it.ID == "" {
		it.ID = "q" + strconv.Itoa(pos)
	}
	for id, g := range it.Grades {
		if g > 0 && !slices.Contains(it.RelevantIDs, id) {
			it.RelevantIDs = append(it.RelevantIDs, id)
		}
	}
	return nil
}

// NamesFiles reports whether a relevant id names a file by its path
// ("ingestion.md"), which RankedIDs matches against a source's URI.
func (it *Item) NamesFiles() bool {
	for _, id := range it.RelevantIDs {
		if strings.ContainsAny(id, "./") && !strings.Contains(id, ":") {
			return true
		}
	}
	return false
}

// uriMatch returns the relevant id that names the source file at uri by
// its path — the whole path or its last segments ("ingestion.md",
// "docs/ingestion.md") — or "". File documents have ids that hash their
// absolute path; naming files by path keeps a golden set portable across
// machines and checkouts.
func uriMatch(uri string, rel map[string]int) string {
	if uri == "" {
		return ""
	}
	path := uri
	if _, rest, ok := strings.Cut(uri, "://"); ok {
		path = rest
	}
	path, _, _ = strings.Cut(path, "#")
	// A URI escapes what a path may hold ("my%20notes.md"); a golden set
	// may name the file either way.
	paths := []string{path}
	if u, err := url.PathUnescape(path); err == nil && u != path {
		paths = append(paths, u)
	}
	best := ""
	for id := range rel {
		if !strings.ContainsAny(id, "./") || strings.Contains(id, ":") || len(id) <= len(best) {
			continue
		}
		for _, p := range paths {
			if p == id || strings.HasSuffix(p, "/"+strings.TrimPrefix(id, "/")) {
				best = id
				break
			}
		}
	}
	return best
}
