package eval

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"sync"
	"testing"
)

// scifactDir is BEIR SciFact, referenced where the project keeps shared
// datasets; tests that need it skip when it is absent.
const scifactDir = "../../shared/data/beir-scifact"

// groundingSetHashes are the SHA-256 of the generated sets as
// WriteGroundingExamples writes them. A change to the generator (or to the
// data) changes them, and with them every figure measured on the sets:
// update them deliberately, and the figures in docs/evaluation.md with
// them.
var groundingSetHashes = map[string]string{
	GroundingDev:     "5b2205fa7fc7a43990c51517d0f4ca8ec5d7b37ff0bd5b74c2243ce5149de657",
	GroundingHeldout: "0a427885a37a969b1f607b8f3857dc22616ed9c273652a6c7fe188df819db851",
}

// generatedSets generates the SciFact grounding sets once per test binary.
var generatedSets = sync.OnceValues(func() (map[string][]GroundingExample, error) {
	dev, heldout, err := GroundingSets(os.DirFS(scifactDir))
	if err != nil {
		return nil, err
	}
	return map[string][]GroundingExample{GroundingDev: dev, GroundingHeldout: heldout}, nil
})

func sciFactSets(t *testing.T) map[string][]GroundingExample {
	t.Helper()
	if _, err := os.Stat(scifactDir); err != nil {
		t.Skip("BEIR SciFact not present (shared datasets are referenced, never copied in):", err)
	}
	sets, err := generatedSets()
	if err != nil {
		t.Fatal(err)
	}
	return sets
}

// TestGroundingSetsDeterministic checks that generation gives exactly the
// bytes the published figures were measured on.
func TestGroundingSetsDeterministic(t *testing.T) {
	sets := sciFactSets(t)
	for name, want := range groundingSetHashes {
		var buf bytes.Buffer
		if err := WriteGroundingExamples(&buf, sets[name]); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(buf.Bytes())
		if got := hex.EncodeToString(sum[:]); got != want {
			t.Errorf("%s set: SHA-256 %s, want %s (%d examples): the generator or the data changed", name, got, want, len(sets[name]))
		}
		back, err := ReadGroundingExamples(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if len(back) != len(sets[name]) || back[0] != sets[name][0] {
			t.Errorf("%s set does not read back as written", name)
		}
	}
}

func TestGroundingSetsErrors(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := GroundingSets(os.DirFS(dir)); err == nil {
		t.Fatal("empty folder: no error")
	}
	if err := os.WriteFile(dir+"/corpus.jsonl", []byte("{\"_id\": \"1\", \"text\": \"a\"}\nnot json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := GroundingSets(os.DirFS(dir))
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("corpus.jsonl line 2")) {
		t.Fatalf("bad line: err = %v, want one naming corpus.jsonl line 2", err)
	}
}
