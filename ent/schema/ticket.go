package schema

import (
	"time"

	"callme/internal/model"
	"callme/internal/pulid"

	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Ticket is one number handed out at one stall on one business day.
type Ticket struct{ ent.Schema }

func (Ticket) Mixin() []ent.Mixin { return []ent.Mixin{idMixin{prefix: PrefixTicket}} }

func (Ticket) Fields() []ent.Field {
	pid := func(name string) ent.Field {
		return field.String(name).GoType(pulid.ID("")).MaxRuneLen(pulid.Len).Optional().Nillable()
	}
	return []ent.Field{
		field.String("seller_id").GoType(pulid.ID("")).MaxRuneLen(pulid.Len).Immutable(),
		// business_day is the local calendar day the ticket belongs to, as YYYYMMDD.
		field.Int("business_day").Immutable(),
		field.Int("number").Immutable(),
		// code is fixed at issue: prefix and width changes apply to later days only.
		field.String("code").MaxRuneLen(12).Immutable(),
		// active_number equals number while the ticket is WAITING or CALLED and is
		// NULL afterwards. Its unique index guards "no two active tickets share a
		// number" on every database, because unique indexes ignore NULLs.
		field.Int("active_number").Optional().Nillable(),
		// issue_seq orders a day's tickets by issue (numbers wrap, so number cannot).
		field.Int("issue_seq").Immutable(),
		field.Enum("status").GoType(model.TicketStatus("")).Default(string(model.StatusWaiting)),
		pid("owner_id"),
		field.String("note").Optional().Nillable().MaxRuneLen(model.MaxTicketNote),
		// issued_by and idempotency_key make a retried fetch return the same ticket.
		field.String("issued_by").GoType(pulid.ID("")).MaxRuneLen(pulid.Len).Immutable(),
		field.String("idempotency_key").Optional().Nillable().MaxRuneLen(model.MaxIdempotencyKey).Immutable(),
		// claim_code is printed on (or said with) a number the seller hands
		// out; claiming the number needs it, so holding the slip is proof.
		// NULL for tickets a customer fetched for themself.
		field.String("claim_code").Optional().Nillable().MaxRuneLen(8).Immutable().Sensitive(),
		// track_token is the capability in the ticket's trackURL: whoever
		// holds the link follows this one ticket, without a login, until the
		// end of its business day. Tickets issued before it existed get one
		// on first read.
		field.String("track_token").Optional().Nillable().MaxRuneLen(32).Unique().Sensitive(),
		field.Int("call_count").Default(0),
		// version grows with every change, so a subscriber can drop stale events.
		field.Int("version").Default(1),
		field.Time("created_at").SchemaType(mysqlTime()).Default(time.Now).Immutable(),
		field.Time("claimed_at").SchemaType(mysqlTime()).Optional().Nillable(),
		field.Time("first_called_at").SchemaType(mysqlTime()).Optional().Nillable(),
		field.Time("called_at").SchemaType(mysqlTime()).Optional().Nillable(),
		field.Time("done_at").SchemaType(mysqlTime()).Optional().Nillable(),
		pid("called_by"),
		pid("done_by"),
	}
}

func (Ticket) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("seller", Seller.Type).Ref("tickets").Field("seller_id").Unique().Required().Immutable(),
		edge.From("owner", User.Type).Ref("tickets").Field("owner_id").Unique(),
	}
}

func (Ticket) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("seller_id", "business_day", "active_number").Unique(),
		index.Fields("seller_id", "business_day", "issue_seq"),
		index.Fields("owner_id", "business_day"),
		index.Fields("issued_by", "idempotency_key").Unique(),
		// The lifecycle sweep clears personal data of old days.
		index.Fields("business_day"),
	}
}
