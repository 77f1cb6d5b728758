package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/sextant-ai/sextant"
)

type requestIDKey struct{}

// RequestID returns the id of the request ctx belongs to ("" outside one).
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// requestID gives every request an id: the client's x-request-id when it
// is a sane token (1-128 characters of letters, digits and -_.:), else a
// new one. It is echoed in the response's x-request-id.
func (s *Server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validToken(id) {
			id = "req_" + s.opts.NewID()
		}
		w.Header()["X-Request-Id"] = []string{id}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

func validToken(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// bufPool holds request body buffers; bodies are read whole before
// decoding (or forwarding) and the buffer returned when the request ends.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readBody reads r's body up to limit bytes into a pooled buffer. The
// caller returns the buffer with putBuf when done with its bytes. A body
// over the limit is an *http.MaxBytesError (413).
func readBody(w http.ResponseWriter, r *http.Request, limit int64) (*bytes.Buffer, error) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	if r.ContentLength > limit {
		putBuf(buf)
		return nil, &http.MaxBytesError{Limit: limit}
	}
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		putBuf(buf)
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		if cerr := r.Context().Err(); cerr != nil {
			return nil, cerr
		}
		return nil, sextant.Errorf(sextant.EINVALID, "reading the request body: %v", err)
	}
	return buf, nil
}

func putBuf(b *bytes.Buffer) {
	if b.Cap() <= 1<<20 {
		bufPool.Put(b)
	}
}

// checkJSON refuses a multipart body on a JSON endpoint. Other content
// types are read as JSON: curl -d sends form-urlencoded by default, and
// the body itself is decoded strictly.
func checkJSON(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	if mt, _, err := mime.ParseMediaType(ct); err == nil && strings.HasPrefix(mt, "multipart/") {
		return &apiError{err: sextant.Errorf(sextant.EINVALID, "Content-Type %q: the body must be JSON", ct), status: http.StatusUnsupportedMediaType, code: "unsupported_media_type"}
	}
	return nil
}

// decodeStrict decodes a JSON object into v, refusing unknown fields and
// trailing data, with errors that name the field at fault.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return invalidParam("", "the body holds more than one JSON value")
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalidParam("", "the body holds data after its JSON object")
	}
	return nil
}

// readJSON reads and strictly decodes r's body into v; an empty body is
// an error.
func (s *Server) readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	return s.decodeBody(w, r, v, false)
}

// readOptionalJSON is readJSON for a body that may be left out: an empty
// body leaves v as it is.
func (s *Server) readOptionalJSON(w http.ResponseWriter, r *http.Request, v any) error {
	return s.decodeBody(w, r, v, true)
}

func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	buf, err := s.jsonBody(w, r, optional)
	if err != nil {
		return err
	}
	defer putBuf(buf)
	if buf.Len() == 0 {
		return nil
	}
	return decodeStrict(buf.Bytes(), v)
}

// jsonBody checks that r's body may be JSON (checkJSON) and reads it, up
// to MaxBodyBytes, into a pooled buffer the caller returns with putBuf.
// An empty body is an error unless optional.
func (s *Server) jsonBody(w http.ResponseWriter, r *http.Request, optional bool) (*bytes.Buffer, error) {
	if err := checkJSON(r); err != nil {
		return nil, err
	}
	buf, err := readBody(w, r, s.opts.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	if buf.Len() == 0 && !optional {
		putBuf(buf)
		return nil, invalidParam("", "the request body is empty; send a JSON object")
	}
	return buf, nil
}

// jsonError turns an encoding/json error into an EINVALID error naming
// the field.
func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var fe fieldError
	switch {
	case errors.As(err, &fe):
		return invalidParam(fe.param, "%s", fe.msg)
	case errors.As(err, &se):
		return invalidParam("", "the body is not valid JSON: %v (at byte %d)", se, se.Offset)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return invalidParam("", "the body must be a JSON object, not %s", te.Value)
		}
		return invalidParam(field, "want %s, got %s", jsonKind(te.Type.String()), te.Value)
	case errors.Is(err, io.EOF):
		return invalidParam("", "the request body is empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalidParam("", "the body is not valid JSON: it ends too early")
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		f, _ = strconv.Unquote(f)
		return invalidParam(f, "unknown field")
	}
	return invalidParam("", "%s", strings.TrimPrefix(msg, "json: "))
}

// jsonKind names a Go type the way a JSON user thinks of it.
func jsonKind(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "an array"
	case strings.HasPrefix(t, "map["), strings.HasPrefix(t, "struct"), strings.Contains(t, "."):
		return "an object"
	case t == "string":
		return "a string"
	case t == "bool":
		return "a boolean"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "an integer"
	case strings.HasPrefix(t, "float"):
		return "a number"
	}
	return t
}

// fieldError is a decoding error raised by a custom UnmarshalJSON, which
// knows the path of the value it decodes.
type fieldError struct {
	param string
	msg   string
}

func (e fieldError) Error() string { return e.param + ": " + e.msg }

func fieldErrorf(param, format string, args ...any) error {
	return fieldError{param: param, msg: fmt.Sprintf(format, args...)}
}

// writeJSON sends v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, sextant.Errorf(sextant.EINTERNAL, "encoding the response: %v", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
