package ticketcode

import (
	"testing"
)

func TestParseCode(t *testing.T) {
	for _, tc := range []struct {
		in     string
		prefix string
		number int
		ok     bool
	}{
		{"A007", "A", 7, true},
		{" a7 ", "A", 7, true},
		{"0012", "", 12, true},
		{"KFCX9999", "KFCX", 9999, true},
		{"A0", "", 0, false},
		{"A", "", 0, false},
		{"ABCDE1", "", 0, false},
		{"A12345", "", 0, false},
		{"A-7", "", 0, false},
		{"A7B", "", 0, false},
		{"", "", 0, false},
	} {
		p, n, err := Parse(tc.in)
		if (err == nil) != tc.ok || p != tc.prefix || n != tc.number {
			t.Errorf("ParseCode(%q) = %q, %d, %v; want %q, %d, ok=%v", tc.in, p, n, err, tc.prefix, tc.number, tc.ok)
		}
	}
}

// FuzzTicketCode: any formatted code parses back to its prefix and number,
// and no input makes the parser panic or accept something it cannot format.
func FuzzTicketCode(f *testing.F) {
	f.Add("A", 7, 999, "A007")
	f.Add("", 1, 9, "x")
	f.Add("KFCX", 9999, 9999, "kfcx0001")
	f.Fuzz(func(t *testing.T, prefix string, number, maxNumber int, typed string) {
		if p, n, err := Parse(typed); err == nil {
			if n < 1 || n > 9999 || len(p) > 4 {
				t.Fatalf("ParseCode(%q) accepted %q %d", typed, p, n)
			}
		}
		if maxNumber < 9 || maxNumber > 9999 || number < 1 || number > maxNumber || len(prefix) > 4 {
			return
		}
		for _, r := range prefix {
			if r < 'A' || r > 'Z' {
				return
			}
		}
		code := Format(prefix, number, maxNumber)
		p, n, err := Parse(code)
		if err != nil || p != prefix || n != number {
			t.Fatalf("FormatCode(%q, %d, %d) = %q parses to %q %d %v", prefix, number, maxNumber, code, p, n, err)
		}
	})
}
