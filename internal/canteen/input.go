package canteen

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"callme/internal/model"
)

// Input validation. Every user-written text field of the API goes through one
// rule type, in one unit, and every number and time with a range through the
// checks below, so the answer to bad input is always BAD_USER_INPUT naming the
// field and its limit, never a database error (INTERNAL).
//
// Text is counted in characters as the schema says, meaning Unicode code
// points (runes), never bytes: 兰 and 🍜 are one character each. A sequence a
// phone draws as one picture may be several: 👨‍👩‍👧 is 5 (three people and two
// zero-width joiners). Counting runes is what the columns can hold (see
// internal/model/limits.go); counting pictures would let a name of 40 family
// emoji need 200 runes.

// textRule is one text field: its name as the API spells it, for messages,
// and its length in characters after surrounding space is trimmed.
type textRule struct {
	field    string
	min, max int
}

var (
	sellerNameText     = textRule{"name", 1, model.MaxSellerName}
	personNameText     = textRule{"personName", 0, model.MaxPersonName}
	phoneText          = textRule{"phone", 0, model.MaxPhone}
	pickupNoteText     = textRule{"pickupNote", 0, model.MaxPickupNote}
	menuItemNameText   = textRule{"name", 1, model.MaxMenuItemName}
	ticketNoteText     = textRule{"note", 0, model.MaxTicketNote}
	idempotencyKeyText = textRule{"idempotencyKey", 1, model.MaxIdempotencyKey}
	prefixText         = textRule{"prefix", 0, model.MaxPrefix}
)

// named is r for a field called otherwise, such as one item of a list.
func (r textRule) named(field string) textRule {
	r.field = field
	return r
}

// check returns v without surrounding space (Unicode spaces included, such
// as the ideographic space U+3000) and without bidi overrides and isolates,
// or BAD_USER_INPUT when it is not valid UTF-8, holds a control character or
// line break (every field is one line: it is shown on boards, phones and in
// WeChat messages), or has too few or too many characters. Text of invisible
// characters only (zero-width spaces and joiners, fillers) counts as empty,
// so a required field cannot look blank on a board.
func (r textRule) check(v string) (string, error) {
	if !utf8.ValidString(v) {
		return "", Errorf(CodeBadUserInput, "%s must be valid UTF-8 text", r.field)
	}
	v = strings.TrimSpace(strings.Map(dropBidiControl, v))
	visible := false
	for _, c := range v {
		if unicode.IsControl(c) || c == '\u2028' || c == '\u2029' {
			return "", Errorf(CodeBadUserInput, "%s must be one line of text without control characters (found %U)", r.field, c)
		}
		visible = visible || !(invisible(c) || unicode.IsSpace(c))
	}
	if !visible {
		v = ""
	}
	if n := utf8.RuneCountInString(v); n < r.min || n > r.max {
		if r.min > 0 {
			return "", Errorf(CodeBadUserInput, "%s must be %d to %d characters, not %d", r.field, r.min, r.max, n)
		}
		return "", Errorf(CodeBadUserInput, "%s must be at most %d characters, not %d", r.field, r.max, n)
	}
	return v, nil
}

// dropBidiControl removes the explicit bidi embeddings, overrides and
// isolates (U+202A..U+202E, U+2066..U+2069): inside a stall's name or a note
// they reverse what follows on every board and phone ("Evil\u202egnp.exe"
// shows as "Evilexe.png"). Plain marks (LRM, RLM, ALM) stay: they only nudge
// neutral characters and mixed Arabic or Hebrew text needs them.
func dropBidiControl(c rune) rune {
	if (c >= '\u202a' && c <= '\u202e') || (c >= '\u2066' && c <= '\u2069') {
		return -1
	}
	return c
}

// invisible reports characters that draw nothing by themselves: Unicode's
// default-ignorable code points (zero-width space, joiners, word joiner, BOM,
// soft hyphen, variation selectors, Hangul fillers, tags) and the blank
// Braille pattern. They are kept inside text (a zero-width joiner holds an
// emoji family 👨‍👩‍👧 together) but cannot be all of it.
func invisible(c rune) bool {
	switch {
	case c == '\u2800':
		return true
	case unicode.Is(unicode.Cf, c):
		// Prepended concatenation marks are format characters that draw.
		return !unicode.Is(unicode.Prepended_Concatenation_Mark, c)
	}
	return unicode.In(c, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector)
}

// optional checks a field the caller may leave out: nil stays nil, and text
// that is empty once trimmed comes back as "" (for updates: clear the field).
func (r textRule) optional(v *string) (*string, error) {
	if v == nil {
		return nil, nil
	}
	t, err := r.check(*v)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// nonEmpty is optional for fields where empty text means none.
func (r textRule) nonEmpty(v *string) (*string, error) {
	t, err := r.optional(v)
	if t == nil || *t == "" {
		return nil, err
	}
	return t, nil
}

// checkPriceCents refuses negative prices and prices beyond MaxPriceCents,
// which also keeps every stored price inside a GraphQL Int.
func checkPriceCents(field string, p *int) error {
	if p != nil && (*p < 0 || *p > model.MaxPriceCents) {
		return Errorf(CodeBadUserInput, "%s must be 0 to %d cents", field, model.MaxPriceCents)
	}
	return nil
}

// Paid terms outside these dates are typing errors (or a client sending Go's
// zero time, which reads back as null) rather than real terms.
var (
	minPaidUntil = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxPaidUntil = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// checkPaidUntil returns t in UTC at the databases' microsecond precision, or
// BAD_USER_INPUT when it is outside 2000-01-01..2200-01-01 (UTC). A past
// date is fine: it makes an unpaid stall.
func checkPaidUntil(t time.Time) (time.Time, error) {
	if t.Before(minPaidUntil) || t.After(maxPaidUntil) {
		return time.Time{}, Errorf(CodeBadUserInput, "paidUntil must be between %s and %s",
			minPaidUntil.Format(time.RFC3339), maxPaidUntil.Format(time.RFC3339))
	}
	return t.UTC().Truncate(time.Microsecond), nil
}

// checkMaxNumber is the range of numbers a stall hands out per day.
func checkMaxNumber(n int) error {
	if n < 9 || n > 9999 {
		return Errorf(CodeBadUserInput, "maxNumber must be between 9 and 9999")
	}
	return nil
}
