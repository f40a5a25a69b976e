package canteen

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"callme/ent"
	"callme/ent/consolechallenge"
	"callme/internal/events"
	"callme/internal/ratelimit"
)

// Scan to log in: the staff console (a tablet at the stall, a browser at
// /console) starts a challenge and shows it as a QR code; the seller scans
// it with the seller mini-program, which approves it as the seller; the
// console, listening with the secret only it knows, receives a new session
// of the seller's. Challenges live in the database (the console and the
// phone may reach different instances) as SHA-256 hashes only, like
// sessions; a session token is made on the console's instance and never
// crosses the broker or the database in plain text.

// ConsoleLogin is a started scan-to-log-in of the staff console: the console
// shows QRText as a QR code and keeps Secret to itself.
type ConsoleLogin struct {
	QRText    string
	Secret    string
	ExpiresAt time.Time
}

const (
	// consoleQRPrefix says what the QR code is for, so the seller
	// mini-program can tell it from a stall's code.
	consoleQRPrefix = "callme-console:"
	// consoleLoginTTL: a QR code on a screen is useless after 2 minutes.
	consoleLoginTTL = 2 * time.Minute
	// DefaultConsoleLoginsPerMinute is how many challenges one client
	// address may start a minute (a console shows a new one every 2 minutes;
	// a campus NAT address may hold a few consoles).
	DefaultConsoleLoginsPerMinute = 10
	// maxLiveConsoleLogins bounds the unexpired challenges of all
	// addresses together: a campus has tens of consoles, each holding one;
	// past this, starts are refused for everyone until some expire (2 min),
	// whatever the number of addresses an attacker has.
	maxLiveConsoleLogins = 1000
	// tokenLen is the length of newToken's tokens (32 bytes, base64url).
	tokenLen = 43
	// maxAuditAddrRunes bounds the client address an audit entry's detail
	// names: an address or a /64 is far shorter, and the detail holds 400.
	maxAuditAddrRunes = 64
)

// ConsoleTopic names the topic a challenge's approval is published on.
func ConsoleTopic(id int) string { return "console:" + strconv.Itoa(id) }

func errConsoleLoginGone() *Error {
	return Errorf(CodeNotFound, "this console login is unknown, expired or already used; show a new QR code")
}

// StartConsoleLogin starts a scan-to-log-in for anyone, at most
// ConsoleLoginsPerMinute per client address (an IPv6 address counts by its
// /64) and ConsoleLoginsLive unexpired in all. Each start first deletes
// the challenges that have expired, so the table holds minutes of starts,
// not the hours between retention sweeps.
func (s *Service) StartConsoleLogin(ctx context.Context, clientAddr string) (*ConsoleLogin, error) {
	if ok, wait := s.consoleStarts.Allow(ratelimit.AddressKey(clientAddr)); !ok {
		return nil, rateLimited(wait, "too many console logins from this address; try again in %d s")
	}
	now := s.now()
	if _, err := s.db.ConsoleChallenge.Delete().Where(consolechallenge.ExpiresAtLT(now)).Exec(ctx); err != nil {
		return nil, err
	}
	live, err := s.db.ConsoleChallenge.Query().Where(consolechallenge.ExpiresAtGTE(now)).Count(ctx)
	if err != nil {
		return nil, err
	}
	if live >= s.cfg.ConsoleLoginsLive {
		return nil, rateLimited(s.cfg.ConsoleLoginTTL, "too many console logins are waiting; try again in %d s")
	}
	challenge, challengeHash, err := newToken()
	if err != nil {
		return nil, err
	}
	secret, secretHash, err := newToken()
	if err != nil {
		return nil, err
	}
	expires := now.Add(s.cfg.ConsoleLoginTTL)
	err = s.db.ConsoleChallenge.Create().
		SetChallengeHash(challengeHash).SetSecretHash(secretHash).SetCreatedAt(now).SetExpiresAt(expires).
		Exec(ctx)
	if err != nil {
		return nil, err
	}
	return &ConsoleLogin{QRText: consoleQRPrefix + challenge, Secret: secret, ExpiresAt: expires}, nil
}

// ApproveConsoleLogin approves the console login whose QR code says qrText,
// as the caller, who must run a stall or be an admin, from client address
// clientAddr. Of any number of approvals racing, on any instances, one
// wins; the rest, and approvals of an expired challenge, answer NOT_FOUND.
func (s *Service) ApproveConsoleLogin(ctx context.Context, qrText, clientAddr string) (bool, error) {
	a, err := requireActor(ctx)
	if err != nil {
		return false, err
	}
	if a.SellerID == "" && !a.Admin {
		return false, Errorf(CodeForbidden, "only a stall's seller or an admin can log a console in")
	}
	if a.Console {
		return false, Errorf(CodeForbidden, "a console cannot log another console in; approve with the seller mini-program")
	}
	challenge, ok := strings.CutPrefix(strings.TrimSpace(qrText), consoleQRPrefix)
	if !ok || len(challenge) != tokenLen {
		return false, errConsoleLoginGone()
	}
	hash := hashToken(challenge)
	err = s.inTx(ctx, func(tx *txn) error {
		now := s.now()
		n, err := tx.ConsoleChallenge.Update().
			Where(consolechallenge.ChallengeHash(hash), consolechallenge.ApprovedByIsNil(), consolechallenge.ExpiresAtGT(now)).
			SetApprovedBy(a.UserID).SetApprovedAt(now).
			Save(ctx)
		if err != nil {
			return err
		}
		if n != 1 {
			return errConsoleLoginGone()
		}
		c, err := tx.ConsoleChallenge.Query().Where(consolechallenge.ChallengeHash(hash)).Only(ctx)
		if err != nil {
			return err
		}
		// Every console login is audited, a seller's too: it hands out a
		// session, and the log is where a stolen one is traced: to the
		// approving session (its id, which logs out; never its token) and
		// the address it came from, keyed as the per-address limits count
		// it (a stray non-address is cut to fit the detail).
		target := a.SellerID
		if target == "" {
			target = a.UserID
		}
		detail := fmt.Sprintf("a console logged in with this account; approved by session %d from %s",
			a.SessionID, truncateRunes(ratelimit.AddressKey(clientAddr), maxAuditAddrRunes))
		if err := s.record(ctx, tx, a, "approveConsoleLogin", target, detail); err != nil {
			return err
		}
		tx.publish(events.Event{Topic: ConsoleTopic(c.ID), Seq: 1})
		return nil
	})
	return err == nil, err
}

// ConsoleLoginApproved waits for the approval of the console login whose
// secret is given, then sends a new session of the approving user, made
// here, and ends. It ends with NOT_FOUND for an unknown, used or expired
// challenge, and when the challenge expires unapproved.
func (s *Service) ConsoleLoginApproved(ctx context.Context, secret string) (*Stream[*Login], error) {
	if len(secret) != tokenLen {
		return nil, errConsoleLoginGone()
	}
	c, err := s.db.ConsoleChallenge.Query().Where(consolechallenge.SecretHash(hashToken(secret))).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, errConsoleLoginGone()
	}
	if err != nil {
		return nil, err
	}
	if c.UsedAt != nil || !s.now().Before(c.ExpiresAt) {
		return nil, errConsoleLoginGone()
	}
	// Subscribe, then look: an approval that landed before (or on another
	// instance) is found by the look, a later one arrives as an event.
	sub := s.broker.Subscribe(ConsoleTopic(c.ID))
	return startStream(ctx, func(send func(*Login) bool) error {
		defer sub.Close()
		// The stream's goroutine waits on the timer itself: no goroutine
		// of its own per waiting console.
		expiry := time.NewTimer(max(c.ExpiresAt.Sub(s.now()), 0))
		defer expiry.Stop()
		// take sends the session once the challenge is approved.
		take := func() (done bool, err error) {
			var l *Login
			err = s.retryRead(ctx, "taking the console's session", func() (err error) {
				l, err = s.takeConsoleSession(ctx, c.ID)
				return err
			})
			if err != nil || l == nil {
				return err != nil, err
			}
			send(l)
			return true, nil
		}
		if done, err := take(); done {
			return err
		}
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-sub.Events():
			case <-sub.Lagged():
			case <-expiry.C:
				// One last look: an approval may have committed just now.
				if done, err := take(); done {
					return err
				}
				return errConsoleLoginGone()
			}
			if done, err := take(); done {
				return err
			}
		}
	}), nil
}

// takeConsoleSession marks an approved challenge used and makes a session
// of the user who approved it, in one transaction: of two consoles holding
// one secret, one gets it. It answers nil while the challenge is unapproved.
func (s *Service) takeConsoleSession(ctx context.Context, id int) (*Login, error) {
	token, hash, err := newToken()
	if err != nil {
		return nil, err
	}
	var l *Login
	err = s.inTx(ctx, func(tx *txn) error {
		l = nil
		now := s.now()
		n, err := tx.ConsoleChallenge.Update().
			Where(consolechallenge.ID(id), consolechallenge.ApprovedByNotNil(), consolechallenge.UsedAtIsNil()).
			SetUsedAt(now).
			Save(ctx)
		if err != nil {
			return err
		}
		c, err := tx.ConsoleChallenge.Get(ctx, id)
		if ent.IsNotFound(err) {
			return errConsoleLoginGone() // swept
		}
		if err != nil {
			return err
		}
		if n != 1 {
			if c.UsedAt != nil {
				return errConsoleLoginGone()
			}
			return nil // not approved yet
		}
		u, err := tx.User.Get(ctx, *c.ApprovedBy)
		if err != nil {
			return err
		}
		expires, err := s.createSession(ctx, tx, u.ID, u.App, hash, "", true, now)
		if err != nil {
			return err
		}
		l = &Login{Token: token, ExpiresAt: expires, User: u.Unwrap()}
		return nil
	})
	return l, err
}
