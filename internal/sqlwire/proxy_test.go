package sqlwire

import "testing"

func TestStatementsIn(t *testing.T) {
	for _, tc := range []struct {
		q    string
		want int
	}{
		{"SELECT 1", 1},
		{"SELECT 1;", 1},
		{"SELECT 1; ", 1},
		{"UPDATE a SET b = 1; INSERT INTO c SELECT 2; COMMIT", 3},
		{"SELECT 'a;b'; SELECT 2", 2},
		{`SELECT 'it''s;'; SELECT "x;"`, 2},
		{`SELECT 'back\';slash'`, 1},
		{"SELECT `we;ird` FROM t", 1},
		{"INSERT INTO t VALUES ('辣;🌶'); COMMIT", 2},
	} {
		if got := statementsIn([]byte(tc.q)); got != tc.want {
			t.Errorf("statementsIn(%q) = %d, want %d", tc.q, got, tc.want)
		}
	}
}
