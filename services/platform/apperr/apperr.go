// Package apperr defines the error codes that domain packages return and that
// the HTTP layer maps to problem+json responses. It imports nothing but the
// standard library so that domain packages can depend on it freely.
package apperr

import (
	"errors"
	"fmt"
)

// Codes are stable, machine-readable identifiers. They double as the last
// segment of the problem "type" URI, so clients can match on them.
const (
	Invalid        = "invalid-request"      // 400: the request is malformed or fails validation.
	Unauthorized   = "unauthorized"         // 401: missing or bad credentials.
	Forbidden      = "forbidden"            // 403: authenticated but not allowed.
	NotFound       = "not-found"            // 404
	Conflict       = "conflict"             // 409: the resource's state forbids the request.
	OutOfStock     = "out-of-stock"         // 409: not enough stock for an order line.
	InFlight       = "request-in-progress"  // 409: the same idempotency key is still being processed.
	TooLarge       = "payload-too-large"    // 413
	Unprocessable  = "unprocessable-entity" // 422: well-formed but refers to things that cannot be used.
	KeyReused      = "idempotency-key-reused"
	TooManyRequest = "too-many-requests" // 429
	Unavailable    = "service-unavailable"
	Internal       = "internal-error"

	// Unsupported is 415: the body is not of a type the route accepts.
	Unsupported = "unsupported-media-type"
)

// FieldError names one invalid field of a request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is a domain error with a code from this package and a message that
// is safe to show to the client.
type Error struct {
	Code    string
	Message string
	Fields  []FieldError
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Code returns the code of the first *Error in err's chain, or Internal.
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// Validation collects field errors; Err returns nil when there are none.
type Validation struct {
	fields []FieldError
}

// Add records that field is invalid.
func (v *Validation) Add(field, message string) {
	v.fields = append(v.fields, FieldError{Field: field, Message: message})
}

// Check records message for field when ok is false.
func (v *Validation) Check(ok bool, field, message string) {
	if !ok {
		v.Add(field, message)
	}
}

// Err returns an Invalid *Error listing every field error, or nil.
func (v *Validation) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	return &Error{Code: Invalid, Message: "The request has invalid fields.", Fields: v.fields}
}
