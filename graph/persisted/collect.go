package persisted

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/lexer"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
)

// Operation is one shipped document: a named operation with the fragments it
// uses.
type Operation struct {
	SHA256    string `json:"sha256"`
	Name      string `json:"operation"`
	Kind      string `json:"kind"`
	Source    string `json:"source"` // the .graphql file, relative to the repository root
	Document  string `json:"document"`
	Component string `json:"component"` // who ships it: "kit", "board", "console" or "ticket"
}

// Hash is the persisted-query hash of a document: lowercase hex SHA-256 of
// its exact text (Apollo's sha256Hash).
func Hash(document string) string {
	sum := sha256.Sum256([]byte(document))
	return hex.EncodeToString(sum[:])
}

// Component is a set of .graphql files whose operations share fragments.
type Component struct {
	Name string
	Glob string // relative to the repository root
}

// Components are the documents the project ships. The playground is exempt:
// admins may send any document.
var Components = []Component{
	{Name: "kit", Glob: "clients/miniprogram/operations/*.graphql"},
	{Name: "board", Glob: "web/src/board/*.graphql"},
	{Name: "console", Glob: "web/src/console/*.graphql"},
	{Name: "ticket", Glob: "web/src/ticket/*.graphql"},
}

// Collect reads the components' .graphql files under root and returns every
// named operation as the exact text its client sends:
//
//	the operation's source text, from its first token to its closing brace,
//	then for each fragment it uses (transitively, sorted by name) "\n\n" and
//	that fragment's source text.
//
// The text is cut from the file rather than printed, so that the kit's build
// (clients/scripts/build.mjs, graphql-js) produces the same bytes without
// sharing a printer with Go; both checks fail if they ever disagree. Line
// endings are normalized to "\n" first. Every document is validated against
// schema.
func Collect(root string, schema *ast.Schema) ([]Operation, error) {
	var out []Operation
	seen := map[string]string{} // hash -> source of the operation
	for _, c := range Components {
		files, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(c.Glob)))
		if err != nil {
			return nil, err
		}
		slices.Sort(files)
		if len(files) == 0 {
			return nil, fmt.Errorf("%s: no documents match %s", c.Name, c.Glob)
		}
		var defs []definition
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			rel, _ := filepath.Rel(root, f)
			d, err := splitDefinitions(filepath.ToSlash(rel), strings.ReplaceAll(string(b), "\r\n", "\n"))
			if err != nil {
				return nil, err
			}
			defs = append(defs, d...)
		}
		ops, err := assemble(c.Name, defs)
		if err != nil {
			return nil, err
		}
		for _, op := range ops {
			doc, gerr := parser.ParseQuery(&ast.Source{Name: op.Source, Input: op.Document})
			if gerr != nil {
				return nil, fmt.Errorf("%s: operation %s: %v", op.Source, op.Name, gerr)
			}
			if errs := validator.Validate(schema, doc); len(errs) > 0 {
				return nil, fmt.Errorf("%s: operation %s does not validate against the schema: %v", op.Source, op.Name, errs)
			}
			if other, dup := seen[op.SHA256]; dup {
				return nil, fmt.Errorf("%s: operation %s repeats a document of %s", op.Source, op.Name, other)
			}
			seen[op.SHA256] = op.Source
			out = append(out, op)
		}
	}
	return out, nil
}

// definition is one top-level definition of a .graphql file.
type definition struct {
	source  string
	text    string
	kind    string // query, mutation, subscription or fragment
	name    string
	spreads []string // fragments it spreads directly
}

// splitDefinitions cuts src into its definitions' source texts. A definition
// starts at a token outside any braces and ends with the brace that closes
// its selection set (braces inside parentheses are values, not selections).
func splitDefinitions(file, src string) ([]definition, error) {
	doc, gerr := parser.ParseQuery(&ast.Source{Name: file, Input: src})
	if gerr != nil {
		return nil, gerr
	}
	runes := []rune(src) // token positions count runes
	lex := lexer.New(&ast.Source{Name: file, Input: src})
	var texts []string
	start, braces, parens := -1, 0, 0
	for {
		tok, err := lex.ReadToken()
		if err != nil {
			return nil, err
		}
		if tok.Kind == lexer.EOF {
			break
		}
		if tok.Kind == lexer.Comment {
			continue
		}
		if start < 0 {
			start = tok.Pos.Start
		}
		switch tok.Kind {
		case lexer.ParenL:
			parens++
		case lexer.ParenR:
			parens--
		case lexer.BraceL:
			braces++
		case lexer.BraceR:
			braces--
			if braces == 0 && parens == 0 {
				texts = append(texts, string(runes[start:tok.Pos.End]))
				start = -1
			}
		}
	}
	if start >= 0 {
		return nil, fmt.Errorf("%s: unterminated definition at the end", file)
	}
	var defs []definition
	for _, op := range doc.Operations {
		defs = append(defs, definition{source: file, kind: string(op.Operation), name: op.Name, spreads: spreads(op.SelectionSet)})
	}
	for _, fr := range doc.Fragments {
		defs = append(defs, definition{source: file, kind: "fragment", name: fr.Name, spreads: spreads(fr.SelectionSet)})
	}
	if len(defs) != len(texts) {
		return nil, fmt.Errorf("%s: found %d definitions but cut %d", file, len(defs), len(texts))
	}
	// The parser lists operations and fragments apart; put them back in
	// source order by their position to pair them with the cut texts.
	order := make([]int, 0, len(defs))
	for _, op := range doc.Operations {
		order = append(order, op.Position.Start)
	}
	for _, fr := range doc.Fragments {
		order = append(order, fr.Position.Start)
	}
	idx := make([]int, len(defs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return order[a] - order[b] })
	sorted := make([]definition, len(defs))
	for i, j := range idx {
		sorted[i] = defs[j]
		sorted[i].text = texts[i]
	}
	return sorted, nil
}

func spreads(set ast.SelectionSet) []string {
	var out []string
	for _, s := range set {
		switch s := s.(type) {
		case *ast.Field:
			out = append(out, spreads(s.SelectionSet)...)
		case *ast.InlineFragment:
			out = append(out, spreads(s.SelectionSet)...)
		case *ast.FragmentSpread:
			out = append(out, s.Name)
		}
	}
	return out
}

// assemble makes the documents of one component: each named operation with
// the fragments it uses.
func assemble(component string, defs []definition) ([]Operation, error) {
	fragments := map[string]definition{}
	names := map[string]bool{}
	for _, d := range defs {
		if d.kind == "fragment" {
			if _, dup := fragments[d.name]; dup {
				return nil, fmt.Errorf("%s: fragment %s is defined twice", d.source, d.name)
			}
			fragments[d.name] = d
			continue
		}
		if d.name == "" {
			return nil, fmt.Errorf("%s: every operation needs a name", d.source)
		}
		if names[d.name] {
			return nil, fmt.Errorf("%s: operation %s is defined twice", d.source, d.name)
		}
		names[d.name] = true
	}
	var out []Operation
	for _, d := range defs {
		if d.kind == "fragment" {
			continue
		}
		used := map[string]bool{}
		var walk func(names []string) error
		walk = func(names []string) error {
			for _, n := range names {
				if used[n] {
					continue
				}
				fr, ok := fragments[n]
				if !ok {
					return fmt.Errorf("%s: operation %s uses unknown fragment %s", d.source, d.name, n)
				}
				used[n] = true
				if err := walk(fr.spreads); err != nil {
					return err
				}
			}
			return nil
		}
		if err := walk(d.spreads); err != nil {
			return nil, err
		}
		parts := []string{d.text}
		for _, n := range slices.Sorted(maps.Keys(used)) {
			parts = append(parts, fragments[n].text)
		}
		text := strings.Join(parts, "\n\n")
		out = append(out, Operation{SHA256: Hash(text), Name: d.name, Kind: d.kind, Source: d.source, Document: text, Component: component})
	}
	return out, nil
}
