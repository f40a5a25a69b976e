// Command seqlists makes the generated executor marshal lists and resolve
// fields in the caller's goroutine: it rewrites gqlgen's calls to
// graphql.MarshalSliceConcurrently in graph/generated.go to graph.marshalSlice
// and those to FieldSet.ResolveConcurrently to graph.resolveNow
// (graph/lists.go says why). gqlgen has no setting for this: its worker_limit
// only bounds the goroutines, one per element still, and every object with
// more than one resolver field starts a goroutine for each but one. Run by go
// generate from the repository root, right after gqlgen.
//
// It fails when it finds no call to rewrite and the file has not been
// rewritten yet, so a gqlgen upgrade that changes the generated call is
// noticed instead of silently bringing the goroutines back.
package main

import (
	"bytes"
	"fmt"
	"os"
)

const file = "graph/generated.go"

var rewrites = []struct{ from, to string }{
	{"graphql.MarshalSliceConcurrently(", "marshalSlice("},
	// field is the loop variable of every generated object marshaller.
	{"out.ResolveConcurrently(ec.OperationContext, &deferred, i,", "resolveNow(ctx, out, field, ec.OperationContext, &deferred, i,"},
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "seqlists:", err)
		os.Exit(1)
	}
}

func run() error {
	src, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	out := src
	for _, r := range rewrites {
		if !bytes.Contains(out, []byte(r.from)) && !bytes.Contains(out, []byte(r.to)) {
			return fmt.Errorf("neither %s nor %s in %s: did gqlgen change its generated code?", r.from, r.to, file)
		}
		out = bytes.ReplaceAll(out, []byte(r.from), []byte(r.to))
	}
	if bytes.Equal(out, src) {
		return nil // already rewritten
	}
	return os.WriteFile(file, out, 0o644)
}
