package main

import (
	"encoding/binary"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
)

// sqlProxy is a TCP proxy in front of MariaDB that counts the commands its
// clients send: how many SQL statements a request costs, seen on the wire,
// with no hook in the server. Every client command is a packet with sequence
// number 0 (the handshake's packets have others); its first byte names it.
type sqlProxy struct {
	ln     net.Listener
	target string

	query, execute, prepare, other atomic.Int64

	mu     sync.Mutex
	record bool
	texts  []string
}

// MySQL client commands.
const (
	comQuery       = 0x03
	comStmtPrepare = 0x16
	comStmtExecute = 0x17
	comStmtClose   = 0x19
	comStmtReset   = 0x1a
	comPing        = 0x0e
)

func startSQLProxy(target string) (*sqlProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &sqlProxy{ln: ln, target: target}
	go p.serve()
	return p, nil
}

func (p *sqlProxy) addr() string { return p.ln.Addr().String() }
func (p *sqlProxy) close()       { p.ln.Close() }

func (p *sqlProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.handle(c)
	}
}

func (p *sqlProxy) handle(client net.Conn) {
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

func (p *sqlProxy) count(payload []byte) {
	switch payload[0] {
	case comQuery:
		p.query.Add(1)
		p.note("Q " + string(payload[1:]))
	case comStmtExecute:
		p.execute.Add(1)
		if len(payload) >= 5 {
			p.note("E #" + itoa(int(binary.LittleEndian.Uint32(payload[1:5]))))
		}
	case comStmtPrepare:
		p.prepare.Add(1)
		p.note("P " + string(payload[1:]))
	case comStmtClose, comStmtReset:
		// No response: not a round trip.
	default:
		p.other.Add(1)
	}
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

func (p *sqlProxy) note(s string) {
	p.mu.Lock()
	if p.record {
		p.texts = append(p.texts, s)
	}
	p.mu.Unlock()
}

// sqlCounts is a snapshot of the proxy's counters.
type sqlCounts struct {
	Query, Execute, Prepare, Other int64
}

func (p *sqlProxy) snapshot() sqlCounts {
	return sqlCounts{p.query.Load(), p.execute.Load(), p.prepare.Load(), p.other.Load()}
}

func (a sqlCounts) sub(b sqlCounts) sqlCounts {
	return sqlCounts{a.Query - b.Query, a.Execute - b.Execute, a.Prepare - b.Prepare, a.Other - b.Other}
}

// statements counts executed SQL statements: text queries and executions of
// prepared ones (BEGIN and COMMIT included: they are text queries).
func (c sqlCounts) statements() int64 { return c.Query + c.Execute }

// roundTrips counts commands that wait for a reply from the database.
func (c sqlCounts) roundTrips() int64 { return c.Query + c.Execute + c.Prepare + c.Other }

// startRecording starts keeping statement texts; stopRecording returns them.
func (p *sqlProxy) startRecording() {
	p.mu.Lock()
	p.record, p.texts = true, nil
	p.mu.Unlock()
}

func (p *sqlProxy) stopRecording() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.record = false
	return strings.Join(p.texts, "\n")
}
