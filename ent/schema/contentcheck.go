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

// ContentCheck is one piece of user-written text or one uploaded photo
// whose WeChat content check is not simply "pass": queued because WeChat was
// slow or down (PENDING, an outbox like Notification, claimed with a lease),
// waiting for an image verdict push (WAITING), awaiting an admin (REVIEW), or
// decided (PASSED, RISKY: hidden by WeChat's verdict, ACCEPTED/REMOVED: by an
// admin). Text that passes at once leaves no row.
type ContentCheck struct{ ent.Schema }

func (ContentCheck) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("subject").Values("SELLER_NAME", "PERSON_NAME", "PICKUP_NOTE", "MENU_ITEM_NAME", "TICKET_NOTE", "PHOTO").Immutable(),
		// seller_id is the stall the content belongs to (audits and reviews
		// name it); target_id the row holding it: the seller, or the ticket
		// of a note. Menu items are found by seller and name, because
		// setMenu replaces the items (and their IDs) of a stall.
		field.String("seller_id").GoType(pulid.ID("")).MaxRuneLen(pulid.Len).Immutable(),
		field.String("target_id").GoType(pulid.ID("")).MaxRuneLen(pulid.Len).Immutable(),
		// user_id and app are the writer: msg_sec_check wants their openid
		// in the app they wrote from.
		field.String("user_id").GoType(pulid.ID("")).MaxRuneLen(pulid.Len).Immutable(),
		field.String("app").MaxRuneLen(16).Immutable(),
		field.Int("scene").Immutable(),
		// content is the text checked, or the photo's storage key.
		field.String("content").MaxRuneLen(255).Immutable(),
		// previous is the field's value before this write: what a name
		// reverts to when the new one turns out risky (NULL: none).
		field.String("previous").MaxRuneLen(255).Optional().Nillable().Immutable(),
		field.Enum("state").Values("PENDING", "WAITING", "REVIEW", "PASSED", "RISKY", "ACCEPTED", "REMOVED"),
		field.Int("label").Default(0),
		// trace_id is WeChat's id of an image check; unique, so each
		// verdict push is applied once.
		field.String("trace_id").MaxRuneLen(64).Optional().Nillable().Unique(),
		// reason says why a row is in REVIEW or was decided so (no secrets).
		field.String("reason").MaxRuneLen(200).Default(""),
		field.Int("attempts").Default(0),
		field.Time("next_attempt_at").SchemaType(mysqlTime()),
		// lease_until marks a row being checked; others skip it until then.
		field.Time("lease_until").SchemaType(mysqlTime()).Optional().Nillable(),
		field.Time("created_at").SchemaType(mysqlTime()).Default(time.Now).Immutable(),
		field.Time("decided_at").SchemaType(mysqlTime()).Optional().Nillable(),
	}
}

func (ContentCheck) Indexes() []ent.Index {
	return []ent.Index{index.Fields("state", "next_attempt_at"), index.Fields("seller_id", "subject")}
}

func (ContentCheck) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
