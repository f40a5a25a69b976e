package schema

import (
	"callme/internal/pulid"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// CallEvent is one call or recall, kept so that boards and phones can resume
// with `after` and replay every call they missed, in order, exactly once.
type CallEvent struct{ ent.Schema }

func (CallEvent) Fields() []ent.Field {
	return []ent.Field{
		field.String("seller_id").GoType(pulid.ID("")).MaxRuneLen(pulid.Len).Immutable(),
		field.Int("business_day").Immutable(),
		// seq is per seller, +1 per call, never reset (see Seller.call_seq).
		field.Int64("seq").Immutable(),
		field.String("ticket_id").GoType(pulid.ID("")).MaxRuneLen(pulid.Len).Immutable(),
		field.Time("called_at").SchemaType(mysqlTime()).Immutable(),
	}
}

func (CallEvent) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("seller", Seller.Type).Ref("call_events").Field("seller_id").Unique().Required().Immutable(),
		edge.To("ticket", Ticket.Type).Field("ticket_id").Unique().Required().Immutable(),
	}
}

func (CallEvent) Indexes() []ent.Index {
	return []ent.Index{
		// (seller, seq) alone is unique because seq never resets; business_day
		// leads the replay index so "today's calls after N" is one range scan.
		index.Fields("seller_id", "seq").Unique(),
		index.Fields("seller_id", "business_day", "seq").Unique(),
		// The lifecycle sweep finds calls past retention by day.
		index.Fields("business_day"),
	}
}

func (CallEvent) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
