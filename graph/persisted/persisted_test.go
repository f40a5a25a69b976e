package persisted_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"callme/graph"
	"callme/graph/persisted"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
)

func schema() *ast.Schema { return graph.NewExecutableSchema(graph.Config{}).Schema() }

// TestManifest: every embedded document validates against the server's own
// schema, is keyed by its hash, and the manifest is what the sources give now.
func TestManifest(t *testing.T) {
	m, err := persisted.Shipped()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Operations()) == 0 {
		t.Fatal("the manifest is empty")
	}
	components := map[string]int{}
	for _, op := range m.Operations() {
		components[op.Component]++
		if got := persisted.Hash(op.Document); got != op.SHA256 {
			t.Errorf("%s: sha256 %s, want %s", op.Name, op.SHA256, got)
		}
		doc, gerr := parser.ParseQuery(&ast.Source{Name: op.Source, Input: op.Document})
		if gerr != nil {
			t.Errorf("%s: %v", op.Name, gerr)
			continue
		}
		if errs := validator.Validate(schema(), doc); len(errs) > 0 {
			t.Errorf("%s (%s) does not validate: %v", op.Name, op.Source, errs)
		}
		if len(doc.Operations) != 1 || doc.Operations[0].Name != op.Name {
			t.Errorf("%s: the document holds %d operations", op.Name, len(doc.Operations))
		}
	}
	for _, c := range persisted.Components {
		if components[c.Name] == 0 {
			t.Errorf("documents per component: %v; want some of %s's", components, c.Name)
		}
	}
	fresh, err := persisted.Collect("../..", schema())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fresh, m.Operations()) {
		t.Error("manifest.json differs from the documents in the sources: run go generate ./...")
	}
}

// TestCollectRefuses: generation fails on documents that do not validate or
// that it cannot key.
func TestCollectRefuses(t *testing.T) {
	// The other components' documents, each valid and distinct.
	others := map[string]string{
		"web/src/board/board.graphql":     "query Board($id: ID!) { seller(id: $id) { name } }\n",
		"web/src/console/console.graphql": "query ConsoleMe { me { id roles } }\n",
		"web/src/ticket/ticket.graphql":   "query TicketPage($t: String!) { trackedTicket(token: $t) { code } }\n",
	}
	writeOthers := func(t *testing.T, root string) {
		for rel, doc := range others {
			write(t, root, rel, doc)
		}
	}
	for name, kit := range map[string]string{
		"unknown field":      "query Me { me { id shoeSize } }\n",
		"undeclared var":     "query Me { seller(id: $id) { name } }\n",
		"anonymous":          "{ me { id } }\n",
		"duplicate name":     "query Me { me { id } }\nquery Me { me { roles } }\n",
		"unknown fragment":   "query Me { me { ...F } }\n",
		"syntax":             "query Me { me { id }\n",
		"wrong type of args": "query S { seller(id: 1.5) { name } }\n",
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			write(t, root, "clients/miniprogram/operations/x.graphql", kit)
			writeOthers(t, root)
			if _, err := persisted.Collect(root, schema()); err == nil {
				t.Errorf("no error for %q", kit)
			}
		})
	}
	t.Run("valid", func(t *testing.T) {
		root := t.TempDir()
		write(t, root, "clients/miniprogram/operations/x.graphql",
			"# c\nfragment F on User { id }\n\nquery Me($v: ID = \"{\") {\n  seller(id: $v) { name } # why }\n  me { ...F }\n}\n")
		writeOthers(t, root)
		ops, err := persisted.Collect(root, schema())
		if err != nil {
			t.Fatal(err)
		}
		want := "query Me($v: ID = \"{\") {\n  seller(id: $v) { name } # why }\n  me { ...F }\n}\n\nfragment F on User { id }"
		if len(ops) != 1+len(others) || ops[0].Document != want {
			t.Errorf("got %+v, want the first document %q", ops, want)
		}
	})
}

func write(t *testing.T, root, rel, text string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(strings.TrimPrefix(text, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
}
