package extractive_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm/driver"
	"github.com/sextant-ai/sextant/llm/extractive"
	"github.com/sextant-ai/sextant/llm/llmtest"
)

func TestConformance(t *testing.T) {
	llmtest.Run(t, func(t *testing.T) (driver.Provider, *llmtest.Server) {
		return extractive.New(extractive.Options{}), nil
	})
}

var sources = []sextant.Source{
	{N: 1, ChunkID: "a#0", Title: "Ingestion", Text: "# Ingestion\n\nSextant ingests Markdown, HTML and PDF files. PDF text is extracted with a pure-Go reader. Unchanged files are skipped by content hash.\n\n```sh\nsextant ingest docs/\n```\n"},
	{N: 2, ChunkID: "b#0", Title: "Search", Text: "Search ranks chunks with BM25F. Filters apply inside the ranking. The index is saved as a snapshot."},
	{N: 3, ChunkID: "c#0", Title: "Ingestion (copy)", Text: "Sextant ingests Markdown, HTML and PDF files. Records of JSON files become documents."},
}

func ask(q string) *driver.Request {
	return &driver.Request{Model: "extractive", Messages: []sextant.Message{{Role: sextant.RoleUser, Content: q}}, Sources: sources}
}

func TestAnswerCitesMatchingSentences(t *testing.T) {
	p := extractive.New(extractive.Options{})
	text, finish := p.Answer(ask("How are PDF files ingested and their text extracted?"))
	if finish != sextant.FinishStop {
		t.Errorf("finish = %q", finish)
	}
	if !strings.Contains(text, "PDF text is extracted with a pure-Go reader [1].") {
		t.Errorf("answer lacks the PDF sentence with its citation: %q", text)
	}
	if strings.Count(text, "Sextant ingests Markdown, HTML and PDF files") > 1 {
		t.Errorf("answer repeats a duplicated sentence: %q", text)
	}
	if strings.Contains(text, "sextant ingest docs/") || strings.Contains(text, "#") {
		t.Errorf("answer quotes code or headings: %q", text)
	}
	for _, s := range sextant.SplitSentences(text) {
		if len(s.Citations) != 1 {
			t.Errorf("sentence %q has citations %v, want exactly one", s.Text, s.Citations)
		}
		src := sources[s.Citations[0]-1].Text
		if !strings.Contains(src, strings.TrimSuffix(s.Text, ".")) {
			t.Errorf("sentence %q is not quoted from source %d", s.Text, s.Citations[0])
		}
	}
}

func TestDeterministicAndStreamed(t *testing.T) {
	p := extractive.New(extractive.Options{})
	want, _ := p.Answer(ask("What does search rank and where do filters apply?"))
	for range 5 {
		var b strings.Builder
		n := 0
		var last sextant.Delta
		for d, err := range p.Stream(context.Background(), ask("What does search rank and where do filters apply?")) {
			if err != nil {
				t.Fatal(err)
			}
			b.WriteString(d.Text)
			n++
			last = d
		}
		if b.String() != want {
			t.Fatalf("streamed %q, want %q", b.String(), want)
		}
		if n < 5 {
			t.Errorf("answer came in %d deltas; want word by word", n)
		}
		if last.Usage == nil || !last.Usage.Estimated || last.Usage.OutputTokens == 0 || last.Usage.InputTokens == 0 {
			t.Errorf("usage = %+v", last.Usage)
		}
	}
}

func TestNoAnswer(t *testing.T) {
	p := extractive.New(extractive.Options{})
	for _, req := range []*driver.Request{ask("quantum chromodynamics lattice"), {Messages: []sextant.Message{{Role: sextant.RoleUser, Content: "PDF"}}}} {
		if text, _ := p.Answer(req); text != extractive.NoAnswer {
			t.Errorf("answer = %q, want %q", text, extractive.NoAnswer)
		}
	}
}

func TestMaxTokens(t *testing.T) {
	p := extractive.New(extractive.Options{})
	req := ask("How are PDF and JSON files ingested?")
	full, _ := p.Answer(req)
	req.MaxTokens = 5
	text, finish := p.Answer(req)
	if finish != sextant.FinishLength || len(text) >= len(full) || text == "" {
		t.Errorf("max_tokens 5: %q (%s), full %q", text, finish, full)
	}
}

func TestFollowUpUsesEarlierTurns(t *testing.T) {
	p := extractive.New(extractive.Options{})
	req := &driver.Request{Sources: sources, Messages: []sextant.Message{
		{Role: sextant.RoleUser, Content: "Tell me about the search index."},
		{Role: sextant.RoleAssistant, Content: "Search ranks chunks with BM25F [1]."},
		{Role: sextant.RoleUser, Content: "How is it saved?"},
	}}
	text, _ := p.Answer(req)
	if !strings.Contains(text, "snapshot") {
		t.Errorf("follow-up answer %q does not use the earlier turn's subject", text)
	}
}

func TestToolChoiceRequiredRefused(t *testing.T) {
	p := extractive.New(extractive.Options{})
	req := ask("x")
	req.ToolChoice = "required"
	for _, err := range p.Stream(context.Background(), req) {
		if sextant.ErrorCode(err) != sextant.EINVALID {
			t.Fatalf("err = %v, want EINVALID", err)
		}
		return
	}
}

func BenchmarkAnswer(b *testing.B) {
	p := extractive.New(extractive.Options{})
	req := ask("How are PDF files ingested?")
	b.ReportAllocs()
	for b.Loop() {
		p.Answer(req)
	}
}

// FuzzAnswer answers arbitrary questions from arbitrary sources: it must
// not panic, and every sentence of an answer must cite an existing source.
func FuzzAnswer(f *testing.F) {
	f.Add("How are PDF files ingested?", "Sextant ingests PDF files. Text is extracted.", "| a | b |\n|---|---|\n| pdf | yes |")
	f.Add("run it", "```sh\nsextant ingest x.pdf # ingest a pdf\n```\n", "[1] [2] citations in the text. Another sentence here about pdf.")
	f.Add("ab", "", "")
	f.Fuzz(func(t *testing.T, q, a, b string) {
		p := extractive.New(extractive.Options{})
		req := &driver.Request{Messages: []sextant.Message{{Role: sextant.RoleUser, Content: q}},
			Sources: []sextant.Source{{N: 1, Text: a}, {N: 2, Text: b}}}
		text, finish := p.Answer(req)
		if text == "" || finish == "" {
			t.Fatalf("empty answer or finish: %q %q", text, finish)
		}
		if text == extractive.NoAnswer {
			return
		}
		for _, m := range sextant.ParseCitations(text) {
			for _, n := range m.Sources {
				if n < 1 || n > 2 {
					t.Fatalf("answer %q cites [%d]", text, n)
				}
			}
		}
	})
}

// A chunk cut out of a longer page can start inside a code block: the
// JSON up to its closing fence is not prose, and neither is JSON that
// reaches a sentence by other means. JSON inside a code span is prose's.
func TestChunkStartingInsideCode(t *testing.T) {
	srcs := []sextant.Source{
		{N: 1, ChunkID: "api#7", Title: "HTTP API", Text: "\"content\": \"PDF files are ingested with their text layer [1].\"}}],\n" +
			"\"usage\": {\"prompt_tokens\": 1994, \"completion_tokens\": 96},\n\"sources\": [{\"n\": 1, \"title\": \"Ingestion\"}]}\n```\n\n" +
			"Every answer to a PDF question cites its sources. Uploads of PDF files go through `POST /v1/documents` with `{\"collection\": \"docs\"}` as the form's metadata.\n\n" +
			"```json\n{\"note\": \"PDF files of any size are fine.\"}\n```\n"},
		{N: 2, ChunkID: "ing#0", Title: "Ingestion", Text: "Sextant ingests PDF files from their text layer. A folder of PDF files is ingested with sextant ingest FOLDER."},
	}
	p := extractive.New(extractive.Options{})
	text, _ := p.Answer(&driver.Request{Model: "extractive", Sources: srcs,
		Messages: []sextant.Message{{Role: sextant.RoleUser, Content: "How are PDF files ingested?"}}})
	for _, bad := range []string{`"usage"`, `"content"`, `"note"`, "prompt_tokens", "of any size"} {
		if strings.Contains(text, bad) {
			t.Errorf("answer quotes code (%s): %q", bad, text)
		}
	}
	if !strings.Contains(text, "A folder of PDF files is ingested with sextant ingest FOLDER [2].") {
		t.Errorf("answer lacks the prose that answers: %q", text)
	}
	// The prose between the blocks stays usable, its inline JSON included.
	text, _ = p.Answer(&driver.Request{Model: "extractive", Sources: srcs[:1],
		Messages: []sextant.Message{{Role: sextant.RoleUser, Content: "How are uploads of PDF files sent with metadata?"}}})
	if !strings.Contains(text, "Uploads of PDF files go through `POST /v1/documents`") {
		t.Errorf("answer lacks the prose sentence with inline JSON: %q", text)
	}
}
