package graph

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"

	"callme/internal/canteen"

	"github.com/99designs/gqlgen/graphql"
)

// A group's call is executed by any member still holding the group's
// executor: a member leaves on its socket's reader without waiting for the
// delivery it was counted in, and the others, already counted as having the
// call, would never get it if the one picked to execute had just left.
func TestGroupGetsCallWhateverMembersLeftDuringDelivery(t *testing.T) {
	for _, tc := range []struct {
		name string
		left []bool // per member, in the group's order
	}{
		{"first left", []bool{true, false}},
		{"first two left", []bool{true, true, false, false}},
		{"last left", []bool{false, true}},
		{"none left", []bool{false, false, false}},
		{"all left", []bool{true, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &wsTransport{execs: newFeedExecs(), log: slog.Default()}
			runs := 0
			e := &feedExec{
				push: func(any) {},
				next: func(context.Context) *graphql.Response {
					runs++
					return &graphql.Response{Data: []byte(`{"calledNumbers":{"code":"A001 取餐🍜"}}`)}
				},
				octx: context.Background(),
			}
			var group []*canteen.CallMember
			var socks []*wsSocket
			for i, left := range tc.left {
				id := strconv.Itoa(i + 1)
				// writing: no writer goroutine, the queue stays to be read.
				s := &wsSocket{t: tr, proto: protoTransportWS, subs: map[string]*wsSub{}, writing: true}
				sub := &wsSub{s: s, id: id, feedKey: "k"}
				sub.head = []byte(`{"type":"next","id":"` + id + `","payload":`)
				if !left { // a member that left was released and removed
					s.subs[id] = sub
					sub.exec = e
					e.refs++
				}
				group = append(group, &canteen.CallMember{Key: "k", Tag: sub})
				socks = append(socks, s)
			}
			deliverCalls(&canteen.CallEvent{Seq: 7}, canteen.ViewPublic, group)
			stayed := 0
			for i, left := range tc.left {
				want := 1
				if left {
					want = 0
				} else {
					stayed++
				}
				if got := len(socks[i].queue); got != want {
					t.Errorf("member %d (left %v) got %d frames of the call, want %d", i+1, left, got, want)
				}
			}
			if want := min(stayed, 1); runs != want {
				t.Errorf("the group's call executed %d times, want %d", runs, want)
			}
		})
	}
}

// A topic's error may end a member (feedEnd, on the topic's goroutine)
// while its socket's reader still hands it the shared executor (adopt):
// both touch the member's executor and error context, under the executors'
// lock. The race detector checks it; the two are let go together many
// times, so that it sees them overlap.
func TestFeedEndWhileAdoptingIsSynchronised(t *testing.T) {
	tr := &wsTransport{execs: newFeedExecs(), log: slog.Default()}
	s := &wsSocket{t: tr, proto: protoTransportWS, subs: map[string]*wsSub{}, writing: true}
	ready := make(chan struct{})
	close(ready)
	presentCtx := graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter, graphql.DefaultRecover)
	for range 200 {
		sub := &wsSub{s: s, id: "1", feedKey: "k", ready: ready, cancel: func() {},
			presentCtx: presentCtx, octx: context.Background(),
			next: func(context.Context) *graphql.Response { return nil }}
		var wg sync.WaitGroup
		gate := make(chan struct{})
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-gate
			tr.execs.adopt(sub)
		}()
		go func() {
			defer wg.Done()
			<-gate
			sub.feedEnd(errors.New("database gone"))
		}()
		close(gate)
		wg.Wait()
		if e := tr.execs.of(sub); e == nil || e.presentCtx == nil {
			t.Fatalf("adopt left executor %v", e)
		}
		tr.execs.release(sub)
	}
}

// A member whose executor and resolver's context are both gone (it left
// while the topic's error was on its way) still ends through the error
// presenter: a database failure reaches the client as INTERNAL with no
// detail, a domain error keeps its code, like every other error.
func TestFeedEndWithoutResolverContextPresentsError(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		code     string
		message  string
		detailed bool // the client may see err's text
	}{
		{"internal", errors.New("dial tcp 10.1.2.3:3306: connect: connection refused"), "INTERNAL", "internal error; it has been logged", false},
		{"domain", canteen.Errorf(canteen.CodeUnauthenticated, "your session has ended; log in again"), "UNAUTHENTICATED", "your session has ended; log in again", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs strings.Builder
			log := slog.New(slog.NewTextHandler(&logs, nil))
			tr := &wsTransport{execs: newFeedExecs(), log: log, present: presentErrors(log)}
			s := &wsSocket{t: tr, proto: protoTransportWS, subs: map[string]*wsSub{}, writing: true}
			ready := make(chan struct{})
			close(ready)
			// No presentCtx, no exec: what adopt and release leave.
			sub := &wsSub{s: s, id: "1", feedKey: "k", ready: ready, cancel: func() {}}
			s.subs["1"] = sub
			sub.feedEnd(tc.err)
			frame, got := queuedError(t, s, "1")
			if got.Message != tc.message || got.Extensions["code"] != tc.code {
				t.Errorf("error %+v, want %q with code %s", got, tc.message, tc.code)
			}
			if !tc.detailed {
				if strings.Contains(string(frame), "10.1.2.3") {
					t.Errorf("the client saw the error's detail: %s", frame)
				}
				if !strings.Contains(logs.String(), "10.1.2.3") {
					t.Errorf("the internal error was not logged: %q", logs.String())
				}
			}
		})
	}
}
