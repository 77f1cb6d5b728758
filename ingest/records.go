package ingest

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sextant-ai/sextant"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// maxMetaValue bounds a metadata value taken from a record field; longer
// values are left out of the metadata.
const maxMetaValue = 1024

// RecordFields names the fields of JSON, JSONL and CSV records. For each
// list the first field present in a record is used, except Text, whose
// fields are all used, joined as paragraphs. Every other scalar field
// becomes metadata of the record's document.
type RecordFields struct {
	ID      []string // nil = ["_id", "id"]; a record without one is numbered by position
	Title   []string // nil = ["title"]
	Text    []string // nil = ["text"]
	CSVText []string // CSV text columns; nil = Text
}

func (f RecordFields) withDefaults() RecordFields {
	if len(f.ID) == 0 {
		f.ID = []string{"_id", "id"}
	}
	if len(f.Title) == 0 {
		f.Title = []string{"title"}
	}
	if len(f.Text) == 0 {
		f.Text = []string{"text"}
	}
	if len(f.CSVText) == 0 {
		f.CSVText = f.Text
	}
	return f
}

// Record is one record of a JSON, JSONL or CSV file.
type Record struct {
	N        int    // 1-based position: JSONL line, JSON array item, CSV data row
	Pos      string // the same for people: "line 12", "item 3", "row 5 (line 6)"
	ID       string // "" when the record has no id field
	Title    string
	Text     string
	Metadata map[string]string // the record's other scalar fields
	Raw      []byte            // the record's bytes, hashed to detect changes
}

// RecordError is a problem with one record; the stream goes on after it.
type RecordError struct {
	Pos string // where the record is
	ID  string // its id, when known
	Err error
}

func (e *RecordError) Error() string {
	if e.ID != "" {
		return fmt.Sprintf("%s (id %q): %v", e.Pos, e.ID, e.Err)
	}
	return e.Pos + ": " + e.Err.Error()
}

func (e *RecordError) Unwrap() error { return e.Err }

// decodeStream prepares a record file's bytes for reading as UTF-8: it
// drops a UTF-8 byte-order mark, transcodes UTF-16 with a byte-order mark,
// and transcodes Windows-1252 when the first 64 KiB are not UTF-8 but are
// Windows-1252 text. note says what it did.
func decodeStream(r io.Reader) (io.Reader, string, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(64 << 10)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, "", err
	}
	switch {
	case bytes.HasPrefix(head, []byte("\xef\xbb\xbf")):
		br.Discard(3)
		return br, "", nil
	case hasUTF16BOM(head):
		enc, name := unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM), "UTF-16LE"
		if head[0] == 0xfe {
			enc, name = unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM), "UTF-16BE"
		}
		return transform.NewReader(br, enc.NewDecoder()), "transcoded from " + name, nil
	case looksBinary(head):
		return nil, "", sextant.Errorf(sextant.EINVALID, "binary content (NUL or control bytes)")
	}
	check := head
	if len(check) == 64<<10 { // the sample may end inside a rune
		check = check[:runeStartBytes(check, len(check)-utf8.UTFMax)]
	}
	if utf8.Valid(check) {
		return br, "", nil
	}
	if bad := firstUndefined1252(check); bad >= 0 {
		return nil, "", sextant.Errorf(sextant.EINVALID,
			"not valid UTF-8 (first bad byte at offset %d) and not Windows-1252/Latin-1 either; convert it to UTF-8", invalidUTF8Offset(check))
	}
	return transform.NewReader(br, charmap.Windows1252.NewDecoder()), "not valid UTF-8; transcoded from Windows-1252 (Latin-1)", nil
}

func runeStartBytes(b []byte, i int) int {
	for k := 0; k < utf8.UTFMax && i > 0 && !utf8.RuneStart(b[i]); k++ {
		i--
	}
	return max(i, 0)
}

// JSONLRecords reads JSON Lines: one object per line, blank lines ignored.
// A line that is not a JSON object, is not UTF-8 or is longer than maxBytes
// yields a *RecordError and reading goes on; a read error ends the stream.
func JSONLRecords(r io.Reader, f RecordFields, maxBytes int) iter.Seq2[Record, error] {
	f = f.withDefaults()
	return func(yield func(Record, error) bool) {
		br := bufio.NewReaderSize(r, 256<<10)
		for n := 1; ; n++ {
			line, tooLong, err := readLine(br, maxBytes)
			if len(bytes.TrimSpace(line)) > 0 || tooLong {
				pos := "line " + strconv.Itoa(n)
				var rec Record
				var rerr error
				switch {
				case tooLong:
					rerr = &RecordError{Pos: pos, Err: sextant.Errorf(sextant.EINVALID, "longer than the %d-byte limit (--max-bytes)", maxBytes)}
				case !utf8.Valid(line):
					rerr = &RecordError{Pos: pos, Err: sextant.Errorf(sextant.EINVALID, "not valid UTF-8")}
				default:
					rec, rerr = jsonRecord(pos, line, f)
					rec.N = n
				}
				if !yield(rec, rerr) {
					return
				}
			}
			if err == io.EOF {
				return
			}
			if err != nil {
				yield(Record{}, err)
				return
			}
		}
	}
}

// readLine reads one line without its newline, discarding the rest of a
// line longer than max (reported by tooLong).
func readLine(br *bufio.Reader, limit int) (line []byte, tooLong bool, err error) {
	for {
		frag, e := br.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(frag) > limit+1 { // +1: the newline
				tooLong, line = true, nil
			} else {
				line = append(line, frag...)
			}
		}
		switch {
		case e == bufio.ErrBufferFull:
			continue
		case e != nil:
			return bytes.TrimRight(line, "\r\n"), tooLong, e
		default:
			return bytes.TrimRight(line, "\r\n"), tooLong, nil
		}
	}
}

// JSONRecords reads a JSON file holding an array of objects (each a
// record) or a single object (one record). A malformed document ends the
// stream with an error after the records read before the fault.
func JSONRecords(r io.Reader, f RecordFields, maxBytes int) iter.Seq2[Record, error] {
	f = f.withDefaults()
	return func(yield func(Record, error) bool) {
		br := bufio.NewReader(r)
		dec := json.NewDecoder(br)
		dec.UseNumber()
		first, err := firstNonSpace(br)
		if err != nil {
			if err == io.EOF {
				err = sextant.Errorf(sextant.EINVALID, "empty JSON file")
			}
			yield(Record{}, err)
			return
		}
		switch first {
		case '{':
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				yield(Record{}, jsonSyntax(err))
				return
			}
			if len(raw) > maxBytes {
				yield(Record{}, &RecordError{Pos: "item 1", Err: sextant.Errorf(sextant.EINVALID, "longer than the %d-byte limit (--max-bytes)", maxBytes)})
				return
			}
			rec, err := jsonRecord("item 1", raw, f)
			rec.N = 1
			if !yield(rec, err) {
				return
			}
		case '[':
			if _, err := dec.Token(); err != nil {
				yield(Record{}, jsonSyntax(err))
				return
			}
			for n := 1; dec.More(); n++ {
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					yield(Record{}, jsonSyntax(err))
					return
				}
				pos := "item " + strconv.Itoa(n)
				var rec Record
				var rerr error
				if len(raw) > maxBytes {
					rerr = &RecordError{Pos: pos, Err: sextant.Errorf(sextant.EINVALID, "longer than the %d-byte limit (--max-bytes)", maxBytes)}
				} else {
					rec, rerr = jsonRecord(pos, raw, f)
					rec.N = n
				}
				if !yield(rec, rerr) {
					return
				}
			}
			if _, err := dec.Token(); err != nil {
				yield(Record{}, jsonSyntax(err))
				return
			}
		default:
			yield(Record{}, sextant.Errorf(sextant.EINVALID, "a JSON file must hold an object or an array of objects, found %q", first))
			return
		}
		if _, err := dec.Token(); err != io.EOF {
			yield(Record{}, sextant.Errorf(sextant.EINVALID, "malformed JSON: data after the top-level value (JSON Lines files should be named .jsonl)"))
		}
	}
}

func firstNonSpace(br *bufio.Reader) (byte, error) {
	for {
		c, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return c, br.UnreadByte()
		}
	}
}

func jsonSyntax(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return sextant.Errorf(sextant.EINVALID, "malformed JSON at byte %d: %v", se.Offset, se)
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return sextant.Errorf(sextant.EINVALID, "malformed JSON: unexpected end of file")
	}
	return err
}

// jsonRecord turns one JSON object into a Record.
func jsonRecord(pos string, raw []byte, f RecordFields) (Record, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return Record{}, &RecordError{Pos: pos, Err: sextant.Errorf(sextant.EINVALID, "not a JSON object")}
		}
		return Record{}, &RecordError{Pos: pos, Err: sextant.Errorf(sextant.EINVALID, "malformed JSON: %v", err)}
	}
	rec := Record{Pos: pos, Raw: raw}
	used := map[string]bool{}
	fail := func(format string, args ...any) (Record, error) {
		return Record{}, &RecordError{Pos: pos, ID: rec.ID, Err: sextant.Errorf(sextant.EINVALID, format, args...)}
	}
	for _, k := range f.ID {
		v, ok := obj[k]
		if !ok || isNull(v) {
			continue
		}
		used[k] = true
		s, ok := scalarString(v)
		if !ok {
			return fail("id field %q must be a string or a number", k)
		}
		rec.ID = s
		break
	}
	for _, k := range f.Title {
		v, ok := obj[k]
		if !ok || isNull(v) {
			continue
		}
		used[k] = true
		s, ok := scalarString(v)
		if !ok {
			return fail("title field %q must be a string", k)
		}
		rec.Title = s
		break
	}
	var parts []string
	for _, k := range f.Text {
		v, ok := obj[k]
		if !ok {
			continue
		}
		used[k] = true
		if isNull(v) {
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err == nil {
			parts = appendNonBlank(parts, s)
			continue
		}
		var ss []string
		if err := json.Unmarshal(v, &ss); err == nil {
			for _, s := range ss {
				parts = appendNonBlank(parts, s)
			}
			continue
		}
		return fail("text field %q must be a string or an array of strings", k)
	}
	rec.Text = strings.Join(parts, "\n\n")
	for k, v := range obj {
		if used[k] || !validMetaKey(k) {
			continue
		}
		if s, ok := scalarString(v); ok && len(s) <= maxMetaValue {
			if rec.Metadata == nil {
				rec.Metadata = map[string]string{}
			}
			rec.Metadata[k] = s
		}
	}
	return rec, nil
}

func appendNonBlank(parts []string, s string) []string {
	if strings.TrimSpace(s) == "" {
		return parts
	}
	return append(parts, s)
}

func isNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }

// scalarString renders a JSON string, number or boolean as text.
func scalarString(v json.RawMessage) (string, bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "", false
	}
	switch v[0] {
	case '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", false
		}
		return s, true
	case '{', '[', 'n':
		return "", false
	}
	return string(v), true // number, true, false
}

func validMetaKey(k string) bool {
	return k != "" && !strings.ContainsAny(k, "=\x00") && utf8.ValidString(k)
}

// CSVRecords reads a CSV file whose first row is the header. Text comes
// from f.CSVText columns (joined as paragraphs), the id and title from the
// first f.ID and f.Title columns present, every other non-empty column
// becomes metadata. A header without any text column, or with duplicate
// names, is an error; a malformed row yields a *RecordError and reading
// goes on.
func CSVRecords(r io.Reader, f RecordFields, maxBytes int) iter.Seq2[Record, error] {
	f = f.withDefaults()
	return func(yield func(Record, error) bool) {
		cr := csv.NewReader(r)
		cr.FieldsPerRecord = -1
		header, err := cr.Read()
		if err != nil {
			if err == io.EOF {
				err = sextant.Errorf(sextant.EINVALID, "empty CSV file (a header row is required)")
			} else {
				err = sextant.Errorf(sextant.EINVALID, "malformed CSV header: %w", err)
			}
			yield(Record{}, err)
			return
		}
		col := map[string]int{}
		for i, h := range header {
			h = strings.TrimSpace(h)
			header[i] = h
			if h == "" {
				continue
			}
			if _, dup := col[h]; dup {
				yield(Record{}, sextant.Errorf(sextant.EINVALID, "CSV header names column %q twice", h))
				return
			}
			col[h] = i
		}
		var textCols []int
		for _, name := range f.CSVText {
			if i, ok := col[name]; ok {
				textCols = append(textCols, i)
			}
		}
		if len(textCols) == 0 {
			yield(Record{}, sextant.Errorf(sextant.EINVALID, "CSV header has no text column %s (columns: %s); choose them with --csv-text-cols",
				strings.Join(f.CSVText, ","), strings.Join(header, ",")))
			return
		}
		pick := func(names []string) int {
			for _, n := range names {
				if i, ok := col[n]; ok {
					return i
				}
			}
			return -1
		}
		idCol, titleCol := pick(f.ID), pick(f.Title)
		badRun := 0
		for n := 1; ; n++ {
			row, err := cr.Read()
			if err == io.EOF {
				return
			}
			pos := "row " + strconv.Itoa(n)
			if err == nil && len(row) > 0 {
				if line, _ := cr.FieldPos(0); line > 0 {
					pos += " (line " + strconv.Itoa(line) + ")"
				}
			}
			if err != nil {
				var pe *csv.ParseError
				if !errors.As(err, &pe) {
					yield(Record{}, err)
					return
				}
				pos += " (line " + strconv.Itoa(pe.StartLine) + ")"
				if badRun++; badRun > 1000 {
					yield(Record{}, sextant.Errorf(sextant.EINVALID, "malformed CSV: 1000 bad rows in a row, giving up: %w", err))
					return
				}
				if !yield(Record{}, &RecordError{Pos: pos, Err: sextant.Errorf(sextant.EINVALID, "malformed CSV row: %w", pe.Err)}) {
					return
				}
				continue
			}
			badRun = 0
			rec, err := csvRecord(pos, header, row, textCols, idCol, titleCol, maxBytes)
			rec.N = n
			if !yield(rec, err) {
				return
			}
		}
	}
}

func csvRecord(pos string, header, row []string, textCols []int, idCol, titleCol, maxBytes int) (Record, error) {
	rec := Record{Pos: pos}
	if len(row) != len(header) {
		return Record{}, &RecordError{Pos: pos, Err: sextant.Errorf(sextant.EINVALID, "has %d fields, the header has %d", len(row), len(header))}
	}
	size := 0
	for _, v := range row {
		size += len(v)
	}
	if size > maxBytes {
		return Record{}, &RecordError{Pos: pos, Err: sextant.Errorf(sextant.EINVALID, "longer than the %d-byte limit (--max-bytes)", maxBytes)}
	}
	for i, v := range row {
		if !utf8.ValidString(v) {
			return Record{}, &RecordError{Pos: pos, Err: sextant.Errorf(sextant.EINVALID, "column %q is not valid UTF-8", header[i])}
		}
	}
	var raw bytes.Buffer
	for i, v := range row {
		raw.WriteString(header[i])
		raw.WriteByte(0x1e)
		raw.WriteString(v)
		raw.WriteByte(0x1f)
	}
	rec.Raw = raw.Bytes()
	if idCol >= 0 {
		rec.ID = strings.TrimSpace(row[idCol])
	}
	if titleCol >= 0 {
		rec.Title = strings.TrimSpace(row[titleCol])
	}
	var parts []string
	for _, i := range textCols {
		parts = appendNonBlank(parts, row[i])
	}
	rec.Text = strings.Join(parts, "\n\n")
	for i, v := range row {
		if i == idCol || i == titleCol || slices.Contains(textCols, i) || v == "" || len(v) > maxMetaValue || !validMetaKey(header[i]) {
			continue
		}
		if rec.Metadata == nil {
			rec.Metadata = map[string]string{}
		}
		rec.Metadata[header[i]] = v
	}
	return rec, nil
}
