package model

// Limits of user input, shared by the ent schema (which sizes the columns)
// and the domain (internal/canteen/input.go, which validates against them),
// so a column always holds everything the API accepts. Text limits count
// characters (runes), as the GraphQL schema says, never bytes: a VARCHAR(n)
// column in utf8mb4 holds n characters, 4-byte emoji included.
const (
	MaxSellerName     = 40
	MaxPersonName     = 40
	MaxPhone          = 32
	MaxPickupNote     = 100
	MaxMenuItemName   = 40
	MaxTicketNote     = 100
	MaxIdempotencyKey = 64
	MaxPrefix         = 4

	// MaxPriceCents is 100,000 yuan: far above any dish, far below a
	// GraphQL Int (32 bits), so a price read back is the price written.
	MaxPriceCents = 10_000_000
)
