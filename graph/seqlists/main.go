// Command seqlists makes the generated executor marshal lists in the
// caller's goroutine: it rewrites gqlgen's calls to
// graphql.MarshalSliceConcurrently in graph/generated.go to graph.marshalSlice
// (graph/lists.go says why). gqlgen has no setting for this: its worker_limit
// only bounds the goroutines, one per element still. Run by go generate from
// the repository root, right after gqlgen.
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

const (
	file = "graph/generated.go"
	from = "graphql.MarshalSliceConcurrently("
	to   = "marshalSlice("
)

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
	n := bytes.Count(src, []byte(from))
	if n == 0 {
		if bytes.Contains(src, []byte(to)) {
			return nil // already rewritten
		}
		return fmt.Errorf("no %s in %s: did gqlgen change how it marshals lists?", from, file)
	}
	return os.WriteFile(file, bytes.ReplaceAll(src, []byte(from), []byte(to)), 0o644)
}
