package ingest

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ledongthuc/pdf"
	"github.com/sextant-ai/sextant"
)

// maxPDFPages bounds the pages read from one PDF; a page count beyond it is
// almost certainly a corrupt page tree.
const maxPDFPages = 20000

// ExtractPDF returns the text layer of a PDF, one section per page
// ("Page N"), so a chunk never spans pages and a citation names its page.
// The title is the document information Title when set. A PDF without a
// text layer (scanned images) yields empty text. Any failure inside the PDF
// library, including a panic on malformed input, is returned as an EINVALID
// error.
func ExtractPDF(src []byte) (ex Extracted, err error) {
	defer func() {
		if r := recover(); r != nil {
			ex, err = Extracted{}, sextant.Errorf(sextant.EINVALID, "malformed PDF: %v", r)
		}
	}()
	if !bytes.HasPrefix(bytes.TrimLeft(src, "\x00\t\n\r "), []byte("%PDF-")) {
		return Extracted{}, sextant.Errorf(sextant.EINVALID, "not a PDF (no %%PDF- header)")
	}
	r, err := pdf.NewReader(bytes.NewReader(src), int64(len(src)))
	if err != nil {
		if strings.Contains(strings.ToLower(err.Error()), "encrypt") || strings.Contains(err.Error(), "password") {
			return Extracted{}, sextant.Errorf(sextant.EINVALID, "encrypted PDF (password protected): %w", err)
		}
		return Extracted{}, sextant.Errorf(sextant.EINVALID, "malformed PDF: %w", err)
	}
	n := r.NumPage()
	if n < 0 || n > maxPDFPages {
		return Extracted{}, sextant.Errorf(sextant.EINVALID, "malformed PDF: page count %d", n)
	}
	var b strings.Builder
	for i := 1; i <= n; i++ {
		p := r.Page(i)
		if p.V.IsNull() {
			continue
		}
		// Fonts per page: names like /F1 are page resources, not global.
		text, err := p.GetPlainText(nil)
		if err != nil {
			return Extracted{}, sextant.Errorf(sextant.EINVALID, "malformed PDF: page %d: %w", i, err)
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
		ex.Sections = append(ex.Sections, Section{Path: []string{"Page " + strconv.Itoa(i)}, Start: start, Body: start, End: b.Len()})
	}
	ex.Text = b.String()
	ex.Title = pdfTitle(r)
	return ex, nil
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
