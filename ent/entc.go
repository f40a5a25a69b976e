//go:build ignore

// entc.go runs ent code generation with the entgql extension. It is run by
// `go generate ./...` from generate.go at the repository root, before gqlgen,
// because gqlgen binds the GraphQL schema to the generated ent types.
package main

import (
	"log"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/entc"
	"entgo.io/ent/entc/gen"
)

func main() {
	ex, err := entgql.NewExtension(
		// The GraphQL schema is written by hand in graph/*.graphqls to keep the
		// API contract's exact shape; entgql contributes Node resolution, Relay
		// pagination and field collection (eager loading) only.
		entgql.WithConfigPath("gqlgen.yml"),
	)
	if err != nil {
		log.Fatalf("creating entgql extension: %v", err)
	}
	cfg := &gen.Config{
		Features: []gen.Feature{
			gen.FeatureVersionedMigration,
			gen.FeatureLock,
			gen.FeatureUpsert,
			gen.FeatureExecQuery,
			gen.FeatureModifier,
		},
	}
	if err := entc.Generate("./ent/schema", cfg, entc.Extensions(ex), entc.TemplateFiles("./ent/template/attach.tmpl", "./ent/template/decode.tmpl", "./ent/template/scanrow.tmpl")); err != nil {
		log.Fatalf("running ent codegen: %v", err)
	}
}
