package ingest

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ledongthuc/pdf"
	"github.com/sextant-ai/sextant"
)

// maxPDFPages bounds the pages read from one PDF; a page count beyond it is
// almost certainly a corrupt page tree.
const maxPDFPages = 20000

// errPDFBudget stops the PDF library when it has read far more than a
// well-formed file needs: the library re-reads objects on every access and
// loops forever on reference cycles (a page tree, Parent chain, object
// stream or cross-reference chain pointing back at itself).
var errPDFBudget = errors.New("the PDF refers to itself in a loop (read budget exceeded)")

// budgetReader is an io.ReaderAt that panics with errPDFBudget once more
// than its budget has been read since the last reset; ExtractPDF recovers
// the panic. The budget is per step (open, page tree, each page), so a long
// document is not penalised, while a loop within a step ends quickly.
type budgetReader struct {
	r           *bytes.Reader
	left, limit int64
}

func (b *budgetReader) reset() { b.left = b.limit }

func (b *budgetReader) ReadAt(p []byte, off int64) (int, error) {
	b.left -= int64(len(p))
	if b.left < 0 {
		panic(errPDFBudget)
	}
	return b.r.ReadAt(p, off)
}

// ExtractPDF returns the text layer of a PDF, one section per page
// ("Page N"), so a chunk never spans pages and a citation names its page.
// The title is the document information Title when set. A PDF without a
// text layer (scanned images) yields empty text. Any failure inside the PDF
// library, including a panic or a reference loop in malformed input, is
// returned as an EINVALID error.
func ExtractPDF(src []byte) (ex Extracted, err error) {
	defer func() {
		if r := recover(); r != nil {
			ex, err = Extracted{}, sextant.Errorf(sextant.EINVALID, "malformed PDF: %v", r)
		}
	}()
	if !bytes.HasPrefix(bytes.TrimLeft(src, "\x00\t\n\r "), []byte("%PDF-")) {
		return Extracted{}, sextant.Errorf(sextant.EINVALID, "not a PDF (no %%PDF- header)")
	}
	// No step of a well-formed file reads it more than a few times over.
	br := &budgetReader{r: bytes.NewReader(src), limit: 4<<20 + 16*int64(len(src))}
	br.reset()
	r, err := pdf.NewReader(br, int64(len(src)))
	if err != nil {
		if strings.Contains(strings.ToLower(err.Error()), "encrypt") || strings.Contains(err.Error(), "password") {
			return Extracted{}, sextant.Errorf(sextant.EINVALID, "encrypted PDF (password protected): %w", err)
		}
		return Extracted{}, sextant.Errorf(sextant.EINVALID, "malformed PDF: %w", err)
	}
	br.reset()
	pages, err := pdfPages(r.Trailer().Key("Root").Key("Pages"))
	if err != nil {
		return Extracted{}, err
	}
	var b strings.Builder
	for i, v := range pages {
		br.reset()
		if err := checkParents(v); err != nil {
			return Extracted{}, err
		}
		// Fonts per page: names like /F1 are page resources, not global.
		text, err := pdf.Page{V: v}.GetPlainText(nil)
		if err != nil {
			return Extracted{}, sextant.Errorf(sextant.EINVALID, "malformed PDF: page %d: %w", i+1, err)
		}
		text = cleanPDFText(text)
		if text == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\n\n")
		}
		start := b.Len()
		b.WriteString(text)
		ex.Sections = append(ex.Sections, Section{Path: []string{"Page " + strconv.Itoa(i+1)}, Start: start, Body: start, End: b.Len()})
	}
	ex.Text = b.String()
	br.reset()
	ex.Title = pdfTitle(r)
	return ex, nil
}

// maxPDFDepth bounds the page tree's depth; real trees are a few levels.
const maxPDFDepth = 64

// pdfPages lists the page objects of a page tree in order, in one walk (the
// library's Reader.Page walks from the root for every page).
func pdfPages(root pdf.Value) ([]pdf.Value, error) {
	var pages []pdf.Value
	nodes := 0
	var walk func(v pdf.Value, depth int) error
	walk = func(v pdf.Value, depth int) error {
		if nodes++; nodes > 4*maxPDFPages || depth > maxPDFDepth {
			return sextant.Errorf(sextant.EINVALID, "malformed PDF: the page tree is too deep or loops")
		}
		switch v.Key("Type").Name() {
		case "Pages":
			kids := v.Key("Kids")
			for i := range kids.Len() {
				if err := walk(kids.Index(i), depth+1); err != nil {
					return err
				}
			}
		case "Page":
			if len(pages) == maxPDFPages {
				return sextant.Errorf(sextant.EINVALID, "malformed PDF: more than %d pages", maxPDFPages)
			}
			pages = append(pages, v)
		}
		return nil
	}
	if err := walk(root, 0); err != nil {
		return nil, err
	}
	return pages, nil
}

// checkParents rejects a page whose Parent chain loops (the library follows
// it to find inherited resources).
func checkParents(v pdf.Value) error {
	for depth := 0; !v.IsNull(); depth++ {
		if depth > maxPDFDepth {
			return sextant.Errorf(sextant.EINVALID, "malformed PDF: a page's Parent chain is too long or loops")
		}
		v = v.Key("Parent")
	}
	return nil
}

// cleanPDFText makes page text valid UTF-8 and tidy: trailing spaces
// trimmed per line, runs of blank lines collapsed, control bytes dropped.
func cleanPDFText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r == '\r':
			return '\n'
		case r < 0x20 || r == 0x7f || r == 0xfffe || r == 0xffff:
			return -1
		}
		return r
	}, s)
	var b strings.Builder
	blank := 0
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimRight(line, " \t")
		if strings.TrimSpace(line) == "" {
			blank++
			continue
		}
		if b.Len() > 0 {
			if blank > 0 {
				b.WriteString("\n\n")
			} else {
				b.WriteString("\n")
			}
		}
		blank = 0
		b.WriteString(line)
	}
	return b.String()
}

func pdfTitle(r *pdf.Reader) (title string) {
	defer func() {
		if recover() != nil {
			title = ""
		}
	}()
	t := r.Trailer().Key("Info").Key("Title").Text()
	if !utf8.ValidString(t) {
		return ""
	}
	return cleanHeading(t)
}
