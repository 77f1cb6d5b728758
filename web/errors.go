package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm/driver"
)

// errorKind is how one sextant error code is shown over HTTP.
type errorKind struct {
	status int    // HTTP status
	typ    string // OpenAI error "type"
}

// errorKinds is the one table mapping sextant error codes to HTTP statuses
// (DESIGN.md §3.2) and to the "type" OpenAI's error JSON carries, so OpenAI
// SDKs raise the matching exception class (BadRequestError, NotFoundError,
// RateLimitError, ...).
var errorKinds = map[string]errorKind{
	sextant.EINVALID:      {http.StatusBadRequest, "invalid_request_error"},
	sextant.ENOTFOUND:     {http.StatusNotFound, "invalid_request_error"},
	sextant.ECONFLICT:     {http.StatusConflict, "invalid_request_error"},
	sextant.EUNAUTHORIZED: {http.StatusUnauthorized, "authentication_error"},
	sextant.EFORBIDDEN:    {http.StatusForbidden, "permission_error"},
	sextant.ERATELIMIT:    {http.StatusTooManyRequests, "rate_limit_error"},
	sextant.EUNAVAILABLE:  {http.StatusServiceUnavailable, "server_error"},
	sextant.EINTERNAL:     {http.StatusInternalServerError, "server_error"},
}

// StatusOf returns the HTTP status for err's sextant code.
func StatusOf(err error) int {
	if k, ok := errorKinds[sextant.ErrorCode(err)]; ok {
		return k.status
	}
	return http.StatusInternalServerError
}

// ErrorBody is OpenAI's error JSON: {"error": {...}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of an error response. Param names the request
// field at fault, when one is; Code is a sextant error code or a more
// specific one (model_not_found, request_too_large). Details, a Sextant
// extension, lists every invalid field when there are several (churn rows).
type ErrorDetail struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	Param   any    `json:"param"` // string or null, as OpenAI sends it
	Code    any    `json:"code"`  // string or null
	Details any    `json:"details,omitempty"`
}

// apiError is an error with what only the HTTP layer knows: the request
// field at fault and a specific error code.
type apiError struct {
	err     error
	param   string
	code    string
	status  int // overrides the code's status when set
	details any
}

func (e *apiError) Error() string { return e.err.Error() }
func (e *apiError) Unwrap() error { return e.err }

// invalidParam returns an EINVALID error naming the request field param;
// the message is prefixed with it ("messages[2].content: ...").
func invalidParam(param, format string, args ...any) error {
	err := sextant.Errorf(sextant.EINVALID, format, args...)
	if param != "" {
		err.Message = param + ": " + err.Message
	}
	return &apiError{err: err, param: param}
}

// errorDetail builds the error JSON and status for err. Errors without a
// sextant code are internal: their text is not shown.
func errorDetail(err error) (int, ErrorDetail) {
	if errors.Is(err, context.Canceled) {
		return 499, ErrorDetail{Message: "request cancelled", Type: "invalid_request_error", Code: "cancelled"}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, ErrorDetail{
			Message: "request body is larger than the " + strconv.FormatInt(mbe.Limit, 10) + "-byte limit",
			Type:    "invalid_request_error", Code: "request_too_large"}
	}
	code := sextant.ErrorCode(err)
	kind, ok := errorKinds[code]
	if !ok {
		kind, code = errorKinds[sextant.EINTERNAL], sextant.EINTERNAL
	}
	d := ErrorDetail{Message: sextant.ErrorMessage(err), Type: kind.typ, Code: code}
	status := kind.status
	var ae *apiError
	if errors.As(err, &ae) {
		if ae.param != "" {
			d.Param = ae.param
		}
		if ae.code != "" {
			d.Code = ae.code
		}
		if ae.status != 0 {
			status = ae.status
		}
		d.Details = ae.details
	}
	return status, d
}

// writeError sends err in OpenAI's error shape with its status, and a
// Retry-After header when the error carries a wait (rate limits, open
// circuits).
func writeError(w http.ResponseWriter, err error) {
	status, d := errorDetail(err)
	h := w.Header()
	if ra, ok := driver.RetryAfter(err); ok && ra > 0 {
		h.Set("Retry-After", strconv.Itoa(int((ra+time.Second-1)/time.Second)))
	}
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	w.WriteHeader(status)
	b, _ := json.Marshal(ErrorBody{Error: d})
	w.Write(append(b, '\n'))
}
