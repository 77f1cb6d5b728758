package ingest

import (
	"bytes"
	"strings"

	"github.com/sextant-ai/sextant"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// dropped elements never contribute text: code, styling, page chrome,
// forms and embedded objects.
var dropped = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Noscript: true, atom.Template: true, atom.Nav: true,
	atom.Aside: true, atom.Form: true, atom.Button: true, atom.Select: true, atom.Textarea: true,
	atom.Input: true, atom.Iframe: true, atom.Object: true, atom.Embed: true, atom.Svg: true,
	atom.Canvas: true, atom.Math: true, atom.Head: true, atom.Dialog: true, atom.Menu: true,
}

// blocks end a paragraph before and after them; lines end a line.
var (
	blocks = map[atom.Atom]bool{
		atom.P: true, atom.Div: true, atom.Section: true, atom.Article: true, atom.Main: true,
		atom.Ul: true, atom.Ol: true, atom.Dl: true, atom.Table: true, atom.Blockquote: true,
		atom.Pre: true, atom.Figure: true, atom.Figcaption: true, atom.Address: true, atom.Details: true,
		atom.Summary: true, atom.Hr: true, atom.Header: true, atom.Footer: true, atom.Caption: true,
		atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true,
		atom.Body: true, atom.Center: true, atom.Fieldset: true,
	}
	lines = map[atom.Atom]bool{
		atom.Li: true, atom.Tr: true, atom.Dt: true, atom.Dd: true, atom.Br: true,
	}
	headingLevel = map[atom.Atom]int{atom.H1: 1, atom.H2: 2, atom.H3: 3, atom.H4: 4, atom.H5: 5, atom.H6: 6}
)

// ExtractHTML returns the visible text of an HTML page: scripts, styles,
// navigation, asides, forms, templates, page-level footers and page-level
// headers without an h1 (page-level: not inside an article, main or
// section) are dropped, as are elements marked hidden. Block elements become paragraphs, list items and
// table rows lines, and h1-h6 become sections whose text starts with the
// heading. The title is <title>, else the first h1.
func ExtractHTML(src []byte) (Extracted, error) {
	if looksBinary(src) {
		return Extracted{}, sextant.Errorf(sextant.EINVALID, "binary content in an HTML file")
	}
	root, err := html.Parse(bytes.NewReader(src))
	if err != nil {
		return Extracted{}, sextant.Errorf(sextant.EINVALID, "malformed HTML: %w", err)
	}
	w := &htmlWriter{}
	w.walk(root, false)
	text := w.b.String()
	ex := Extracted{Text: text, Sections: headingSections(w.headings, len(text))}
	ex.Title = cleanHeading(w.title)
	if ex.Title == "" {
		ex.Title = firstTitle(w.headings)
	}
	return ex, nil
}

type htmlWriter struct {
	b         strings.Builder
	brk       int  // pending break: 0 none, 1 line, 2 paragraph
	space     bool // pending space between words
	pre       int  // depth of <pre>
	title     string
	headings  []heading
	inHeading *strings.Builder
}

func (w *htmlWriter) walk(n *html.Node, inContent bool) {
	switch n.Type {
	case html.TextNode:
		w.text(n.Data)
		return
	case html.ElementNode:
		if n.DataAtom == atom.Head {
			if t := find(n, atom.Title); t != nil && w.title == "" {
				w.title = textOf(t)
			}
			return
		}
		if n.DataAtom == atom.Title {
			if w.title == "" {
				w.title = textOf(n)
			}
			return
		}
		if dropped[n.DataAtom] || isHidden(n) {
			return
		}
		// A page-level header is site chrome unless it holds the page's h1.
		if !inContent && (n.DataAtom == atom.Footer || n.DataAtom == atom.Header && find(n, atom.H1) == nil) {
			return
		}
		if n.DataAtom == atom.Article || n.DataAtom == atom.Main || n.DataAtom == atom.Section {
			inContent = true
		}
	case html.CommentNode, html.DoctypeNode:
		return
	}
	level := headingLevel[n.DataAtom]
	start, opened := 0, false
	switch {
	case level > 0 && w.inHeading == nil:
		w.breakAt(2)
		w.flushBreak()
		start, opened = w.b.Len(), true
		w.inHeading = &strings.Builder{}
	case n.DataAtom == atom.Pre:
		w.breakAt(2)
		w.pre++
	case blocks[n.DataAtom]:
		w.breakAt(2)
	case lines[n.DataAtom]:
		w.breakAt(1)
		if n.DataAtom == atom.Li {
			w.flushBreak()
			w.write("- ")
		}
	case n.DataAtom == atom.Td || n.DataAtom == atom.Th:
		w.space = true
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		w.walk(c, inContent)
	}
	switch {
	case opened:
		if title := cleanHeading(w.inHeading.String()); title != "" {
			w.headings = append(w.headings, heading{level: level, title: title, start: start, end: w.b.Len()})
		}
		w.inHeading = nil
		w.breakAt(2)
	case n.DataAtom == atom.Pre:
		w.pre--
		w.breakAt(2)
	case blocks[n.DataAtom]:
		w.breakAt(2)
	case lines[n.DataAtom]:
		w.breakAt(1)
	}
}

func (w *htmlWriter) breakAt(n int) {
	if w.b.Len() > 0 && n > w.brk {
		w.brk = n
	}
}

func (w *htmlWriter) flushBreak() {
	switch w.brk {
	case 1:
		w.b.WriteString("\n")
	case 2:
		w.b.WriteString("\n\n")
	}
	w.brk, w.space = 0, false
}

func (w *htmlWriter) write(s string) {
	w.b.WriteString(s)
	if w.inHeading != nil {
		w.inHeading.WriteString(s)
	}
}

func (w *htmlWriter) text(s string) {
	if w.pre > 0 {
		if s == "" {
			return
		}
		w.flushBreak()
		w.write(strings.ReplaceAll(s, "\r\n", "\n"))
		return
	}
	lead := len(s) > 0 && isSpaceAt(s, 0)
	fields := strings.Fields(s)
	if len(fields) == 0 {
		if lead {
			w.space = true
		}
		return
	}
	if w.brk > 0 {
		w.flushBreak()
	} else if (w.space || lead) && w.b.Len() > 0 {
		w.write(" ")
	}
	w.space = false
	for i, f := range fields {
		if i > 0 {
			w.write(" ")
		}
		w.write(f)
	}
	w.space = isSpaceAt(s, len(s)-1)
}

func isHidden(n *html.Node) bool {
	for _, a := range n.Attr {
		switch a.Key {
		case "hidden":
			return true
		case "aria-hidden":
			if a.Val == "true" {
				return true
			}
		case "role":
			if a.Val == "navigation" || a.Val == "banner" || a.Val == "contentinfo" {
				return true
			}
		}
	}
	return false
}

// find returns the first element with atom a under n, depth first.
func find(n *html.Node, a atom.Atom) *html.Node {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && c.DataAtom == a {
			return c
		}
		if f := find(c, a); f != nil {
			return f
		}
	}
	return nil
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}
