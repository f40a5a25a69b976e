package graph

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

// FuzzWriteResponse holds postTransport's writer to json.Marshal, which
// gqlgen's transport uses: for any valid JSON data the bytes are the same,
// whether the data is written as it is or through json.Marshal.
func FuzzWriteResponse(f *testing.F) {
	for _, s := range []string{
		`{"sellers":{"edges":[{"node":{"id":"SL1","name":"兰州拉面🍜","open":true,"menu":[{"priceCents":1200,"available":false,"x":null}]}}]}}`,
		`{"a":"<b>&amp;</b>"}`, `{"a":"\u2028 line separator \u2029"}`, `{"a": 1}`, "{\"a\":\n1}", `{"a":"\"quoted\" \\ back"}`,
		`{"n":-1.5e+10,"t":true,"f":false}`, `[1,2,3]`, `{"a":"\u00e9 \u001f"}`, "{\"a\":\"\xff\xfe\"}", `{"a":1}{"b":2}`, `{,}`, `"x"`, `{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return // not a value an executor writes; see compactAsIs
		}
		resp := &graphql.Response{Data: data}
		want, err := json.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		writeResponse(&got, resp)
		if !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("data %q: wrote %q, json.Marshal %q", data, got.Bytes(), want)
		}
	})
}

func TestCompactAsIs(t *testing.T) {
	for _, c := range []struct {
		data string
		asIs bool
	}{
		{`{"sellers":{"edges":[{"node":{"id":"SL1","name":"兰州拉面🍜 \"A\"","open":true,"priceCents":null,"n":-12}}]}}`, true},
		{`{"a":[]}`, true},
		{`{"a": 1}`, false},           // whitespace: compaction removes it
		{`{"a":"x<y"}`, false},        // escaped for HTML by json.Marshal
		{`{"a":"x&y"}`, false},        // likewise
		{"{\"a\":\"\u2028\"}", false}, // likewise
		{`{"a":1}{"b":2}`, false},     // two values
		{`{"a":"unclosed}`, false},
		{`{"a":1`, false},
		{`"x"`, false},
	} {
		if got := compactAsIs([]byte(c.data)); got != c.asIs {
			t.Errorf("compactAsIs(%s) = %v, want %v", c.data, got, c.asIs)
		}
	}
}
