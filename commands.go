package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"callme/internal/store"
)

// usage lists the commands; a usage error prints it and exits 2.
const usage = `usage:
  callme [flags]                       serve (callme -help lists every flag)
  callme backup [-db DSN] FILE         copy the SQLite database to FILE, online
  callme migrate [-db DSN] [-check]    apply pending migrations, or only report
  callme schema [-o FILE]              print the GraphQL schema
  callme healthcheck                   ask the local server whether it is ready
`

// defaultDB is the database when neither -db nor $CALLME_DB says otherwise.
const defaultDB = "sqlite:callme.db"

// exitError ends callme with a chosen exit status (main prints the message
// unless it is empty).
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// usageError is a command line callme does not understand: exit status 2,
// as flag.ExitOnError and most Unix tools do.
func usageError(format string, args ...any) error {
	return &exitError{code: 2, msg: fmt.Sprintf(format, args...) + "\n" + usage}
}

// exitCode is the process exit status for run's error.
func exitCode(err error) int {
	var ee *exitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ee):
		return ee.code
	}
	return 1
}

// commandFlags parses the flags of a subcommand that only needs the
// database, and returns its positional arguments.
func commandFlags(name string, args []string, getenv func(string) string, out io.Writer, setup func(*flag.FlagSet)) (dsn string, rest []string, err error) {
	fs := flag.NewFlagSet("callme "+name, flag.ContinueOnError)
	fs.SetOutput(out)
	def := defaultDB
	if v := getenv("CALLME_DB"); v != "" {
		def = v
	}
	fs.StringVar(&dsn, "db", def, "database: sqlite:PATH or mysql://user:pass@tcp(host:3306)/callme ($CALLME_DB)")
	if setup != nil {
		setup(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", nil, err
		}
		return "", nil, usageError("callme %s: %v", name, err)
	}
	return dsn, fs.Args(), nil
}

// backup is `callme backup FILE`: see store.Backup.
func backup(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	dsn, rest, err := commandFlags("backup", args, getenv, stdout, nil)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageError("callme backup: want one FILE to write, got %d arguments", len(rest))
	}
	if err := store.Backup(ctx, dsn, rest[0]); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "backed up %s to %s\n", dbKind(dsn), rest[0])
	return err
}

// Exit statuses of `callme migrate -check`.
const (
	exitSchemaBehind = 3 // migrations are pending; a start (or `callme migrate`) applies them
	exitSchemaAhead  = 4 // the database is newer than this callme: it refuses to start
)

// migrate is `callme migrate [-check]`.
func migrate(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	var check bool
	dsn, rest, err := commandFlags("migrate", args, getenv, stdout, func(fs *flag.FlagSet) {
		fs.BoolVar(&check, "check", false, "only report whether the database is behind, ahead or current (exit 3 behind, 4 ahead, 0 current)")
	})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError("callme migrate: unexpected %q", strings.Join(rest, " "))
	}
	st, err := store.CheckSchema(ctx, dsn)
	if err != nil {
		return err
	}
	if check || st.State() == store.SchemaAhead {
		fmt.Fprintln(stdout, st)
		switch st.State() {
		case store.SchemaBehind:
			return &exitError{code: exitSchemaBehind}
		case store.SchemaAhead:
			return &exitError{code: exitSchemaAhead}
		}
		return nil
	}
	after, err := store.Migrate(ctx, dsn)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "migrated %s from version %d to %d\n", dbKind(dsn), st.Current, after.Current)
	return err
}
