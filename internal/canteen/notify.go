package canteen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"callme/ent"
	"callme/ent/notification"
	"callme/ent/notifygrant"
	"callme/internal/model"
	"callme/internal/pulid"
	"callme/internal/wechat"
)

// NotifyConfig describes the "取餐提醒" subscribe message. Fields maps the
// template's data keys (e.g. "thing1") to what they show: "stall", "code",
// "number", "note" (the customer's) or "pickupNote" (the stall's).
type NotifyConfig struct {
	TemplateID string
	Page       string // mini-program page opened from the message
	State      string // formal, trial or developer
	Fields     map[string]string
}

// MessageSender sends WeChat subscribe messages (the WeChat client).
type MessageSender interface {
	SendSubscribeMessage(ctx context.Context, app model.App, msg wechat.SubscribeMessage) error
}

// Outbox limits.
const (
	maxGrantsPerTicket = 5
	maxSendAttempts    = 5
	// sendTimeout bounds one send, token refresh and the WeChat client's
	// retries included (3 attempts of 5 s each, twice, in the worst case).
	sendTimeout = time.Minute
	// sendLease is how long a claim keeps other instances off a row. It is
	// twice sendTimeout, so a send has always ended (and its outcome is being
	// written) long before another instance may take the row over.
	sendLease = 2 * sendTimeout
)

func (s *Service) notifyOn() bool { return s.cfg.Notify.TemplateID != "" }

// NotificationTemplates lists the template ids the app should ask the user
// to allow with wx.requestSubscribeMessage (empty when notifications are off).
func (s *Service) NotificationTemplates() []string {
	if !s.notifyOn() {
		return []string{}
	}
	return []string{s.cfg.Notify.TemplateID}
}

// AcceptNotifications records that the ticket's owner allowed subscribe
// messages for the given templates; each allow permits one message. It
// returns how many messages the ticket may now receive.
func (s *Service) AcceptNotifications(ctx context.Context, ticketID pulid.ID, templateIDs []string) (int, error) {
	a, err := requireActor(ctx)
	if err != nil {
		return 0, err
	}
	if !s.notifyOn() {
		return 0, Errorf(CodeBadUserInput, "notifications are not configured on this server")
	}
	n := 0
	for _, id := range templateIDs {
		if id == s.cfg.Notify.TemplateID {
			n++
		}
	}
	if n == 0 {
		return 0, Errorf(CodeBadUserInput, "none of these template ids is ours; ask for %q", s.cfg.Notify.TemplateID)
	}
	var unused int
	err = s.inTx(ctx, func(tx *txn) error {
		t, err := tx.Ticket.Get(ctx, ticketID)
		if ent.IsNotFound(err) {
			return Errorf(CodeNotFound, "no such ticket")
		}
		if err != nil {
			return err
		}
		if t.OwnerID == nil || *t.OwnerID != a.UserID {
			return Errorf(CodeForbidden, "only the ticket's owner can ask to be notified")
		}
		if !t.Status.Active() {
			return Errorf(CodeInvalidTransition, "the ticket is %s; there is nothing left to notify", t.Status)
		}
		unused, err = tx.NotifyGrant.Query().Where(notifygrant.TicketID(t.ID), notifygrant.UsedAtIsNil()).Count(ctx)
		if err != nil {
			return err
		}
		for ; n > 0 && unused < maxGrantsPerTicket; n-- {
			if err := tx.NotifyGrant.Create().SetTicketID(t.ID).SetUserID(a.UserID).
				SetTemplateID(s.cfg.Notify.TemplateID).SetCreatedAt(s.now()).Exec(ctx); err != nil {
				return err
			}
			unused++
		}
		return nil
	})
	return unused, err
}

// queueNotification spends one of the ticket's grants on a message about
// this call, in the call's transaction: either both happen or neither.
func (s *Service) queueNotification(ctx context.Context, tx *txn, st *ent.Seller, t *ent.Ticket) error {
	if !s.notifyOn() || t.OwnerID == nil {
		return nil
	}
	g, err := tx.NotifyGrant.Query().
		Where(notifygrant.TicketID(t.ID), notifygrant.UsedAtIsNil()).
		Order(ent.Asc(notifygrant.FieldID)).First(ctx)
	if ent.IsNotFound(err) {
		return nil // no allow left: no message
	}
	if err != nil {
		return err
	}
	now := s.now()
	n, err := tx.NotifyGrant.Update().Where(notifygrant.ID(g.ID), notifygrant.UsedAtIsNil()).SetUsedAt(now).Save(ctx)
	if err != nil {
		return err
	}
	if n != 1 {
		return errConflict
	}
	values := map[string]string{"stall": st.Name, "code": t.Code, "number": fmt.Sprint(t.Number)}
	if t.Note != nil {
		values["note"] = *t.Note
	}
	if st.PickupNote != nil {
		values["pickupNote"] = *st.PickupNote
	} else {
		values["pickupNote"] = "请到窗口取餐"
	}
	data := map[string]string{}
	for key, what := range s.cfg.Notify.Fields {
		data[key] = truncateRunes(values[what], 20) // WeChat's thing.DATA limit
	}
	b, _ := json.Marshal(data)
	err = tx.Notification.Create().
		SetGrantID(g.ID).SetTicketID(t.ID).SetUserID(*t.OwnerID).SetTemplateID(g.TemplateID).
		SetData(string(b)).SetNextAttemptAt(now).SetCreatedAt(now).
		Exec(ctx)
	if err != nil {
		return err
	}
	tx.onCommit(s.kickNotifier)
	return nil
}

func truncateRunes(v string, n int) string {
	r := []rune(v)
	if len(r) <= n {
		return v
	}
	return string(r[:n])
}

func (s *Service) kickNotifier() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// RunNotifier sends queued subscribe messages until ctx ends: at once after
// a call commits, and every few seconds for retries and for rows left by a
// crash. Sending never holds up a call.
func (s *Service) RunNotifier(ctx context.Context, sender MessageSender, every time.Duration) {
	if every <= 0 {
		every = 2 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.SendPending(ctx, sender)
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
		case <-t.C:
		}
	}
}

// SendPending sends the messages that are due; it returns how many it sent.
//
// Each row is claimed on its own, just before it is sent, with a lease
// counted from that moment: a slow send of one row never eats into the lease
// of the next (defect 9). The claim also counts the attempt, and only the
// claim that counted it may record the outcome.
func (s *Service) SendPending(ctx context.Context, sender MessageSender) int {
	now := s.now()
	due, err := s.db.Notification.Query().
		Where(notification.StateEQ(notification.StatePENDING), notification.NextAttemptAtLTE(now),
			notification.Or(notification.LeaseUntilIsNil(), notification.LeaseUntilLT(now))).
		Order(ent.Asc(notification.FieldID)).Limit(20).All(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.ErrorContext(ctx, "reading the notification outbox", "err", err)
		}
		return 0
	}
	sent := 0
	for _, n := range due {
		if ctx.Err() != nil {
			break
		}
		if !s.claim(ctx, n) {
			continue // another instance has it, or sent it meanwhile
		}
		if s.sendOne(ctx, sender, n) {
			sent++
		}
	}
	return sent
}

// claim takes a row for one send attempt: only if it is still pending, due
// and unleased at this moment, and nobody attempted it since it was read.
func (s *Service) claim(ctx context.Context, n *ent.Notification) bool {
	now := s.now()
	claimed, err := s.db.Notification.Update().
		Where(notification.ID(n.ID), notification.StateEQ(notification.StatePENDING),
			notification.Attempts(n.Attempts), notification.NextAttemptAtLTE(now),
			notification.Or(notification.LeaseUntilIsNil(), notification.LeaseUntilLT(now))).
		SetLeaseUntil(now.Add(sendLease)).AddAttempts(1).Save(ctx)
	if err != nil && ctx.Err() == nil {
		s.log.ErrorContext(ctx, "claiming a notification", "notification", n.ID, "err", err)
	}
	return err == nil && claimed == 1
}

func (s *Service) sendOne(ctx context.Context, sender MessageSender, n *ent.Notification) bool {
	u, err := s.db.User.Get(ctx, n.UserID)
	if err != nil {
		return false
	}
	var data map[string]string
	_ = json.Unmarshal([]byte(n.Data), &data)
	// The send ends well within the lease, whatever WeChat does. Shutting
	// down does not cut it off: a message cut off mid-request may have
	// reached the user without us knowing, and would go out again. Its
	// outcome is recorded for the same reason.
	ctx = context.WithoutCancel(ctx)
	sctx, cancel := context.WithTimeout(ctx, sendTimeout)
	err = sender.SendSubscribeMessage(sctx, model.AppCustomer, wechat.SubscribeMessage{
		ToUser: u.Openid, TemplateID: n.TemplateID, Page: s.cfg.Notify.Page, State: s.cfg.Notify.State, Data: data,
	})
	cancel()
	now := s.now()
	// Only this claim (it set attempts to n.Attempts+1) records its outcome.
	upd := s.db.Notification.Update().
		Where(notification.ID(n.ID), notification.StateEQ(notification.StatePENDING), notification.Attempts(n.Attempts+1)).
		ClearLeaseUntil()
	switch {
	case err == nil:
		upd.SetState(notification.StateSENT).SetSentAt(now)
	case wechat.IsGrantGone(err):
		upd.SetState(notification.StateGONE).SetLastError("43101: the user withdrew or used up the grant")
	case wechat.IsPermanent(err) || n.Attempts+1 >= maxSendAttempts:
		upd.SetState(notification.StateFAILED).SetLastError(truncateRunes(err.Error(), 200))
	default:
		backoff := time.Duration(1<<min(n.Attempts, 6)) * 5 * time.Second
		upd.SetNextAttemptAt(now.Add(backoff)).SetLastError(truncateRunes(err.Error(), 200))
	}
	if _, uerr := upd.Save(ctx); uerr != nil {
		s.log.ErrorContext(ctx, "recording a notification's outcome", "notification", n.ID, "err", uerr)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		s.log.WarnContext(ctx, "subscribe message not sent", "notification", n.ID, "attempt", n.Attempts+1, "err", err)
	}
	return err == nil
}

// OutboxBacklog counts the notifications waiting to be sent and the age of
// the oldest, for the backlog alert: a sender that stopped (WeChat down, a
// bad token) shows as a growing age long before anyone complains.
func (s *Service) OutboxBacklog(ctx context.Context) (n int, oldest time.Duration, err error) {
	q := s.db.Notification.Query().Where(notification.StateEQ(notification.StatePENDING))
	if n, err = q.Clone().Count(ctx); err != nil || n == 0 {
		return n, 0, err
	}
	first, err := q.Order(ent.Asc(notification.FieldCreatedAt)).First(ctx)
	if err != nil {
		return n, 0, err
	}
	return n, s.now().Sub(first.CreatedAt), nil
}
