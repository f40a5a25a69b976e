package main

// Code generation, in dependency order: ent first, then gqlgen, which binds the
// GraphQL schema to the generated ent types, and its list marshalling is
// made sequential (graph/seqlists); graph/plangen lifts each field's
// resolver and marshaller out of the generated executor for the query
// planner (graph/plan.go). Last, the documents the clients ship are checked
// against the schema and listed as trusted documents.
//go:generate go run ./ent/entc.go
//go:generate go run github.com/99designs/gqlgen generate
//go:generate go run ./graph/seqlists
//go:generate go run ./graph/plangen
//go:generate go run . schema -o schema.graphql
//go:generate go run ./graph/persisted/gen
