// Package graph is callme's GraphQL layer: the schema (graph/*.graphqls), the
// gqlgen-generated executor, thin resolvers over canteen.Service, and the one
// place that turns domain errors into GraphQL errors (errors.go).
package graph

import (
	"callme/internal/canteen"
)

// Resolver is the root resolver; its fields are the layer's only dependencies.
type Resolver struct {
	Svc *canteen.Service
}
