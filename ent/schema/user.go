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
