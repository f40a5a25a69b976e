package schema

import (
	"time"

	"callme/internal/model"

	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// User is one WeChat identity in one mini-program. openids are per app, so a
// person using both apps is two users.
type User struct{ ent.Schema }

func (User) Mixin() []ent.Mixin { return []ent.Mixin{idMixin{prefix: PrefixUser}} }

func (User) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("app").GoType(model.App("")),
		field.String("openid").NotEmpty().MaxRuneLen(64).Sensitive(),
		field.String("unionid").Optional().Nillable().MaxRuneLen(64).Sensitive(),
		field.Time("created_at").SchemaType(mysqlTime()).Default(time.Now).Immutable(),
		// took counts the tickets the customer took (fetched or claimed) on
		// business day took_day, and is never below their active tickets of
		// that day: while it stays under the cap, a fetch need not count
		// them (canteen's takeWithinCap). During a day it grows with each
		// take, and shrinks only by a take given back, one whose fetch the
		// stall refused after it was counted; the first take of a new day
		// starts it at 1. A NULL took_day
		// (rows from before it existed) makes took a count of the user's
		// active tickets of any day, set by the migration.
		field.Int("took").Default(0).NonNegative(),
		field.Int("took_day").Optional().Nillable(),
	}
}

func (User) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("stall", Seller.Type).Unique(),
		edge.To("sessions", Session.Type),
		edge.To("tickets", Ticket.Type),
	}
}

func (User) Indexes() []ent.Index {
	return []ent.Index{index.Fields("app", "openid").Unique()}
}
