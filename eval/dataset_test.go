package eval

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sextant-ai/sextant"
)

func TestReadDataset(t *testing.T) {
	in := `{"question": "When did the bridge open?", "reference_answer": "1937", "relevant_ids": ["kb:bridge"], "tags": ["history"]}

{"id": "river", "question": " Where does the Danube end? ", "grades": {"kb:river": 2, "kb:sea": 0}}
`
	d, err := ReadDataset(strings.NewReader(in), "golden.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	want := &Dataset{Name: "golden.jsonl", Items: []Item{
		{ID: "q1", Question: "When did the bridge open?", ReferenceAnswer: "1937", RelevantIDs: []string{"kb:bridge"}, Tags: []string{"history"}},
		{ID: "river", Question: "Where does the Danube end?", RelevantIDs: []string{"kb:river"}, Grades: map[string]int{"kb:river": 2, "kb:sea": 0}},
	}}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("ReadDataset (-want +got):\n%s", diff)
	}
	var b bytes.Buffer
	if err := WriteDataset(&b, d.Items); err != nil {
		t.Fatal(err)
	}
	back, err := ReadDataset(&b, "golden.jsonl")
	if err != nil || !cmp.Equal(back, d) {
		t.Errorf("round trip: %v\n%s", err, cmp.Diff(d, back))
	}
}

func TestReadDatasetErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"question": "a"}` + "\n" + `{"questoin": "b"}`, `g.jsonl line 2: json: unknown field "questoin"`},
		{`{"reference_answer": "x"}`, `g.jsonl line 1: missing or empty "question"`},
		{`{"id": "a", "question": "x"}` + "\n" + `{"id": "a", "question": "y"}`, `g.jsonl line 2: id "a" is used on line 1 too`},
		{`{"question": "x"} {"question": "y"}`, "line 1: more than one JSON value"},
		{`[1]`, "line 1: json: cannot unmarshal"},
		{`{"question": "x", "relevant_ids": "a"}`, "line 1: json: cannot unmarshal string"},
		{"\n\n", "g.jsonl: no questions"},
	} {
		_, err := ReadDataset(strings.NewReader(c.in), "g.jsonl")
		if err == nil || !strings.Contains(err.Error(), c.want) || sextant.ErrorCode(err) != sextant.EINVALID {
			t.Errorf("ReadDataset(%q) = %v, want EINVALID containing %q", c.in, err, c.want)
		}
	}
}

func TestReadBEIR(t *testing.T) {
	d, err := ReadBEIR(os.DirFS("testdata/beir-mini"), "")
	if err != nil {
		t.Fatal(err)
	}
	want := []Item{
		{ID: "2", Question: "When did the bridge open?", RelevantIDs: []string{"docC"}, Grades: map[string]int{"docC": 1, "docD": 0}},
		{ID: "10", Question: "Does aspirin reduce fever?", RelevantIDs: []string{"docA", "docB"}, Grades: map[string]int{"docA": 1, "docB": 2}},
	}
	if diff := cmp.Diff(want, d.Items); diff != "" {
		t.Errorf("ReadBEIR (-want +got):\n%s", diff)
	}
	if _, err := ReadBEIR(os.DirFS("testdata/beir-mini"), "dev"); err == nil || !strings.Contains(err.Error(), "dev.tsv") {
		t.Errorf("missing split: %v", err)
	}
	if _, err := ReadQrels(strings.NewReader("q d 1\nq d x\n"), "q.tsv"); err == nil || !strings.Contains(err.Error(), "q.tsv line 2") {
		t.Errorf("bad grade: %v", err)
	}
}

// TestRankedIDs maps retrieved sources to the ids judgements use.
func TestRankedIDs(t *testing.T) {
	src := func(doc, chunk string) sextant.Source { return sextant.Source{DocumentID: doc, ChunkID: chunk} }
	sources := []sextant.Source{src("default:42", "default:42#1"), src("default:42", "default:42#0"), src("kb:a", "kb:a#0"), src("x:7", "x:7#0")}
	for _, c := range []struct {
		it   Item
		want []string
	}{
		{Item{RelevantIDs: []string{"42"}}, []string{"42", "kb:a", "x:7"}},                                   // record ids (BEIR)
		{Item{RelevantIDs: []string{"default:42#0"}}, []string{"default:42", "default:42#0", "kb:a", "x:7"}}, // a chunk id
		{Item{RelevantIDs: []string{"kb:a"}}, []string{"default:42", "kb:a", "x:7"}},                         // document ids
	} {
		if got := c.it.RankedIDs(sources); !cmp.Equal(got, c.want) {
			t.Errorf("RankedIDs for %v = %v, want %v", c.it.RelevantIDs, got, c.want)
		}
	}
	// Files by path: their ids hash the absolute path, so a portable golden
	// set names the file (the longest matching path wins; a name that is
	// only a suffix of a segment does not match).
	files := []sextant.Source{
		{DocumentID: "default:ingestion.md-e2d7f042f8f3", ChunkID: "default:ingestion.md-e2d7f042f8f3#3", URI: "file:///srv/repo/docs/ingestion.md"},
		{DocumentID: "default:api.md-c213bc7b5ab2", URI: "file:///srv/repo/docs/api.md#7"},
		{DocumentID: "default:myapi.md-0123456789ab", URI: "file:///srv/repo/notes/myapi.md"},
		{DocumentID: "default:my notes.md-0123456789ac", URI: "file:///srv/repo/notes/my%20notes.md"},
	}
	for _, c := range []struct {
		it   Item
		want []string
	}{
		{Item{RelevantIDs: []string{"ingestion.md"}}, []string{"ingestion.md", "default:api.md-c213bc7b5ab2", "default:myapi.md-0123456789ab", "default:my notes.md-0123456789ac"}},
		{Item{RelevantIDs: []string{"docs/api.md", "api.md"}}, []string{"default:ingestion.md-e2d7f042f8f3", "docs/api.md", "default:myapi.md-0123456789ab", "default:my notes.md-0123456789ac"}},
		{Item{RelevantIDs: []string{"docs"}}, []string{"default:ingestion.md-e2d7f042f8f3", "default:api.md-c213bc7b5ab2", "default:myapi.md-0123456789ab", "default:my notes.md-0123456789ac"}},
		{Item{RelevantIDs: []string{"my notes.md"}}, []string{"default:ingestion.md-e2d7f042f8f3", "default:api.md-c213bc7b5ab2", "default:myapi.md-0123456789ab", "my notes.md"}},
		{Item{RelevantIDs: []string{"notes/my%20notes.md"}}, []string{"default:ingestion.md-e2d7f042f8f3", "default:api.md-c213bc7b5ab2", "default:myapi.md-0123456789ab", "notes/my%20notes.md"}},
	} {
		if got := c.it.RankedIDs(files); !cmp.Equal(got, c.want) {
			t.Errorf("RankedIDs for %v = %v, want %v", c.it.RelevantIDs, got, c.want)
		}
	}
}

func FuzzReadDataset(f *testing.F) {
	for _, s := range []string{`{"question": "a", "relevant_ids": ["x"], "grades": {"y": 2}}`, `{"question": ""}`, "{}\n{", `{"question": "a", "id": "q2"}` + "\n" + `{"question": "b"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ReadDataset(strings.NewReader(s), "f")
		if err != nil {
			return
		}
		ids := map[string]bool{}
		for _, it := range d.Items {
			if it.Question == "" || it.ID == "" || ids[it.ID] {
				t.Fatalf("bad item %+v", it)
			}
			ids[it.ID] = true
		}
	})
}
