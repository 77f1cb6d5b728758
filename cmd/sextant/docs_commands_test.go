package main

// The manual (docs/*.md and README.md) is full of command lines and HTTP
// routes. These tests keep them honest: every `sextant ...` command line in
// a fenced block or an inline code span is parsed with the flags the real
// CLI declares (read from each subcommand's -h output, so no command runs),
// and every `METHOD /path` and curl URL is looked up in the server's route
// table (web/testdata/routes.golden plus the routes cmd/sextant mounts
// itself). Nothing here is specific to one page: a new page is checked as
// soon as it exists.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// docCommand is one sextant invocation found in the manual.
type docCommand struct {
	file string
	line int
	text string // the command from "sextant" on, continuation lines joined
	// inline: from a code span in prose, which may name a flag without
	// its value ("`sextant ask --server`").
	inline bool
}

func (c docCommand) String() string { return fmt.Sprintf("%s:%d: %s", c.file, c.line, c.text) }

// docRoute is one HTTP route named in the manual.
type docRoute struct {
	file   string
	line   int
	method string
	path   string // as written: may hold {param}, [optional] parts, a query
}

// manualFiles returns the manual's pages relative to this package, or nil
// when docs/ is absent.
func manualFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join("..", "..", "README.md")); err == nil {
		files = append(files, filepath.Join("..", "..", "README.md"))
	}
	return files
}

// TestDocsCommands parses every sextant command line of the manual with the
// CLI's own flag definitions.
func TestDocsCommands(t *testing.T) {
	files := manualFiles(t)
	if files == nil {
		t.Skip("no docs/ folder")
	}
	cli := newCLISpec()
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cmds, _ := extractManual(displayName(f), string(b))
		for _, c := range cmds {
			n++
			if err := cli.check(c.text, c.inline); err != nil {
				t.Errorf("%s: %v", c, err)
			}
		}
	}
	if n == 0 {
		t.Fatal("found no sextant command lines in the manual: the extractor is broken")
	}
	t.Logf("checked %d command lines against %d subcommand flag sets", n, len(cli.specs))
}

// TestDocsRoutes looks up every route the manual names in the server's route
// table.
func TestDocsRoutes(t *testing.T) {
	files := manualFiles(t)
	if files == nil {
		t.Skip("no docs/ folder")
	}
	table := loadRouteTable(t)
	n, skipped := 0, 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_, routes := extractManual(displayName(f), string(b))
		for _, r := range routes {
			if strings.ContainsAny(r.path, "…") || strings.Contains(r.path, "...") {
				skipped++ // "POST /v1/…": a family, not a route
				continue
			}
			n++
			if err := table.check(r.method, r.path); err != nil {
				t.Errorf("%s:%d: %s %s: %v", r.file, r.line, r.method, r.path, err)
			}
		}
	}
	if n == 0 {
		t.Fatal("found no routes in the manual: the extractor is broken")
	}
	t.Logf("checked %d route mentions against %d routes (%d elided ones skipped)", n, len(table), skipped)
}

// TestDocsFlagTables checks the manual's flag tables (rows whose first cell
// is a code span such as `--k N`): every flag must belong to a command the
// same page names. Which command a table documents is not marked up, so
// this catches flags that exist for none of them (renamed or removed).
func TestDocsFlagTables(t *testing.T) {
	files := manualFiles(t)
	if files == nil {
		t.Skip("no docs/ folder")
	}
	cli := newCLISpec()
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cmds, _ := extractManual(displayName(f), string(b))
		flags := cli.pageFlags(cmds)
		for _, r := range flagTableRows(displayName(f), string(b)) {
			n++
			if _, ok := flags[r.flag]; !ok {
				t.Errorf("%s:%d: flag table names --%s, a flag of no command on this page", r.file, r.line, r.flag)
			}
		}
	}
	if n == 0 {
		t.Fatal("found no flag tables in the manual: the extractor is broken")
	}
	t.Logf("checked %d flags in flag tables", n)
}

type flagRow struct {
	file string
	line int
	flag string
}

var tableFlagRE = regexp.MustCompile("`-{1,2}([A-Za-z0-9][A-Za-z0-9-]*)")

// flagTableRows returns the flags named by code spans in the first cell of
// Markdown table rows outside fenced blocks.
func flagTableRows(file, md string) []flagRow {
	var out []flagRow
	fence := ""
	for i, l := range strings.Split(md, "\n") {
		if m := fenceRE.FindStringSubmatch(l); m != nil {
			switch {
			case fence == "":
				fence = m[1]
			case strings.HasPrefix(strings.TrimSpace(l), fence):
				fence = ""
			}
			continue
		}
		t := strings.TrimSpace(l)
		if fence != "" || !strings.HasPrefix(t, "|") {
			continue
		}
		// The first cell ends at a "|" outside code spans and not escaped.
		cell, code := t[1:], false
		for j := 1; j < len(t); j++ {
			switch {
			case t[j] == '`':
				code = !code
			case t[j] == '\\':
				j++
			case t[j] == '|' && !code:
				cell = t[1:j]
				j = len(t)
			}
		}
		for _, m := range tableFlagRE.FindAllStringSubmatch(cell, -1) {
			out = append(out, flagRow{file, i + 1, m[1]})
		}
	}
	return out
}

func displayName(path string) string {
	return filepath.ToSlash(strings.TrimPrefix(filepath.Clean(path), filepath.Clean(filepath.Join("..", ".."))+string(filepath.Separator)))
}

// TestDocsCheckerCatchesMistakes proves the checks can fail: each wrong line
// must be rejected, each right one accepted.
func TestDocsCheckerCatchesMistakes(t *testing.T) {
	cli := newCLISpec()
	tests := []struct {
		line    string
		inline  bool
		wantErr string // "" = valid
	}{
		{"sextant ask --server", true, ""},
		{"sextant ask --server", false, "flag needs an argument"},
		{"sextant churn drift [--model ID] [--json | --metrics]", false, ""},
		{"sextant churn drift [--model ID] [--json | --metricz]", false, "--metricz"},
		{"sextant eval run SUITE.yaml --baseline last", false, ""},
		{"sextant eval run suite.yaml --baseline", false, "flag needs an argument"},
		{"sextant eval run suite.yaml --no-such-flag", false, "no-such-flag"},
		{"sextant eval runn suite.yaml", false, `unknown subcommand "runn"`},
		{"sextant evaluate suite.yaml", false, `unknown command "evaluate"`},
		{"sextant churn train --data c.csv --target Churn --folds five", false, "invalid value"},
		{"sextant churn train --data c.csv --target Churn --folds N", false, ""},
		{"sextant search \"backup schedule\" --filter team=infra --k 5", false, ""},
		{"sextant search --k 5 --kk 6 query", false, "-kk"},
		{"sextant templates bogus", false, `unknown subcommand "bogus"`},
		{"sextant templates show answer --json", false, ""},
		{"sextant keys create --role R [--role R]... [--tenant T] [--json]", false, ""},
		{"sextant keys create --role R [--tenantt T]", false, "--tenantt"},
		{"sextant keys list|revoke [--json]", false, ""},
		{"sextant keys list|rotate", false, `unknown subcommand "rotate"`},
		{"sextant bench audit --redact=false --json", false, ""},
		{"sextant bench audit --redact=maybe", false, "invalid boolean value"},
		{"sextant docs quarantine [list [--all] [--json] | release ID [--note TEXT]]", false, ""},
		{"sextant docs quarantine release ID --note x --al", false, "-al"},
		{"sextant bench KIND", false, ""},
		{"sextant eval -h", false, ""},
	}
	for _, tt := range tests {
		err := cli.check(tt.line, tt.inline)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tt.line, err)
		case tt.wantErr != "" && err == nil:
			t.Errorf("%s: accepted, want an error containing %q", tt.line, tt.wantErr)
		case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
			t.Errorf("%s: error %q, want one containing %q", tt.line, err, tt.wantErr)
		}
	}

	table := routeTable{{"GET", "/v1/documents/{id}"}, {"GET", "/v1/documents"}, {"GET", "/console/"}}
	routes := []struct {
		method, path string
		ok           bool
	}{
		{"GET", "/v1/documents/{id}", true},
		{"GET", "/v1/documents/kb:12", true},
		{"GET", "/v1/documents?limit=5", true},
		{"GET", "/v1/documents[/{id}]", true},
		{"DELETE", "/v1/documents/{id}", false},
		{"GET", "/v1/document", false},
		{"GET", "/v1/documents/{id}/chunks", false},
		{"GET", "/console/FILE", true},
		{"GET", "/console", true},
	}
	for _, r := range routes {
		if err := table.check(r.method, r.path); (err == nil) != r.ok {
			t.Errorf("%s %s: error %v, want ok=%v", r.method, r.path, err, r.ok)
		}
	}
}

// TestDocsExtract pins what the extractor finds in each kind of Markdown.
func TestDocsExtract(t *testing.T) {
	md := strings.Join([]string{
		"Run `sextant eval run SUITE.yaml --baseline last` or `sextant\nask --json`; the assistant `sextant` is not a command.",
		"| `sextant docs list\\|show` | `GET /v1/documents[/{id}]` |",
		"```sh",
		"sextant ingest docs/   # a comment --nope",
		"./sextant bench ann --n 10 \\",
		"  --dim 8",
		"printf 'x' | sextant guard scan --json - > out.txt",
		"curl -s -X DELETE localhost:8080/v1/keys/key_1 -H \"Authorization: Bearer $K\"",
		"curl -s localhost:8080/v1/ask -d '{}'",
		"curl -s http://prometheus:9090/-/reload",
		"B=\"sextant search --k 3\"",
		"go run ./cmd/sextant serve && go run ./cmd/sextant ask \"q\"",
		"```",
		"```console",
		"$ sextant keys list",
		"sextant: not an invocation, output",
		"ID   NAME",
		"```",
		"```json",
		"{\"x\": \"sextant ask --nope\"}",
		"```",
	}, "\n")
	cmds, routes := extractManual("x.md", md)
	var got []string
	for _, c := range cmds {
		got = append(got, fmt.Sprintf("%d %s", c.line, c.text))
	}
	want := []string{
		"1 sextant eval run SUITE.yaml --baseline last",
		"1 sextant ask --json",
		"3 sextant docs list|show",
		"5 sextant ingest docs/",
		"6 sextant bench ann --n 10 --dim 8",
		"8 sextant guard scan --json -",
		"12 sextant search --k 3",
		"13 sextant serve",
		"13 sextant ask \"q\"",
		"16 sextant keys list",
	}
	if !slices.Equal(got, want) {
		t.Errorf("commands:\n got %q\nwant %q", got, want)
	}
	got = nil
	for _, r := range routes {
		got = append(got, fmt.Sprintf("%d %s %s", r.line, r.method, r.path))
	}
	want = []string{
		"3 GET /v1/documents[/{id}]",
		"9 DELETE /v1/keys/key_1",
		"10 POST /v1/ask",
	}
	if !slices.Equal(got, want) {
		t.Errorf("routes:\n got %q\nwant %q", got, want)
	}
}

func TestDocsFlagTableRows(t *testing.T) {
	md := "| flag | meaning |\n| --- | --- |\n| `--k N`, `-v` | a \\| b `--not-first-cell` |\n```\n| `--in-fence` |\n```\n| `--filter \"a\\|b\"` | x |\n"
	var got []string
	for _, r := range flagTableRows("x.md", md) {
		got = append(got, fmt.Sprintf("%d %s", r.line, r.flag))
	}
	want := []string{"3 k", "3 v", "7 filter"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// FuzzDocsExtract: the extractor and the checker take any text without
// panicking.
func FuzzDocsExtract(f *testing.F) {
	f.Add("```sh\nsextant eval run x.yaml --baseline \\\n last\n```\n")
	f.Add("`sextant keys create --role R [--role R]...` and `GET /v1/x[/{id}]`")
	f.Add("```\n$ sextant docs quarantine [list [--all] | release ID]\n'unterminated\n```")
	f.Add("curl -X POST 'localhost:8080/v1/ask?x=1' -d \"\\\"\"")
	cli := newCLISpec()
	f.Fuzz(func(t *testing.T, md string) {
		cmds, routes := extractManual("f.md", md)
		for _, c := range cmds {
			_ = cli.check(c.text, c.inline)
		}
		rt := routeTable{{"GET", "/v1/documents/{id}"}}
		for _, r := range routes {
			_ = rt.check(r.method, r.path)
		}
	})
}

// ---- extraction ----

var (
	routeRE  = regexp.MustCompile(`\b(GET|POST|PUT|PATCH|DELETE|HEAD)\s+(/[^\s` + "`" + `"'),]*)`)
	fenceRE  = regexp.MustCompile("^\\s*(```+|~~~+)\\s*([A-Za-z0-9_+-]*)")
	shellish = map[string]bool{"": true, "sh": true, "bash": true, "shell": true, "console": true, "text": true, "zsh": true}
)

// extractManual returns the sextant command lines and the routes named in a
// Markdown page: from fenced shell (or bare) blocks, and from inline code
// spans.
func extractManual(file, md string) ([]docCommand, []docRoute) {
	var cmds []docCommand
	var routes []docRoute
	lines := strings.Split(md, "\n")
	addRoutes := func(line int, s string) {
		for _, m := range routeRE.FindAllStringSubmatch(s, -1) {
			routes = append(routes, docRoute{file, line, m[1], strings.TrimRight(m[2], ".;:")})
		}
	}
	var para []string // prose lines, for code spans that wrap
	paraStart := 0
	flush := func() {
		for _, sp := range codeSpans(para) {
			line := paraStart + sp.line
			text := sp.text
			if strings.HasPrefix(strings.TrimSpace(para[sp.line]), "|") {
				text = strings.ReplaceAll(text, `\|`, "|") // table cell
			}
			addRoutes(line, text)
			for _, c := range shellCommands(text, true) {
				cmds = append(cmds, docCommand{file, line, c, true})
			}
		}
		para = nil
	}
	for i := 0; i < len(lines); i++ {
		m := fenceRE.FindStringSubmatch(lines[i])
		if m == nil {
			if strings.TrimSpace(lines[i]) == "" {
				flush()
				continue
			}
			if para == nil {
				paraStart = i + 1
			}
			para = append(para, lines[i])
			continue
		}
		flush()
		marker, lang := m[1], strings.ToLower(m[2])
		var body []string
		start := i + 1
		for i++; i < len(lines); i++ {
			if strings.HasPrefix(strings.TrimSpace(lines[i]), marker) && strings.TrimSpace(strings.Trim(strings.TrimSpace(lines[i]), marker[:1])) == "" {
				break
			}
			body = append(body, lines[i])
		}
		if !shellish[lang] {
			continue
		}
		cmds = append(cmds, fencedCommands(file, start, body)...)
		for j, l := range body {
			if !strings.Contains(l, "curl ") {
				addRoutes(start+1+j, l)
			}
		}
		routes = append(routes, curlRoutes(file, start, body)...)
	}
	flush()
	return cmds, routes
}

// fencedCommands finds the sextant command lines of one fenced block whose
// first body line is line start+1. In a transcript (lines starting "$ ")
// only the prompted lines are commands; the rest is output.
func fencedCommands(file string, start int, body []string) []docCommand {
	transcript := false
	for _, l := range body {
		if strings.HasPrefix(strings.TrimSpace(l), "$ ") {
			transcript = true
		}
	}
	var out []docCommand
	for _, lc := range logicalLines(body) {
		text := strings.TrimSpace(lc.text)
		if transcript {
			if !strings.HasPrefix(text, "$ ") {
				continue
			}
			text = text[2:]
		}
		for _, c := range shellCommands(text, false) {
			out = append(out, docCommand{file, start + 1 + lc.line, c, false})
		}
	}
	return out
}

type logicalLine struct {
	line int // index of the first physical line
	text string
}

// logicalLines joins backslash-continued lines.
func logicalLines(body []string) []logicalLine {
	var out []logicalLine
	for i := 0; i < len(body); i++ {
		first, s := i, body[i]
		for strings.HasSuffix(strings.TrimRight(s, " \t"), `\`) && i+1 < len(body) {
			s = strings.TrimSuffix(strings.TrimRight(s, " \t"), `\`) + " " + strings.TrimSpace(body[i+1])
			i++
		}
		out = append(out, logicalLine{first, s})
	}
	return out
}

type codeSpan struct {
	line int // index into the paragraph's lines of the opening backtick
	text string
}

// codeSpans returns the inline code spans of a paragraph (CommonMark: a run
// of n backticks up to the next run of exactly n; newlines become spaces).
func codeSpans(para []string) []codeSpan {
	s := strings.Join(para, "\n")
	var out []codeSpan
	for i := 0; i < len(s); {
		if s[i] != '`' {
			i++
			continue
		}
		n := 0
		for i+n < len(s) && s[i+n] == '`' {
			n++
		}
		open := i
		j := i + n
		closed := -1
		for j < len(s) {
			if s[j] != '`' {
				j++
				continue
			}
			k := 0
			for j+k < len(s) && s[j+k] == '`' {
				k++
			}
			if k == n {
				closed = j
				break
			}
			j += k
		}
		if closed < 0 {
			i = open + n
			continue
		}
		text := strings.TrimSpace(strings.ReplaceAll(s[open+n:closed], "\n", " "))
		out = append(out, codeSpan{strings.Count(s[:open], "\n"), text})
		i = closed + n
	}
	return out
}

// shellCommands returns the sextant invocations in one shell line, each
// from "sextant" on, with the program spelled "sextant". An inline span
// counts only when it starts with the program and a known command.
func shellCommands(line string, inline bool) []string {
	words := shellWords(line)
	var out []string
	seg, depth := 0, 0
	for i := 0; i <= len(words); i++ {
		if i < len(words) && !words[i].quoted {
			depth += strings.Count(words[i].raw, "[") + strings.Count(words[i].raw, "(") -
				strings.Count(words[i].raw, "]") - strings.Count(words[i].raw, ")")
		}
		if i < len(words) && (!isControl(words[i].raw) || depth > 0) {
			continue // inside [a | b] a "|" is synopsis syntax
		}
		if c, ok := invocation(words[seg:i], inline); ok {
			out = append(out, c)
		}
		if inline {
			break // a span is one command; "|" is part of a synopsis there
		}
		seg = i + 1
	}
	return out
}

func isControl(w string) bool {
	switch w {
	case "|", "||", "&&", ";", "&":
		return true
	}
	return false
}

// invocation returns the sextant command in one simple shell command, if it
// is one: after environment assignments and wrappers, the program is
// sextant, ./sextant, some/path/sextant or go run ./cmd/sextant.
func invocation(words []word, inline bool) (string, bool) {
	i := 0
	for ; i < len(words); i++ {
		w := words[i]
		if name, val, ok := strings.Cut(w.text, "="); ok && isEnvName(name) {
			if !inline && strings.HasPrefix(val, "sextant ") {
				// B="sextant bench ...": a command kept for later.
				if cs := shellCommands(val, false); len(cs) > 0 {
					return cs[0], true
				}
			}
			continue
		}
		if w.raw == "time" || w.raw == "nohup" || w.raw == "exec" || w.raw == "sudo" {
			continue
		}
		break
	}
	if i >= len(words) {
		return "", false
	}
	switch {
	case words[i].raw == "sextant" || words[i].raw == "./sextant" || (!inline && strings.HasSuffix(words[i].raw, "/sextant")):
		i++
	case i+2 < len(words) && words[i].raw == "go" && words[i+1].raw == "run" && strings.TrimSuffix(words[i+2].raw, "/") == "./cmd/sextant":
		i += 3
	default:
		return "", false
	}
	if inline && i > 1 {
		return "", false // a span must start with the program
	}
	rest := words[i:]
	// Drop redirections.
	var args []string
	for j := 0; j < len(rest); j++ {
		r := rest[j].raw
		if strings.HasPrefix(r, ">") || strings.HasPrefix(r, "2>") || strings.HasPrefix(r, "1>") || r == "<" {
			if r == ">" || r == ">>" || r == "2>" || r == "<" {
				j++
			}
			continue
		}
		args = append(args, r)
	}
	if len(args) == 0 {
		return "sextant", !inline
	}
	// Output such as "sextant: error" or "sextant 0.1.0" is not a command.
	if !regexp.MustCompile(`^[a-z][a-z-]*$`).MatchString(args[0]) && !(args[0] == "-h" || args[0] == "--help") {
		if !inline && !strings.ContainsAny(args[0], "[|") {
			return "", false
		}
	}
	if inline && !isCommand(args[0]) {
		return "", false
	}
	return "sextant " + strings.Join(args, " "), true
}

func isEnvName(s string) bool {
	return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`).MatchString(s)
}

func isCommand(name string) bool {
	for _, c := range commands() {
		if c.name == name {
			return true
		}
	}
	return false
}

// word is one shell word: text with quotes removed, raw as written (quotes
// kept, so synopsis syntax can be told from quoted text).
type word struct {
	text, raw string
	quoted    bool
}

// shellWords splits a line like a POSIX shell would (quotes, backslash
// escapes, # comments); an unterminated quote runs to the end of the line.
func shellWords(s string) []word {
	var out []word
	var text, raw strings.Builder
	in := false // inside a word
	quoted := false
	emit := func() {
		if in {
			out = append(out, word{text.String(), raw.String(), quoted})
		}
		text.Reset()
		raw.Reset()
		in, quoted = false, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			emit()
		case c == '#' && !in:
			emit()
			return out
		case c == '\\' && i+1 < len(s):
			in = true
			raw.WriteByte(c)
			raw.WriteByte(s[i+1])
			text.WriteByte(s[i+1])
			i++
		case c == '\'' || c == '"':
			in, quoted = true, true
			j := i + 1
			for j < len(s) && s[j] != c {
				if c == '"' && s[j] == '\\' && j+1 < len(s) {
					j++
				}
				text.WriteByte(s[j])
				j++
			}
			end := min(j+1, len(s))
			raw.WriteString(s[i:end])
			i = j
		default:
			in = true
			text.WriteByte(c)
			raw.WriteByte(c)
		}
	}
	emit()
	return out
}

// curlRoutes finds the method and path of each curl call to a Sextant
// server (localhost, 127.0.0.1, or a path under /v1/).
func curlRoutes(file string, start int, body []string) []docRoute {
	var out []docRoute
	for _, lc := range logicalLines(body) {
		words := shellWords(strings.TrimPrefix(strings.TrimSpace(lc.text), "$ "))
		for i := 0; i < len(words); i++ {
			if words[i].raw != "curl" {
				continue
			}
			method, path := "", ""
			data, elided := false, false
			for j := i + 1; j < len(words) && !isControl(words[j].raw); j++ {
				w := words[j].text
				switch {
				case w == "-X" || w == "--request":
					if j+1 < len(words) {
						method = words[j+1].text
						j++
					}
				case w == "-d" || w == "-F" || strings.HasPrefix(w, "--data") || w == "--form" || w == "--json":
					data = true
					j++
				case w == "-H" || w == "-o" || w == "-u" || w == "--header":
					j++
				case w == "..." || w == "…":
					elided = true // the rest of the call is left out
				case strings.HasPrefix(w, "-"):
				case path == "":
					path = serverPath(w)
				}
			}
			if path == "" {
				continue
			}
			if method == "" && elided {
				continue // its method is among what was left out
			}
			if method == "" {
				method = "GET"
				if data {
					method = "POST"
				}
			}
			out = append(out, docRoute{file, start + 1 + lc.line, method, path})
		}
	}
	return out
}

// serverPath returns the path of a URL aimed at a Sextant server, or "".
func serverPath(u string) string {
	rest := strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://")
	host, path, ok := strings.Cut(rest, "/")
	if !ok {
		return ""
	}
	path = "/" + path
	h := strings.Split(host, ":")[0]
	if h == "localhost" || h == "127.0.0.1" || h == "[" || strings.HasPrefix(path, "/v1/") || strings.HasPrefix(h, "$") {
		return path
	}
	return ""
}

// ---- the CLI's flags ----

// cliSpec knows each (sub)command's flags, read from its -h output.
type cliSpec struct {
	specs map[string]*flagSpec // by command path, "eval run"
}

type flagSpec struct {
	flags map[string]string // name → "bool" or the value's type word (string, int, duration, value, ...)
	help  string
	err   error
}

func newCLISpec() *cliSpec { return &cliSpec{specs: map[string]*flagSpec{}} }

// subcommandSet describes a command that takes a subcommand.
type subcommandSet struct {
	names []string
	// dflt is the subcommand when none is named ("" = one is required).
	dflt string
	// positional: the subcommand is the first positional argument, found
	// after flags (templates, assistants, budgets); otherwise it must
	// follow the command's name directly.
	positional bool
}

// subcommands lists the commands that dispatch on a second word. churn and
// bench keep tables the CLI itself uses; the others switch on the word, so
// their names are listed here and checked against the commands' help text
// by TestDocsSubcommandTable.
func subcommands() map[string]subcommandSet {
	names := func(cs []command) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.name)
		}
		return out
	}
	return map[string]subcommandSet{
		"bench":           {names: names(benchKinds())},
		"churn":           {names: names(churnCommands())},
		"eval":            {names: []string{"run", "history", "init", "grounding-data"}},
		"guard":           {names: []string{"scan", "train", "eval"}},
		"keys":            {names: []string{"create", "list", "revoke", "generate"}},
		"audit":           {names: []string{"verify", "export", "purge"}},
		"policy":          {names: []string{"check", "test"}},
		"docs":            {names: []string{"list", "show", "delete", "stats", "quarantine"}, dflt: "list"},
		"docs quarantine": {names: []string{"list", "release"}, dflt: "list"},
		"templates":       {names: []string{"list", "show", "set", "activate"}, dflt: "list", positional: true},
		"assistants":      {names: []string{"list", "set", "delete"}, dflt: "list", positional: true},
		"budgets":         {names: []string{"list", "set", "delete"}, dflt: "list", positional: true},
	}
}

// TestDocsSubcommandTable keeps subcommands() true to the CLI: every listed
// subcommand answers -h, and its parent's help names it.
func TestDocsSubcommandTable(t *testing.T) {
	cli := newCLISpec()
	for parent, set := range subcommands() {
		ph := cli.spec(strings.Fields(parent))
		if ph.err != nil {
			t.Errorf("sextant %s -h: %v", parent, ph.err)
			continue
		}
		for _, sub := range set.names {
			sp := cli.spec(append(strings.Fields(parent), sub))
			if sp.err != nil {
				t.Errorf("sextant %s %s -h: %v", parent, sub, sp.err)
			}
			if !regexp.MustCompile(`\b` + regexp.QuoteMeta(sub) + `\b`).MatchString(ph.help) {
				t.Errorf("sextant %s -h does not mention subcommand %q", parent, sub)
			}
		}
	}
	for _, c := range commands() {
		if c.name == "version" || c.name == "policy" {
			continue
		}
		path := []string{c.name}
		if set, ok := subcommands()[c.name]; ok && set.dflt == "" {
			path = append(path, set.names[0])
		}
		if sp := cli.spec(path); sp.err == nil && len(sp.flags) == 0 {
			t.Errorf("sextant %s -h lists no flags: its usage function does not print them (fs.PrintDefaults)", strings.Join(path, " "))
		}
	}
}

var flagLineRE = regexp.MustCompile(`^  -([A-Za-z0-9][A-Za-z0-9._-]*)(?: (\S+))?(\t.*)?$`)

// spec returns the flags of the command path (["eval", "run"]), running
// "sextant PATH -h" once. Help runs touch nothing: flags are parsed before
// any file is opened.
func (c *cliSpec) spec(path []string) *flagSpec {
	key := strings.Join(path, " ")
	if s, ok := c.specs[key]; ok {
		return s
	}
	var out bytes.Buffer
	getenv := func(k string) string {
		if k == "SEXTANT_DATA" {
			return filepath.Join(os.TempDir(), "sextant-docs-test-nonexistent")
		}
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	err := run(ctx, append(slices.Clone(path), "-h"), getenv, strings.NewReader(""), &out, &out)
	cancel()
	s := &flagSpec{flags: map[string]string{}, help: out.String()}
	if err != nil {
		s.err = err
	}
	lines := strings.Split(out.String(), "\n")
	for i, l := range lines {
		m := flagLineRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		// PrintDefaults puts a long flag's usage on the next line, indented
		// "    \t"; a short one's after a tab on the same line. Anything else
		// is prose of the usage text.
		if m[3] == "" && (i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "    \t")) {
			continue
		}
		typ := m[2]
		if typ == "" {
			typ = "bool"
		}
		s.flags[m[1]] = typ
	}
	c.specs[key] = s
	return s
}

// check parses one command line ("sextant ...") as the CLI would, without
// running it. Usage synopses (with [optional], a|b, ..., <x>) are checked
// only for their subcommands and the names of their flags.
func (c *cliSpec) check(line string, inline bool) error {
	words := shellWords(line)
	if len(words) == 0 || words[0].text != "sextant" {
		return fmt.Errorf("not a sextant command")
	}
	args := words[1:]
	if len(args) == 0 {
		return nil // "sextant" alone prints the command list
	}
	if isSynopsis(args) {
		return c.checkSynopsis(args)
	}
	var texts []string
	for _, w := range args {
		texts = append(texts, w.text)
	}
	return c.checkConcrete(texts, inline)
}

func isHelp(s string) bool { return s == "-h" || s == "--help" || s == "help" || s == "-help" }

func (c *cliSpec) checkConcrete(args []string, inline bool) error {
	if isHelp(args[0]) {
		return nil
	}
	if !isCommand(args[0]) {
		return fmt.Errorf("unknown command %q", args[0])
	}
	path := []string{args[0]}
	args = args[1:]
	for {
		set, ok := subcommands()[strings.Join(path, " ")]
		if !ok || set.positional {
			break
		}
		if len(args) > 0 && isHelp(args[0]) {
			return nil
		}
		if len(args) > 0 && slices.Contains(set.names, args[0]) {
			path, args = append(path, args[0]), args[1:]
			continue
		}
		if set.dflt == "" {
			if len(args) == 0 {
				return nil // "sextant bench" prints the list
			}
			if isPlaceholder(args[0]) {
				return c.checkNamesAgainst(path, set.names, args[1:])
			}
			return fmt.Errorf("sextant %s: unknown subcommand %q (want %s)", strings.Join(path, " "), args[0], strings.Join(set.names, ", "))
		}
		break
	}
	spec := c.spec(path)
	if spec.err != nil {
		return fmt.Errorf("sextant %s -h: %v", strings.Join(path, " "), spec.err)
	}
	if last := len(args) - 1; inline && last >= 0 && strings.HasPrefix(args[last], "-") {
		name := strings.TrimLeft(args[last], "-")
		if typ, ok := spec.flags[name]; ok && typ != "bool" {
			args = append(args, "VALUE") // prose naming a flag: "`sextant ask --server`"
		}
	}
	fs := spec.flagSet(strings.Join(path, " "))
	pos, err := parseArgs(fs, args)
	if err != nil {
		return fmt.Errorf("sextant %s: %v", strings.Join(path, " "), err)
	}
	if set, ok := subcommands()[strings.Join(path, " ")]; ok && set.positional && len(pos) > 0 {
		if !slices.Contains(set.names, pos[0]) && !isPlaceholder(pos[0]) {
			return fmt.Errorf("sextant %s: unknown subcommand %q (want %s)", strings.Join(path, " "), pos[0], strings.Join(set.names, ", "))
		}
	}
	return nil
}

// checkNamesAgainst checks the flag names in args against the union of the
// subcommands' flags (the subcommand is a placeholder: "bench KIND --json").
func (c *cliSpec) checkNamesAgainst(path, subs []string, args []string) error {
	union := map[string]string{}
	for _, s := range subs {
		for k, v := range c.spec(append(slices.Clone(path), s)).flags {
			union[k] = v
		}
	}
	return checkFlagNames(strings.Join(path, " "), union, args)
}

// flagSet builds a FlagSet with the command's flags, typed as the CLI types
// them, that accepts placeholders (N, DIR, <x>) as values.
func (s *flagSpec) flagSet(name string) *flag.FlagSet {
	fs := newFlagSet(name, discard{})
	for n, typ := range s.flags {
		fs.Var(&docValue{typ: typ}, n, "")
	}
	return fs
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// docValue checks a flag's value the way the CLI's flag type would.
type docValue struct{ typ string }

func (v *docValue) String() string   { return "" }
func (v *docValue) IsBoolFlag() bool { return v.typ == "bool" }
func (v *docValue) Set(s string) error {
	if isPlaceholder(s) {
		return nil
	}
	var err error
	switch v.typ {
	case "bool":
		_, err = strconv.ParseBool(s)
	case "int":
		_, err = strconv.ParseInt(s, 0, strconv.IntSize)
	case "int64":
		_, err = strconv.ParseInt(s, 0, 64)
	case "uint":
		_, err = strconv.ParseUint(s, 0, strconv.IntSize)
	case "uint64":
		_, err = strconv.ParseUint(s, 0, 64)
	case "float":
		_, err = strconv.ParseFloat(s, 64)
	case "duration":
		_, err = time.ParseDuration(s)
	}
	if err != nil {
		return errors.New("parse error") // flag adds `invalid value "x" for flag -y`
	}
	return nil
}

var placeholderRE = regexp.MustCompile(`^[A-Z][A-Z0-9_]*(\.[a-z]+)?$|^<.*>$|…|\.\.\.|\$`)

// isPlaceholder reports whether a doc word stands for a value: N, DIR,
// FILE.yaml, <id>, $VAR, ... .
func isPlaceholder(s string) bool { return placeholderRE.MatchString(s) }

// isSynopsis reports whether a command line is a usage synopsis rather than
// a command to paste: [optional] parts, a|b choices, repetition, <x>.
func isSynopsis(args []word) bool {
	for _, w := range args {
		if w.quoted {
			continue
		}
		r := w.raw
		if strings.ContainsAny(r, "[]|(){}…") || strings.Contains(r, "...") || (strings.HasPrefix(r, "<") && strings.HasSuffix(r, ">")) {
			return true
		}
	}
	return false
}

var synopsisFlagRE = regexp.MustCompile(`^-{1,2}([A-Za-z0-9][A-Za-z0-9._-]*)`)

// checkSynopsis checks a usage synopsis: the command and its subcommands
// (each of a|b alternatives) exist, and every flag it names exists for
// them.
func (c *cliSpec) checkSynopsis(words []word) error {
	var args []string
	for _, w := range words {
		if w.quoted {
			args = append(args, "x") // quoted text is an argument
			continue
		}
		args = append(args, w.raw)
	}
	if isHelp(strings.Trim(args[0], "[]()")) {
		return nil
	}
	paths, err := c.commandPaths(args)
	if err != nil {
		return err
	}
	union := map[string]string{}
	for _, p := range paths {
		s := c.spec(p)
		if s.err != nil {
			return fmt.Errorf("sextant %s -h: %v", strings.Join(p, " "), s.err)
		}
		for k, v := range s.flags {
			union[k] = v
		}
	}
	var names []string
	for _, p := range paths {
		names = append(names, strings.Join(p, " "))
	}
	return checkFlagNames(strings.Join(names, " | "), union, args[1:])
}

// commandPaths returns the command paths a command line or synopsis names
// (["keys", "create"], ...; one per a|b alternative).
func (c *cliSpec) commandPaths(args []string) ([][]string, error) {
	first := strings.Trim(args[0], "[]()")
	if !isCommand(first) {
		return nil, fmt.Errorf("unknown command %q", first)
	}
	var paths [][]string
	var walk func(path []string, rest []string) error
	walk = func(path []string, rest []string) error {
		set, ok := subcommands()[strings.Join(path, " ")]
		if !ok || set.positional || len(rest) == 0 {
			if ok && set.positional && len(rest) > 0 {
				for _, alt := range alternatives(rest[0]) {
					if !strings.HasPrefix(alt, "-") && !slices.Contains(set.names, alt) && !isPlaceholder(alt) && regexp.MustCompile(`^[a-z][a-z-]*$`).MatchString(alt) {
						return fmt.Errorf("sextant %s: unknown subcommand %q (want %s)", strings.Join(path, " "), alt, strings.Join(set.names, ", "))
					}
				}
			}
			paths = append(paths, path)
			return nil
		}
		word := rest[0]
		alts := alternatives(word)
		if len(alts) == 0 || strings.HasPrefix(alts[0], "-") || isPlaceholder(strings.Trim(word, "[]()")) {
			if set.dflt == "" && !isHelp(strings.Trim(word, "[]()")) && isPlaceholder(strings.Trim(word, "[]()")) {
				for _, s := range set.names {
					paths = append(paths, append(slices.Clone(path), s))
				}
				return nil
			}
			paths = append(paths, path)
			return nil
		}
		for _, alt := range alts {
			if isHelp(alt) {
				continue
			}
			if !slices.Contains(set.names, alt) {
				return fmt.Errorf("sextant %s: unknown subcommand %q (want %s)", strings.Join(path, " "), alt, strings.Join(set.names, ", "))
			}
			if err := walk(append(slices.Clone(path), alt), rest[1:]); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk([]string{first}, args[1:]); err != nil {
		return nil, err
	}
	return paths, nil
}

// pageFlags returns the flags of every command a page names.
func (c *cliSpec) pageFlags(cmds []docCommand) map[string]string {
	union := map[string]string{}
	for _, cmd := range cmds {
		var args []string
		for _, w := range shellWords(cmd.text)[1:] {
			args = append(args, w.raw)
		}
		if len(args) == 0 {
			continue
		}
		paths, err := c.commandPaths(args)
		if err != nil {
			continue // reported by TestDocsCommands
		}
		for _, p := range paths {
			for k, v := range c.spec(p).flags {
				union[k] = v
			}
		}
	}
	return union
}

// alternatives splits "[list|show]" into its words.
func alternatives(w string) []string {
	var out []string
	for _, a := range strings.Split(strings.Trim(w, "[]()"), "|") {
		if a = strings.Trim(a, "[]()"); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// checkFlagNames checks only that every flag the words name exists.
func checkFlagNames(cmd string, flags map[string]string, words []string) error {
	var bad []string
	for _, w := range words {
		for _, alt := range strings.Split(w, "|") {
			alt = strings.TrimLeft(alt, "[(")
			m := synopsisFlagRE.FindStringSubmatch(alt)
			if m == nil || isHelp(strings.TrimRight(alt, "])")) {
				continue
			}
			name := strings.TrimRight(m[1], ".")
			if _, ok := flags[name]; !ok {
				bad = append(bad, "--"+name)
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("sextant %s: no such flag %s", cmd, strings.Join(bad, ", "))
	}
	return nil
}

// ---- routes ----

type route struct{ method, path string }

type routeTable []route

// loadRouteTable reads the API's routes from web/testdata/routes.golden
// (pinned by web's TestRoutePermissionsGolden) and adds the routes
// cmd/sextant mounts beside the API (mux.Handle("GET /metrics", ...)).
func loadRouteTable(t *testing.T) routeTable {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "web", "testdata", "routes.golden"))
	if err != nil {
		t.Fatalf("reading the route table: %v", err)
	}
	var table routeTable
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 {
			table = append(table, route{f[1], f[0]})
		}
	}
	srcs, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	mountRE := regexp.MustCompile(`mux\.Handle(?:Func)?\("(GET|POST|PUT|PATCH|DELETE) (/[^"]*)"`)
	for _, f := range srcs {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mountRE.FindAllStringSubmatch(string(b), -1) {
			table = append(table, route{m[1], m[2]})
		}
	}
	if len(table) == 0 {
		t.Fatal("the route table is empty")
	}
	return table
}

// check reports whether method path (as a doc writes it: {param} or
// PLACEHOLDER segments, [/optional] parts, a query string) is served.
func (rt routeTable) check(method, path string) error {
	path, _, _ = strings.Cut(path, "?")
	variants := []string{path}
	if i := strings.Index(path, "["); i >= 0 {
		if j := strings.Index(path[i:], "]"); j > 0 {
			variants = []string{path[:i] + path[i+j+1:], path[:i] + path[i+1:i+j] + path[i+j+1:]}
		}
	}
	for _, v := range variants {
		if !rt.serves(method, v) {
			return fmt.Errorf("no such route (see web/testdata/routes.golden)")
		}
	}
	return nil
}

func (rt routeTable) serves(method, path string) bool {
	for _, r := range rt {
		if r.method != method && !(method == "HEAD" && r.method == "GET") {
			continue
		}
		if strings.HasSuffix(r.path, "/") && (strings.HasPrefix(path, r.path) || path == strings.TrimSuffix(r.path, "/")) {
			return true // a subtree such as /console/
		}
		if routeMatch(r.path, path) {
			return true
		}
	}
	return false
}

func routeMatch(pattern, path string) bool {
	ps, ds := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(ds) {
		return false
	}
	for i := range ps {
		p, d := ps[i], ds[i]
		wild := strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}")
		docParam := (strings.HasPrefix(d, "{") && strings.HasSuffix(d, "}")) || isPlaceholder(d)
		switch {
		case wild && d != "":
		case !wild && !docParam && p == d:
		default:
			return false
		}
	}
	return true
}
