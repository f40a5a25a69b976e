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

// resolverRoot hands out the per-type resolvers of the hot reads made once:
// gqlgen's getters (Seller(), Ticket(), …) allocate a wrapper on every
// call, and a planned page of 50 stalls or queue of 50 tickets calls them
// once or twice per object. The wrappers hold nothing but the Resolver, so
// one of each serves every call; getters not listed here fall through to
// gqlgen's.
type resolverRoot struct {
	ResolverRoot
	query  QueryResolver
	seller SellerResolver
	ticket TicketResolver
	user   UserResolver
}

func newResolverRoot(r *Resolver) resolverRoot {
	return resolverRoot{ResolverRoot: r, query: r.Query(), seller: r.Seller(), ticket: r.Ticket(), user: r.User()}
}

func (r resolverRoot) Query() QueryResolver   { return r.query }
func (r resolverRoot) Seller() SellerResolver { return r.seller }
func (r resolverRoot) Ticket() TicketResolver { return r.ticket }
func (r resolverRoot) User() UserResolver     { return r.user }
