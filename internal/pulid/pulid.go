// Package pulid makes the opaque, URL-safe IDs that callme shows to clients.
//
// An ID is a two-letter type prefix followed by 26 random Crockford base32
// characters (130 bits, of which 128 are random). The prefix makes IDs unique
// across types and lets node(id) find the right table without a lookup; the
// randomness makes them unguessable, so an ID is no hint to another object.
package pulid

import (
	"crypto/rand"
	"database/sql/driver"
	"fmt"
	"io"
	"strconv"
)

// ID is a prefixed random identifier stored as a fixed-width string.
type ID string

// Len is the length of every ID: two prefix letters and 26 body characters.
const Len = 28

const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// New returns a fresh ID with the given two-letter prefix.
func New(prefix string) ID {
	if len(prefix) != 2 {
		panic("pulid: prefix must be two characters: " + prefix)
	}
	var b [17]byte // 136 random bits, 130 used
	if _, err := io.ReadFull(rand.Reader, b[:]); err != nil {
		panic("pulid: crypto/rand failed: " + err.Error())
	}
	out := make([]byte, Len)
	copy(out, prefix)
	// Read 26 groups of 5 bits.
	var acc uint64
	var bits uint
	j := 0
	for i := 2; i < Len; i++ {
		for bits < 5 {
			acc = acc<<8 | uint64(b[j])
			j++
			bits += 8
		}
		bits -= 5
		out[i] = alphabet[(acc>>bits)&31]
	}
	return ID(out)
}

// Prefix returns the type prefix of id, or "" when id is malformed.
func (id ID) Prefix() string {
	if !id.Valid() {
		return ""
	}
	return string(id[:2])
}

// Valid reports whether id has the shape New produces.
func (id ID) Valid() bool {
	if len(id) != Len {
		return false
	}
	for i := 0; i < Len; i++ {
		c := id[i]
		ok := (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')
		if !ok {
			return false
		}
	}
	return true
}

// String implements fmt.Stringer.
func (id ID) String() string { return string(id) }

// Scan implements sql.Scanner.
func (id *ID) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*id = ""
	case string:
		*id = ID(v)
	case []byte:
		*id = ID(v)
	case ID:
		*id = v
	default:
		return fmt.Errorf("pulid: cannot scan %T", src)
	}
	return nil
}

// Value implements driver.Valuer.
func (id ID) Value() (driver.Value, error) { return string(id), nil }

// MarshalGQL writes the ID as a GraphQL ID (a JSON string).
func (id ID) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(id))) }

// UnmarshalGQL accepts a GraphQL ID. Malformed IDs are kept as given so that
// lookups simply find nothing; the domain reports NOT_FOUND.
func (id *ID) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("ID must be a string, got %T", v)
	}
	*id = ID(s)
	return nil
}
