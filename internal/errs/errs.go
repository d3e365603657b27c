// Package errs defines berth's error values: every error that crosses a
// package boundary carries a Kind, and each HTTP surface keeps one table
// that maps kinds (and, for the registry API, OCI codes) to responses.
// This package must never import anything from berth.
package errs

import (
	"errors"
	"fmt"
)

// Kind classifies an error by what the caller can do about it.
type Kind int

const (
	Internal     Kind = iota // a bug or an unexpected failure
	NotFound                 // the thing does not exist (or is hidden)
	Invalid                  // the input is malformed or breaks a rule
	Denied                   // authenticated but not allowed
	Unauthorized             // no or bad credentials
	Conflict                 // state does not allow it now
	Unavailable              // try again later (retryable)
	TooLarge                 // input exceeds a size limit
	RangeInvalid             // a byte range that does not fit
	Unsupported              // a valid request the server does not do
)

func (k Kind) String() string {
	switch k {
	case NotFound:
		return "not found"
	case Invalid:
		return "invalid"
	case Denied:
		return "denied"
	case Unauthorized:
		return "unauthorized"
	case Conflict:
		return "conflict"
	case Unavailable:
		return "unavailable"
	case TooLarge:
		return "too large"
	case RangeInvalid:
		return "range invalid"
	case Unsupported:
		return "unsupported"
	}
	return "internal"
}

// Error is an error with a kind, an optional surface-neutral code (the OCI
// code names such as BLOB_UNKNOWN are used, since they are the most
// specific), a message safe to show to clients, and an optional cause
// that is logged but never shown.
type Error struct {
	Kind   Kind
	Code   string
	Msg    string
	Detail any
	Err    error
}

func (e *Error) Error() string {
	s := e.Msg
	if e.Code != "" {
		s = e.Code + ": " + s
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error of kind k with code and message.
func New(k Kind, code, format string, args ...any) *Error {
	return &Error{Kind: k, Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Wrap returns an error of kind k whose cause is err.
func Wrap(k Kind, err error, format string, args ...any) *Error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...), Err: err}
}

// WithDetail returns a copy of e carrying detail.
func (e *Error) WithDetail(d any) *Error {
	c := *e
	c.Detail = d
	return &c
}

// KindOf returns the kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Is reports whether err has kind k.
func Is(err error, k Kind) bool { return err != nil && KindOf(err) == k }

// As returns the first *Error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Sentinel-like constructors for the common cases.

// NotFoundf is a NotFound error without a code.
func NotFoundf(format string, args ...any) *Error { return New(NotFound, "", format, args...) }

// Invalidf is an Invalid error without a code.
func Invalidf(format string, args ...any) *Error { return New(Invalid, "", format, args...) }

// Conflictf is a Conflict error without a code.
func Conflictf(format string, args ...any) *Error { return New(Conflict, "", format, args...) }
