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

// NotifyGrant is one "allow" a customer tapped in wx.requestSubscribeMessage
// for a ticket: it permits exactly one subscribe message.
type NotifyGrant struct{ ent.Schema }

func (NotifyGrant) Fields() []ent.Field {
	return []ent.Field{
		field.String("ticket_id").GoType(pulid.ID("")).MaxRuneLen(pulid.Len).Immutable(),
		field.String("user_id").GoType(pulid.ID("")).MaxRuneLen(pulid.Len).Immutable(),
		field.String("template_id").MaxRuneLen(64).Immutable(),
		field.Time("created_at").SchemaType(mysqlTime()).Default(time.Now).Immutable(),
		// used_at is set in the transaction that queues the message.
		field.Time("used_at").SchemaType(mysqlTime()).Optional().Nillable(),
	}
}

func (NotifyGrant) Indexes() []ent.Index {
	// created_at: the lifecycle sweep finds grants past retention.
	return []ent.Index{index.Fields("ticket_id", "used_at"), index.Fields("created_at")}
}

func (NotifyGrant) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Notification is the outbox of subscribe messages. A row is written in the
// same transaction as the call that causes it, so a crash loses none; a
// sender claims a row with a lease before sending, so instances never send
// one row twice.
type Notification struct{ ent.Schema }

func (Notification) Fields() []ent.Field {
	return []ent.Field{
		// grant_id is unique: one message per grant, whatever happens.
		field.Int("grant_id").Unique().Immutable(),
		field.String("ticket_id").GoType(pulid.ID("")).MaxRuneLen(pulid.Len).Immutable(),
		field.String("user_id").GoType(pulid.ID("")).MaxRuneLen(pulid.Len).Immutable(),
		field.String("template_id").MaxRuneLen(64).Immutable(),
		// data holds the message fields as JSON (stall, code, note).
		field.String("data").MaxRuneLen(2000).Immutable(),
		field.Enum("state").Values("PENDING", "SENT", "GONE", "FAILED").Default("PENDING"),
		field.Int("attempts").Default(0),
		field.Time("next_attempt_at").SchemaType(mysqlTime()),
		// lease_until marks a row being sent; others skip it until it expires.
		field.Time("lease_until").SchemaType(mysqlTime()).Optional().Nillable(),
		// last_error is cut to 200 runes (see truncateRunes): count the same.
		field.String("last_error").MaxRuneLen(200).Default(""),
		field.Time("created_at").SchemaType(mysqlTime()).Default(time.Now).Immutable(),
		field.Time("sent_at").SchemaType(mysqlTime()).Optional().Nillable(),
	}
}

func (Notification) Indexes() []ent.Index {
	// created_at: the lifecycle sweep finds messages past retention.
	return []ent.Index{index.Fields("state", "next_attempt_at"), index.Fields("created_at")}
}

func (Notification) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
