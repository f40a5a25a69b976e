package schema

import (
	"time"

	"callme/internal/model"
	"callme/internal/pulid"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Session is a login. Only the SHA-256 of the bearer token is stored, so a
// database leak does not leak usable tokens.
type Session struct{ ent.Schema }

func (Session) Fields() []ent.Field {
	return []ent.Field{
		field.String("token_hash").NotEmpty().MaxRuneLen(64).Unique().Immutable().Sensitive(),
		field.String("user_id").GoType(pulid.ID("")).MaxRuneLen(pulid.Len),
		field.Enum("app").GoType(model.App("")),
		// session_key is WeChat's key for this login; it never leaves the server.
		field.String("session_key").Optional().MaxRuneLen(128).Sensitive(),
		field.Time("created_at").SchemaType(mysqlTime()).Default(time.Now).Immutable(),
		field.Time("last_seen_at").SchemaType(mysqlTime()),
		field.Time("expires_at").SchemaType(mysqlTime()),
		// console marks a session a staff console got by scan-to-log-in: it
		// may not approve further console logins (a tablet left at the stall
		// must not mint sessions that outlive its own logout).
		field.Bool("console").Default(false).Immutable(),
	}
}

func (Session) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("sessions").Field("user_id").Unique().Required(),
	}
}

func (Session) Indexes() []ent.Index {
	return []ent.Index{index.Fields("expires_at")}
}

func (Session) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
