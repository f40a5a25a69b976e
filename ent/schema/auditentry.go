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

// AuditEntry records an admin action: who did what to which object, when.
type AuditEntry struct{ ent.Schema }

func (AuditEntry) Fields() []ent.Field {
	return []ent.Field{
		field.String("actor_id").GoType(pulid.ID("")).MaxRuneLen(pulid.Len).Immutable(),
		field.String("action").MaxRuneLen(40).Immutable(),
		field.String("target_id").GoType(pulid.ID("")).MaxRuneLen(pulid.Len).Immutable(),
		// detail is a short human-readable description (no secrets).
		field.String("detail").MaxRuneLen(400).Default("").Immutable(),
		field.Time("created_at").SchemaType(mysqlTime()).Default(time.Now).Immutable(),
	}
}

func (AuditEntry) Indexes() []ent.Index {
	return []ent.Index{index.Fields("target_id", "created_at"), index.Fields("created_at")}
}

func (AuditEntry) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
