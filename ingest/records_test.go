package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// collect drains a record stream into records, per-record problems and
// the fatal error.
func collect(seq iter.Seq2[Record, error]) (recs []Record, problems []string, fatal error) {
	for rec, err := range seq {
		var re *RecordError
		switch {
		case errors.As(err, &re):
			problems = append(problems, re.Error())
		case err != nil:
			fatal = err
		default:
			recs = append(recs, rec)
		}
	}
	return recs, problems, fatal
}

var ignoreRaw = cmpopts.IgnoreFields(Record{}, "Raw")

func TestJSONLRecords(t *testing.T) {
	recs, problems, err := collect(JSONLRecords(bytes.NewReader(readFixture(t, "corpus.jsonl")), RecordFields{}, 1<<20))
	if err != nil || len(problems) > 0 {
		t.Fatal(err, problems)
	}
	want := []Record{
		{N: 1, Pos: "line 1", ID: "4983", Title: "Microstructural development of human newborn cerebral white matter",
			Text: "Alterations of the architecture of cerebral white matter in the developing human brain can affect cortical development. Diffusion tensor imaging was used to assess water diffusion."},
		{N: 2, Pos: "line 2", ID: "5836", Title: "Induction of myelodysplasia",
			Text:     "Myelodysplastic syndromes are a group of disorders. They are marked by ineffective hematopoiesis.",
			Metadata: map[string]string{"year": "2010", "venue": "Blood", "open": "true"}},
		{N: 4, Pos: "line 4", ID: "7912", Text: "A record without a title still gets a document."},
	}
	if diff := cmp.Diff(want, recs, ignoreRaw); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if !bytes.HasPrefix(recs[0].Raw, []byte(`{"_id": "4983"`)) {
		t.Errorf("Raw = %q, want the line", recs[0].Raw)
	}
}

func TestJSONLRecordsBadLines(t *testing.T) {
	src := string(readFixture(t, "bad/malformed.jsonl")) + strings.Repeat("x", 100) + "\n{\"_id\":\"d\",\"text\":\"\xff\"}\n{\"_id\":\"e\",\"text\":\"last\"}"
	recs, problems, err := collect(JSONLRecords(strings.NewReader(src), RecordFields{}, 64))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.ID)
	}
	if diff := cmp.Diff([]string{"a", "c", "e"}, ids); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
	wantProblems := []string{"line 2: malformed JSON", "line 4: not a JSON object", "line 5: longer than the 64-byte limit", "line 6: not valid UTF-8"}
	if len(problems) != len(wantProblems) {
		t.Fatalf("problems %q", problems)
	}
	for i, w := range wantProblems {
		if !strings.HasPrefix(problems[i], w) {
			t.Errorf("problem %d = %q, want prefix %q", i, problems[i], w)
		}
	}
}

func TestJSONRecords(t *testing.T) {
	fields := RecordFields{Title: []string{"name"}, Text: []string{"body"}}
	recs, problems, err := collect(JSONRecords(bytes.NewReader(readFixture(t, "records.json")), fields, 1<<20))
	if err != nil || len(problems) > 0 {
		t.Fatal(err, problems)
	}
	want := []Record{
		{N: 1, Pos: "item 1", ID: "1", Title: "Password reset", Text: "Use the reset link on the sign-in page.", Metadata: map[string]string{"category": "account"}},
		{N: 2, Pos: "item 2", ID: "2", Title: "Billing cycle", Text: "Invoices go out on the 1st.\n\nPayment is due in 14 days.", Metadata: map[string]string{"category": "billing"}},
	}
	if diff := cmp.Diff(want, recs, ignoreRaw); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	recs, _, err = collect(JSONRecords(bytes.NewReader(readFixture(t, "single.json")), RecordFields{}, 1<<20))
	if err != nil || len(recs) != 1 || recs[0].ID != "" || recs[0].Title != "Release notes 2.1" || recs[0].Metadata["version"] != "2.1" {
		t.Errorf("single object: %+v, %v", recs, err)
	}
	for name, src := range map[string]string{
		"truncated":  string(readFixture(t, "bad/malformed.json")),
		"scalar":     `42`,
		"empty":      "  ",
		"trailing":   `{"text":"a"} {"text":"b"}`,
		"unbalanced": `[{"text":"a"}`,
	} {
		_, _, err := collect(JSONRecords(strings.NewReader(src), RecordFields{}, 1<<20))
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// Records before a syntax error are kept.
	recs, _, err = collect(JSONRecords(bytes.NewReader(readFixture(t, "bad/malformed.json")), RecordFields{}, 1<<20))
	if err == nil || len(recs) != 1 || recs[0].ID != "1" {
		t.Errorf("malformed.json: %d records, %v", len(recs), err)
	}
	_, problems, _ = collect(JSONRecords(strings.NewReader(`[{"_id": {"x": 1}, "text": "t"}, {"text": 5}, 7]`), RecordFields{}, 1<<20))
	if len(problems) != 3 {
		t.Errorf("problems %q, want 3 (object id, numeric text, non-object)", problems)
	}
}

func TestCSVRecords(t *testing.T) {
	fields := RecordFields{CSVText: []string{"question", "answer"}}
	recs, problems, err := collect(CSVRecords(bytes.NewReader(readFixture(t, "faq.csv")), fields, 1<<20))
	if err != nil || len(problems) > 0 {
		t.Fatal(err, problems)
	}
	want := []Record{
		{N: 1, Pos: "row 1 (line 2)", ID: "q1", Title: "Password reset",
			Text: "How do I reset my password?\n\nUse the reset link on the sign-in page. It expires after an hour.", Metadata: map[string]string{"team": "support"}},
		{N: 2, Pos: "row 2 (line 3)", ID: "q2", Title: "Invoices",
			Text: "Where are invoices?\n\nInvoices are under Billing, then History.", Metadata: map[string]string{"team": "billing"}},
	}
	if diff := cmp.Diff(want, recs, ignoreRaw); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	recs, problems, err = collect(CSVRecords(bytes.NewReader(readFixture(t, "bad/malformed.csv")), RecordFields{}, 1<<20))
	if err != nil || len(recs) != 1 || recs[0].ID != "r1" || len(problems) != 2 {
		t.Errorf("malformed.csv: %+v, problems %q, %v", recs, problems, err)
	}
	_, _, err = collect(CSVRecords(bytes.NewReader(readFixture(t, "bad/nocsvtext.csv")), RecordFields{}, 1<<20))
	if err == nil || !strings.Contains(err.Error(), "--csv-text-cols") {
		t.Errorf("no text column: %v", err)
	}
	for name, src := range map[string]string{"empty": "", "dup header": "text,text\na,b\n"} {
		if _, _, err := collect(CSVRecords(strings.NewReader(src), RecordFields{}, 1<<20)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	_, problems, _ = collect(CSVRecords(strings.NewReader("id,text\n1,a,extra\n2,"+strings.Repeat("y", 50)+"\n"), RecordFields{}, 20))
	if len(problems) != 2 {
		t.Errorf("problems %q, want field count and size", problems)
	}
}

func TestDecodeStream(t *testing.T) {
	for _, tt := range []struct {
		in, want, note string
		err            bool
	}{
		{"\xef\xbb\xbfid,text\n", "id,text\n", "", false},
		{"\xff\xfei\x00d\x00,\x00t\x00\n\x00", "id,t\n", "UTF-16LE", false},
		{"\xfe\xff\x00i\x00d", "id", "UTF-16BE", false},
		{"caf\xe9,cr\xe8me\n", "café,crème\n", "Windows-1252", false},
		{"a\x81b", "", "", true},
		{"a\x00b", "", "", true},
	} {
		r, note, err := decodeStream(strings.NewReader(tt.in))
		if tt.err {
			if err == nil {
				t.Errorf("%q: no error", tt.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		got, _ := io.ReadAll(r)
		if string(got) != tt.want || !strings.Contains(note, tt.note) {
			t.Errorf("%q: %q note %q, want %q note %q", tt.in, got, note, tt.want, tt.note)
		}
	}
}

func fuzzRecords(t *testing.T, seq iter.Seq2[Record, error]) {
	n := 0
	for rec, err := range seq {
		if n++; n > 10000 {
			t.Fatal("record stream does not end")
		}
		if err != nil {
			continue
		}
		if !bytesValidUTF8([]byte(rec.Text)) || !bytesValidUTF8([]byte(rec.ID)) || !bytesValidUTF8([]byte(rec.Title)) {
			t.Fatalf("invalid UTF-8 in %+v", rec)
		}
		for k := range rec.Metadata {
			if !validMetaKey(k) {
				t.Fatalf("metadata key %q", k)
			}
		}
		chunks := Chunk("d", rec.Text, nil, ChunkOptions{Tokens: 16})
		checkChunks(t, rec.Text, nil, ChunkOptions{Tokens: 16}, chunks)
	}
}

func FuzzJSONLRecords(f *testing.F) {
	f.Add(readFixture(f, "corpus.jsonl"))
	f.Add(readFixture(f, "bad/malformed.jsonl"))
	f.Add([]byte("{\"_id\":1,\"text\":[\"a\",\"b\"],\"k=v\":1}\n\n{}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		fuzzRecords(t, JSONLRecords(bytes.NewReader(src), RecordFields{}, 256))
	})
}

func FuzzJSONRecords(f *testing.F) {
	f.Add(readFixture(f, "records.json"))
	f.Add(readFixture(f, "single.json"))
	f.Add(readFixture(f, "bad/malformed.json"))
	f.Fuzz(func(t *testing.T, src []byte) {
		fuzzRecords(t, JSONRecords(bytes.NewReader(src), RecordFields{Text: []string{"text", "body"}}, 256))
	})
}

func FuzzCSVRecords(f *testing.F) {
	f.Add(readFixture(f, "faq.csv"))
	f.Add(readFixture(f, "bad/malformed.csv"))
	f.Add([]byte("text,id\n\"a\"\"b\",1\n\"\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		r, _, err := decodeStream(bytes.NewReader(src))
		if err != nil {
			return
		}
		fuzzRecords(t, CSVRecords(r, RecordFields{CSVText: []string{"text", "answer"}}, 256))
	})
}

func TestReasonText(t *testing.T) {
	_, err := os.Open("/nonexistent/file.txt")
	got := reasonText(fmt.Errorf("unreadable: %w", err))
	if got != "unreadable: open: no such file or directory" {
		t.Errorf("reasonText = %q", got)
	}
}
