// Package persisted runs trusted documents: the GraphQL documents the
// project ships (the mini-program kit's operations and the call board's),
// collected by go generate into manifest.json and embedded in the binary.
//
// Clients send a document by its hash in Apollo's persisted-query extension,
// extensions: {"persistedQuery": {"version": 1, "sha256Hash": "<hex>"}}, over
// POST, GET and WebSocket subscribe messages, with or without its text. In
// Trusted mode only manifest documents run, by hash or by their exact text,
// unless the caller may run any document (admins, who use GraphiQL);
// everything else is refused before it is parsed, so a decompiled
// mini-program cannot explore the schema or send expensive documents of its
// own. In Any mode every document runs, and clients may register theirs by
// hash (Apollo's automatic persisted queries) in a bounded cache. A hash
// sent with a different text is refused in both modes.
package persisted

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Error codes of refused documents (extensions.code).
const (
	// CodeNotFound: a hash that is neither in the manifest nor registered.
	// Apollo clients answer it by sending the text with the hash.
	CodeNotFound = "PERSISTED_QUERY_NOT_FOUND"
	// CodeRequired: in Trusted mode, a document that is not in the manifest
	// from a caller who may not run any.
	CodeRequired = "PERSISTED_QUERY_REQUIRED"
	// CodeHashMismatch: the sha256Hash is not the hash of the text sent with it.
	CodeHashMismatch = "PERSISTED_QUERY_HASH_MISMATCH"
)

func init() {
	// Refusals happen before execution: over HTTP they are request errors
	// (no data; 400 under application/graphql-response+json), on a
	// WebSocket an "error" message, like a document that does not parse.
	for _, c := range []string{CodeNotFound, CodeRequired, CodeHashMismatch} {
		errcode.RegisterErrorType(c, errcode.KindProtocol)
	}
}

// Mode says which documents run.
type Mode string

const (
	// Trusted: only manifest documents, except for callers allowed any.
	Trusted Mode = "trusted"
	// Any: every document; unknown hashes may be registered (APQ).
	Any Mode = "any"
)

// ParseMode reads a -documents setting.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case Trusted, Any:
		return m, nil
	}
	return "", fmt.Errorf("documents must be %q or %q, got %q", Trusted, Any, s)
}

//go:embed manifest.json
var manifestJSON []byte

// Manifest is the set of trusted documents.
type Manifest struct {
	ops    []Operation
	byHash map[string]string // hash -> document
}

// Shipped returns the manifest built into the binary.
func Shipped() (*Manifest, error) {
	var ops []Operation
	if err := json.Unmarshal(manifestJSON, &ops); err != nil {
		return nil, fmt.Errorf("embedded manifest.json: %w", err)
	}
	return NewManifest(ops), nil
}

// NewManifest makes a manifest of ops.
func NewManifest(ops []Operation) *Manifest {
	m := &Manifest{ops: ops, byHash: make(map[string]string, len(ops))}
	for _, op := range ops {
		m.byHash[Hash(op.Document)] = op.Document
	}
	return m
}

// Operations lists the manifest's documents.
func (m *Manifest) Operations() []Operation { return m.ops }

// Lookup returns the document of hash.
func (m *Manifest) Lookup(hash string) (string, bool) {
	d, ok := m.byHash[hash]
	return d, ok
}

// Documents is the gqlgen extension that enforces the mode. It takes the
// place of gqlgen's extension.AutomaticPersistedQuery.
type Documents struct {
	Mode     Mode
	Manifest *Manifest
	// Registered keeps documents clients register by hash in Any mode. It
	// must be bounded (an LRU): anyone may register.
	Registered graphql.Cache[string]
	// MaxRegisteredBytes: longer documents still run in Any mode but are
	// not kept, so the cache holds at most its size times this.
	MaxRegisteredBytes int
	// MayRunAny reports whether the caller of ctx may send documents that are
	// not in the manifest in Trusted mode (admins). It is asked only then.
	MayRunAny func(ctx context.Context) (bool, error)
	Logger    *slog.Logger
}

var _ interface {
	graphql.OperationParameterMutator
	graphql.HandlerExtension
} = (*Documents)(nil)

func (*Documents) ExtensionName() string { return "TrustedDocuments" }

func (d *Documents) Validate(graphql.ExecutableSchema) error {
	switch {
	case d.Manifest == nil:
		return fmt.Errorf("persisted.Documents needs a Manifest")
	case d.Mode != Trusted && d.Mode != Any:
		return fmt.Errorf("persisted.Documents: unknown mode %q", d.Mode)
	case d.Mode == Any && d.Registered == nil:
		return fmt.Errorf("persisted.Documents needs a Registered cache in Any mode")
	case d.Mode == Trusted && d.MayRunAny == nil:
		return fmt.Errorf("persisted.Documents needs MayRunAny in Trusted mode")
	}
	return nil
}

// MutateOperationParameters resolves a hash to its document and refuses what
// the mode does not allow. It runs before the document is parsed.
func (d *Documents) MutateOperationParameters(ctx context.Context, raw *graphql.RawParams) *gqlerror.Error {
	hash, hasHash, gerr := persistedHash(raw.Extensions)
	if gerr != nil {
		return gerr
	}
	if hasHash {
		if raw.Query == "" {
			if doc, ok := d.Manifest.Lookup(hash); ok {
				raw.Query = doc
				return nil
			}
			if d.Mode == Any {
				if doc, ok := d.Registered.Get(ctx, hash); ok {
					raw.Query = doc
					return nil
				}
			}
			return refusal(CodeNotFound, "PersistedQueryNotFound")
		}
		if Hash(raw.Query) != hash {
			return refusal(CodeHashMismatch, "persistedQuery.sha256Hash is not the SHA-256 of the query sent with it")
		}
	} else if raw.Query != "" {
		hash = Hash(raw.Query)
	}
	if _, ok := d.Manifest.Lookup(hash); ok && raw.Query != "" {
		return nil // a trusted document, sent as text
	}
	if d.Mode == Any {
		if hasHash && len(raw.Query) <= d.MaxRegisteredBytes {
			d.Registered.Add(ctx, hash, raw.Query)
		}
		return nil
	}
	ok, err := d.MayRunAny(ctx)
	if err != nil {
		if d.Logger != nil {
			d.Logger.ErrorContext(ctx, "checking who may send any document", "err", err)
		}
		return &gqlerror.Error{Message: "internal error; it has been logged", Extensions: map[string]any{"code": "INTERNAL"}}
	}
	if !ok {
		return refusal(CodeRequired, "this server runs only the documents its clients ship: send the persistedQuery hash of one (see persisted-operations.json)")
	}
	return nil
}

func refusal(code, msg string) *gqlerror.Error {
	err := &gqlerror.Error{Message: msg}
	errcode.Set(err, code)
	return err
}

// persistedHash reads extensions.persistedQuery.
func persistedHash(ext map[string]any) (string, bool, *gqlerror.Error) {
	pq, ok := ext["persistedQuery"]
	if !ok || pq == nil {
		return "", false, nil
	}
	m, _ := pq.(map[string]any)
	hash, _ := m["sha256Hash"].(string)
	if m == nil || hash == "" {
		return "", false, badInput("extensions.persistedQuery must be {version: 1, sha256Hash: \"<hex>\"}")
	}
	if v := fmt.Sprint(m["version"]); v != "1" {
		return "", false, badInput("unsupported persistedQuery version: only 1 is known")
	}
	return hash, true, nil
}

func badInput(msg string) *gqlerror.Error {
	err := &gqlerror.Error{Message: msg}
	errcode.Set(err, "BAD_USER_INPUT")
	return err
}
