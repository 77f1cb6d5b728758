package ingest

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/sextant-ai/sextant"
)

// TestExtractPDFLoops feeds PDFs whose references loop; the PDF library
// would spin forever on each.
func TestExtractPDFLoops(t *testing.T) {
	good := buildPDF("T", reportPages)
	for name, edit := range map[string][2]string{
		"page tree kid is its own parent node": {"/Kids [5 0 R 7 0 R 9 0 R] /Count 3", "/Kids [2 0 R 7 0 R 9 0 R] /Count 3"},
		"page parent chain loops":              {"/Type /Page /Parent 2 0 R", "/Type /Page /Parent 5 0 R"},
		"xref Prev points at itself":           {"trailer\n<< /Size", "trailer\n<< /Prev XREF /Size"},
	} {
		t.Run(name, func(t *testing.T) {
			src := bytes.Replace(good, []byte(edit[0]), []byte(edit[1]), 1)
			if bytes.Equal(src, good) {
				t.Fatal("edit did not apply")
			}
			if strings.Contains(edit[1], "XREF") {
				i := bytes.LastIndex(src, []byte("startxref\n"))
				off := strings.TrimSpace(string(src[i+len("startxref\n"):]))
				off = strings.TrimSuffix(off, "%%EOF")
				src = bytes.Replace(src, []byte("XREF"), []byte(strings.TrimSpace(off)), 1)
			}
			done := make(chan error, 1)
			go func() { _, err := ExtractPDF(src); done <- err }()
			select {
			case err := <-done:
				if sextant.ErrorCode(err) != sextant.EINVALID {
					t.Errorf("error %v, want EINVALID", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("ExtractPDF did not return")
			}
		})
	}
}

// TestExtractPDFManyPages checks the read budget leaves long documents
// alone and pages come out in order.
func TestExtractPDFManyPages(t *testing.T) {
	var pages []pdfPage
	for p := range 300 {
		var lines pdfPage
		for l := range 20 {
			lines = append(lines, strings.Repeat("word ", 10)+"page "+string(rune('A'+p%26))+" line "+string(rune('a'+l)))
		}
		pages = append(pages, lines)
	}
	ex, err := ExtractPDF(buildPDF("Long", pages))
	if err != nil {
		t.Fatal(err)
	}
	if len(ex.Sections) != 300 || ex.Sections[299].Path[0] != "Page 300" {
		t.Errorf("%d sections, last %v", len(ex.Sections), ex.Sections[len(ex.Sections)-1].Path)
	}
}
