package wechat

import (
	"context"
	"encoding/json"
	"fmt"

	"callme/internal/model"
)

const apiSubscribeSend = "subscribeMessage.send"

// SubscribeMessage is a one-time subscribe message. Each time the user taps
// "allow" in wx.requestSubscribeMessage the app may send one message with
// that template.
type SubscribeMessage struct {
	// ToUser is the recipient's openid in this app. Required. It never
	// appears in an error or a log record.
	ToUser string
	// TemplateID is the subscribe template. Required.
	TemplateID string
	// Page opened when the user taps the message; may carry a query string.
	Page string
	// State is the mini-program version to open: "developer", "trial" or
	// "formal" (default).
	State string
	// Lang is the language; default "zh_CN".
	Lang string
	// Data maps each template key (e.g. "thing1") to its value. Required.
	Data map[string]string
}

type subscribeValue struct {
	Value string `json:"value"`
}

type subscribeBody struct {
	ToUser     string                    `json:"touser"`
	TemplateID string                    `json:"template_id"`
	Page       string                    `json:"page,omitempty"`
	Data       map[string]subscribeValue `json:"data"`
	State      string                    `json:"miniprogram_state"`
	Lang       string                    `json:"lang"`
}

func (m SubscribeMessage) validate() error {
	bad := func(reason string) error {
		return fmt.Errorf("wechat %s: %s: %w", apiSubscribeSend, reason, ErrBadRequest)
	}
	switch {
	case m.ToUser == "":
		return bad("missing touser")
	case m.TemplateID == "":
		return bad("missing template_id")
	case len(m.Data) == 0:
		return bad("missing data")
	case m.State != "" && m.State != "developer" && m.State != "trial" && m.State != "formal":
		return bad("miniprogram_state must be developer, trial or formal")
	}
	return nil
}

// SendSubscribeMessage sends msg to a user of app via POST
// {BaseURL}/cgi-bin/message/subscribe/send.
//
// Errors: an error wrapping ErrBadRequest for an incomplete msg (nothing is
// sent), ErrNotConfigured, an *Error with API "subscribeMessage.send" (IsGrantGone
// for 43101; IsPermanent for 43101, 47003, 40003, 40037 and 41030: give up
// on the message), an error from AccessToken, or ErrUnavailable after the
// retries of -1, timeouts, network errors and HTTP 5xx (try again later). A
// rejected access token (40001/42001) is refreshed and the request retried
// once.
//
// A retry after a timeout may deliver the message twice if WeChat had
// accepted the first attempt; WeChat offers no idempotency key.
func (c *Client) SendSubscribeMessage(ctx context.Context, app model.App, msg SubscribeMessage) error {
	if err := msg.validate(); err != nil {
		return err
	}
	cred, err := c.creds(apiSubscribeSend, app)
	if err != nil {
		return err
	}
	b := subscribeBody{
		ToUser:     msg.ToUser,
		TemplateID: msg.TemplateID,
		Page:       msg.Page,
		Data:       make(map[string]subscribeValue, len(msg.Data)),
		State:      msg.State,
		Lang:       msg.Lang,
	}
	for k, v := range msg.Data {
		b.Data[k] = subscribeValue{Value: v}
	}
	if b.State == "" {
		b.State = "formal"
	}
	if b.Lang == "" {
		b.Lang = "zh_CN"
	}
	body, err := json.Marshal(b)
	if err != nil {
		return err
	}
	return c.withToken(ctx, app, apiSubscribeSend, func(ctx context.Context, token string) error {
		var out struct{}
		return c.call(ctx, apiSubscribeSend, c.postJSON("/cgi-bin/message/subscribe/send", token, body), &out, cred.Secret, token, msg.ToUser)
	})
}
