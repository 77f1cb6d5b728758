package churn

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/gbdt"
)

func readFixture(t *testing.T, name string) *Table {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := ParseTable(b, name)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func TestReadCSVErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", "empty file"},
		{"a,,c\n1,2,3\n", "header column 2 is empty"},
		{"a,b,a\n1,2,3\n", `names column "a" twice`},
		{"a,b\n1,2\n3\n", "line 3: wrong number of fields"},
		{"a,b\n1,\"2\n", "line 2"},
	}
	for _, c := range cases {
		_, err := ParseTable([]byte(c.in), "in.csv")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "in.csv") {
			t.Errorf("%q: error %v, want one naming in.csv and %q", c.in, err, c.want)
		}
		if sextant.ErrorCode(err) != sextant.EINVALID {
			t.Errorf("%q: code %q, want invalid", c.in, sextant.ErrorCode(err))
		}
	}
	tb, err := ParseTable([]byte("\ufeffa, b\r\n1,2\r\n"), "bom.csv")
	if err != nil || !cmp.Equal(tb.Header, []string{"a", "b"}) {
		t.Fatalf("BOM and spaces: %v %v", tb, err)
	}
}

func FuzzReadCSV(f *testing.F) {
	f.Add([]byte("id,x,y\n1,2,Yes\n2,,No\n"))
	f.Add([]byte("a\n\"q\"\"uoted\"\n"))
	f.Add([]byte("a,b\n1,2,3\n"))
	f.Add([]byte("\ufeff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tb, err := ParseTable(data, "fuzz.csv")
		if err != nil {
			if sextant.ErrorCode(err) != sextant.EINVALID {
				t.Fatalf("error without the invalid code: %v", err)
			}
			return
		}
		for i, r := range tb.Rows {
			if len(r) != len(tb.Header) {
				t.Fatalf("row %d has %d fields for %d columns", i, len(r), len(tb.Header))
			}
		}
		// Whatever parses can be inferred and encoded without panicking.
		if len(tb.Header) > 1 {
			s, err := Infer(tb, InferOptions{Target: tb.Header[len(tb.Header)-1], Positive: "x"})
			if err == nil {
				NewDataset(tb, s)
			}
		}
		var buf bytes.Buffer
		if err := tb.WriteCSV(&buf); err != nil {
			t.Fatal(err)
		}
	})
}

func TestInferSchema(t *testing.T) {
	tb := readFixture(t, "customers.csv")
	s, err := Infer(tb, InferOptions{Target: "churned", ID: "id"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range s.Columns {
		got[c.Name] = string(c.Type) + "/" + string(c.role())
	}
	want := map[string]string{
		"id": "categorical/id", "plan": "categorical/feature", "tenure": "numeric/feature",
		"monthly": "numeric/feature", "autopay": "boolean/feature", "signup": "date/feature",
		"notes": "categorical/feature", "churned": "boolean/target",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("inferred types (-want +got):\n%s", diff)
	}
	if s.Positive != "Yes" {
		t.Fatalf("positive %q, want Yes", s.Positive)
	}
	plan := s.Columns[1]
	if !cmp.Equal(plan.Categories, []string{"basic", "family", "premium"}) {
		t.Fatalf("plan categories %v (most frequent first, ties by label)", plan.Categories)
	}

	// Round trip through YAML.
	var buf bytes.Buffer
	if err := s.WriteYAML(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := ReadSchema(&buf, "schema.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s, back); diff != "" {
		t.Fatalf("YAML round trip (-want +got):\n%s", diff)
	}

	// Free text and identifiers are not features.
	var rows strings.Builder
	rows.WriteString("comment,y\n")
	for i := range 120 {
		rows.WriteString("text number " + string(rune('a'+i%26)) + strings.Repeat("x", i) + ",1\n")
	}
	tt, _ := ParseTable([]byte(rows.String()+"other,0\n"), "t.csv")
	ts, err := Infer(tt, InferOptions{Target: "y"})
	if err == nil || ts != nil {
		t.Fatalf("a table whose only candidate feature is free text: schema %v, error %v; want no-feature error", ts, err)
	}
}

func TestSchemaValidation(t *testing.T) {
	base := func() *Schema {
		return &Schema{Target: "y", Positive: "1", Columns: []Column{
			{Name: "x", Type: Numeric}, {Name: "y", Type: Boolean, Role: RoleTarget},
		}}
	}
	cases := []struct {
		name string
		mod  func(s *Schema)
		want string
	}{
		{"ok", func(*Schema) {}, ""},
		{"type", func(s *Schema) { s.Columns[0].Type = "float" }, `unknown type "float"`},
		{"role", func(s *Schema) { s.Columns[0].Role = "label" }, `unknown role "label"`},
		{"dup", func(s *Schema) { s.Columns = append(s.Columns, Column{Name: "x", Type: Numeric}) }, `"x" listed twice`},
		{"target", func(s *Schema) { s.Target = "z" }, `role target but the target is "z"`},
		{"text feature", func(s *Schema) { s.Columns[0].Type = Text }, "text column"},
		{"no features", func(s *Schema) { s.Columns[0].Role = RoleIgnore }, "no feature columns"},
		{"positive", func(s *Schema) { s.Positive = "" }, "positive"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := base()
			c.mod(s)
			err := s.Validate()
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
	if _, err := ReadSchema(strings.NewReader("target: y\npositive: 1\ncolumns: []\nextra: 1\n"), "s.yaml"); err == nil || !strings.Contains(err.Error(), "s.yaml") {
		t.Fatalf("unknown YAML field: %v", err)
	}
}

func TestDatasetFieldErrors(t *testing.T) {
	tb := readFixture(t, "customers.csv")
	s, err := Infer(tb, InferOptions{Target: "churned", ID: "id"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDataset(tb, s)
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(d.Data.Columns[1][5]) { // tenure of c06 is blank
		t.Fatalf("blank tenure encoded as %v, want NaN", d.Data.Columns[1][5])
	}
	if got := d.Data.Label; !cmp.Equal(got, []float64{1, 0, 1, 0, 0, 1, 0, 1, 0, 1}) {
		t.Fatalf("labels %v", got)
	}
	tb.Rows[2][2] = "three"
	tb.Rows[4][4] = "maybe"
	tb.Rows[6][5] = "2023-13-45"
	_, err = NewDataset(tb, s)
	var fe FieldErrors
	if !errors.As(err, &fe) || sextant.ErrorCode(err) != sextant.EINVALID {
		t.Fatalf("error %v, want FieldErrors with code invalid", err)
	}
	want := FieldErrors{
		{Row: 4, Field: "tenure", Message: `not a number: "three"`},
		{Row: 6, Field: "autopay", Message: `not a boolean (yes/no, true/false, 1/0): "maybe"`},
		{Row: 8, Field: "signup", Message: `not a date such as 2024-03-31: "2023-13-45"`},
	}
	if diff := cmp.Diff(want, fe); diff != "" {
		t.Fatalf("field errors (-want +got):\n%s", diff)
	}
}

func TestScoreRecordsValidation(t *testing.T) {
	m := trainedModel(t, 400, 3)
	sc := NewScorer(m, ScorerOptions{Reasons: 2})
	good := map[string]any{"id": "a1", "plan": "basic", "tenure": 3, "monthly": "31.5", "autopay": true, "region": "north"}
	res, err := sc.ScoreRecords(context.Background(), []map[string]any{good, {"id": "a2"}})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].ID != "a1" || !(res[0].Probability > 0 && res[0].Probability < 1) || len(res[0].Reasons) > 2 {
		t.Fatalf("result %+v", res[0])
	}
	if !(res[1].Probability > 0) {
		t.Fatalf("all-missing row: %+v", res[1])
	}
	_, err = sc.ScoreRecords(context.Background(), []map[string]any{
		good,
		{"tenure": "ten", "autopay": "maybe", "colour": "red", "monthly": []any{1}},
	})
	var fe FieldErrors
	if !errors.As(err, &fe) || sextant.ErrorCode(err) != sextant.EINVALID {
		t.Fatalf("error %v, want FieldErrors", err)
	}
	want := FieldErrors{
		{Row: 1, Field: "autopay", Message: `not a boolean (yes/no, true/false, 1/0): "maybe"`},
		{Row: 1, Field: "colour", Message: "unknown field: not a column of the model's schema"},
		{Row: 1, Field: "monthly", Message: "want a string, number, boolean or null"},
		{Row: 1, Field: "tenure", Message: `not a number: "ten"`},
	}
	if diff := cmp.Diff(want, fe); diff != "" {
		t.Fatalf("field errors (-want +got):\n%s", diff)
	}
}

func TestTelcoSchema(t *testing.T) {
	const path = "../../shared/data/telco-customer-churn/Telco-Customer-Churn.csv"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skip("telco data set not present:", err)
	}
	tb, err := ParseTable(b, path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Infer(tb, InferOptions{Target: "Churn", ID: "customerID"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDataset(tb, s)
	if err != nil {
		t.Fatal(err)
	}
	if d.Data.Rows() != 7043 || len(d.Data.Features) != 19 {
		t.Fatalf("%d rows, %d features; want 7043 and 19", d.Data.Rows(), len(d.Data.Features))
	}
	var pos, missing int
	for i, y := range d.Data.Label {
		pos += int(y)
		for j, f := range d.Data.Features {
			if f.Name == "TotalCharges" && math.IsNaN(d.Data.Columns[j][i]) {
				missing++
			}
		}
	}
	if pos != 1869 || missing != 11 {
		t.Fatalf("%d churned and %d blank TotalCharges; the README says 1869 and 11", pos, missing)
	}
}

// BenchmarkScoreTelco measures compiled batch scoring of a 100-tree depth-6
// model on the telco rows (parsed features in, probabilities out).
func BenchmarkScoreTelco(b *testing.B) {
	const path = "../../shared/data/telco-customer-churn/Telco-Customer-Churn.csv"
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Skip("telco data set not present:", err)
	}
	tb, err := ParseTable(raw, path)
	if err != nil {
		b.Fatal(err)
	}
	s, err := Infer(tb, InferOptions{Target: "Churn", ID: "customerID"})
	if err != nil {
		b.Fatal(err)
	}
	d, err := NewDataset(tb, s)
	if err != nil {
		b.Fatal(err)
	}
	m, err := gbdt.Train(context.Background(), d.Data, nil, gbdt.Params{Rounds: 100, MaxDepth: 6, MinChildWeight: 1e-3, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	sc := gbdt.Compile(m)
	n, nf := d.Data.Rows(), len(d.Data.Columns)
	rows := make([]float64, n*nf)
	for j, c := range d.Data.Columns {
		for i, v := range c {
			rows[i*nf+j] = v
		}
	}
	out := make([]float64, n)
	b.ResetTimer()
	for b.Loop() {
		if err := sc.PredictBatch(rows, out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func FuzzReadSchema(f *testing.F) {
	f.Add([]byte("target: y\npositive: \"1\"\ncolumns:\n  - name: x\n    type: numeric\n  - name: y\n    type: boolean\n    role: target\n"))
	f.Add([]byte(`{"target":"y","positive":"1","columns":[{"name":"y","type":"boolean","role":"target"}]}`))
	f.Add([]byte("columns: [{name: a, type: categorical, categories: [x, y]}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ReadSchema(bytes.NewReader(data), "fuzz.yaml")
		if err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("ReadSchema returned a schema that does not validate: %v", err)
		}
		var buf bytes.Buffer
		if err := s.WriteYAML(&buf); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadSchema(&buf, "again.yaml"); err != nil {
			t.Fatalf("a written schema does not read back: %v\n%s", err, buf.String())
		}
	})
}

func FuzzReadTraffic(f *testing.F) {
	f.Add([]byte(`{"t":"2026-01-02T03:04:05Z","x":[1,null,2.5],"p":0.3}` + "\n\n" + `{"t":"2026-01-02T03:04:06Z","x":[],"p":1}`))
	f.Add([]byte("{\"x\":[1e400]}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := readTraffic(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, r := range recs {
			for _, v := range r.X {
				if math.IsInf(v, 0) {
					t.Fatalf("infinite value decoded: %v", r.X)
				}
			}
		}
	})
}
