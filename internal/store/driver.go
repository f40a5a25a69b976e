package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"strings"
	"sync"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
)

// splitDriver sends transactions and writes to the single SQLite write
// connection and plain reads to the read pool.
type splitDriver struct{ w, r *entsql.Driver }

var _ dialect.Driver = (*splitDriver)(nil)

func (d *splitDriver) Exec(ctx context.Context, query string, args, v any) error {
	return d.w.Exec(ctx, query, args, v)
}

// Query routes by statement: ent runs INSERT … RETURNING through Query on SQLite.
func (d *splitDriver) Query(ctx context.Context, query string, args, v any) error {
	if isRead(query) {
		return d.r.Query(ctx, query, args, v)
	}
	return d.w.Query(ctx, query, args, v)
}

// QueryContext serves ent's Client.QueryContext (hand-written SQL).
func (d *splitDriver) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if isRead(query) {
		return d.r.QueryContext(ctx, query, args...)
	}
	return d.w.QueryContext(ctx, query, args...)
}

func (d *splitDriver) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return d.w.ExecContext(ctx, query, args...)
}

func (d *splitDriver) Tx(ctx context.Context) (dialect.Tx, error) { return d.w.Tx(ctx) }

func (d *splitDriver) BeginTx(ctx context.Context, opts *sql.TxOptions) (dialect.Tx, error) {
	return d.w.BeginTx(ctx, opts)
}

func (d *splitDriver) Close() error    { return nil } // DB.Close closes the pools
func (d *splitDriver) Dialect() string { return dialect.SQLite }

func isRead(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n(")
	return len(q) >= 6 && strings.EqualFold(q[:6], "SELECT")
}

// hookDriver calls hook with every statement, in and out of transactions,
// and fails the statements fault returns an error for.
type hookDriver struct {
	dialect.Driver
	hook  func(string)
	fault func(string) error
}

func hooked(d dialect.Driver, hook func(string), fault func(string) error) dialect.Driver {
	if hook == nil && fault == nil {
		return d
	}
	if hook == nil {
		hook = func(string) {}
	}
	if fault == nil {
		fault = func(string) error { return nil }
	}
	return &hookDriver{Driver: d, hook: hook, fault: fault}
}

func (d *hookDriver) Exec(ctx context.Context, query string, args, v any) error {
	d.hook(query)
	if err := d.fault(query); err != nil {
		return err
	}
	return d.Driver.Exec(ctx, query, args, v)
}

func (d *hookDriver) Query(ctx context.Context, query string, args, v any) error {
	d.hook(query)
	if err := d.fault(query); err != nil {
		return err
	}
	return d.Driver.Query(ctx, query, args, v)
}

type contextQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func (d *hookDriver) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	d.hook(query)
	if err := d.fault(query); err != nil {
		return nil, err
	}
	return d.Driver.(contextQuerier).QueryContext(ctx, query, args...)
}

func (d *hookDriver) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	d.hook(query)
	if err := d.fault(query); err != nil {
		return nil, err
	}
	return d.Driver.(contextQuerier).ExecContext(ctx, query, args...)
}

func (d *hookDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	tx, err := d.Driver.Tx(ctx)
	if err != nil {
		return nil, err
	}
	return &hookTx{Tx: tx, hook: d.hook}, nil
}

func (d *hookDriver) BeginTx(ctx context.Context, opts *sql.TxOptions) (dialect.Tx, error) {
	b, ok := d.Driver.(interface {
		BeginTx(context.Context, *sql.TxOptions) (dialect.Tx, error)
	})
	if !ok {
		return d.Tx(ctx)
	}
	tx, err := b.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &hookTx{Tx: tx, hook: d.hook}, nil
}

type hookTx struct {
	dialect.Tx
	hook func(string)
}

func (t *hookTx) Exec(ctx context.Context, query string, args, v any) error {
	t.hook(query)
	return t.Tx.Exec(ctx, query, args, v)
}

func (t *hookTx) Query(ctx context.Context, query string, args, v any) error {
	t.hook(query)
	return t.Tx.Query(ctx, query, args, v)
}

// ExecContext and QueryContext let a transaction run hand-written SQL (see
// canteen's one-statement counter update), still seen by the hook.
func (t *hookTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	t.hook(query)
	return t.Tx.(contextQuerier).ExecContext(ctx, query, args...)
}

func (t *hookTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	t.hook(query)
	return t.Tx.(contextQuerier).QueryContext(ctx, query, args...)
}

// implicitTxDriver is MySQL's driver: plain statements run on the embedded
// driver's pool, whose connections autocommit; transactions run on tx, a
// pool whose connections have autocommit off. There a transaction begins
// with its first statement, so Tx costs no START TRANSACTION round trip,
// and a batch can carry a whole transaction, COMMIT included (ExecBatch:
// canteen's fetch is one round trip). Isolation
// (READ COMMITTED, a connection parameter) and locking are the same as
// under START TRANSACTION, which also takes its snapshot and locks only at
// the first statement.
type implicitTxDriver struct {
	*entsql.Driver
	tx *sql.DB
}

func (d *implicitTxDriver) Tx(ctx context.Context) (dialect.Tx, error) { return d.BeginTx(ctx, nil) }

// BeginTx takes a connection of the transaction pool; only options that
// need a statement of their own (an isolation level, read-only) go through
// START TRANSACTION on the plain pool.
func (d *implicitTxDriver) BeginTx(ctx context.Context, opts *sql.TxOptions) (dialect.Tx, error) {
	if opts != nil && (opts.Isolation != sql.LevelDefault || opts.ReadOnly) {
		return d.Driver.BeginTx(ctx, opts)
	}
	c, err := d.tx.Conn(ctx)
	if err != nil {
		return nil, err
	}
	t := &implicitTx{Conn: entsql.Conn{ExecQuerier: c}, c: c, ctx: ctx}
	// As database/sql's Tx: when the request's context ends with the
	// transaction open, it is rolled back (its connection closed, so the
	// server rolls back and frees its locks), and a later Commit fails. A
	// timer-free callback: no goroutine unless the context ends.
	t.stop = context.AfterFunc(ctx, t.abandon)
	return t, nil
}

// implicitTx is a transaction on a connection with autocommit off. Its
// connection goes back to the pool only after a COMMIT or ROLLBACK that
// succeeded: one that might still hold the transaction is closed, or the
// next transaction on it would continue this one.
type implicitTx struct {
	entsql.Conn
	ctx  context.Context
	mu   sync.Mutex
	c    *sql.Conn // nil once ended or abandoned
	stop func() bool
	// committed: a batch ended with COMMIT (ExecBatch); nothing is left
	// for Commit to send.
	committed bool
}

// Commit commits, unless the context has ended: then, as database/sql's
// Tx, it rolls back and says why (the context's callback may not have run
// yet).
func (t *implicitTx) Commit() error {
	if t.batchCommitted() {
		return nil // even if the context has ended since: it is done
	}
	if err := t.ctx.Err(); err != nil {
		t.stop()
		t.abandon()
		return err
	}
	return t.end("COMMIT")
}

func (t *implicitTx) Rollback() error { return t.end("ROLLBACK") }

// committedByBatch ends the transaction that a batch's COMMIT committed:
// its connection goes back to the pool, and later statements find it gone
// (sql.ErrConnDone) rather than start a transaction no one would end.
func (t *implicitTx) committedByBatch() {
	t.stop()
	c := t.take()
	t.mu.Lock()
	t.committed = true
	t.mu.Unlock()
	if c != nil {
		_ = c.Close() // back to the pool; sql.Conn.Close fails only if already closed
	}
}

func (t *implicitTx) batchCommitted() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.committed
}

// take hands the connection to whoever ends the transaction, once.
func (t *implicitTx) take() *sql.Conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.c
	t.c = nil
	return c
}

// abandon runs when the context ends first: the connection is closed, not
// pooled, and the server rolls the transaction back.
func (t *implicitTx) abandon() {
	if c := t.take(); c != nil {
		discard(c)
	}
}

func (t *implicitTx) end(stmt string) error {
	t.stop()
	c := t.take()
	if c == nil {
		return sql.ErrTxDone
	}
	// Not the transaction's context: the statement must run even if the
	// context ends now (the callback above no longer runs).
	_, err := c.ExecContext(context.Background(), stmt)
	if err != nil {
		discard(c)
		return err
	}
	if cerr := c.Close(); cerr != nil && !errors.Is(cerr, sql.ErrConnDone) {
		return cerr
	}
	return nil
}

// discard closes c for good. A connection that database/sql already
// dropped answers ErrConnDone, which changes nothing.
func discard(c *sql.Conn) {
	_ = c.Raw(func(any) error { return driver.ErrBadConn })
	_ = c.Close()
}
