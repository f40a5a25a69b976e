package graph

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// postTransport is gqlgen's transport.POST (graphql/handler/transport/
// http_post.go, MIT) with its defaults, changed in one place: an answer
// that is only data is written as it is when encoding/json would write the
// same bytes. gqlgen writes every answer with json.Marshal, which compacts
// and validates the data again byte by byte after the executor wrote it:
// a fifth of the CPU of an uncached page of 50 stalls with their menus.
// writeResponse says when the bytes are the same; TestPostWritesWhatJSONWould
// holds it to json.Marshal.
type postTransport struct{}

var _ graphql.Transport = postTransport{}

func (postTransport) Supports(r *http.Request) bool {
	if r.Header.Get("Upgrade") != "" {
		return false
	}
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return false
	}
	return r.Method == http.MethodPost && mediaType == "application/json"
}

const (
	contentJSON            = "application/json"
	contentGraphQLResponse = "application/graphql-response+json"
)

func (postTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	contentType := responseContentType(r)
	w.Header().Add("Content-Type", contentType)
	start := graphql.Now()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeResponse(w, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf("could not read request body: %+v", err)}))
		return
	}
	var params graphql.RawParams
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&params); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		writeResponse(w, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf("json request body could not be decoded: %+v body:%s", err, body)}))
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	rc, opErr := exec.CreateOperationContext(ctx, &params)
	if opErr != nil {
		status := http.StatusOK
		if errcode.GetErrorKind(opErr) == errcode.KindProtocol {
			status = http.StatusUnprocessableEntity
			if contentType == contentGraphQLResponse {
				status = http.StatusBadRequest
			}
		}
		w.WriteHeader(status)
		writeResponse(w, exec.DispatchError(graphql.WithOperationContext(ctx, rc), opErr))
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	writeResponse(w, responses(ctx))
}

// responseContentType is gqlgen's determineResponseContentType without
// explicit headers, application/json by default.
func responseContentType(r *http.Request) string {
	accept := r.Header.Get("Accept")
	if accept == "" {
		return contentJSON
	}
	for part := range strings.SplitSeq(accept, ",") {
		mediaType, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mediaType {
		case "*/*", "application/*", contentJSON:
			return contentJSON
		case contentGraphQLResponse:
			return contentGraphQLResponse
		}
	}
	return contentGraphQLResponse
}

// writeResponse writes what json.Marshal(resp) would: `{"data":…}` as it
// is when the answer has nothing but data and the data needs no change by
// encoding/json (no whitespace between tokens, nothing it escapes for
// HTML); everything else through json.Marshal, as gqlgen does.
func writeResponse(w io.Writer, resp *graphql.Response) {
	if resp != nil && len(resp.Errors) == 0 && resp.Data != nil && resp.Label == "" && resp.Path == nil &&
		resp.HasNext == nil && len(resp.Extensions) == 0 && compactAsIs(resp.Data) {
		b := make([]byte, 0, len(resp.Data)+len(`{"data":}`))
		b = append(b, `{"data":`...)
		b = append(b, resp.Data...)
		b = append(b, '}')
		_, _ = w.Write(b)
		return
	}
	b, err := json.Marshal(resp)
	if err != nil {
		panic(fmt.Errorf("unable to marshal %s: %w", string(resp.Data), err))
	}
	_, _ = w.Write(b)
}

// compactAsIs reports JSON text that encoding/json's compaction (with
// HTML escaping, as json.Marshal does for a json.RawMessage) leaves
// unchanged: no whitespace outside strings, no <, > or & and no U+2028 or
// U+2029 inside them. It checks the shape cheaply (strings closed, no raw
// control characters in them, brackets balanced, only JSON's own bytes
// between tokens, one value) instead of parsing again, since the data
// comes from the executor's marshallers; anything else is false and
// json.Marshal decides, and fails, as before.
func compactAsIs(data []byte) bool {
	if len(data) == 0 || (data[0] != '{' && data[0] != '[') {
		return false
	}
	inString, escaped := false, false
	depth := 0
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				return false
			case c == 0xE2 && i+2 < len(data) && data[i+1] == 0x80 && (data[i+2] == 0xA8 || data[i+2] == 0xA9):
				return false
			}
			continue
		}
		if depth == 0 && i > 0 {
			return false // something after the value
		}
		switch {
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		case c == ',' || c == ':' || c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'):
		case c == 't' || c == 'r' || c == 'u' || c == 'e' || c == 'f' || c == 'a' || c == 'l' || c == 's' || c == 'n' || c == 'E':
		default:
			return false
		}
	}
	return depth == 0 && !inString
}
