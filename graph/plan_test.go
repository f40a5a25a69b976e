package graph

import (
	"bytes"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

// FuzzWriteGQLString holds the planner's string writer to gqlgen's: every
// string a plain field holds must come out as graphql.MarshalString writes it.
func FuzzWriteGQLString(f *testing.F) {
	for _, s := range []string{
		"", "兰州拉面🍜", "a\"b\\c", "\t\r\n\x00\x1f\x7f", "<script>&amp;</script>", "\u2028\u2029",
		"\xff\xfe invalid UTF-8 \xc3", strings.Repeat("葱花多一点😀", 50), "emoji 👨‍👩‍👧‍👦 ZWJ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want, got bytes.Buffer
		graphql.MarshalString(s).MarshalGQL(&want)
		writeGQLString(&got, s)
		if !bytes.Equal(want.Bytes(), got.Bytes()) {
			t.Fatalf("%q: planner wrote %q, gqlgen %q", s, got.Bytes(), want.Bytes())
		}
	})
}
