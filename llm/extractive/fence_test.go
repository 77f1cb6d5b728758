package extractive

import "testing"

func TestUsable(t *testing.T) {
	for _, tt := range []struct {
		text string
		want bool
	}{
		{"Sextant ingests PDF files from their text layer.", true},
		{"Uploads go through `POST /v1/documents` with `{\"collection\": \"docs\"}` as metadata.", true},
		{"`sextant keys create --name alice --role product`", true},
		{"`sextant ingest docs` — the manual as a sample corpus", true},
		{"`sextant keys create --name alice --role product`) for a colleague.", false}, // a fragment
		{"The circuit opens (after `failures` consecutive failures.", false},
		{"\"`), and answers the budgets it set.", false},
		{"\"usage\": {\"prompt_tokens\": 1994, \"completion_tokens\": 96}", false},
		{"`-H 'Content-Type: application/json' \\`", false},
		{"`sextant search \"how do I rotate the signing keys\"`", false},
		{"`./sextant ask --server http://127.0.0.1:8080 \"What does the circuit breaker do?\"`", false},
		{"Which port does it use?", false},
		{"Run it like this:", false},
	} {
		if got := usable(tt.text); got != tt.want {
			t.Errorf("usable(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
}

func TestPointerAndCutCodeSpan(t *testing.T) {
	for _, tt := range []struct {
		text string
		want bool
	}{
		{"See [ingestion](ingestion.md) for formats.", true},
		{"The [API](api.md#errors) lists them.", true},
		{"Read [the spec](https://example.com/spec) first.", false},
		{"Plain prose without links.", false},
	} {
		if got := pointer(tt.text); got != tt.want {
			t.Errorf("pointer(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
	// A sentence split that cut a code span in two leaves halves that are
	// not sentences.
	if usable("`sextant ask \"what is the circuit breaker?\"") {
		t.Error("half of a code span is usable")
	}
}
