package store_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"callme/internal/store"
	"callme/internal/store/storetest"
)

// callSeq reads a seller's call_seq from outside the store (the admin
// connection), without waiting for any lock: at READ COMMITTED it sees
// what was committed.
func callSeq(t *testing.T, admin *sql.DB, db, name string) int64 {
	t.Helper()
	var n int64
	if err := admin.QueryRow("SELECT `call_seq` FROM `"+db+"`.`sellers` WHERE `name` = ?", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestExecBatchCommits: a batch with commit answers each statement's
// result, has committed when it returns (another connection sees its
// writes and can lock its rows at once), leaves nothing for Commit or
// Rollback to do, and the transaction's connection serves the next
// transaction (MaxOpenConns 1). A value holding SQL stays a value.
func TestExecBatchCommits(t *testing.T) {
	db, admin, name := implicitTxMySQL(t)
	ctx := context.Background()
	for _, n := range []string{"a", "b", "other"} {
		if _, err := db.Client.Seller.Create().SetName(n).Save(ctx); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err := store.ExecBatch(ctx, tx, true, []string{
		"UPDATE `sellers` SET `call_seq` = LAST_INSERT_ID(`call_seq` + 7) WHERE `name` = ?",
		"UPDATE `sellers` SET `call_seq` = `call_seq` + 1 WHERE `name` = ? OR `name` = ?",
		"UPDATE `sellers` SET `call_seq` = 99 WHERE `name` = ?",
	}, "a", "b", "x'; DELETE FROM `sellers`; -- ", "nobody")
	if err != nil {
		_ = tx.Rollback()
		t.Fatal(err)
	}
	if got := res.RowsAffected; len(got) != 3 || got[0] != 1 || got[1] != 1 || got[2] != 0 {
		t.Errorf("RowsAffected = %v, want [1 1 0] (COMMIT's left out)", got)
	}
	if got := res.LastInsertIDs; len(got) != 3 || got[0] != 7 {
		t.Errorf("LastInsertIDs = %v, want 7 first", got)
	}
	if got := callSeq(t, admin, name, "a"); got != 7 {
		t.Errorf("another connection reads call_seq %d before Commit, want the batch's 7 (committed)", got)
	}
	var locked string
	if err := admin.QueryRow("SELECT `name` FROM `" + name + "`.`sellers` WHERE `name` = 'a' FOR UPDATE NOWAIT").Scan(&locked); err != nil {
		t.Errorf("the batch's row lock outlived its COMMIT: %v", err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE `sellers` SET `call_seq` = 1000 WHERE `name` = 'b'"); err == nil {
		t.Error("a statement ran in a transaction a batch had committed; want it refused")
	}
	if err := tx.Commit(); err != nil {
		t.Errorf("Commit after the batch's COMMIT: %v, want nil", err)
	}
	if err := tx.Rollback(); !errors.Is(err, sql.ErrTxDone) {
		t.Errorf("Rollback after the batch's COMMIT: %v, want sql.ErrTxDone", err)
	}
	if got := callSeq(t, admin, name, "b"); got != 1 {
		t.Errorf("call_seq of b = %d, want the batch's 1", got)
	}
	if got := count(t, db, "other"); got != 1 {
		t.Fatalf("a quoted value ran as a statement: %d sellers named other, want 1", got)
	}
	// The one connection of the transaction pool is back, with no
	// transaction open: the next one starts clean and ends as it says.
	tx2, err := db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx2.ExecContext(ctx, "UPDATE `sellers` SET `call_seq` = 500 WHERE `name` = 'a'"); err != nil {
		t.Fatal(err)
	}
	if err := tx2.Rollback(); err != nil {
		t.Fatal(err)
	}
	if got := callSeq(t, admin, name, "a"); got != 7 {
		t.Errorf("call_seq of a = %d after a rolled back transaction, want 7", got)
	}
}

// TestExecBatchStopsAtAnError: a statement that fails ends the batch
// before its COMMIT; the statements before it stay uncommitted until the
// transaction rolls back, and then they are gone.
func TestExecBatchStopsAtAnError(t *testing.T) {
	db, admin, name := implicitTxMySQL(t)
	ctx := context.Background()
	st, err := db.Client.Seller.Create().SetName("a").Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = store.ExecBatch(ctx, tx, true, []string{
		"UPDATE `sellers` SET `call_seq` = 5 WHERE `name` = 'a'",
		"INSERT INTO `sellers` (`id`, `name`) SELECT `id`, 'twin' FROM `sellers` WHERE `id` = ?",
		"UPDATE `sellers` SET `call_seq` = 6 WHERE `name` = 'a'",
	}, string(st.ID))
	if err == nil {
		t.Fatal("a batch with a duplicate key answered no error")
	}
	if got := callSeq(t, admin, name, "a"); got != 0 {
		t.Errorf("another connection reads call_seq %d after the failed batch, want 0 (nothing committed)", got)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatalf("Rollback after a failed batch: %v", err)
	}
	if got := callSeq(t, admin, name, "a"); got != 0 {
		t.Errorf("call_seq %d after the rollback, want 0", got)
	}
}

// TestExecBatchAnswersWhatItDid: a batch that commits runs to its end even
// when its context ends while it waits for a lock, and answers what the
// server did. (It answered the context's error while the server, which
// held the whole batch, went on to commit it once the lock was free.)
func TestExecBatchAnswersWhatItDid(t *testing.T) {
	db, admin, name := implicitTxMySQL(t)
	ctx := context.Background()
	if _, err := db.Client.Seller.Create().SetName("a").Save(ctx); err != nil {
		t.Fatal(err)
	}
	holder, err := admin.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var x string
	if err := holder.QueryRow("SELECT `name` FROM `" + name + "`.`sellers` WHERE `name` = 'a' FOR UPDATE").Scan(&x); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := store.ExecBatch(short, tx, true, []string{"UPDATE `sellers` SET `call_seq` = 8 WHERE `name` = 'a'"})
		done <- err
	}()
	time.Sleep(time.Second) // past the context's end, the batch waiting for the lock
	if err := holder.Commit(); err != nil {
		t.Fatal(err)
	}
	err = <-done
	committed := callSeq(t, admin, name, "a") == 8
	if (err == nil) != committed {
		t.Fatalf("ExecBatch answered %v, and the batch committed: %v", err, committed)
	}
	if err != nil {
		t.Fatalf("a batch that got its lock within the lock wait timeout answered %v; want it committed", err)
	}
	if err := tx.Commit(); err != nil {
		t.Errorf("Commit after the batch's COMMIT: %v", err)
	}
}

// TestExecBatchCountsItsResults: a statement that hides another (its own
// semicolon) makes the results misaligned with the statements: an error,
// never answered as the statements' results, and the connection, whose
// transaction holds the hidden statement's write, is not pooled again.
func TestExecBatchCountsItsResults(t *testing.T) {
	db, admin, name := implicitTxMySQL(t)
	ctx := context.Background()
	if _, err := db.Client.Seller.Create().SetName("a").Save(ctx); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err := store.ExecBatch(ctx, tx, false, []string{"UPDATE `sellers` SET `call_seq` = 9 WHERE `name` = 'a'; UPDATE `sellers` SET `call_seq` = 10 WHERE `name` = 'a'"})
	_ = tx.Rollback() // whatever happened: an open transaction would hold the test's cleanup
	if err == nil {
		t.Fatalf("a batch of 1 statement that ran 2 answered %v, no error", res)
	}
	if got := callSeq(t, admin, name, "a"); got != 0 {
		t.Errorf("call_seq %d, want 0: the hidden statement committed", got)
	}
	// The pool's one connection was replaced: the next transaction works,
	// and its row lock is free (the old transaction's is gone).
	tx2, err := db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := tx2.ExecContext(lctx, "UPDATE `sellers` SET `call_seq` = 3 WHERE `name` = 'a'"); err != nil {
		t.Fatalf("the next transaction: %v", err)
	}
	if err := tx2.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := callSeq(t, admin, name, "a"); got != 3 {
		t.Errorf("call_seq %d, want 3", got)
	}
}

// TestExecBatchNeedsAMySQLTransaction: SQLite, and MySQL transactions
// begun with options (START TRANSACTION on the plain pool), refuse a batch
// and run none of it (SQLite's driver would run every statement).
func TestExecBatchNeedsAMySQLTransaction(t *testing.T) {
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			ctx := context.Background()
			db, err := store.Open(ctx, e.DSN(t), store.Options{MaxOpenConns: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Client.Seller.Create().SetName("a").Save(ctx); err != nil {
				t.Fatal(err)
			}
			tx, err := db.Client.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := store.ExecBatch(ctx, tx, false, []string{"UPDATE `sellers` SET `call_seq` = 1", "UPDATE `sellers` SET `call_seq` = 2"}); err == nil {
				t.Error("ExecBatch ran outside the transaction pool; want an error")
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			st, err := db.Client.Seller.Query().Only(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.CallSeq != 0 {
				t.Errorf("call_seq = %d after a refused batch, want 0: it ran", st.CallSeq)
			}
		})
	}
}
