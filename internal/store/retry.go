package store

import (
	"database/sql/driver"
	"errors"

	"callme/ent"

	"entgo.io/ent/dialect"
	"github.com/go-sql-driver/mysql"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Retryable reports whether running the same transaction again may succeed:
// it lost a race the database detected, not a rule, or its connection was
// dead before it started.
//
//   - MySQL deadlock (1213) and lock wait timeout (1205); SQLite busy or
//     locked: try again after the other transaction is done.
//   - A unique index that caught a race (1062, SQLite's unique and primary
//     key constraints): two first fetches of a day creating the counter, two
//     retries of one fetch under one idempotency key, two logins creating one
//     user. The retry reads the winner's row and answers from it.
func Retryable(err error) bool {
	// A connection found dead before anything was sent on it (the driver
	// says driver.ErrBadConn only then): database/sql retries those when it
	// begins a transaction, but a MySQL transaction here begins with its
	// first statement, on a connection it already holds (implicitTx).
	if errors.Is(err, driver.ErrBadConn) || UniqueViolation(err) {
		return true
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1213 || me.Number == 1205
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code() & 0xff
		return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
	}
	return ent.IsConstraintError(err)
}

// UniqueViolation reports whether err is a unique index's (or primary
// key's) refusal of a row, on either engine.
func UniqueViolation(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1062
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// RowLocks reports whether the dialect has SELECT … FOR UPDATE. SQLite has
// no row locks; its transactions take the database write lock at BEGIN
// (_txlock=immediate), which serialises them anyway.
func RowLocks(dialectName string) bool { return dialectName == dialect.MySQL }
