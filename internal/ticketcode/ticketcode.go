// Package ticketcode formats and parses the codes people read out and type:
// a stall's prefix (up to 4 letters) and a number zero-padded to the width
// of the stall's largest number, e.g. A007. It has no dependencies, so it is
// cheap to fuzz.
package ticketcode

import (
	"errors"
	"fmt"
	"strings"
)

// ErrBadCode is returned for text that is not a ticket code.
var ErrBadCode = errors.New("a ticket code is up to 4 letters and a number from 1 to 9999, like A007")

// Format renders a code: prefix + number padded to the width of maxNumber
// (A + 7 with 999 → A007).
func Format(prefix string, number, maxNumber int) string {
	return fmt.Sprintf("%s%0*d", prefix, Width(maxNumber), number)
}

// Width is how many digits a number takes in a code: as many as maxNumber
// has. (canteen's fast fetch pads to it in SQL.)
func Width(maxNumber int) int { return len(fmt.Sprint(maxNumber)) }

// Parse splits a code as people type it ("a007", " A7 ") into its prefix and
// number. Prefixes are letters only, so the split is at the first digit.
func Parse(code string) (prefix string, number int, err error) {
	code = strings.ToUpper(strings.TrimSpace(code))
	i := strings.IndexFunc(code, func(r rune) bool { return r >= '0' && r <= '9' })
	if i < 0 || i > 4 || len(code)-i > 4 {
		return "", 0, ErrBadCode
	}
	for _, r := range code[:i] {
		if r < 'A' || r > 'Z' {
			return "", 0, ErrBadCode
		}
	}
	for _, r := range code[i:] {
		if r < '0' || r > '9' {
			return "", 0, ErrBadCode
		}
		number = number*10 + int(r-'0')
	}
	if number < 1 {
		return "", 0, ErrBadCode
	}
	return code[:i], number, nil
}
