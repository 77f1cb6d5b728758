package search

import (
	"strings"
	"testing"
)

func TestSnippet(t *testing.T) {
	a := NewAnalyzer(AnalyzerOptions{})
	filler := strings.Repeat("lorem ipsum dolor sit amet ", 20)
	text := filler + "The key rotation schedule: rotate signing keys every 90 days.\n\nRotated keys are archived. " + filler
	terms := a.Terms("rotating keys")
	got := Snippet(a, text, terms, SnippetOptions{Width: 80})
	if !strings.HasPrefix(got, "…") || !strings.HasSuffix(got, "…") {
		t.Errorf("cut snippet lacks ellipses: %q", got)
	}
	for _, want := range []string{"«rotate» signing «keys»", "«Rotated» «keys»"} {
		if !strings.Contains(got, want) {
			t.Errorf("snippet %q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "\n") {
		t.Errorf("snippet keeps newlines: %q", got)
	}
	// Whole text fits: no ellipses; no match: the beginning, unmarked.
	if got := Snippet(a, "Short text about keys.", terms, SnippetOptions{}); got != "Short text about «keys»." {
		t.Errorf("short snippet = %q", got)
	}
	if got := Snippet(a, filler, terms, SnippetOptions{Width: 30, Open: "<b>", Close: "</b>"}); got != "lorem ipsum dolor sit amet lorem…" {
		t.Errorf("no-match snippet = %q", got)
	}
	// A compound matched whole is marked once (its matching parts merge
	// into it, not nested); matched by one part, only that part is marked.
	if got := Snippet(a, "the covid-19 wave", a.Terms("COVID-19"), SnippetOptions{}); got != "the «covid-19» wave" {
		t.Errorf("compound snippet = %q", got)
	}
	if got := Snippet(a, "the covid-19 wave", a.Terms("covid"), SnippetOptions{}); got != "the «covid»-19 wave" {
		t.Errorf("compound part snippet = %q", got)
	}
}
