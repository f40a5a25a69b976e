// Package migrations holds callme's versioned schema migrations, one set per
// dialect, in golang-migrate's file format. They are generated from the ent
// schema (see README "Changing the schema") and applied on start-up.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed sqlite mysql
var files embed.FS

// Dir returns the migration files of one dialect ("sqlite3" or "mysql", as
// ent names them).
func Dir(dialect string) (fs.FS, error) {
	if dialect == "sqlite3" {
		dialect = "sqlite"
	}
	return fs.Sub(files, dialect)
}
