package sextant

import (
	"errors"
	"fmt"
)

// Error codes. Callers branch on codes, never on message text. The web
// package maps each code to one HTTP status.
const (
	EINVALID      = "invalid"      // the caller's input is wrong
	ENOTFOUND     = "not_found"    // the named thing does not exist
	ECONFLICT     = "conflict"     // the request conflicts with current state
	EUNAUTHORIZED = "unauthorized" // no or bad credentials
	EFORBIDDEN    = "forbidden"    // credentials valid, permission missing
	ERATELIMIT    = "rate_limited" // too many requests or budget exhausted
	EUNAVAILABLE  = "unavailable"  // a dependency is down or overloaded; retry later
	EINTERNAL     = "internal"     // a bug or an unexpected failure
)

// Error is an error with a code and a message meant for people. Message says
// what was wrong and with which input; Op optionally names the operation
// ("ingest", "sqlite.PutDocument"); Err is the underlying cause, if any.
type Error struct {
	Code    string
	Message string
	Op      string
	Err     error
}

// Error formats the error as "op: message: cause", omitting empty parts.
func (e *Error) Error() string {
	s := e.Message
	if s == "" {
		s = e.Code
	}
	if e.Op != "" {
		s = e.Op + ": " + s
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
// A %w verb in format wraps its operand as the cause.
func Errorf(code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	e := &Error{Code: code, Message: err.Error()}
	if cause := errors.Unwrap(err); cause != nil {
		e.Message = trimCause(e.Message, cause.Error())
		e.Err = cause
	}
	return e
}

func trimCause(msg, cause string) string {
	if n := len(msg) - len(cause); n >= 2 && msg[n:] == cause && msg[n-2:n] == ": " {
		return msg[:n-2]
	}
	return msg
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the people-facing message of the first *Error in
// err's chain, or a generic text for errors that carry no code, so internal
// details are not shown to callers.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	return "internal error"
}
