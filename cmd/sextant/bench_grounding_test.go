package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBenchGroundingJSON(t *testing.T) {
	data := filepath.Join(t.TempDir(), "ex.jsonl")
	lines := `{"context": "Aspirin was first synthesized by Felix Hoffmann in 1897.", "answer": "Felix Hoffmann synthesized aspirin in 1897.", "label": 1}
{"context": "Aspirin was first synthesized by Felix Hoffmann in 1897.", "question": "Who made aspirin?", "answer": "Marie Curie synthesized aspirin in 1923.", "label": 0}
{"context": "The budget was approved in March.", "answer": "The budget was approved in March.", "label": 1}
{"context": "The budget was approved in March.", "answer": "The budget was not approved.", "label": 0}
`
	if err := os.WriteFile(data, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"bench", "grounding", "--data", data, "--json"}, func(string) string { return "" }, strings.NewReader(""), &out, &errb)
	if err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	for _, k := range []string{"examples", "auc", "precision", "recall", "f1", "threshold", "p50_ms"} {
		if _, ok := got[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, out.String())
		}
	}
	if got["examples"].(float64) != 4 || got["auc"].(float64) != 1 || got["threshold"].(float64) != 0.6 {
		t.Errorf("unexpected figures: %s", out.String())
	}
}

func TestBenchGroundingErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	if err := os.WriteFile(bad, []byte(`{"context": "c", "answer": "a", "label": 7}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"bench", "grounding"}, "--data", 2},
		{[]string{"bench", "grounding", "--data", bad, "--threshold", "2"}, "--threshold", 2},
		{[]string{"bench", "grounding", "--data", bad}, "line 1", 1},
		{[]string{"bench", "grounding", "--data", filepath.Join(t.TempDir(), "missing.jsonl")}, "no such file", 1},
	} {
		var out, errb bytes.Buffer
		err := run(context.Background(), c.args, func(string) string { return "" }, strings.NewReader(""), &out, &errb)
		if err == nil || !strings.Contains(err.Error(), c.want) || exitCode(err) != c.code {
			t.Errorf("%v: error %v (exit %d), want one naming %q with exit %d", c.args, err, exitCode(err), c.want, c.code)
		}
	}
}
