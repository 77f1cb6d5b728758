package ingest

import (
	"regexp"
	"strings"
)

// Extracted is the text of one document-shaped source and its structure.
type Extracted struct {
	Title    string    // "" when the source names none
	Text     string    // valid UTF-8
	Sections []Section // ordered spans of Text with heading paths; may be empty
}

// ExtractText returns plain text as is: no title, no structure. The text
// must already be valid UTF-8 (see decodeText).
func ExtractText(text string) Extracted {
	return Extracted{Text: text}
}

// ExtractMarkdown keeps Markdown source as the document text, unchanged, so
// chunk offsets are offsets into the file, and turns its headings (ATX "#"
// and Setext underlines, outside fenced code and front matter) into
// sections. The title is the front matter's title:, else the first level-1
// heading, else the first heading.
func ExtractMarkdown(text string) Extracted {
	ex := Extracted{Text: text}
	var hs []heading
	pos := 0
	var fmTitle string
	// YAML front matter.
	if strings.HasPrefix(text, "---\n") || strings.HasPrefix(text, "---\r\n") {
		rest := text[strings.IndexByte(text, '\n')+1:]
		for off := len(text) - len(rest); off < len(text); {
			line, next := lineAt(text, off)
			if strings.TrimRight(line, " \r") == "---" || strings.TrimRight(line, " \r") == "..." {
				fm := text[:off]
				if m := fmTitleRE.FindStringSubmatch(fm); m != nil {
					fmTitle = strings.Trim(strings.TrimSpace(m[1]), `"'`)
				}
				pos = next
				break
			}
			off = next
		}
	}
	fence := ""
	prevStart, prevText := -1, ""
	for pos < len(text) {
		line, next := lineAt(text, pos)
		trimmed := strings.TrimRight(line, " \t\r")
		indent := len(trimmed) - len(strings.TrimLeft(trimmed, " "))
		body := trimmed[indent:]
		switch {
		case fence != "":
			if indent < 4 && strings.HasPrefix(body, fence) && strings.Trim(body, fence[:1]) == "" {
				fence = ""
			}
			prevStart = -1
		case indent < 4 && (strings.HasPrefix(body, "```") || strings.HasPrefix(body, "~~~")):
			fence = body[:3]
			prevStart = -1
		case indent < 4 && strings.HasPrefix(body, "#"):
			level := len(body) - len(strings.TrimLeft(body, "#"))
			rest := body[level:]
			if level <= 6 && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
				title := strings.TrimSpace(rest)
				// Closing sequence: "## Title ##".
				if t := strings.TrimRight(title, "#"); t != title && (t == "" || strings.HasSuffix(t, " ")) {
					title = strings.TrimSpace(t)
				}
				hs = append(hs, heading{level: level, title: cleanHeading(title), start: pos, end: next})
				prevStart = -1
				break
			}
			prevStart, prevText = pos, trimmed
		case indent < 4 && prevStart >= 0 && body != "" && (strings.Trim(body, "=") == "" || strings.Trim(body, "-") == ""):
			level := 1
			if body[0] == '-' {
				level = 2
			}
			hs = append(hs, heading{level: level, title: cleanHeading(strings.TrimSpace(prevText)), start: prevStart, end: next})
			prevStart = -1
		case strings.TrimSpace(line) == "":
			prevStart = -1
		default:
			// A Setext underline makes this line a heading (for a
			// multi-line paragraph, its last line: rare in practice).
			prevStart, prevText = pos, trimmed
		}
		pos = next
	}

	ex.Sections = headingSections(hs, len(text))
	ex.Title = fmTitle
	if ex.Title == "" {
		ex.Title = firstTitle(hs)
	}
	return ex
}

// heading is one heading found in a document's text.
type heading struct {
	level      int    // 1..6
	title      string // cleaned heading text; "" headings open no section
	start, end int    // span of the heading in the text
}

// headingSections turns headings (in text order) into sections: each runs
// from its heading to the next heading, under the path of enclosing
// headings of lower level. Text before the first heading is left out (the
// chunker treats it as unstructured).
func headingSections(hs []heading, textLen int) []Section {
	var out []Section
	var stack []heading
	for i, h := range hs {
		for len(stack) > 0 && stack[len(stack)-1].level >= h.level {
			stack = stack[:len(stack)-1]
		}
		stack = append(stack, h)
		end := textLen
		if i+1 < len(hs) {
			end = hs[i+1].start
		}
		var path []string
		for _, s := range stack {
			if s.title != "" {
				path = append(path, s.title)
			}
		}
		if len(path) == 0 || end <= h.start {
			continue
		}
		out = append(out, Section{Path: path, Start: h.start, Body: min(h.end, end), End: end})
	}
	return out
}

// firstTitle is the first level-1 heading, else the first heading.
func firstTitle(hs []heading) string {
	for _, h := range hs {
		if h.level == 1 && h.title != "" {
			return h.title
		}
	}
	for _, h := range hs {
		if h.title != "" {
			return h.title
		}
	}
	return ""
}

var (
	fmTitleRE   = regexp.MustCompile(`(?m)^title:\s*(.+?)\s*$`)
	mdLinkRE    = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	mdEmphRE    = regexp.MustCompile("[*_`]+")
	spaceRunsRE = regexp.MustCompile(`\s+`)
)

// cleanHeading strips inline Markdown from a heading: links keep their
// text, emphasis and code markers go, whitespace collapses, and control
// characters (including the store's section separator) are removed.
func cleanHeading(s string) string {
	s = mdLinkRE.ReplaceAllString(s, "$1")
	s = mdEmphRE.ReplaceAllString(s, "")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	s = spaceRunsRE.ReplaceAllString(strings.TrimSpace(s), " ")
	if len(s) > 200 {
		s = truncateUTF8(s, 200)
	}
	return s
}

// lineAt returns the line starting at off (without its newline) and the
// offset of the next line.
func lineAt(text string, off int) (string, int) {
	if i := strings.IndexByte(text[off:], '\n'); i >= 0 {
		return text[off : off+i], off + i + 1
	}
	return text[off:], len(text)
}

// truncateUTF8 cuts s to at most n bytes without splitting a rune.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:runeStart(s, n)]
}
