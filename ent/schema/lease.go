package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
)

// Lease lets one instance at a time do a piece of background work (the data
// lifecycle sweep): an instance takes the row by name while it is free or
// expired, renews it between batches, and stops when it lost it.
type Lease struct{ ent.Schema }

func (Lease) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").MaxRuneLen(40).Unique().Immutable(),
		// holder is the random id of the instance holding the lease.
		field.String("holder").MaxRuneLen(40).Default(""),
		field.Time("expires_at").SchemaType(mysqlTime()),
		// mark is the work's own progress note: the lifecycle sweep keeps the
		// business day before which personal data is already cleared.
		field.Int("mark").Default(0),
	}
}

func (Lease) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
