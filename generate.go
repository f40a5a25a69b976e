package main

// Code generation, in dependency order: ent first, then gqlgen, which binds the
// GraphQL schema to the generated ent types.
//go:generate go run ./ent/entc.go
//go:generate go run github.com/99designs/gqlgen generate
//go:generate go run . schema -o schema.graphql
