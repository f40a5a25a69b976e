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
)

// Seller is one canteen stall.
type Seller struct{ ent.Schema }

func (Seller) Mixin() []ent.Mixin { return []ent.Mixin{idMixin{prefix: PrefixSeller}} }

func (Seller) Fields() []ent.Field {
	return []ent.Field{
		// Text written by people is limited in characters (see
		// internal/model/limits.go), like every string of this schema.
		field.String("name").NotEmpty().MaxRuneLen(model.MaxSellerName),
		field.String("person_name").Optional().Nillable().MaxRuneLen(model.MaxPersonName),
		field.String("phone").Optional().Nillable().MaxRuneLen(model.MaxPhone),
		// photo is a storage key, turned into photoURL by the API.
		field.String("photo").Optional().Nillable().MaxRuneLen(255),
		// photo_status is where the photo is in WeChat's content check: only
		// a PUBLISHED photo is shown to others than its seller and admins.
		field.Enum("photo_status").Values("PUBLISHED", "PENDING", "IN_REVIEW", "REJECTED").Default("PUBLISHED").
			Annotations(entgql.Skip(entgql.SkipAll)),
		// prefix starts every ticket code of the stall ("A" in A007).
		field.String("prefix").Default("").MaxRuneLen(model.MaxPrefix),
		// max_number is where numbering wraps. A day's counter copies it when
		// the day starts, so a change applies from the next business day.
		field.Int("max_number").Default(999).Range(9, 9999),
		// open is the seller's switch. The API's Seller.open also needs
		// paid_until (an unpaid stall reads closed), so field collection must not
		// load this column alone for it: it maps to no GraphQL field.
		field.Bool("open").Default(false).Annotations(entgql.MapsTo("openSwitch")),
		// pickup_note is shown to customers and in notifications ("window 3").
		field.String("pickup_note").Optional().Nillable().MaxRuneLen(model.MaxPickupNote),
		// A CALLED ticket becomes NO_SHOW when it is called again after
		// no_show_after_calls calls, or no_show_after_minutes after its first
		// call (0: never by time).
		field.Int("no_show_after_calls").Default(3).Range(1, 20),
		field.Int("no_show_after_minutes").Default(0).Range(0, 240),
		field.Time("paid_until").SchemaType(mysqlTime()).Optional().Nillable(),
		// owner_id binds the stall to the SELLER-app user who claimed it.
		field.String("owner_id").GoType(pulid.ID("")).MaxRuneLen(pulid.Len).Optional().Nillable().Unique(),
		// invite_hash is the SHA-256 of the one-time invite code; NULL once used.
		field.String("invite_hash").Optional().Nillable().Unique().MaxRuneLen(64).Sensitive(),
		// call_seq is the last CallEvent.seq handed out. It never resets, so a
		// board can resume with `after` across a day turnover.
		field.Int64("call_seq").Default(0),
		field.Time("created_at").SchemaType(mysqlTime()).Default(time.Now).Immutable().
			Annotations(entgql.OrderField("CREATED_AT")),
	}
}

func (Seller) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("owner", User.Type).Ref("stall").Field("owner_id").Unique(),
		// menu is loaded by canteen.Service.Menu, batched per page and ordered
		// by position; field collection would load it unordered, without
		// the position column.
		edge.To("menu", MenuItem.Type).Annotations(entgql.Unbind()),
		edge.To("tickets", Ticket.Type),
		edge.To("call_events", CallEvent.Type),
		edge.To("counters", DayCounter.Type),
	}
}

func (Seller) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
