package schema

import (
	"callme/internal/model"
	"callme/internal/pulid"

	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// MenuItem is one dish on a stall's menu, in the seller's order.
type MenuItem struct{ ent.Schema }

func (MenuItem) Mixin() []ent.Mixin { return []ent.Mixin{idMixin{prefix: PrefixMenuItem}} }

func (MenuItem) Fields() []ent.Field {
	return []ent.Field{
		field.String("seller_id").GoType(pulid.ID("")).MaxRuneLen(pulid.Len),
		field.String("name").NotEmpty().MaxRuneLen(model.MaxMenuItemName),
		// price_cents is a bigint and a Go int; the range keeps it inside a
		// GraphQL Int as well.
		field.Int("price_cents").Optional().Nillable().Range(0, model.MaxPriceCents),
		field.Bool("available").Default(true),
		field.Int("position").Default(0),
	}
}

func (MenuItem) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("seller", Seller.Type).Ref("menu").Field("seller_id").Unique().Required(),
	}
}

func (MenuItem) Indexes() []ent.Index {
	return []ent.Index{index.Fields("seller_id", "position")}
}
