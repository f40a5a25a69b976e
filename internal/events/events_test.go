package events

import (
	"testing"
)

func TestLocalDeliversInOrderAndIsolatesTopics(t *testing.T) {
	b := NewLocal(8)
	a := b.Subscribe("a")
	defer a.Close()
	other := b.Subscribe("b")
	defer other.Close()
	for i := int64(1); i <= 3; i++ {
		b.Publish(Event{Topic: "a", Seq: i})
	}
	for i := int64(1); i <= 3; i++ {
		if got := (<-a.Events()).Seq; got != i {
			t.Fatalf("event %d: got seq %d", i, got)
		}
	}
	select {
	case ev := <-other.Events():
		t.Fatalf("topic b got an event of a: %+v", ev)
	default:
	}
}

func TestLocalSlowSubscriberLagsWithoutBlocking(t *testing.T) {
	b := NewLocal(2)
	slow := b.Subscribe("t")
	defer slow.Close()
	fast := b.Subscribe("t")
	defer fast.Close()
	// Publish more than the buffer holds: must return without a reader.
	for i := int64(1); i <= 5; i++ {
		b.Publish(Event{Topic: "t", Seq: i})
		if got := (<-fast.Events()).Seq; got != i {
			t.Fatalf("fast subscriber: got %d, want %d", got, i)
		}
	}
	select {
	case <-slow.Lagged():
	default:
		t.Fatal("slow subscriber was not told it lagged")
	}
	if got := len(slow.Events()); got != 2 {
		t.Fatalf("slow subscriber buffered %d events, want 2", got)
	}
	if st := b.Stats(); st.Published != 5 || st.Delivered != 7 || st.Dropped != 3 {
		t.Fatalf("stats %+v, want 5 published, 7 delivered, 3 dropped", st)
	}
}

func TestLocalCloseUnsubscribes(t *testing.T) {
	b := NewLocal(1)
	s := b.Subscribe("t")
	s.Close()
	s.Close() // idempotent
	if n := b.Subscribers("t"); n != 0 {
		t.Fatalf("subscribers after close: %d", n)
	}
	b.Publish(Event{Topic: "t"}) // must not panic or block
}
