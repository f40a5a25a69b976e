// Command gen collects the documents the project ships into the trusted
// documents manifest (see package persisted). Run by go generate from the
// repository root, after schema.graphql is regenerated:
//
//	graph/persisted/manifest.json               every document, embedded in the binary
//	clients/miniprogram/persisted-operations.json  the kit's, { "<sha256>": "<document>" }
//	web/src/board/persisted-operations.json        the board's, same shape (bundled)
//	web/src/console/persisted-operations.json      the staff console's, same shape (bundled)
//	web/src/ticket/persisted-operations.json       the ticket page's, same shape (bundled)
//
// A document that does not validate against schema.graphql fails generation.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"callme/graph/persisted"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

func main() {
	if err := run("."); err != nil {
		fmt.Fprintln(os.Stderr, "persisted/gen:", err)
		os.Exit(1)
	}
}

// Where each component's { hash: document } file goes.
var perComponent = map[string]string{
	"kit":     "clients/miniprogram/persisted-operations.json",
	"board":   "web/src/board/persisted-operations.json",
	"console": "web/src/console/persisted-operations.json",
	"ticket":  "web/src/ticket/persisted-operations.json",
}

func run(root string) error {
	sdl, err := os.ReadFile(filepath.Join(root, "schema.graphql"))
	if err != nil {
		return err
	}
	schema, gerr := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphql", Input: string(sdl)})
	if gerr != nil {
		return gerr
	}
	ops, err := persisted.Collect(root, schema)
	if err != nil {
		return err
	}
	if err := write(filepath.Join(root, "graph/persisted/manifest.json"), ops); err != nil {
		return err
	}
	for component, path := range perComponent {
		docs := map[string]string{}
		for _, op := range ops {
			if op.Component == component {
				docs[op.SHA256] = op.Document
			}
		}
		if err := write(filepath.Join(root, filepath.FromSlash(path)), docs); err != nil {
			return err
		}
	}
	return nil
}

// write stores v as JSON the way JSON.stringify(v, null, 2) + "\n" does (keys
// sorted, no HTML escaping), so the kit's build can check the same bytes.
func write(path string, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
