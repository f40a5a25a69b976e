package store_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"callme/ent/seller"
	"callme/internal/store"
	"callme/internal/store/storetest"
)

func implicitTxMySQL(t *testing.T) (*store.DB, *sql.DB, string) {
	t.Helper()
	var dsn string
	for _, e := range storetest.Engines() {
		if e.Name == "mysql" {
			dsn = e.DSN(t)
		}
	}
	if dsn == "" {
		t.Skip("no MySQL")
	}
	ctx := context.Background()
	db, err := store.Open(ctx, dsn, store.Options{MaxOpenConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cfg, err := store.MySQLConfig(strings.TrimPrefix(dsn, "mysql://"))
	if err != nil {
		t.Fatal(err)
	}
	name := cfg.DBName
	cfg.DBName = ""
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	return db, admin, name
}

// killAll kills every connection on database name (the store's pools).
func killAll(t *testing.T, admin *sql.DB, name string) int {
	t.Helper()
	rows, err := admin.Query("SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()", name)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	for _, id := range ids {
		if _, err := admin.Exec("KILL ?", id); err != nil {
			t.Logf("kill %d: %v", id, err)
		}
	}
	time.Sleep(100 * time.Millisecond) // let the FIN arrive
	return len(ids)
}

func count(t *testing.T, db *store.DB, name string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := db.Client.Seller.Query().Where(seller.Name(name)).Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A transaction after the server killed the pooled connections (a restart,
// wait_timeout) must still succeed: database/sql's BeginTx retried a dead
// connection; the tx pool must too.
func TestTxAfterIdleConnectionsKilled(t *testing.T) {
	db, admin, name := implicitTxMySQL(t)
	ctx := context.Background()
	for round := 0; round < 3; round++ {
		tx, err := db.Client.Tx(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Seller.Create().SetName("warm").Save(ctx); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		n := killAll(t, admin, name)
		t.Logf("round %d: killed %d connections", round, n)
		tx, err = db.Client.Tx(ctx)
		if err != nil {
			t.Fatalf("round %d: Tx after KILL: %v", round, err)
		}
		if _, err := tx.Seller.Create().SetName("after kill").Save(ctx); err != nil {
			_ = tx.Rollback()
			t.Fatalf("round %d: first statement after KILL: %v", round, err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatalf("round %d: commit after KILL: %v", round, err)
		}
	}
	if got := count(t, db, "after kill"); got != 3 {
		t.Fatalf("%d committed after kills, want 3", got)
	}
}

// The connection dies inside the transaction: the COMMIT fails, nothing is
// stored, and the pool (of one) hands out a working connection after.
func TestCommitOnKilledConnection(t *testing.T) {
	db, admin, name := implicitTxMySQL(t)
	ctx := context.Background()
	tx, err := db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Seller.Create().SetName("lost").Save(ctx); err != nil {
		t.Fatal(err)
	}
	killAll(t, admin, name)
	if err := tx.Commit(); err == nil {
		t.Fatal("commit on a killed connection succeeded")
	} else {
		t.Logf("commit: %v", err)
	}
	if err := tx.Rollback(); !errors.Is(err, sql.ErrTxDone) {
		t.Logf("rollback after failed commit: %v", err)
	}
	tx, err = db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Seller.Create().SetName("next").Save(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if count(t, db, "lost") != 0 || count(t, db, "next") != 1 {
		t.Fatal("lost/next wrong")
	}
}

// The request's context is cancelled inside the transaction (the client hung
// up). database/sql's Tx rolled back then and Commit answered
// context.Canceled; here the effect must be the same or at least
// all-or-nothing, and the connection must not carry the transaction into the
// next one.
func TestCancelledMidTransaction(t *testing.T) {
	db, _, _ := implicitTxMySQL(t)
	for _, commit := range []bool{false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		tx, err := db.Client.Tx(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Seller.Create().SetName("cancelled").Save(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		_, serr := tx.Seller.Create().SetName("cancelled 2").Save(ctx)
		t.Logf("statement after cancel: %v", serr)
		var cerr error
		if commit {
			cerr = tx.Commit()
			t.Logf("commit after cancel: %v", cerr)
		} else {
			cerr = tx.Rollback()
			t.Logf("rollback after cancel: %v", cerr)
		}
		// The next transaction (same single connection) rolls back; its
		// connection must not have committed anything of the first.
		bg := context.Background()
		tx2, err := db.Client.Tx(bg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx2.Seller.Create().SetName("second").Save(bg); err != nil {
			t.Fatal(err)
		}
		if err := tx2.Commit(); err != nil {
			t.Fatal(err)
		}
		n1, n2 := count(t, db, "cancelled"), count(t, db, "cancelled 2")
		t.Logf("commit=%v: cancelled=%d cancelled2=%d", commit, n1, n2)
		if n2 != 0 {
			t.Errorf("commit=%v: a statement after cancel was stored", commit)
		}
		if commit && cerr == nil {
			t.Errorf("commit after the context ended answered nil (database/sql's Tx answers the context's error and rolls back)")
		}
		if (!commit || cerr != nil) && n1 != 0 {
			t.Errorf("commit=%v err=%v but the row was stored: the transaction leaked into the next one", commit, cerr)
		}
		if _, err := db.Client.Seller.Delete().Exec(bg); err != nil {
			t.Fatal(err)
		}
	}
}

// A transaction never ended (a code path that forgets Rollback, or a
// commit hook that fails before the driver's commit): database/sql's Tx
// rolled it back when its context ended and freed the connection; a leaked
// sql.Conn holds its locks and its pool slot for ever.
func TestTransactionEndsWithItsContext(t *testing.T) {
	db, _, _ := implicitTxMySQL(t)
	ctx, cancel := context.WithCancel(context.Background())
	tx, err := db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Seller.Create().SetName("leaked").Save(ctx); err != nil {
		t.Fatal(err)
	}
	cancel() // the request ends; nobody calls Commit or Rollback
	// End it at test end, or the cleanup's DROP DATABASE waits for its
	// metadata lock for ever (as a migration would).
	defer tx.Rollback()
	time.Sleep(200 * time.Millisecond)
	tctx, tcancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer tcancel()
	tx2, err := db.Client.Tx(tctx)
	if err != nil {
		t.Fatalf("next transaction after a leaked one (pool of 1): %v", err)
	}
	if _, err := tx2.Seller.Create().SetName("after leak").Save(tctx); err != nil {
		t.Fatalf("next transaction's first statement: %v", err)
	}
	if err := tx2.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestTransactionsRunBatches: a transaction may send a batch of statements
// in one Exec, which answers the last statement's RowsAffected and
// LastInsertId (canteen's customer fetch reads its number so); a value
// holding a semicolon stays a value; and a plain statement, outside a
// transaction, still cannot chain a second one.
func TestTransactionsRunBatches(t *testing.T) {
	db, _, _ := implicitTxMySQL(t)
	ctx := context.Background()
	for _, name := range []string{"batched", "other"} {
		if _, err := db.Client.Seller.Create().SetName(name).Save(ctx); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err := tx.ExecContext(ctx, "SELECT 1 FROM `sellers` WHERE `name` = ? FOR UPDATE; "+
		"UPDATE `sellers` SET `call_seq` = LAST_INSERT_ID(`call_seq` + 41) WHERE `name` = ? OR `name` = ?",
		"batched", "batched", "x'; DELETE FROM `sellers`; -- ")
	if err != nil {
		_ = tx.Rollback()
		t.Fatalf("batch in a transaction: %v", err)
	}
	n, err := res.RowsAffected()
	if err != nil || n != 1 {
		t.Errorf("batch RowsAffected = %d, %v; want the UPDATE's 1", n, err)
	}
	id, err := res.LastInsertId()
	if err != nil || id != 41 {
		t.Errorf("batch LastInsertId = %d, %v; want the UPDATE's 41", id, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := count(t, db, "other"); got != 1 {
		t.Fatalf("a quoted value ran as a statement: %d sellers named other, want 1", got)
	}
	if _, err := db.Client.ExecContext(ctx, "SELECT 1; DELETE FROM `sellers`"); err == nil {
		t.Error("a plain statement chained a second one; want it refused (multi statements off)")
	}
	if got := count(t, db, "batched"); got != 1 {
		t.Fatalf("%d sellers named batched after the plain batch, want 1", got)
	}
}
