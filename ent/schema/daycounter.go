package schema

import (
	"callme/internal/model"
	"callme/internal/pulid"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// DayCounter is the numbering state of one seller on one business day. Every
// fetch locks this row, which serialises issuing at a stall without locking
// other stalls; it carries the seller's open switch and paid term so that
// a fetch reads no other row to check them.
type DayCounter struct{ ent.Schema }

func (DayCounter) Fields() []ent.Field {
	return []ent.Field{
		field.String("seller_id").GoType(pulid.ID("")).MaxRuneLen(pulid.Len).Immutable(),
		field.Int("business_day").Immutable(),
		// last_number is the number most recently handed out (0 before the first).
		field.Int("last_number").Default(0),
		// issued counts tickets of the day; it is the next ticket's issue_seq.
		field.Int("issued").Default(0),
		// max_number and prefix are the seller's settings copied when the day
		// started, so a change applies from the next business day.
		field.Int("max_number").Immutable(),
		field.String("prefix").Default("").MaxRuneLen(model.MaxPrefix).Immutable(),
		// purged_calls counts the day's call events that the lifecycle sweep
		// deleted after their retention, so sellerStats still counts them.
		field.Int("purged_calls").Default(0),
		// open and paid_until are the seller's, kept on the row every fetch
		// locks so the fast fetch's counter UPDATE checks them without
		// reading the seller: canteen's newCounter copies them under a
		// share lock of the seller row, and SetOpen and RenewSeller write
		// them with the seller's in one transaction (writeSellerState).
		field.Bool("open").Default(false),
		field.Time("paid_until").SchemaType(mysqlTime()).Optional().Nillable(),
	}
}

func (DayCounter) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("seller", Seller.Type).Ref("counters").Field("seller_id").Unique().Required().Immutable(),
	}
}

func (DayCounter) Indexes() []ent.Index {
	return []ent.Index{index.Fields("seller_id", "business_day").Unique()}
}

func (DayCounter) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
