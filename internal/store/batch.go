package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// BatchResult holds each statement's result of a batch, in order.
type BatchResult struct {
	RowsAffected  []int64
	LastInsertIDs []int64
}

// Execer is what runs a batch: a transaction (ent's Tx).
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// errNoBatches: the transaction is not one of a MySQL DB's transaction pool.
var errNoBatches = errors.New("store: batches run only in a MySQL transaction")

// ExecBatch runs statements in one round trip in tx, a transaction of a
// MySQL DB (only its transaction pool allows batches, see openMySQL), and
// answers every statement's result: a plain Exec answers only the last
// one's. args are the statements' arguments, in order.
//
// With commit, COMMIT goes in the same round trip after the statements.
// When ExecBatch then returns no error, the transaction has committed and
// its connection is back in the pool: tx.Commit costs no round trip (ent's
// commit hooks still run), tx.Rollback answers sql.ErrTxDone, and nothing
// else may run in tx. Such a batch runs to its end even if ctx ends
// meanwhile: once the server holds a COMMIT, closing the connection would
// no longer stop it, only hide whether it committed. Lock waits end on the
// server instead (lockWaitTimeout).
//
// On an error from the server, it ran no statement after the failing one
// (COMMIT comes last), so the transaction is as it was after the statement
// before, unless the server rolled it back (a deadlock): roll it back as
// usual. On an error on the connection (it broke), the outcome is unknown,
// as for any COMMIT whose answer was lost.
//
// The values go through the driver's interpolation like any statement's
// (InterpolateParams), never into the text by concatenation.
func ExecBatch(ctx context.Context, tx Execer, commit bool, statements []string, args ...any) (BatchResult, error) {
	m := &batchRun{ctx: ctx, commit: commit, statements: len(statements)}
	// implicitTx runs the batch with ctx. Any other transaction gets a
	// context that has ended, so it runs nothing (SQLite's driver would run
	// every statement of a batch as a plain Exec).
	mctx, cancel := context.WithCancel(context.WithValue(ctx, batchKey{}, m))
	cancel()
	_, err := tx.ExecContext(mctx, strings.Join(statements, ";\n"), args...)
	if !m.claimed {
		return BatchResult{}, errNoBatches
	}
	if err != nil {
		return BatchResult{}, err
	}
	return m.res, nil
}

// batchKey marks the context of an ExecBatch call for implicitTx, the one
// transaction that can run it: ent's Tx passes only a context and the
// statement down to it, and answers its sql.Result as database/sql wraps
// it, which hides the driver's results of the other statements.
type batchKey struct{}

type batchRun struct {
	ctx        context.Context // the caller's, to run the batch with
	commit     bool
	statements int
	claimed    bool // an implicitTx took the batch
	res        BatchResult
}

// execBatch runs m's batch on the transaction's connection, through the
// driver itself: database/sql's Result answers only the last statement.
// The arguments are converted as database/sql would (the driver's
// CheckNamedValue), then interpolated by the driver.
func (t *implicitTx) execBatch(m *batchRun, query string, args []any) error {
	m.claimed = true
	ctx := m.ctx
	if m.commit {
		query += ";\nCOMMIT"
		ctx = context.WithoutCancel(ctx) // see ExecBatch
	}
	t.mu.Lock()
	c := t.c
	t.mu.Unlock()
	if c == nil {
		return sql.ErrTxDone
	}
	var all mysql.Result
	err := c.Raw(func(dc any) error {
		ex, ok := dc.(driver.ExecerContext)
		check, ok2 := dc.(driver.NamedValueChecker)
		if !ok || !ok2 {
			return errNoBatches
		}
		nv := make([]driver.NamedValue, len(args))
		for i, a := range args {
			nv[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
			if err := check.CheckNamedValue(&nv[i]); err != nil {
				return err
			}
		}
		res, err := ex.ExecContext(ctx, query, nv)
		if err != nil {
			return err
		}
		if all, ok = res.(mysql.Result); !ok {
			return errNoBatches
		}
		return nil
	})
	if err != nil {
		return err
	}
	m.res = BatchResult{RowsAffected: all.AllRowsAffected(), LastInsertIDs: all.AllLastInsertIds()}
	want := m.statements
	if m.commit {
		want++
	}
	if n := len(m.res.RowsAffected); n != want {
		// A statement hid another (a semicolon of its own) or swallowed
		// the next: the results do not line up with the statements, and
		// whether COMMIT ran is unknown, so the connection goes, and the
		// server rolls back whatever is still open.
		t.abandon()
		return fmt.Errorf("store: a batch of %d statements answered %d results", want, n)
	}
	if m.commit {
		m.res.RowsAffected, m.res.LastInsertIDs = m.res.RowsAffected[:m.statements], m.res.LastInsertIDs[:m.statements]
		t.committedByBatch()
	}
	return nil
}

// ExecContext runs an ExecBatch call's batch (see batchKey), and any other
// statement as database/sql does.
func (t *implicitTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if m, ok := ctx.Value(batchKey{}).(*batchRun); ok {
		return driver.RowsAffected(0), t.execBatch(m, query, args)
	}
	return t.Conn.ExecContext(ctx, query, args...)
}
