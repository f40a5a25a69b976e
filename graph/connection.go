package graph

import (
	"context"
	"time"

	"callme/ent"
	"callme/internal/canteen"

	"github.com/99designs/gqlgen/graphql"
)

// Relay pagination lives here, not in the domain: canteen answers a plain
// page of stalls, and this file turns cursors and pages into connections.

// sellerQuery decodes the arguments of Query.sellers.
func sellerQuery(ctx context.Context, first *int, after *string, openOnly *bool) (canteen.SellerQuery, error) {
	q := canteen.SellerQuery{First: first, OpenOnly: openOnly != nil && *openOnly}
	if after != nil && *after != "" {
		var c ent.Cursor
		if err := c.UnmarshalGQL(*after); err != nil {
			return q, canteen.Errorf(canteen.CodeBadUserInput, "after is not a cursor from this list")
		}
		at, ok := c.Value.(time.Time)
		if !ok || c.ID == "" {
			return q, canteen.Errorf(canteen.CodeBadUserInput, "after is not a cursor from this list")
		}
		q.After = &canteen.SellerCursor{CreatedAt: at, ID: c.ID}
	}
	// A COUNT only when the client reads totalCount.
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		if f.Name == "totalCount" {
			q.Count = true
		}
	}
	return q, nil
}

// sellerConnection builds the connection of a page.
func sellerConnection(page *canteen.SellerPage, after bool) *ent.SellerConnection {
	conn := &ent.SellerConnection{TotalCount: page.Total}
	conn.PageInfo.HasNextPage = page.HasNext
	conn.PageInfo.HasPreviousPage = after
	conn.Edges = make([]*ent.SellerEdge, len(page.Sellers))
	edges := make([]ent.SellerEdge, len(page.Sellers)) // one allocation for the page, not one per stall
	for i, st := range page.Sellers {
		edges[i] = ent.SellerEdge{Node: st, Cursor: ent.Cursor{ID: st.ID, Value: st.CreatedAt}}
		conn.Edges[i] = &edges[i]
	}
	if n := len(conn.Edges); n > 0 {
		conn.PageInfo.StartCursor = &conn.Edges[0].Cursor
		conn.PageInfo.EndCursor = &conn.Edges[n-1].Cursor
	}
	return conn
}
