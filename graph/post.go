package graph

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
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
		writeResponse(w, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf("could not read request body: %+v", err)}), nil)
		return
	}
	var params graphql.RawParams
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&params); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		writeResponse(w, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf("json request body could not be decoded: %+v body:%s", err, body)}), nil)
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
		writeResponse(w, exec.DispatchError(graphql.WithOperationContext(ctx, rc), opErr), nil)
		return
	}
	// A planned answer may be written from a pooled buffer, handed back once
	// Write returns. Only HTTP/1 has written it to the connection by then;
	// an HTTP/2 stream reset may leave its frame writer still copying (the
	// server speaks HTTP/1 only today; this keeps a future TLS listener
	// from mixing answers).
	var loan *answerLoan
	if r.ProtoMajor == 1 {
		loan = &answerLoan{}
		ctx = withAnswerLoan(ctx, loan)
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	writeResponse(w, responses(ctx), loan)
	loan.giveBack() // written: no one reads the answer any more
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
// HTML); everything else through json.Marshal, as gqlgen does. When the
// data is a planned run's answer in loan's buffer, which has `{"data":`
// in front of it, the answer is written from there without a copy.
func writeResponse(w io.Writer, resp *graphql.Response, loan *answerLoan) {
	if resp != nil && len(resp.Errors) == 0 && resp.Data != nil && resp.Label == "" && resp.Path == nil &&
		resp.HasNext == nil && len(resp.Extensions) == 0 && asIs(resp.Data, loan) {
		// One write of a known length: net/http then sends the answer
		// without chunking, in fewer socket writes than three pieces (which
		// cost more than the copy).
		var b []byte
		if loan.answer(resp.Data) {
			loan.buf.WriteByte('}')
			b = loan.buf.Bytes()
		} else {
			b = make([]byte, 0, len(resp.Data)+len(`{"data":}`))
			b = append(b, answerPrefix...)
			b = append(b, resp.Data...)
			b = append(b, '}')
		}
		if hw, ok := w.(http.ResponseWriter); ok {
			hw.Header().Set("Content-Length", strconv.Itoa(len(b)))
		}
		_, _ = w.Write(b)
		return
	}
	b, err := json.Marshal(resp)
	if err != nil {
		panic(fmt.Errorf("unable to marshal %s: %w", string(resp.Data), err))
	}
	_, _ = w.Write(b)
}

// asIs reports data that json.Marshal would write as it is.
func asIs(data []byte, loan *answerLoan) bool {
	if loan.answer(data) && loan.own {
		return ownAnswerAsIs(data)
	}
	return compactAsIs(data)
}

// ownAnswerAsIs is compactAsIs for an answer a planned run wrote all by
// itself (answerLoan.own), in a few vectorised scans where compactAsIs
// parses byte by byte (a fifteenth of a page of 50 stalls' CPU). Such an
// answer is compact JSON by construction: the run writes the brackets,
// commas, keys (GraphQL names) and literals, and its leaf writers one
// compact JSON value each, as deep as a plan goes (far below maxJSONDepth).
// None of those but strings can hold <, >, & or U+2028/U+2029, so finding
// none anywhere is finding none in a string. Escapes are the exception:
// writeQuote's come from strconv.Quote, and some of those (\x7f, \a,
// \U0001…) are not JSON; an answer with a backslash is parsed as before.
func ownAnswerAsIs(data []byte) bool {
	if bytes.IndexByte(data, '\\') >= 0 {
		return compactAsIs(data)
	}
	return bytes.IndexByte(data, '<') < 0 && bytes.IndexByte(data, '>') < 0 && bytes.IndexByte(data, '&') < 0 &&
		!bytes.Contains(data, []byte("\u2028")) && !bytes.Contains(data, []byte("\u2029"))
}

// compactAsIs reports JSON text that encoding/json's compaction (with
// HTML escaping, as json.Marshal does for a json.RawMessage) leaves
// unchanged: one valid JSON value with no whitespace between tokens, and
// no <, > or & and no U+2028 or U+2029 in its strings. It parses the text
// once, strictly (escapes, literals, numbers, nesting); anything it does
// not accept is left to json.Marshal, which answers or fails as before.
func compactAsIs(data []byte) bool {
	s := jsonCheck{b: data}
	return s.value(0) && s.i == len(s.b)
}

// jsonCheck is compactAsIs's parser.
type jsonCheck struct {
	b []byte
	i int
}

// maxJSONDepth: deeper values go to json.Marshal (answers are at most as
// deep as the document's depth limit).
const maxJSONDepth = 512

func (s *jsonCheck) value(depth int) bool {
	if depth > maxJSONDepth || s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '{':
		return s.container(depth, '}', true)
	case c == '[':
		return s.container(depth, ']', false)
	case c == '"':
		return s.str()
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.num()
	}
	return false
}

// container reads an object (keyed) or array from its opening bracket.
func (s *jsonCheck) container(depth int, end byte, keyed bool) bool {
	s.i++
	if s.i < len(s.b) && s.b[s.i] == end {
		s.i++
		return true
	}
	for {
		if keyed {
			if s.i >= len(s.b) || s.b[s.i] != '"' || !s.str() || s.i >= len(s.b) || s.b[s.i] != ':' {
				return false
			}
			s.i++
		}
		if !s.value(depth + 1) {
			return false
		}
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case end:
			s.i++
			return true
		default:
			return false
		}
	}
}

// strPlain marks the bytes str may pass over without a second look: not a
// quote, backslash, control character, <, > or &, nor 0xE2 (the first byte
// of U+2028 and U+2029).
var strPlain = func() (t [256]bool) {
	for c := range t {
		t[c] = c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' && c != 0xE2
	}
	return t
}()

func (s *jsonCheck) str() bool {
	s.i++ // the opening quote
	for s.i < len(s.b) {
		for s.i < len(s.b) && strPlain[s.b[s.i]] {
			s.i++
		}
		if s.i >= len(s.b) {
			return false
		}
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return true
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return false
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.b) {
					return false
				}
				for _, h := range s.b[s.i+2 : s.i+6] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return false
					}
				}
				s.i += 6
			default:
				return false
			}
		case c < 0x20 || c == '<' || c == '>' || c == '&':
			return false
		case c == 0xE2 && s.i+2 < len(s.b) && s.b[s.i+1] == 0x80 && (s.b[s.i+2] == 0xA8 || s.b[s.i+2] == 0xA9):
			return false
		default:
			s.i++
		}
	}
	return false
}

func (s *jsonCheck) lit(word string) bool {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return false
	}
	s.i += len(word)
	return true
}

// num reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *jsonCheck) num() bool {
	if s.b[s.i] == '-' {
		s.i++
	}
	if s.i >= len(s.b) {
		return false
	}
	if s.b[s.i] == '0' {
		s.i++
	} else if !s.digits() {
		return false
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if !s.digits() {
			return false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if !s.digits() {
			return false
		}
	}
	return true
}

// digits reads one or more decimal digits.
func (s *jsonCheck) digits() bool {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}
