package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"callme/graph"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// TestSchemaKeepsContract checks that every type, field, argument and enum
// value of the core schema in shared/CONTRACT.md exists in our schema with
// the same type: the contract may be extended, never silently broken.
func TestSchemaKeepsContract(t *testing.T) {
	md, err := os.ReadFile(filepath.Join("..", "shared", "CONTRACT.md"))
	if err != nil {
		t.Skipf("no contract beside the repo: %v", err)
	}
	m := regexp.MustCompile("(?s)```graphql\n(.*?)```").FindSubmatch(md)
	if m == nil {
		t.Fatal("CONTRACT.md has no graphql block")
	}
	contract, err := parser.ParseSchema(&ast.Source{Name: "CONTRACT.md", Input: string(m[1])})
	if err != nil {
		t.Fatalf("parsing the contract SDL: %v", err)
	}
	ours := graph.NewExecutableSchema(graph.Config{}).Schema()
	for _, def := range append(contract.Definitions, contract.Extensions...) {
		got := ours.Types[def.Name]
		if got == nil {
			t.Errorf("type %s is missing", def.Name)
			continue
		}
		if got.Kind != def.Kind {
			t.Errorf("%s is a %s, contract says %s", def.Name, got.Kind, def.Kind)
		}
		for _, v := range def.EnumValues {
			if got.EnumValues.ForName(v.Name) == nil {
				t.Errorf("enum value %s.%s is missing", def.Name, v.Name)
			}
		}
		for _, i := range def.Interfaces {
			if !contains(got.Interfaces, i) {
				t.Errorf("%s does not implement %s", def.Name, i)
			}
		}
		for _, f := range def.Fields {
			gf := got.Fields.ForName(f.Name)
			if gf == nil {
				t.Errorf("field %s.%s is missing", def.Name, f.Name)
				continue
			}
			if gf.Type.String() != f.Type.String() {
				t.Errorf("%s.%s is %s, contract says %s", def.Name, f.Name, gf.Type, f.Type)
			}
			for _, a := range f.Arguments {
				ga := gf.Arguments.ForName(a.Name)
				if ga == nil {
					t.Errorf("argument %s.%s(%s) is missing", def.Name, f.Name, a.Name)
				} else if ga.Type.String() != a.Type.String() {
					t.Errorf("argument %s.%s(%s) is %s, contract says %s", def.Name, f.Name, a.Name, ga.Type, a.Type)
				}
			}
			// New arguments must be optional, or old clients break.
			for _, ga := range gf.Arguments {
				if f.Arguments.ForName(ga.Name) == nil && ga.Type.NonNull && ga.DefaultValue == nil {
					t.Errorf("new argument %s.%s(%s) is required", def.Name, f.Name, ga.Name)
				}
			}
		}
		if def.Kind == ast.InputObject {
			for _, gf := range got.Fields {
				if def.Fields.ForName(gf.Name) == nil && gf.Type.NonNull && gf.DefaultValue == nil {
					t.Errorf("new input field %s.%s is required", def.Name, gf.Name)
				}
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

func TestSchemaCommandPrintsSDL(t *testing.T) {
	var out strings.Builder
	if err := run(t.Context(), []string{"callme", "schema"}, func(string) string { return "" }, &out); err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("schema.graphql")
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(committed) {
		t.Fatal("schema.graphql is stale: run go generate ./...")
	}
	if !strings.Contains(out.String(), "calledNumbers(sellerId: ID!, after: Int): CallEvent!") {
		t.Fatal("schema output lacks calledNumbers")
	}
}
