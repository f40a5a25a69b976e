package schema

import (
	"time"

	"callme/internal/pulid"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// ConsoleChallenge is a scan-to-log-in challenge of the staff console (the
// GraphQL ConsoleLogin). The console shows the challenge as a QR code and
// keeps the secret; a seller's phone approves the challenge, and the
// console, holding the secret, gets a new session of the seller's. Only
// SHA-256 hashes of both are stored, as for sessions. It lives in the
// database, not in memory: the console and the approving phone may reach
// different instances.
type ConsoleChallenge struct{ ent.Schema }

func (ConsoleChallenge) Fields() []ent.Field {
	return []ent.Field{
		field.String("challenge_hash").NotEmpty().MaxRuneLen(64).Unique().Immutable().Sensitive(),
		field.String("secret_hash").NotEmpty().MaxRuneLen(64).Unique().Immutable().Sensitive(),
		field.Time("created_at").SchemaType(mysqlTime()).Default(time.Now).Immutable(),
		field.Time("expires_at").SchemaType(mysqlTime()).Immutable(),
		// approved_by is the user who approved it (set once); used_at is
		// when the console took its session (set once): single use.
		field.String("approved_by").GoType(pulid.ID("")).MaxRuneLen(pulid.Len).Optional().Nillable(),
		field.Time("approved_at").SchemaType(mysqlTime()).Optional().Nillable(),
		field.Time("used_at").SchemaType(mysqlTime()).Optional().Nillable(),
	}
}

func (ConsoleChallenge) Indexes() []ent.Index {
	// The lifecycle sweep deletes expired challenges.
	return []ent.Index{index.Fields("expires_at")}
}

func (ConsoleChallenge) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
