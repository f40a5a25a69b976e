package canteen

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Code is a machine-readable error code, sent to clients as extensions.code.
// The set is part of the API contract (shared/CONTRACT.md, "Errors").
type Code string

const (
	CodeUnauthenticated   Code = "UNAUTHENTICATED"
	CodeForbidden         Code = "FORBIDDEN"
	CodeBadUserInput      Code = "BAD_USER_INPUT"
	CodeNotFound          Code = "NOT_FOUND"
	CodeSellerClosed      Code = "SELLER_CLOSED"
	CodeSellerInactive    Code = "SELLER_INACTIVE"
	CodeNumbersExhausted  Code = "NUMBERS_EXHAUSTED"
	CodeTicketTaken       Code = "TICKET_TAKEN"
	CodeInvalidTransition Code = "INVALID_TRANSITION"
	CodeRateLimited       Code = "RATE_LIMITED"
	CodeWeChatUnavailable Code = "WECHAT_UNAVAILABLE"
	// CodeContentRejected: WeChat's content check found the text risky;
	// nothing was stored. extensions.field names the field.
	CodeContentRejected Code = "CONTENT_REJECTED"
	CodeInternal        Code = "INTERNAL"
)

// Error is an error the caller can act on. Its message is shown to clients,
// so it says what to do and never carries SQL, secrets or internal detail.
type Error struct {
	Code    Code
	Message string
	// Extensions are extra machine-readable fields (e.g. retryAfterSeconds).
	Extensions map[string]any
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// RetryAfterSeconds is what a RATE_LIMITED answer tells the client to wait:
// whole seconds, rounded up so a client that waits them is not refused
// again, and at least one.
func RetryAfterSeconds(wait time.Duration) int {
	return max(1, int(math.Ceil(wait.Seconds())))
}

// rateLimited refuses until wait has passed; format has one %d, the seconds.
func rateLimited(wait time.Duration, format string) *Error {
	secs := RetryAfterSeconds(wait)
	return &Error{
		Code:       CodeRateLimited,
		Message:    fmt.Sprintf(format, secs),
		Extensions: map[string]any{"retryAfterSeconds": secs},
	}
}

// ErrorCode returns the code of err, or CodeInternal for errors that are not
// *Error (those are bugs or infrastructure failures).
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

func errUnauthenticated() *Error {
	return Errorf(CodeUnauthenticated, "sign in first: call login and send the token as a Bearer token")
}
