package ingest

import (
	"bytes"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/sextant-ai/sextant"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
)

// extMedia maps file extensions to media types.
var extMedia = map[string]string{
	".txt":      sextant.MediaText,
	".text":     sextant.MediaText,
	".md":       sextant.MediaMarkdown,
	".markdown": sextant.MediaMarkdown,
	".html":     sextant.MediaHTML,
	".htm":      sextant.MediaHTML,
	".xhtml":    sextant.MediaHTML,
	".pdf":      sextant.MediaPDF,
	".json":     sextant.MediaJSON,
	".jsonl":    sextant.MediaJSONL,
	".ndjson":   sextant.MediaJSONL,
	".csv":      sextant.MediaCSV,
}

// binaryExts are skipped without reading: known non-text formats.
var binaryExts = map[string]bool{
	".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".webp": true, ".bmp": true, ".ico": true,
	".tif": true, ".tiff": true, ".svgz": true, ".mp3": true, ".mp4": true, ".mov": true, ".avi": true,
	".wav": true, ".flac": true, ".ogg": true, ".zip": true, ".tar": true, ".tgz": true, ".bz2": true,
	".xz": true, ".zst": true, ".7z": true, ".rar": true, ".exe": true, ".dll": true, ".so": true,
	".dylib": true, ".o": true, ".a": true, ".class": true, ".jar": true, ".wasm": true, ".pyc": true,
	".db": true, ".sqlite": true, ".parquet": true, ".woff": true, ".woff2": true, ".ttf": true,
	".otf": true, ".doc": true, ".docx": true, ".xls": true, ".xlsx": true, ".ppt": true, ".pptx": true,
	".odt": true, ".epub": true, ".bin": true, ".dat": true, ".iso": true, ".dmg": true,
}

// splitGzip reports whether name ends in .gz and returns the name without
// it: "corpus.jsonl.gz" → "corpus.jsonl", true.
func splitGzip(name string) (string, bool) {
	if strings.EqualFold(filepath.Ext(name), ".gz") {
		return name[:len(name)-3], true
	}
	return name, false
}

// mediaByName is the media type the extension names, "" when it names
// none, and whether the extension is a known binary format.
func mediaByName(name string) (media string, binary bool) {
	ext := strings.ToLower(filepath.Ext(name))
	return extMedia[ext], binaryExts[ext]
}

// sniffMedia decides the media type from content when the name does not:
// PDF and HTML by their signatures, JSON/JSONL by shape, anything else that
// decodes as text is plain text. "" means binary.
func sniffMedia(head []byte) string {
	b := bytes.TrimLeft(head, "\xef\xbb\xbf \t\r\n")
	switch {
	case bytes.HasPrefix(head, []byte("%PDF-")):
		return sextant.MediaPDF
	case hasPrefixFold(b, "<!doctype html") || hasPrefixFold(b, "<html") || hasPrefixFold(b, "<head") || hasPrefixFold(b, "<body"):
		return sextant.MediaHTML
	}
	if looksBinary(head) {
		return ""
	}
	if len(b) > 0 && (b[0] == '{' || b[0] == '[') {
		return sniffJSON(b)
	}
	return sextant.MediaText
}

// sniffJSON tells a JSON document from JSON Lines: a line that is a
// complete object followed by another line starting an object is JSONL.
func sniffJSON(b []byte) string {
	if b[0] == '[' {
		return sextant.MediaJSON
	}
	line, rest, ok := bytes.Cut(b, []byte("\n"))
	line = bytes.TrimSpace(line)
	rest = bytes.TrimLeft(rest, " \t\r\n")
	if ok && bytes.HasSuffix(line, []byte("}")) && len(rest) > 0 && rest[0] == '{' {
		return sextant.MediaJSONL
	}
	return sextant.MediaJSON
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && strings.EqualFold(string(b[:len(prefix)]), prefix)
}

// looksBinary reports whether head (the start of a file) is not text: it
// holds NUL bytes (and no UTF-16 byte-order mark) or many control bytes.
func looksBinary(head []byte) bool {
	if hasUTF16BOM(head) {
		return false
	}
	if len(head) > 8192 {
		head = head[:8192]
	}
	ctl := 0
	for _, c := range head {
		switch {
		case c == 0:
			return true
		case c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v' && c != 0x1b:
			ctl++
		}
	}
	return ctl*10 > len(head)
}

func hasUTF16BOM(b []byte) bool {
	return len(b) >= 2 && ((b[0] == 0xff && b[1] == 0xfe) || (b[0] == 0xfe && b[1] == 0xff))
}

// decodeText turns file bytes into UTF-8 text. A UTF-8 byte-order mark is
// dropped; UTF-16 with a byte-order mark is transcoded; bytes that are not
// valid UTF-8 are read as Windows-1252 (a superset of printable Latin-1)
// when every byte maps to a character. note says what was done, "" when
// the bytes were UTF-8 already. Offsets into the result are offsets into the
// file only when note is "" and there was no byte-order mark.
func decodeText(b []byte) (text []byte, note string, err error) {
	switch {
	case bytes.HasPrefix(b, []byte("\xef\xbb\xbf")):
		b = b[3:]
	case hasUTF16BOM(b):
		enc := unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM)
		name := "UTF-16LE"
		if b[0] == 0xfe {
			enc, name = unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM), "UTF-16BE"
		}
		out, err := enc.NewDecoder().Bytes(b)
		if err != nil {
			return nil, "", sextant.Errorf(sextant.EINVALID, "malformed %s text: %w", name, err)
		}
		if !utf8.Valid(out) || bytes.IndexByte(out, 0) >= 0 {
			return nil, "", sextant.Errorf(sextant.EINVALID, "malformed %s text", name)
		}
		return out, "transcoded from " + name, nil
	}
	if looksBinary(b) {
		return nil, "", sextant.Errorf(sextant.EINVALID, "binary content (NUL or control bytes)")
	}
	if utf8.Valid(b) {
		return b, "", nil
	}
	if bad := firstUndefined1252(b); bad >= 0 {
		off := invalidUTF8Offset(b)
		return nil, "", sextant.Errorf(sextant.EINVALID,
			"not valid UTF-8 (first bad byte at offset %d) and not Windows-1252/Latin-1 text either (byte 0x%02x at offset %d); convert it to UTF-8", off, b[bad], bad)
	}
	out, err := charmap.Windows1252.NewDecoder().Bytes(b)
	if err != nil {
		return nil, "", sextant.Errorf(sextant.EINVALID, "not valid UTF-8: %w", err)
	}
	return out, "not valid UTF-8; transcoded from Windows-1252 (Latin-1)", nil
}

// firstUndefined1252 returns the offset of the first byte Windows-1252
// leaves undefined, or -1.
func firstUndefined1252(b []byte) int {
	for i, c := range b {
		switch c {
		case 0x81, 0x8d, 0x8f, 0x90, 0x9d:
			return i
		}
	}
	return -1
}

func invalidUTF8Offset(b []byte) int {
	for i := 0; i < len(b); {
		r, sz := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && sz <= 1 {
			return i
		}
		i += sz
	}
	return -1
}
