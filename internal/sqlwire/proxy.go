// Package sqlwire counts what MySQL clients send on the wire: a TCP proxy
// in front of the server, for the bench's statements per request and the
// tests that hold a request to its round trips.
package sqlwire

import (
	"encoding/binary"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
)

// Proxy is a TCP proxy in front of MariaDB that counts the commands its
// clients send: how many SQL statements a request costs, seen on the wire,
// with no hook in the server. A batch of statements in one text query is
// one command (one round trip). Every client command is a packet with sequence
// number 0 (the handshake's packets have others); its first byte names it.
type Proxy struct {
	ln     net.Listener
	target string

	query, execute, prepare, other atomic.Int64
	batched                        atomic.Int64 // statements after a text query's first

	mu     sync.Mutex
	record bool
	texts  []string
}

// MySQL client commands.
const (
	comQuit         = 0x01
	comQuery        = 0x03
	comStmtPrepare  = 0x16
	comStmtExecute  = 0x17
	comStmtLongData = 0x18
	comStmtClose    = 0x19
	comPing         = 0x0e
)

// Start listens on a free local port and forwards to target (host:port).
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target}
	go p.serve()
	return p, nil
}

func (p *Proxy) Addr() string { return p.ln.Addr().String() }
func (p *Proxy) Close()       { p.ln.Close() }

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.handle(c)
	}
}

func (p *Proxy) handle(client net.Conn) {
	defer client.Close()
	upstream, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer upstream.Close()
	go func() {
		_, _ = io.Copy(client, upstream)
		client.Close()
	}()
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(client, hdr[:]); err != nil {
			return
		}
		n := int(hdr[0]) | int(hdr[1])<<8 | int(hdr[2])<<16
		payload := make([]byte, n)
		if _, err := io.ReadFull(client, payload); err != nil {
			return
		}
		if hdr[3] == 0 && n > 0 {
			p.count(payload)
		}
		if _, err := upstream.Write(append(hdr[:], payload...)); err != nil {
			return
		}
	}
}

func (p *Proxy) count(payload []byte) {
	switch payload[0] {
	case comQuery:
		p.query.Add(1)
		p.batched.Add(int64(statementsIn(payload[1:]) - 1))
		p.note("Q " + string(payload[1:]))
	case comStmtExecute:
		p.execute.Add(1)
		if len(payload) >= 5 {
			p.note("E #" + itoa(int(binary.LittleEndian.Uint32(payload[1:5]))))
		}
	case comStmtPrepare:
		p.prepare.Add(1)
		p.note("P " + string(payload[1:]))
	case comQuit, comStmtLongData, comStmtClose:
		// No response: not a round trip.
	default:
		p.other.Add(1)
	}
}

// statementsIn counts the statements of a text query: 1, plus one for
// each semicolon outside quotes that more text follows (a batch on a
// connection that allows multi statements).
func statementsIn(q []byte) int {
	n := 1
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0 && c == '\\' && quote != '`':
			i++ // an escaped character
		case quote != 0 && c == quote:
			if i+1 < len(q) && q[i+1] == quote {
				i++ // a doubled quote stays inside
			} else {
				quote = 0
			}
		case quote != 0:
		case c == '\'' || c == '"' || c == '`':
			quote = c
		case c == ';' && len(strings.TrimSpace(string(q[i+1:]))) > 0:
			n++
		}
	}
	return n
}

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	for {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			break
		}
	}
	return string(b[n:])
}

func (p *Proxy) note(s string) {
	p.mu.Lock()
	if p.record {
		p.texts = append(p.texts, s)
	}
	p.mu.Unlock()
}

// Counts is a snapshot of the proxy's counters. Batched counts the
// statements that rode in a text query after its first.
type Counts struct {
	Query, Execute, Prepare, Other, Batched int64
}

func (p *Proxy) Snapshot() Counts {
	return Counts{p.query.Load(), p.execute.Load(), p.prepare.Load(), p.other.Load(), p.batched.Load()}
}

func (a Counts) Sub(b Counts) Counts {
	return Counts{a.Query - b.Query, a.Execute - b.Execute, a.Prepare - b.Prepare, a.Other - b.Other, a.Batched - b.Batched}
}

// Statements counts executed SQL statements: those of text queries and
// executions of prepared ones (BEGIN and COMMIT included: they are text
// queries, or part of one).
func (c Counts) Statements() int64 { return c.Query + c.Batched + c.Execute }

// RoundTrips counts commands that wait for a reply from the database.
func (c Counts) RoundTrips() int64 { return c.Query + c.Execute + c.Prepare + c.Other }

// StartRecording starts keeping statement texts; StopRecording returns them.
func (p *Proxy) StartRecording() {
	p.mu.Lock()
	p.record, p.texts = true, nil
	p.mu.Unlock()
}

func (p *Proxy) StopRecording() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.record = false
	return strings.Join(p.texts, "\n")
}
