package canteen

import (
	"context"
	"encoding/base64"
	"errors"
	"io"

	"callme/ent"
	"callme/ent/contentcheck"
	"callme/ent/seller"
	"callme/internal/media"
	"callme/internal/model"
	"callme/internal/pulid"
	"callme/internal/wechat"
)

// MiniProgramCoder makes WeChat mini-program codes (the WeChat client).
type MiniProgramCoder interface {
	WxaCodeUnlimit(ctx context.Context, app model.App, req wechat.WxaCodeRequest) ([]byte, error)
}

// MediaConfig configures stall photos and QR codes.
type MediaConfig struct {
	Photos        media.Store // nil: uploads are refused
	PhotoMaxBytes int64
	// Decoder checks uploads, a bounded number at once (default 2).
	Decoder *media.Decoder
	// PublicURL is where people reach this server, for QR codes made
	// without WeChat (they open the stall's board).
	PublicURL string
	// Coder, with QRPage, makes real mini-program codes that open the stall
	// in the customer app; nil falls back to a plain QR code of the board.
	Coder  MiniProgramCoder
	QRPage string
	QREnv  string // release, trial or develop
}

// UploadSellerPhoto replaces a stall's photo. The file must be a JPEG, PNG or
// WebP by its content, within media's pixel limits (checked from the header,
// before decoding); it is scaled down and re-encoded without metadata. A bad
// file stores nothing.
func (s *Service) UploadSellerPhoto(ctx context.Context, sellerID pulid.ID, file io.Reader) (*ent.Seller, error) {
	a, st, err := s.manageSeller(ctx, sellerID, "change its photo")
	if err != nil {
		return nil, err
	}
	m := s.cfg.Media
	if m.Photos == nil {
		return nil, Errorf(CodeBadUserInput, "photo uploads are not configured on this server")
	}
	photo, err := m.Decoder.CheckPhoto(ctx, file, m.PhotoMaxBytes)
	switch {
	case errors.Is(err, media.ErrTooLarge):
		return nil, Errorf(CodeBadUserInput, "the photo is larger than %d KB", m.PhotoMaxBytes>>10)
	case errors.Is(err, media.ErrBadImage):
		return nil, &Error{Code: CodeBadUserInput, Message: err.Error()}
	case err != nil:
		return nil, err
	}
	key, err := m.Photos.Put(ctx, photo.Data, photo.Ext())
	if err != nil {
		return nil, err
	}
	// The photo being replaced is read in the transaction that replaces it,
	// with the stall's row locked: of uploads racing for one stall, each
	// removes the file the one before it stored, and only the last stays.
	var out *ent.Seller
	var old string
	err = s.inTx(ctx, func(tx *txn) error {
		q := tx.Seller.Query().Where(seller.ID(st.ID))
		if s.forUpdate() {
			q = q.ForUpdate()
		}
		cur, err := q.Only(ctx)
		if err != nil {
			return err
		}
		old = ""
		if cur.Photo != nil {
			old = *cur.Photo
		}
		// With photo checks on, the photo stays PENDING (shown to its seller
		// and admins only) until WeChat's verdict arrives by push; the
		// content checker sends it to WeChat after commit.
		status := seller.PhotoStatusPUBLISHED
		if s.photoChecksOn() {
			status = seller.PhotoStatusPENDING
			now := s.now()
			if err := tx.ContentCheck.Create().
				SetSubject(contentcheck.SubjectPHOTO).SetSellerID(st.ID).SetTargetID(st.ID).
				SetUserID(a.UserID).SetApp(string(a.App)).SetScene(int(wechat.SceneProfile)).
				SetContent(key).SetState(contentcheck.StatePENDING).SetReason("queued").
				SetNextAttemptAt(now).SetCreatedAt(now).Exec(ctx); err != nil {
				return err
			}
			tx.onCommit(s.kickChecker)
		}
		if out, err = tx.Seller.UpdateOneID(st.ID).SetPhoto(key).SetPhotoStatus(status).Save(ctx); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, "uploadSellerPhoto", st.ID, key)
	})
	if err != nil {
		_ = m.Photos.Delete(context.WithoutCancel(ctx), key)
		return nil, err
	}
	// Only after commit: until then the old photo is the stall's. A request
	// cancelled now must not leave the old file behind.
	if old != "" && old != key {
		if err := m.Photos.Delete(context.WithoutCancel(ctx), old); err != nil {
			s.log.WarnContext(ctx, "removing the old photo", "seller", st.ID, "err", err)
		}
	}
	return out.Unwrap(), nil
}

// QRCode is a printable code for a stall.
type QRCode struct {
	DataURL string // data:image/png;base64,…
	Target  string // the mini-program page or URL it opens
}

// SellerQRCode makes the code a stall puts on its counter: with WeChat
// credentials a mini-program code opening the stall in the customer app,
// otherwise a QR code of the stall's board page.
func (s *Service) SellerQRCode(ctx context.Context, sellerID pulid.ID) (*QRCode, error) {
	_, st, err := s.manageSeller(ctx, sellerID, "print its QR code")
	if err != nil {
		return nil, err
	}
	m := s.cfg.Media
	var png []byte
	var target string
	if m.Coder != nil {
		scene := "s=" + string(st.ID) // 30 characters, within WeChat's 32
		png, err = m.Coder.WxaCodeUnlimit(ctx, model.AppCustomer, wechat.WxaCodeRequest{Scene: scene, Page: m.QRPage, EnvVersion: m.QREnv})
		if err != nil {
			if errors.Is(err, wechat.ErrUnavailable) {
				return nil, Errorf(CodeWeChatUnavailable, "WeChat is busy or unreachable; try again shortly")
			}
			return nil, err
		}
		target = m.QRPage + "?scene=" + scene
	} else {
		target = m.PublicURL + "/board/" + string(st.ID)
		if png, err = media.QRCodePNG(target, 0); err != nil {
			return nil, err
		}
	}
	return &QRCode{DataURL: "data:image/png;base64," + base64.StdEncoding.EncodeToString(png), Target: target}, nil
}
