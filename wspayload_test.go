package main

import (
	"encoding/json"
	"testing"

	"callme/internal/store/storetest"
)

// TestWebSocketUndecodablePayloadHasACode: an operation whose payload is
// not a GraphQL request ends with an error that carries a code, as the same
// body over POST does (BAD_USER_INPUT), and the socket serves the next one.
func TestWebSocketUndecodablePayloadHasACode(t *testing.T) {
	s := startServer(t, storetest.Engines()[0])
	for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
		for i, payload := range []string{`"not an object"`, `{"query": 5}`, `[1, 2]`} {
			ws := s.dialWS(t, proto, nil)
			typ := "subscribe"
			if proto == "graphql-ws" {
				typ = "start"
			}
			id := string(rune('a' + i))
			ws.send(wsMessage{ID: id, Type: typ, Payload: json.RawMessage(payload)})
			if code := ws.errorCode(id); code != "BAD_USER_INPUT" {
				t.Errorf("%s, payload %s: code %q, want BAD_USER_INPUT", proto, payload, code)
			}
			ws.subscribe("ok", `query { __typename }`, nil)
			var d struct {
				Typename string `json:"__typename"`
			}
			ws.next("ok", &d)
			if d.Typename != "Query" {
				t.Errorf("%s: after the refused payload, %q", proto, d.Typename)
			}
		}
	}
}
