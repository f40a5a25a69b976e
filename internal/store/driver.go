package store

import (
	"context"
	"database/sql"
	"strings"

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
