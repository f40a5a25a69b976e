package canteen

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"callme/ent"
	"callme/ent/contentcheck"
	"callme/ent/menuitem"
	"callme/ent/seller"
	"callme/ent/ticket"
	"callme/ent/user"
	"callme/internal/model"
	"callme/internal/pulid"
	"callme/internal/wechat"
)

// Content security (issue 17). Everything sellers and students write that
// others read goes through WeChat's msg_sec_check under the writer's openid
// before it is stored, and stall photos through media_check_async:
//
//   - risky text fails the mutation with CONTENT_REJECTED; nothing is stored;
//   - review text is stored, and listed for admins (ContentReviews), who
//     accept or remove it;
//   - when WeChat is slow or down, the mutation waits at most
//     ContentConfig.Wait, stores the text and queues the check in
//     content_checks (an outbox with leases, like notifications); a later
//     risky verdict hides it: a note reads null, a name reverts to its value
//     before the write (the last one accepted), a new dish is removed.
//     Lunch is never blocked on WeChat: this is failing open, and SECURITY.md
//     says why it is acceptable for these fields;
//   - a photo is stored but shown only to its seller and admins until its
//     verdict is pushed to us (see internal/wxpush).
//
// Without a checker (no WeChat credentials, dev login) nothing is checked.

// ContentChecker is the part of the WeChat client content security needs.
type ContentChecker interface {
	MsgSecCheck(ctx context.Context, app model.App, openid string, scene wechat.Scene, content string) (wechat.Verdict, error)
	MediaCheckAsync(ctx context.Context, app model.App, openid string, scene wechat.Scene, mediaURL string) (string, error)
}

// ContentConfig configures content security.
type ContentConfig struct {
	// Checker is the WeChat client; nil turns content security off.
	Checker ContentChecker
	// Wait bounds the checks of one mutation, all of them together
	// (default 300ms); past it the text is stored and checked later.
	Wait time.Duration
	// Photos turns photo checks on. They need WeChat to reach PublicURL and
	// the push endpoint to hear verdicts; without them photos publish at once.
	Photos bool
}

const (
	defaultCheckWait = 300 * time.Millisecond
	// checkTimeout bounds one queued check, token refresh and retries
	// included; checkLease keeps other instances off the row twice as long.
	checkTimeout    = 30 * time.Second
	checkLease      = 2 * checkTimeout
	checkBatch      = 20
	maxCheckBackoff = 10 * time.Minute
	// inlineChecks is how many checks of one mutation run at once (a menu
	// has up to 100 names).
	inlineChecks = 8
)

func (s *Service) textChecksOn() bool  { return s.cfg.Content.Checker != nil }
func (s *Service) photoChecksOn() bool { return s.cfg.Content.Checker != nil && s.cfg.Content.Photos }

func errContentRejected(field string) *Error {
	return &Error{
		Code: CodeContentRejected,
		Message: fmt.Sprintf("内容未通过微信内容安全检查，请修改后再试。"+
			"The %s did not pass WeChat's content check; please change it and try again.", field),
		Extensions: map[string]any{"field": field},
	}
}

// textCheck is one text field a mutation is about to store.
type textCheck struct {
	subject  contentcheck.Subject
	field    string // as the API names it, for CONTENT_REJECTED
	value    string
	previous *string
	scene    wechat.Scene

	// outcome, set by checkTexts
	state  contentcheck.State // "" for pass: nothing to record
	label  int
	reason string
}

// checkTexts checks texts as a written by a, all within the Wait budget. It
// fails with CONTENT_REJECTED on the first risky text; otherwise it returns
// the checks to record (review, queued) with the mutation's transaction.
func (s *Service) checkTexts(ctx context.Context, a *Actor, texts []*textCheck) ([]*textCheck, error) {
	if !s.textChecksOn() || len(texts) == 0 {
		return nil, nil
	}
	wait := s.cfg.Content.Wait
	if wait <= 0 {
		wait = defaultCheckWait
	}
	cctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	type result struct {
		v   wechat.Verdict
		err error
	}
	results := make([]result, len(texts))
	sem := make(chan struct{}, inlineChecks)
	var wg sync.WaitGroup
	for i, t := range texts {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-cctx.Done():
				results[i].err = fmt.Errorf("%w: %w", wechat.ErrUnavailable, cctx.Err())
				return
			}
			defer func() { <-sem }()
			results[i].v, results[i].err = s.cfg.Content.Checker.MsgSecCheck(cctx, a.App, a.OpenID, t.scene, t.value)
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err // the caller gave up: store nothing
	}
	var keep []*textCheck
	for i, t := range texts {
		r := results[i]
		switch {
		case errors.Is(r.err, wechat.ErrNotConfigured):
			continue // no credentials for this app: nothing to check with
		case r.err == nil && r.v.Suggest == wechat.SuggestRisky:
			s.log.InfoContext(ctx, "content rejected", "field", t.field, "label", r.v.Label)
			return nil, errContentRejected(t.field)
		case r.err == nil && r.v.Suggest == wechat.SuggestReview:
			t.state, t.label, t.reason = contentcheck.StateREVIEW, r.v.Label, "WeChat suggests review"
		case r.err == nil:
			continue
		case wechat.IsPermanent(r.err):
			t.state, t.reason = contentcheck.StateREVIEW, reasonOf(r.err)
			s.log.WarnContext(ctx, "content check refused; left for an admin", "field", t.field, "err", r.err)
		default:
			t.state, t.reason = contentcheck.StatePENDING, "queued: "+reasonOf(r.err)
			s.log.InfoContext(ctx, "content check queued: WeChat slow or unavailable", "field", t.field, "err", r.err)
		}
		keep = append(keep, t)
	}
	return keep, nil
}

func reasonOf(err error) string {
	var we *wechat.Error
	if errors.As(err, &we) {
		return truncateRunes(fmt.Sprintf("WeChat could not check it: errcode %d", we.Code), 200)
	}
	if errors.Is(err, wechat.ErrQuota) {
		return "check quota of the minute used up"
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "WeChat did not answer in time"
	}
	return truncateRunes(err.Error(), 200)
}

// recordChecks stores the outcome of checkTexts in tx, for the content
// stored by the same transaction in target (a seller or a ticket).
func (s *Service) recordChecks(ctx context.Context, tx *txn, a *Actor, sellerID, target pulid.ID, checks []*textCheck) error {
	now := s.now()
	queued := false
	for _, c := range checks {
		if c.state == "" {
			continue
		}
		create := tx.ContentCheck.Create().
			SetSubject(c.subject).SetSellerID(sellerID).SetTargetID(target).
			SetUserID(a.UserID).SetApp(string(a.App)).SetScene(int(c.scene)).
			SetContent(c.value).SetNillablePrevious(c.previous).
			SetState(c.state).SetLabel(c.label).SetReason(c.reason).
			SetNextAttemptAt(now).SetCreatedAt(now)
		if c.state == contentcheck.StatePENDING {
			queued = true
		}
		if err := create.Exec(ctx); err != nil {
			return err
		}
	}
	if queued {
		tx.onCommit(s.kickChecker)
	}
	return nil
}

func (s *Service) kickChecker() {
	select {
	case s.checkKick <- struct{}{}:
	default:
	}
}

// RunContentChecks works through queued checks until ctx ends: at once
// after a mutation queued one, and every few seconds for retries and rows
// left by a crash or another instance.
func (s *Service) RunContentChecks(ctx context.Context, every time.Duration) {
	if !s.textChecksOn() {
		return
	}
	if every <= 0 {
		every = 5 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.CheckPending(ctx)
		select {
		case <-ctx.Done():
			return
		case <-s.checkKick:
		case <-t.C:
		}
	}
}

// CheckPending runs the queued checks that are due and returns how many got
// an answer: text checks get their verdict, photos are sent to WeChat
// (their verdict comes by push). Each row is claimed with a lease just
// before it is checked, so instances never check one row at once.
func (s *Service) CheckPending(ctx context.Context) int {
	if !s.textChecksOn() {
		return 0
	}
	now := s.now()
	due, err := s.db.ContentCheck.Query().
		Where(contentcheck.StateEQ(contentcheck.StatePENDING), contentcheck.NextAttemptAtLTE(now),
			contentcheck.Or(contentcheck.LeaseUntilIsNil(), contentcheck.LeaseUntilLT(now))).
		Order(ent.Asc(contentcheck.FieldID)).Limit(checkBatch).All(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.ErrorContext(ctx, "reading queued content checks", "err", err)
		}
		return 0
	}
	done := 0
	for _, c := range due {
		if ctx.Err() != nil {
			break
		}
		if !s.claimCheck(ctx, c) {
			continue
		}
		if s.checkOne(ctx, c) {
			done++
		}
	}
	return done
}

func (s *Service) claimCheck(ctx context.Context, c *ent.ContentCheck) bool {
	now := s.now()
	n, err := s.db.ContentCheck.Update().
		Where(contentcheck.ID(c.ID), contentcheck.StateEQ(contentcheck.StatePENDING),
			contentcheck.Attempts(c.Attempts), contentcheck.NextAttemptAtLTE(now),
			contentcheck.Or(contentcheck.LeaseUntilIsNil(), contentcheck.LeaseUntilLT(now))).
		SetLeaseUntil(now.Add(checkLease)).AddAttempts(1).Save(ctx)
	if err != nil && ctx.Err() == nil {
		s.log.ErrorContext(ctx, "claiming a content check", "check", c.ID, "err", err)
	}
	return err == nil && n == 1
}

// checkOne asks WeChat about one claimed row and records the outcome; only
// the claim that counted attempt c.Attempts+1 may.
func (s *Service) checkOne(ctx context.Context, c *ent.ContentCheck) bool {
	u, err := s.db.User.Query().Where(user.ID(c.UserID)).Only(ctx)
	if err != nil {
		return false
	}
	ctx = context.WithoutCancel(ctx)
	cctx, cancel := context.WithTimeout(ctx, checkTimeout)
	var v wechat.Verdict
	var trace string
	app, scene := model.App(c.App), wechat.Scene(c.Scene)
	if c.Subject == contentcheck.SubjectPHOTO {
		trace, err = s.cfg.Content.Checker.MediaCheckAsync(cctx, app, u.Openid, scene, s.photoPublicURL(c.Content))
	} else {
		v, err = s.cfg.Content.Checker.MsgSecCheck(cctx, app, u.Openid, scene, c.Content)
	}
	cancel()
	rerr := s.inTx(ctx, func(tx *txn) error {
		upd := tx.ContentCheck.Update().
			Where(contentcheck.ID(c.ID), contentcheck.StateEQ(contentcheck.StatePENDING), contentcheck.Attempts(c.Attempts+1)).
			ClearLeaseUntil()
		now := s.now()
		switch {
		case err == nil && c.Subject == contentcheck.SubjectPHOTO:
			upd.SetState(contentcheck.StateWAITING).SetTraceID(trace).SetReason("sent to WeChat")
		case err == nil:
			return s.decide(ctx, tx, c, upd, v.Suggest, v.Label)
		case wechat.IsPermanent(err) || errors.Is(err, wechat.ErrNotConfigured):
			upd.SetState(contentcheck.StateREVIEW).SetReason(reasonOf(err)).SetDecidedAt(now)
			if c.Subject == contentcheck.SubjectPHOTO {
				if err := s.setPhotoStatus(ctx, tx, c, seller.PhotoStatusIN_REVIEW); err != nil {
					return err
				}
			}
		default:
			backoff := min(time.Duration(1<<min(c.Attempts, 10))*5*time.Second, maxCheckBackoff)
			upd.SetNextAttemptAt(now.Add(backoff)).SetReason("queued: " + reasonOf(err))
		}
		_, uerr := upd.Save(ctx)
		return uerr
	})
	if rerr != nil {
		s.log.ErrorContext(ctx, "recording a content check", "check", c.ID, "err", rerr)
		return false
	}
	return err == nil
}

// decide records a verdict on c in tx (upd is the conditional update of
// its row) and applies it: risky hides the content.
func (s *Service) decide(ctx context.Context, tx *txn, c *ent.ContentCheck, upd *ent.ContentCheckUpdate, suggest wechat.Suggest, label int) error {
	now := s.now()
	upd.SetLabel(label).SetDecidedAt(now)
	switch suggest {
	case wechat.SuggestPass:
		upd.SetState(contentcheck.StatePASSED).SetReason("WeChat: pass")
	case wechat.SuggestReview:
		upd.SetState(contentcheck.StateREVIEW).SetReason("WeChat suggests review")
	default:
		upd.SetState(contentcheck.StateRISKY).SetReason(fmt.Sprintf("WeChat: risky (label %d); hidden", label))
	}
	n, err := upd.Save(ctx)
	if err != nil || n != 1 {
		return err // decided elsewhere meanwhile: leave it
	}
	switch suggest {
	case wechat.SuggestPass:
		if c.Subject == contentcheck.SubjectPHOTO {
			return s.setPhotoStatus(ctx, tx, c, seller.PhotoStatusPUBLISHED)
		}
	case wechat.SuggestReview:
		if c.Subject == contentcheck.SubjectPHOTO {
			return s.setPhotoStatus(ctx, tx, c, seller.PhotoStatusIN_REVIEW)
		}
	default:
		s.log.InfoContext(ctx, "content hidden after a risky verdict", "check", c.ID, "subject", c.Subject, "label", label)
		return s.hide(ctx, tx, c)
	}
	return nil
}

// hide takes content found unacceptable out of sight, if it is still where
// it was written (a later write has its own check): a note reads null, a
// name reverts to its value before the write, a dish without one goes, a
// photo is deleted and its seller sees REJECTED.
func (s *Service) hide(ctx context.Context, tx *txn, c *ent.ContentCheck) error {
	switch c.Subject {
	case contentcheck.SubjectTICKET_NOTE:
		_, err := tx.Ticket.Update().Where(ticket.ID(c.TargetID), ticket.Note(c.Content)).ClearNote().AddVersion(1).Save(ctx)
		return err
	case contentcheck.SubjectSELLER_NAME:
		if c.Previous == nil {
			return nil // a stall always has a name; an admin decides
		}
		_, err := tx.Seller.Update().Where(seller.ID(c.SellerID), seller.Name(c.Content)).SetName(*c.Previous).Save(ctx)
		return err
	case contentcheck.SubjectPERSON_NAME:
		u := tx.Seller.Update().Where(seller.ID(c.SellerID), seller.PersonName(c.Content))
		if c.Previous != nil {
			u.SetPersonName(*c.Previous)
		} else {
			u.ClearPersonName()
		}
		_, err := u.Save(ctx)
		return err
	case contentcheck.SubjectPICKUP_NOTE:
		u := tx.Seller.Update().Where(seller.ID(c.SellerID), seller.PickupNote(c.Content))
		if c.Previous != nil {
			u.SetPickupNote(*c.Previous)
		} else {
			u.ClearPickupNote()
		}
		_, err := u.Save(ctx)
		return err
	case contentcheck.SubjectMENU_ITEM_NAME:
		if c.Previous != nil {
			_, err := tx.MenuItem.Update().Where(menuitem.SellerID(c.SellerID), menuitem.Name(c.Content)).SetName(*c.Previous).Save(ctx)
			return err
		}
		_, err := tx.MenuItem.Delete().Where(menuitem.SellerID(c.SellerID), menuitem.Name(c.Content)).Exec(ctx)
		return err
	case contentcheck.SubjectPHOTO:
		n, err := tx.Seller.Update().Where(seller.ID(c.SellerID), seller.Photo(c.Content)).
			ClearPhoto().SetPhotoStatus(seller.PhotoStatusREJECTED).Save(ctx)
		if err != nil {
			return err
		}
		if n == 1 {
			tx.onCommit(func() {
				if err := s.cfg.Media.Photos.Delete(context.Background(), c.Content); err != nil {
					s.log.Warn("removing a rejected photo", "seller", c.SellerID, "err", err)
				}
			})
		}
	}
	return nil
}

// setPhotoStatus sets the stall's photo status if c's photo is still its
// photo.
func (s *Service) setPhotoStatus(ctx context.Context, tx *txn, c *ent.ContentCheck, st seller.PhotoStatus) error {
	_, err := tx.Seller.Update().Where(seller.ID(c.SellerID), seller.Photo(c.Content)).SetPhotoStatus(st).Save(ctx)
	return err
}

func (s *Service) photoPublicURL(key string) string {
	return s.cfg.Media.PublicURL + "/photos/" + key
}

// MediaVerdict applies WeChat's pushed verdict on the image check traceID.
// A trace_id is applied once: its row leaves WAITING in the transaction
// that applies it, so a repeated push (WeChat retries, or a replay) finds
// nothing to do. An unknown trace_id is ignored.
func (s *Service) MediaVerdict(ctx context.Context, traceID string, suggest wechat.Suggest, label int) (bool, error) {
	switch suggest {
	case wechat.SuggestPass, wechat.SuggestReview, wechat.SuggestRisky:
	default:
		// A verdict we cannot read is left to a person, not to a guess.
		suggest = wechat.SuggestReview
	}
	applied := false
	err := s.inTx(ctx, func(tx *txn) error {
		applied = false
		c, err := tx.ContentCheck.Query().Where(contentcheck.TraceID(traceID), contentcheck.StateEQ(contentcheck.StateWAITING)).Only(ctx)
		if ent.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		upd := tx.ContentCheck.Update().Where(contentcheck.ID(c.ID), contentcheck.StateEQ(contentcheck.StateWAITING))
		if err := s.decide(ctx, tx, c, upd, suggest, label); err != nil {
			return err
		}
		applied = true
		return nil
	})
	return applied, err
}

// ContentReview is content awaiting an admin's decision.
type ContentReview struct {
	ID        pulid.ID // the row's number; not a Node
	Subject   string
	SellerID  pulid.ID
	TargetID  pulid.ID
	Content   string // the text, or the photo's URL
	Label     int
	Reason    string
	CreatedAt time.Time
}

func (s *Service) requireAdmin(ctx context.Context, what string) (*Actor, error) {
	a, err := requireActor(ctx)
	if err != nil {
		return nil, err
	}
	if !a.Admin {
		return nil, Errorf(CodeForbidden, "only an admin can %s", what)
	}
	return a, nil
}

// ContentReviews lists content awaiting an admin, oldest first (admins only).
func (s *Service) ContentReviews(ctx context.Context, first *int) ([]*ContentReview, error) {
	if _, err := s.requireAdmin(ctx, "review content"); err != nil {
		return nil, err
	}
	n, err := pageSize(first)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.ContentCheck.Query().Where(contentcheck.StateEQ(contentcheck.StateREVIEW)).
		Order(ent.Asc(contentcheck.FieldID)).Limit(n).All(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*ContentReview, 0, len(rows))
	for _, r := range rows {
		out = append(out, reviewOf(s, r))
	}
	return out, nil
}

func reviewOf(s *Service, r *ent.ContentCheck) *ContentReview {
	content := r.Content
	if r.Subject == contentcheck.SubjectPHOTO {
		content = "/photos/" + r.Content
	}
	return &ContentReview{ID: pulid.ID(strconv.Itoa(r.ID)), Subject: string(r.Subject), SellerID: r.SellerID, TargetID: r.TargetID,
		Content: content, Label: r.Label, Reason: r.Reason, CreatedAt: r.CreatedAt}
}

// DecideContent accepts (keep and publish) or removes (hide, as a risky
// verdict would) content awaiting review. Audited.
func (s *Service) DecideContent(ctx context.Context, id pulid.ID, accept bool) (*ContentReview, error) {
	a, err := s.requireAdmin(ctx, "review content")
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(string(id))
	if err != nil {
		return nil, Errorf(CodeNotFound, "no such content awaiting review")
	}
	var out *ContentReview
	err = s.inTx(ctx, func(tx *txn) error {
		c, err := tx.ContentCheck.Query().Where(contentcheck.ID(n), contentcheck.StateEQ(contentcheck.StateREVIEW)).Only(ctx)
		if ent.IsNotFound(err) {
			return Errorf(CodeNotFound, "no such content awaiting review")
		}
		if err != nil {
			return err
		}
		state, action := contentcheck.StateACCEPTED, "acceptContent"
		if !accept {
			state, action = contentcheck.StateREMOVED, "removeContent"
		}
		cnt, err := tx.ContentCheck.Update().Where(contentcheck.ID(c.ID), contentcheck.StateEQ(contentcheck.StateREVIEW)).
			SetState(state).SetDecidedAt(s.now()).SetReason("decided by an admin").Save(ctx)
		if err != nil {
			return err
		}
		if cnt != 1 {
			return errConflict
		}
		switch {
		case accept && c.Subject == contentcheck.SubjectPHOTO:
			err = s.setPhotoStatus(ctx, tx, c, seller.PhotoStatusPUBLISHED)
		case !accept:
			err = s.hide(ctx, tx, c)
		}
		if err != nil {
			return err
		}
		out = reviewOf(s, c)
		// Audited even on the admin's own stall: a review decision is
		// always an admin's act on someone's content.
		return s.record(ctx, tx, a, action, c.SellerID, truncateRunes(fmt.Sprintf("%s #%d: %q", c.Subject, c.ID, c.Content), 400))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// checkNote checks a ticket note as a comment (scene 2): it is written on
// the stall's ticket, for the seller to read, not about the writer.
func (s *Service) checkNote(ctx context.Context, a *Actor, note *string) ([]*textCheck, error) {
	if note == nil {
		return nil, nil
	}
	return s.checkTexts(ctx, a, []*textCheck{{subject: contentcheck.SubjectTICKET_NOTE, field: "note", value: *note, scene: wechat.SceneComment}})
}
