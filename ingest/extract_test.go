package ingest

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sextant-ai/sextant"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sectionView is a section as people read it, for comparisons.
type sectionView struct {
	Path string
	Text string
}

func viewSections(text string, ss []Section) []sectionView {
	var out []sectionView
	for _, s := range ss {
		out = append(out, sectionView{sextant.SectionPath(s.Path), text[s.Start:s.End]})
	}
	return out
}

func TestExtractMarkdown(t *testing.T) {
	src := string(readFixture(t, "guide.md"))
	ex := ExtractMarkdown(src)
	if ex.Text != src {
		t.Fatal("Markdown text is not the source bytes")
	}
	if ex.Title != "Sextant Field Guide" {
		t.Errorf("title %q, want the front matter title", ex.Title)
	}
	var paths []string
	for _, s := range ex.Sections {
		paths = append(paths, sextant.SectionPath(s.Path))
		if !strings.HasPrefix(src[s.Start:], "#") && !strings.HasPrefix(src[s.Start:], "Usage") {
			t.Errorf("section %q does not start at its heading: %.20q", s.Path, src[s.Start:])
		}
	}
	want := []string{
		"Field Guide",
		"Field Guide › Install",
		"Field Guide › Install › Linux",
		"Field Guide › Usage",
		"Field Guide › Troubleshooting",
	}
	if diff := cmp.Diff(want, paths); diff != "" {
		t.Errorf("section paths (-want +got):\n%s", diff)
	}
	chunks := Chunk("d", ex.Text, ex.Sections, ChunkOptions{Tokens: 40, Overlap: -1})
	checkChunks(t, ex.Text, ex.Sections, ChunkOptions{Tokens: 40, Overlap: -1}, chunks)
	for _, c := range chunks {
		if strings.Contains(c.Text, "comment inside code") && sextant.SectionPath(c.Section) != "Field Guide › Install" {
			t.Errorf("code block chunk in section %q", c.Section)
		}
	}
	// Without front matter the first h1 is the title.
	if got := ExtractMarkdown("intro\n\n## Sub\n\n# Main\n").Title; got != "Main" {
		t.Errorf("title %q, want Main", got)
	}
}

func TestExtractHTML(t *testing.T) {
	ex, err := ExtractHTML(readFixture(t, "page.html"))
	if err != nil {
		t.Fatal(err)
	}
	if ex.Title != "Returns & Refunds — Acme Help" {
		t.Errorf("title %q", ex.Title)
	}
	for _, gone := range []string{"tracking", "font-family", "Site banner", "Navigation link", "Hidden text", "sidebar",
		"Copyright footer", "noscript text", "Search help"} {
		if strings.Contains(ex.Text, gone) {
			t.Errorf("text keeps %q:\n%s", gone, ex.Text)
		}
	}
	want := "Returns and refunds\n\n" +
		"You can return most items within 30 days of delivery. Refunds go back to the original payment method.\n\n" +
		"How to return\n\n" +
		"- Open your order history.\n- Choose Return item.\n\n" +
		"Shipping labels\n\n" +
		"We email a prepaid label.\n\n" +
		"Region Days\nEU 14\n\n" +
		"Exceptions\n\n" +
		"Gift cards\n  are final sale."
	if diff := cmp.Diff(want, ex.Text); diff != "" {
		t.Errorf("text (-want +got):\n%s", diff)
	}
	gotSections := viewSections(ex.Text, ex.Sections)
	wantSections := []sectionView{
		{"Returns and refunds", "Returns and refunds\n\nYou can return most items within 30 days of delivery. Refunds go back to the original payment method.\n\n"},
		{"Returns and refunds › How to return", "How to return\n\n- Open your order history.\n- Choose Return item.\n\n"},
		{"Returns and refunds › How to return › Shipping labels", "Shipping labels\n\nWe email a prepaid label.\n\nRegion Days\nEU 14\n\n"},
		{"Returns and refunds › Exceptions", "Exceptions\n\nGift cards\n  are final sale."},
	}
	if diff := cmp.Diff(wantSections, gotSections); diff != "" {
		t.Errorf("sections (-want +got):\n%s", diff)
	}
	// A page-level header holding the h1 is kept; one with only chrome is not.
	ex, err = ExtractHTML([]byte("<body><header><a href=/>Logo</a><h1>Post title</h1></header><p>Body.</p><header>Banner</header><footer>Foot</footer>"))
	if err != nil || ex.Text != "Logo\n\nPost title\n\nBody." {
		t.Errorf("page-level header: %q, %v", ex.Text, err)
	}
	// Title falls back to the first h1.
	ex, err = ExtractHTML([]byte("<body><h2>Sub</h2><h1>Main <i>title</i></h1><p>x</p>"))
	if err != nil || ex.Title != "Main title" {
		t.Errorf("title %q, %v; want Main title", ex.Title, err)
	}
}

// pdfPage is the text lines of one generated PDF page.
type pdfPage []string

// buildPDF writes a minimal valid PDF 1.4 file: Helvetica text, one
// uncompressed content stream per page, a correct cross-reference table.
func buildPDF(title string, pages []pdfPage) []byte {
	var b bytes.Buffer
	var offsets []int
	obj := func(body string) int {
		offsets = append(offsets, b.Len())
		n := len(offsets)
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", n, body)
		return n
	}
	esc := strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`)
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	// Object numbers: 1 catalog, 2 pages, 3 font, 4 info, then page and
	// content pairs.
	npages := len(pages)
	kids := make([]string, npages)
	for i := range pages {
		kids[i] = fmt.Sprintf("%d 0 R", 5+2*i)
	}
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), npages))
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	obj(fmt.Sprintf("<< /Title (%s) /Producer (sextant test) >>", esc.Replace(title)))
	for i, p := range pages {
		var cs strings.Builder
		cs.WriteString("BT\n/F1 12 Tf\n14 TL\n72 720 Td\n")
		for j, line := range p {
			if j > 0 {
				cs.WriteString("T*\n")
			}
			fmt.Fprintf(&cs, "(%s) Tj\n", esc.Replace(line))
		}
		cs.WriteString("ET")
		obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>", 6+2*i))
		obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", cs.Len(), cs.String()))
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /Info 4 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return b.Bytes()
}

var reportPages = []pdfPage{
	{"Quarterly report, first quarter.", "Revenue grew by twelve percent.", "", "Costs stayed flat."},
	{"Outlook.", "We expect steady growth (about 10%) next quarter."},
	{},
}

func TestExtractPDF(t *testing.T) {
	gen := buildPDF("Quarterly Report", reportPages)
	golden := filepath.Join("testdata", "report.pdf")
	if *update {
		if err := os.WriteFile(golden, gen, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src := readFixture(t, "report.pdf")
	if !bytes.Equal(src, gen) {
		t.Fatal("testdata/report.pdf differs from buildPDF output; run go test -run TestExtractPDF -update")
	}
	ex, err := ExtractPDF(src)
	if err != nil {
		t.Fatal(err)
	}
	if ex.Title != "Quarterly Report" {
		t.Errorf("title %q", ex.Title)
	}
	want := []sectionView{
		{"Page 1", "Quarterly report, first quarter.\nRevenue grew by twelve percent.\n\nCosts stayed flat."},
		{"Page 2", "Outlook.\nWe expect steady growth (about 10%) next quarter."},
	}
	if diff := cmp.Diff(want, viewSections(ex.Text, ex.Sections)); diff != "" {
		t.Errorf("pages (-want +got):\n%s", diff)
	}
	chunks := Chunk("d", ex.Text, ex.Sections, ChunkOptions{})
	checkChunks(t, ex.Text, ex.Sections, ChunkOptions{}, chunks)
	if len(chunks) != 2 || chunks[1].Section[0] != "Page 2" {
		t.Errorf("chunks %+v, want one per page", chunks)
	}
}

func TestExtractPDFErrors(t *testing.T) {
	good := buildPDF("T", reportPages)
	for name, src := range map[string][]byte{
		"broken":    readFixture(t, "bad/broken.pdf"),
		"truncated": good[:len(good)/2],
		"no header": []byte("hello"),
		"bad xref":  bytes.Replace(good, []byte("xref\n0 "), []byte("xref\n9 "), 1),
		"empty":     nil,
	} {
		ex, err := ExtractPDF(src)
		if err == nil && name != "bad xref" {
			t.Errorf("%s: no error, text %q", name, ex.Text)
		}
		if err != nil && sextant.ErrorCode(err) != sextant.EINVALID {
			t.Errorf("%s: %v is not EINVALID", name, err)
		}
	}
}

func TestDecodeText(t *testing.T) {
	for _, tt := range []struct {
		file, want, note, err string
	}{
		{"bad/latin1.txt", "Café crème à la carte. Naïve résumés cost € 5.\n", "Windows-1252", ""},
		{"bad/utf16.txt", "Hello UTF-16 world.\n", "UTF-16LE", ""},
		{"bad/binary.txt", "", "", "binary"},
		{"bad/notlatin.txt", "", "", "not valid UTF-8"},
		{"notes.txt", string(readFixture(t, "notes.txt")), "", ""},
	} {
		got, note, err := decodeText(readFixture(t, tt.file))
		switch {
		case tt.err != "":
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: error %v, want one containing %q", tt.file, err, tt.err)
			}
		case err != nil:
			t.Errorf("%s: %v", tt.file, err)
		case string(got) != tt.want || !strings.Contains(note, tt.note):
			t.Errorf("%s: %q (note %q), want %q (note with %q)", tt.file, got, note, tt.want, tt.note)
		}
	}
	if got, _, _ := decodeText([]byte("\xef\xbb\xbfBOM")); string(got) != "BOM" {
		t.Errorf("UTF-8 BOM kept: %q", got)
	}
}

func TestSniffMedia(t *testing.T) {
	for _, tt := range []struct{ head, want string }{
		{"%PDF-1.7\n...", sextant.MediaPDF},
		{"  <!DOCTYPE html><html>", sextant.MediaHTML},
		{"<HTML><body>", sextant.MediaHTML},
		{"{\"a\":1}\n{\"a\":2}\n", sextant.MediaJSONL},
		{"{\"a\":\n1}\n", sextant.MediaJSON},
		{"[{\"a\":1}]", sextant.MediaJSON},
		{"just words", sextant.MediaText},
		{"\x00\x01\x02binary", ""},
		{"\xff\xfeh\x00i\x00", sextant.MediaText},
	} {
		if got := sniffMedia([]byte(tt.head)); got != tt.want {
			t.Errorf("sniffMedia(%q) = %q, want %q", tt.head, got, tt.want)
		}
	}
}

func FuzzExtractMarkdown(f *testing.F) {
	f.Add(string(readFixture(f, "guide.md")))
	f.Add("---\ntitle: x\n---\n# a\nb\n===\n```\n# no\n```\n## [l](u) ##\n")
	f.Add("#\n##\n###### x\n####### y\n")
	f.Fuzz(func(t *testing.T, src string) {
		ex := ExtractMarkdown(src)
		if ex.Text != src {
			t.Fatal("text changed")
		}
		checkSections(t, ex)
		chunks := Chunk("d", ex.Text, ex.Sections, ChunkOptions{Tokens: 32})
		checkChunks(t, ex.Text, ex.Sections, ChunkOptions{Tokens: 32}, chunks)
	})
}

func FuzzExtractHTML(f *testing.F) {
	f.Add(readFixture(f, "page.html"))
	f.Add([]byte("<h1>a<h2>b</h2></h1><pre>x\n y</pre><li>z<table><td>1<td>2"))
	f.Add([]byte("<title>t</title><h3></h3><p>\xff\xfe</p>"))
	f.Fuzz(func(t *testing.T, src []byte) {
		ex, err := ExtractHTML(src)
		if err != nil {
			return
		}
		checkSections(t, ex)
		chunks := Chunk("d", ex.Text, ex.Sections, ChunkOptions{Tokens: 32})
		checkChunks(t, ex.Text, ex.Sections, ChunkOptions{Tokens: 32}, chunks)
	})
}

func FuzzExtractPDF(f *testing.F) {
	f.Add(buildPDF("T", reportPages))
	f.Add(readFixture(f, "bad/broken.pdf"))
	f.Add(buildPDF("", []pdfPage{{"a"}}))
	f.Fuzz(func(t *testing.T, src []byte) {
		ex, err := ExtractPDF(src)
		if err != nil {
			if sextant.ErrorCode(err) != sextant.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			return
		}
		checkSections(t, ex)
	})
}

func FuzzDecodeText(f *testing.F) {
	for _, name := range []string{"bad/latin1.txt", "bad/utf16.txt", "bad/binary.txt", "notes.txt"} {
		f.Add(readFixture(f, name))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		out, _, err := decodeText(src)
		if err == nil && !bytesValidUTF8(out) {
			t.Fatalf("decodeText returned invalid UTF-8 for %q", src)
		}
	})
}

func bytesValidUTF8(b []byte) bool { return strings.ToValidUTF8(string(b), "") == string(b) }

// checkSections asserts extractor output invariants.
func checkSections(t *testing.T, ex Extracted) {
	t.Helper()
	if !bytesValidUTF8([]byte(ex.Text)) && !bytesValidUTF8([]byte(ex.Title)) {
		t.Fatal("invalid UTF-8")
	}
	pos := 0
	for _, s := range ex.Sections {
		if s.Start < pos || s.Body < s.Start || s.End < s.Body || s.End > len(ex.Text) {
			t.Fatalf("bad section %+v after %d in %d bytes", s, pos, len(ex.Text))
		}
		for _, p := range s.Path {
			if p == "" || strings.ContainsAny(p, "\x1f\n") {
				t.Fatalf("bad section name %q", p)
			}
		}
		pos = s.End
	}
}
