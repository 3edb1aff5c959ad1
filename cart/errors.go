package cart

import (
	"errors"
	"fmt"
)

// Code is the closed set of error kinds the engine raises. Each front door maps a Code to its
// own wire shape in one table (problem+json in api, the seed envelopes in the dialects).
type Code string

// The error codes.
const (
	Invalid      Code = "invalid"      // the request's values break a rule: 422
	Malformed    Code = "malformed"    // the request cannot be parsed: 400
	NotFound     Code = "not_found"    // unknown, or not the caller's: 404
	Conflict     Code = "conflict"     // the cart's state forbids the change: 409
	StockShort   Code = "stock_short"  // not enough available stock: 409
	Precondition Code = "precondition" // If-Match did not match: 412
	Unauthorized Code = "unauthorized" // no or bad credentials: 401
	Forbidden    Code = "forbidden"    // credentials lack the scope: 403
	RateLimited  Code = "rate_limited" // 429
	TooLarge     Code = "too_large"    // the request body is over the size limit: 413
	MediaType    Code = "media_type"   // the request body is not in a format accepted: 415
	Unavailable  Code = "unavailable"  // overloaded, shutting down, store unreachable: 503
	Internal     Code = "internal"     // our fault: 500, logged, never detailed to a client
)

// FieldError names one invalid field of a request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is the engine's one error type. Reason is a stable machine-readable detail within the
// Code (insufficient_stock, quantity_limit, unknown_currency, ...) that clients may branch on.
type Error struct {
	Code    Code
	Reason  string
	Message string
	Fields  []FieldError

	// Available is set with StockShort: the most this item could hold.
	Available *int64
	// Cart is set with StockShort, Conflict and Precondition when the cart is known, so that a
	// client recovers in one round trip.
	Cart *View
	// Stock is set with Precondition on a stock write: the SKU's stock as it is.
	Stock *Stock
	// Rule is set with quantity_not_allowed: the rule and the allowed quantities nearest to
	// the one asked for.
	Rule *RuleDetail
	// Scale is the quantity scale of the variant Available and Rule count units of.
	Scale uint8
	// Err is the underlying cause of an Internal error; it is logged, never shown.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an Error with a code, a stable reason and a message.
func Errorf(code Code, reason, format string, args ...any) *Error {
	return &Error{Code: code, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// InvalidField builds a 422 naming one field.
func InvalidField(reason, field, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Code: Invalid, Reason: reason, Message: msg, Fields: []FieldError{{Field: field, Message: msg}}}
}

// Reasons the engine raises and itself branches on, so that they are spelt in one place.
const (
	// ReasonCartNotActive (Conflict): the cart was checked out, merged or otherwise closed
	// and cannot change.
	ReasonCartNotActive = "cart_not_active"
	// ReasonIdempotencyKeyTaken (Conflict): another transaction recorded the idempotency key
	// first.
	ReasonIdempotencyKeyTaken = "idempotency_key_taken"
)

// HasReason reports whether err is an *Error of the code with the reason.
func HasReason(err error, code Code, reason string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code && e.Reason == reason
}

// ErrorCode returns the Code of err, Internal for anything that is not an *Error.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// AsError returns err as an *Error, wrapping anything else as Internal.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: Internal, Reason: "internal", Message: "internal error", Err: err}
}
