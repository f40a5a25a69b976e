package schema

import (
	"callme/internal/pulid"

	"entgo.io/ent"
	"entgo.io/ent/dialect"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"
)

// idMixin gives a type the opaque prefixed IDs that clients see (see
// internal/pulid). The prefix is part of every stored ID: never change it.
type idMixin struct {
	mixin.Schema
	prefix string
}

func (m idMixin) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").
			GoType(pulid.ID("")).
			MaxLen(pulid.Len).
			NotEmpty().
			Immutable().
			DefaultFunc(func() pulid.ID { return pulid.New(m.prefix) }),
	}
}

// ID prefixes, one per Node type. node(id) resolves types by these.
const (
	PrefixSeller   = "SL"
	PrefixMenuItem = "MI"
	PrefixUser     = "US"
	PrefixTicket   = "TK"
)

// mysqlTime gives timestamps microsecond precision on MySQL (ent's default
// there is whole seconds), so every database orders and compares alike.
func mysqlTime() map[string]string { return map[string]string{dialect.MySQL: "datetime(6)"} }

// Strings are limited with MaxRuneLen, never MaxLen: it sizes the column
// VARCHAR(n), which holds n characters in the utf8mb4 tables, and validates
// the same n in runes, the unit of the API and of the domain's checks. MaxLen
// would count bytes and refuse 15 Chinese characters (45 bytes) as longer
// than 40, surfacing as INTERNAL where the domain had said yes. For the
// ASCII-only fields (IDs, hashes, codes) both counts are the same.
