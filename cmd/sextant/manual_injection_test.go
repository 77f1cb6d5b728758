package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/guard"
)

// The manual describes attacks (docs/guardrails.md, docs/policy.md) without
// making any: ingested as an ordinary collection, as the README's first
// command does, none of its chunks may reach the document threshold that
// excludes a chunk and quarantines its document at retrieval.
func TestManualIsNotQuarantined(t *testing.T) {
	if _, err := os.Stat("../../docs/guardrails.md"); err != nil {
		t.Skip("the manual is not beside the tests")
	}
	dir := t.TempDir()
	mustRun(t, "ingest", "--data", dir, "--quiet", "../../docs")
	st, err := openStore(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	inj := guard.DefaultInjection()
	chunks, quoting := 0, 0
	err = st.Scan(t.Context(), func(d *sextant.Document, cs []sextant.Chunk) error {
		for _, c := range cs {
			chunks++
			if strings.Contains(c.Text, "ignore all previous instructions") {
				quoting++
			}
			if a := inj.ScoreDocument(c.Text); a.Action == guard.ActionBlock {
				t.Errorf("%s scores %.3f (signals %v): it would be quarantined\n%s", c.ID, a.Score, a.Signals, c.Text)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if chunks < 100 || quoting == 0 {
		t.Errorf("%d chunks from the manual, %d quoting an attack: the test did not see it", chunks, quoting)
	}
}

// The manual's own evaluation suite (eval/suites/manual.yaml) passes its
// gates: the questions a newcomer asks first find the pages that answer
// them, and every answer sentence is cited.
func TestManualSuite(t *testing.T) {
	if _, err := os.Stat("../../eval/suites/manual.yaml"); err != nil {
		t.Skip("the suite is not beside the tests")
	}
	out, errs, err := runCLI(t, nil, "eval", "run", "../../eval/suites/manual.yaml", "--data", t.TempDir(), "--json")
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, errs, out)
	}
	var rep struct {
		Variants []struct {
			Metrics map[string]float64 `json:"metrics"`
		} `json:"variants"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Variants) != 1 {
		t.Fatalf("%v: %.500s", err, out)
	}
	if m := rep.Variants[0].Metrics; m["hit_rate@5"] < 0.85 || m["citation_coverage"] < 1 {
		t.Errorf("manual suite: %v", m)
	}
}
