//go:build tools

// Package tools pins the code generators that `go generate ./...` runs, and
// libraries that tests and upcoming packages use, so every developer and CI
// use the versions recorded in go.mod.
package tools

import (
	_ "entgo.io/contrib/entgql"
	_ "entgo.io/ent/cmd/ent"
	_ "github.com/99designs/gqlgen"
	_ "github.com/Shopify/toxiproxy/v2"
	_ "github.com/Shopify/toxiproxy/v2/client"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/skip2/go-qrcode"
	_ "go.uber.org/goleak"
	_ "golang.org/x/image/webp"
	_ "golang.org/x/time/rate"
)
