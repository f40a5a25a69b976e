package graph

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

// FuzzWriteResponse holds postTransport's writer to json.Marshal, which
// gqlgen's transport uses: for any data the bytes are the same, whether
// written as they are or through json.Marshal, and data json.Marshal
// refuses fails the same way.
func FuzzWriteResponse(f *testing.F) {
	for _, s := range []string{
		`{"sellers":{"edges":[{"node":{"id":"SL1","name":"兰州拉面🍜","open":true,"menu":[{"priceCents":1200,"available":false,"x":null}]}}]}}`,
		`{"a":"<b>&amp;</b>"}`, `{"a":"\u2028 line separator \u2029"}`, `{"a": 1}`, "{\"a\":\n1}", `{"a":"\"quoted\" \\ back"}`,
		`{"n":-1.5e+10,"t":true,"f":false}`, `[1,2,3]`, `{"a":"\u00e9 \u001f"}`, "{\"a\":\"\xff\xfe\"}", `{"a":1}{"b":2}`, `{,}`, `"x"`, `{}`, `{"a":[}`, `{"a"::1}`, `{"a":"\q"}`, `{"a":01}`, "{\"id\":\"SL\\x7f\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		resp := &graphql.Response{Data: data}
		want, err := json.Marshal(resp)
		var got bytes.Buffer
		panicked := func() (p bool) {
			defer func() { p = recover() != nil }()
			writeResponse(&got, resp, nil)
			return false
		}()
		if err != nil {
			// gqlgen's writer panics on data json.Marshal refuses; so must this one.
			if !panicked {
				t.Fatalf("data %q: json.Marshal fails (%v), writeResponse wrote %q", data, err, got.Bytes())
			}
			return
		}
		if panicked || !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("data %q: wrote %q (panicked %v), json.Marshal %q", data, got.Bytes(), panicked, want)
		}
		// The same data as a planned run's answer, in a loaned buffer
		// behind `{"data":`: the same bytes again.
		if len(data) > 0 {
			loan := &answerLoan{bufs: &answerPool{}, buf: bytes.NewBufferString(answerPrefix)}
			loan.buf.Write(data)
			var fromLoan bytes.Buffer
			writeResponse(&fromLoan, &graphql.Response{Data: loan.buf.Bytes()[len(answerPrefix):]}, loan)
			if !bytes.Equal(fromLoan.Bytes(), want) {
				t.Fatalf("data %q in a loaned buffer: wrote %q, json.Marshal %q", data, fromLoan.Bytes(), want)
			}
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
		{`"x"`, true},
		{`{"a":[}`, false},
		{`{:}`, false},
		{`{"a"::1}`, false},
		{`[,]`, false},
		{`{"a":tru}`, false},
		{`{"a":1,}`, false},
		{`{"a":"\q"}`, false},
		{`{"a":01}`, false},
		{`{"id":"SL\x7f"}`, false}, // strconv.Quote's escape for DEL: not JSON
		{`{"a":"\u00e9\n","b":[1.5e-3,-0,true,false,null,{}]}`, true},
	} {
		if got := compactAsIs([]byte(c.data)); got != c.asIs {
			t.Errorf("compactAsIs(%s) = %v, want %v", c.data, got, c.asIs)
		}
	}
}
