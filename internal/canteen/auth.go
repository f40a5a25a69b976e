package canteen

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"callme/ent"
	"callme/ent/seller"
	"callme/ent/session"
	"callme/ent/user"
	"callme/internal/events"
	"callme/internal/model"
	"callme/internal/pulid"
	"callme/internal/wechat"

	entsql "entgo.io/ent/dialect/sql"
)

// Actor is the caller of an operation: a session and the roles its user had
// when the operation started. It is a snapshot, never changed once made:
// concurrent operations of one WebSocket may share it, and each new
// operation resolves its token again (see Authenticate).
type Actor struct {
	UserID    pulid.ID
	OpenID    string
	App       model.App
	SessionID int
	Admin     bool
	// SellerID is the stall the user claimed, or "".
	SellerID pulid.ID
	// ExpiresAt is when the session expires unless it is used again.
	ExpiresAt time.Time
	// Console: the session is a staff console's, got by scan-to-log-in.
	Console bool
}

// Roles lists what the actor may act as.
func (a *Actor) Roles() []model.Role {
	return roles(a.App, a.SellerID != "", a.Admin)
}

func roles(app model.App, seller, admin bool) []model.Role {
	r := []model.Role{}
	if app == model.AppCustomer {
		r = append(r, model.RoleCustomer)
	}
	if seller {
		r = append(r, model.RoleSeller)
	}
	if admin {
		r = append(r, model.RoleAdmin)
	}
	return r
}

// withStall returns a copy of a that runs stall id.
func (a *Actor) withStall(id pulid.ID) *Actor {
	b := *a
	b.SellerID = id
	return &b
}

// manages reports whether the actor runs stall sellerID: its own seller or an admin.
func (a *Actor) manages(sellerID pulid.ID) bool {
	return a != nil && (a.Admin || (a.SellerID != "" && a.SellerID == sellerID))
}

type actorKey struct{}

// actorSlot holds the caller of one operation. Only claimSeller replaces it,
// with a new Actor, so the rest of the same operation (the fields of its
// answer, later root fields of the same mutation) sees the new role.
type actorSlot struct{ a atomic.Pointer[Actor] }

// WithActor returns ctx carrying the caller (nil: anonymous) of one operation.
func WithActor(ctx context.Context, a *Actor) context.Context {
	slot := &actorSlot{}
	slot.a.Store(a)
	return context.WithValue(ctx, actorKey{}, slot)
}

// ActorFrom returns the caller, or nil for anonymous requests.
func ActorFrom(ctx context.Context) *Actor {
	slot, _ := ctx.Value(actorKey{}).(*actorSlot)
	if slot == nil {
		return nil
	}
	return slot.a.Load()
}

// becomes makes a the caller for the rest of the operation of ctx.
func becomes(ctx context.Context, a *Actor) {
	if slot, _ := ctx.Value(actorKey{}).(*actorSlot); slot != nil {
		slot.a.Store(a)
	}
}

func requireActor(ctx context.Context) (*Actor, error) {
	a := ActorFrom(ctx)
	if a == nil {
		return nil, errUnauthenticated()
	}
	return a, nil
}

// Login is a new session, as returned to the client.
type Login struct {
	Token     string
	ExpiresAt time.Time
	User      *ent.User
}

// LoginInput is a wx.login code from one of the two apps.
type LoginInput struct {
	App  model.App
	Code string
}

// Login exchanges a wx.login code for a session.
func (s *Service) Login(ctx context.Context, in LoginInput) (*Login, error) {
	app, code := in.App, in.Code
	if !app.Valid() {
		return nil, Errorf(CodeBadUserInput, "app must be CUSTOMER or SELLER")
	}
	code = strings.TrimSpace(code)
	if code == "" || len(code) > 256 {
		return nil, Errorf(CodeBadUserInput, "code must be the non-empty code from wx.login")
	}
	var openid, unionid, sessionKey string
	if name, ok := strings.CutPrefix(code, "dev:"); ok {
		if !s.cfg.DevLogin {
			return nil, Errorf(CodeUnauthenticated, "dev login is off on this server; log in with a wx.login code")
		}
		if !validDevName(name) {
			return nil, Errorf(CodeBadUserInput, "dev login name must be 1 to 64 letters, digits, '_', '-' or '.'")
		}
		openid = name
	} else {
		if s.wechat == nil {
			return nil, Errorf(CodeUnauthenticated, "WeChat login is not configured on this server; use a dev:<name> code")
		}
		ws, err := s.wechat.Code2Session(ctx, app, code)
		if err != nil {
			return nil, s.wechatError(ctx, err)
		}
		openid, unionid, sessionKey = ws.OpenID, ws.UnionID, ws.SessionKey
	}

	now := s.now()
	token, hash, err := newToken()
	if err != nil {
		return nil, err
	}
	var u *ent.User
	err = s.inTx(ctx, func(tx *txn) error {
		u, err = tx.User.Query().Where(user.AppEQ(app), user.Openid(openid)).Only(ctx)
		if ent.IsNotFound(err) {
			c := tx.User.Create().SetApp(app).SetOpenid(openid).SetCreatedAt(now)
			if unionid != "" {
				c.SetUnionid(unionid)
			}
			u, err = c.Save(ctx)
		}
		if err != nil {
			return err
		}
		_, err = s.createSession(ctx, tx, u.ID, app, hash, sessionKey, false, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &Login{Token: token, ExpiresAt: now.Add(s.cfg.SessionIdle), User: u.Unwrap()}, nil
}

// createSession stores a new session of user uid (only its token's hash)
// and returns when it expires unless used.
func (s *Service) createSession(ctx context.Context, tx *txn, uid pulid.ID, app model.App, hash, sessionKey string, console bool, now time.Time) (time.Time, error) {
	expires := now.Add(s.cfg.SessionIdle)
	_, err := tx.Session.Create().
		SetTokenHash(hash).
		SetConsole(console).
		SetUserID(uid).
		SetApp(app).
		SetSessionKey(sessionKey).
		SetCreatedAt(now).
		SetLastSeenAt(now).
		SetExpiresAt(expires).
		Save(ctx)
	return expires, err
}

// wechatError maps a WeChat failure to the contract's codes.
func (s *Service) wechatError(ctx context.Context, err error) error {
	switch {
	case wechat.IsInvalidCode(err):
		return Errorf(CodeUnauthenticated, "the login code is invalid or already used; call wx.login again")
	case wechat.IsRateLimited(err):
		return Errorf(CodeRateLimited, "WeChat says this user logs in too often; wait a minute")
	case wechat.IsBlocked(err):
		return Errorf(CodeForbidden, "WeChat blocked this user as high-risk")
	case errors.Is(err, wechat.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return Errorf(CodeWeChatUnavailable, "WeChat is busy or unreachable; try again shortly")
	case errors.Is(err, wechat.ErrNotConfigured):
		return Errorf(CodeUnauthenticated, "WeChat login is not configured for this app on this server")
	}
	s.log.WarnContext(ctx, "unexpected WeChat login error", "err", err)
	return Errorf(CodeWeChatUnavailable, "WeChat login failed; try again shortly")
}

func validDevName(name string) bool {
	if name == "" || utf8.RuneCountInString(name) > 64 {
		return false
	}
	for _, r := range name {
		ok := r == '_' || r == '-' || r == '.' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !ok {
			return false
		}
	}
	return true
}

// newToken returns a 256-bit random bearer token and its stored hash.
func newToken() (token, hash string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, hashToken(token), nil
}

func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// Authenticate resolves a bearer token to the caller and slides the
// session's expiry. It returns (nil, nil) for an unknown or expired token:
// such requests run anonymously, and operations that need a session answer
// UNAUTHENTICATED. HTTP requests call it once each; WebSockets once per
// operation, so a logout, an expiry or a new role takes effect on a socket's
// next operation.
func (s *Service) Authenticate(ctx context.Context, token string) (*Actor, error) {
	if token == "" || len(token) > 128 {
		return nil, nil
	}
	hash := hashToken(token)
	a, gen := s.sessions.get(hash, s.now())
	if a != nil {
		return a, nil
	}
	a, lastSeen, err := s.session(ctx, entsql.EQ(entsql.Table(session.Table).As("s").C(session.FieldTokenHash), hash))
	if a == nil || err != nil {
		return nil, err
	}
	// Slide the expiry, but write at most once a minute per session: a read
	// should not cost a write.
	if now := s.now(); now.Sub(lastSeen) >= time.Minute {
		err := s.db.Session.UpdateOneID(a.SessionID).
			SetLastSeenAt(now).
			SetExpiresAt(now.Add(s.cfg.SessionIdle)).
			Exec(ctx)
		if err != nil && !ent.IsNotFound(err) {
			return nil, err
		}
		a.ExpiresAt = now.Add(s.cfg.SessionIdle)
	}
	s.sessions.put(hash, a, s.now(), gen)
	return a, nil
}

// session reads the session that where selects, with its user and the
// user's stall, in one statement; nil when there is none or it expired.
func (s *Service) session(ctx context.Context, where *entsql.Predicate) (*Actor, time.Time, error) {
	var (
		a        Actor
		lastSeen time.Time
		sellerID *string
	)
	sess := entsql.Table(session.Table).As("s")
	usr := entsql.Table(user.Table).As("u")
	sel := entsql.Table(seller.Table).As("st")
	query, args := entsql.Dialect(s.dialect).
		Select(sess.C(session.FieldID), sess.C(session.FieldUserID), sess.C(session.FieldApp),
			sess.C(session.FieldLastSeenAt), sess.C(session.FieldExpiresAt), usr.C(user.FieldOpenid), sel.C(seller.FieldID),
			sess.C(session.FieldConsole)).
		From(sess).
		Join(usr).On(sess.C(session.FieldUserID), usr.C(user.FieldID)).
		LeftJoin(sel).On(sel.C(seller.FieldOwnerID), usr.C(user.FieldID)).
		Where(where).
		Query()
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, lastSeen, err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, lastSeen, rows.Err()
	}
	if err := rows.Scan(&a.SessionID, &a.UserID, &a.App, &lastSeen, &a.ExpiresAt, &a.OpenID, &sellerID, &a.Console); err != nil {
		return nil, lastSeen, err
	}
	if err := rows.Close(); err != nil {
		return nil, lastSeen, err
	}
	if !s.now().Before(a.ExpiresAt) {
		return nil, lastSeen, nil
	}
	if sellerID != nil {
		a.SellerID = pulid.ID(*sellerID)
	}
	a.Admin = s.admins[a.OpenID]
	return &a, lastSeen, nil
}

// UserTopic names the event topic of changes to a user's sessions and roles
// (a logout, a claimed stall): running subscriptions of the user's sessions
// check theirs again when they hear it, on every instance.
func UserTopic(id pulid.ID) string { return "user:" + string(id) }

// Logout revokes the caller's session and ends its running subscriptions.
func (s *Service) Logout(ctx context.Context) (bool, error) {
	a, err := requireActor(ctx)
	if err != nil {
		return false, err
	}
	if err := s.db.Session.DeleteOneID(a.SessionID).Exec(ctx); err != nil && !ent.IsNotFound(err) {
		return false, err
	}
	s.sessions.forgetUser(a.UserID)
	s.broker.Publish(events.Event{Topic: UserTopic(a.UserID)})
	s.broker.Publish(events.Event{Topic: SessionsTopic})
	return true, nil
}

// Me returns the caller's user, or nil without a session.
func (s *Service) Me(ctx context.Context) (*ent.User, error) {
	a := ActorFrom(ctx)
	if a == nil {
		return nil, nil
	}
	u, err := s.db.User.Get(ctx, a.UserID)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return u, err
}

// Roles returns the current roles of u.
func (s *Service) Roles(ctx context.Context, u *ent.User) ([]model.Role, error) {
	if a := ActorFrom(ctx); a != nil && a.UserID == u.ID {
		return a.Roles(), nil
	}
	hasStall, err := s.db.Seller.Query().Where(seller.OwnerID(u.ID)).Exist(ctx)
	if err != nil {
		return nil, err
	}
	return roles(u.App, hasStall, s.admins[u.Openid]), nil
}

// StallOf returns the stall u claimed, or nil.
func (s *Service) StallOf(ctx context.Context, u *ent.User) (*ent.Seller, error) {
	st, err := s.db.Seller.Query().Where(seller.OwnerID(u.ID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return st, err
}
