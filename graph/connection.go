package graph

import (
	"context"
	"time"

	"callme/ent"
	"callme/ent/seller"
	"callme/ent/ticket"
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
	// A COUNT only when the client reads totalCount; of each stall, the
	// columns its node fields read.
	fields := graphql.CollectFieldsCtx(ctx, sellerConnectionImplementors)
	for _, f := range fields {
		if f.Name == "totalCount" {
			q.Count = true
		}
	}
	q.Columns = nodeColumns(graphql.GetOperationContext(ctx), fields)
	return q, nil
}

// sellerFieldColumns are the stall columns each Seller field reads, through
// its resolver or the struct (canteen.IsOpen reads open and paid_until;
// PhotoURL and PhotoStatus the photo and its status). Fields loaded by id
// read none. A field missing here reads every column: a new field is safe
// before it is listed, and TestSellerFieldsReadTheSameListedAndAlone holds
// every field of the schema, alone, to the stall read whole.
var sellerFieldColumns = map[string][]string{
	"__typename":         nil,
	"id":                 nil,
	"name":               {seller.FieldName},
	"personName":         {seller.FieldPersonName},
	"photoURL":           {seller.FieldPhoto, seller.FieldPhotoStatus},
	"photoStatus":        {seller.FieldPhoto, seller.FieldPhotoStatus},
	"prefix":             {seller.FieldPrefix},
	"maxNumber":          {seller.FieldMaxNumber},
	"open":               {seller.FieldOpen, seller.FieldPaidUntil},
	"paidUntil":          {seller.FieldPaidUntil},
	"pickupNote":         {seller.FieldPickupNote},
	"noShowAfterCalls":   {seller.FieldNoShowAfterCalls},
	"noShowAfterMinutes": {seller.FieldNoShowAfterMinutes},
	"menu":               nil,
	"waitingCount":       nil,
	"lastCalled":         nil,
	"averageWaitSeconds": nil,
}

// nodeColumns returns the stall columns the fields under edges.node read
// (fragments, aliases and @skip/@include taken as gqlgen takes them), from
// the connection's collected fields, or nil for all of them. A page of
// stalls is the most read answer, and a stall has 17 columns where the
// mini-program's list shows four.
func nodeColumns(oc *graphql.OperationContext, fields []graphql.CollectedField) []string {
	cols := []string{}
	for _, f := range fields {
		if f.Name != "edges" {
			continue
		}
		for _, e := range graphql.CollectFields(oc, f.Selections, sellerEdgeImplementors) {
			if e.Name != "node" {
				continue
			}
			for _, n := range graphql.CollectFields(oc, e.Selections, sellerImplementors) {
				c, ok := sellerFieldColumns[n.Name]
				if !ok {
					return nil
				}
				cols = append(cols, c...)
			}
		}
	}
	return cols
}

// ticketFieldColumns are the ticket columns each Ticket field reads,
// through its resolver or the struct, beyond those every listed ticket
// carries (canteen's listColumns: stall, owner, day, issue order, status,
// which seller, position, etaSeconds and businessDay read, and note,
// claimCode and trackURL to decide who may see them). A field missing here
// reads every column: a new field is safe before it is listed, and
// TestTicketFieldsReadTheSameListedAndAlone holds every field of the
// schema, alone, to the ticket read whole.
var ticketFieldColumns = map[string][]string{
	"__typename":  nil,
	"id":          nil,
	"seller":      nil,
	"status":      nil,
	"position":    nil,
	"etaSeconds":  nil,
	"businessDay": nil,
	"number":      {ticket.FieldNumber},
	"code":        {ticket.FieldCode},
	"note":        {ticket.FieldNote},
	"callCount":   {ticket.FieldCallCount},
	"createdAt":   {ticket.FieldCreatedAt},
	"calledAt":    {ticket.FieldCalledAt},
	"doneAt":      {ticket.FieldDoneAt},
	"claimCode":   {ticket.FieldClaimCode},
	"trackURL":    {ticket.FieldTrackToken},
}

// ticketSelection is what the fields of a ticket list being resolved read
// (fragments, aliases and @skip/@include taken as gqlgen takes them): the
// ticket columns, nil for all of them, and whether positions.
type ticketSelection struct {
	columns   []string
	positions bool
}

func selectedTickets(ctx context.Context) ticketSelection {
	sel, all := ticketSelection{columns: []string{}}, false
	for _, f := range graphql.CollectFieldsCtx(ctx, ticketImplementors) {
		sel.positions = sel.positions || f.Name == "position"
		c, ok := ticketFieldColumns[f.Name]
		all = all || !ok
		sel.columns = append(sel.columns, c...)
	}
	if all {
		sel.columns = nil
	}
	return sel
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
