package main

import (
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
