package wechat

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"callme/internal/model"
)

const apiWxaCodeUnlimit = "getwxacodeunlimit"

// WxaCodeRequest describes an unlimited mini-program code.
type WxaCodeRequest struct {
	// Scene is handed to the page as the scene query parameter: 1 to 32
	// characters from letters, digits and !#$&'()*+,/:;=?@-._~ (e.g.
	// "s=<sellerId>"). Required.
	Scene string
	// Page is the page to open, without a leading "/" or query string,
	// e.g. "pages/seller/index"; empty opens the home page.
	Page string
	// EnvVersion is "release" (default when empty), "trial" or "develop".
	EnvVersion string
	// CheckPath asks WeChat to check that Page exists in the released
	// version (it then answers 41030 for an unknown page).
	CheckPath bool
	// Width in px, 280 to 1280; 0 leaves WeChat's default (430).
	Width int
}

type wxaCodeBody struct {
	Scene      string `json:"scene"`
	Page       string `json:"page,omitempty"`
	CheckPath  bool   `json:"check_path"`
	EnvVersion string `json:"env_version,omitempty"`
	Width      int    `json:"width,omitempty"`
}

const (
	maxSceneLen = 32
	minWidth    = 280
	maxWidth    = 1280
	sceneExtras = "!#$&'()*+,/:;=?@-._~"
)

// validScene reports whether s is 1..32 characters WeChat allows in a scene.
func validScene(s string) bool {
	if len(s) == 0 || len(s) > maxSceneLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		ok := 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || strings.IndexByte(sceneExtras, b) >= 0
		if !ok {
			return false
		}
	}
	return true
}

func (r WxaCodeRequest) validate() error {
	bad := func(reason string) error {
		return fmt.Errorf("wechat %s: %s: %w", apiWxaCodeUnlimit, reason, ErrBadRequest)
	}
	switch {
	case !validScene(r.Scene):
		return bad("scene must be 1 to 32 characters from letters, digits and " + sceneExtras)
	case strings.HasPrefix(r.Page, "/") || strings.ContainsAny(r.Page, "?#"):
		return bad("page must have no leading / and no query string")
	case r.EnvVersion != "" && r.EnvVersion != "release" && r.EnvVersion != "trial" && r.EnvVersion != "develop":
		return bad("env_version must be release, trial or develop")
	case r.Width != 0 && (r.Width < minWidth || r.Width > maxWidth):
		return bad(fmt.Sprintf("width must be %d to %d", minWidth, maxWidth))
	}
	return nil
}

// WxaCodeUnlimit fetches an unlimited mini-program code of app via POST
// {BaseURL}/wxa/getwxacodeunlimit and returns the image bytes WeChat sent
// (a PNG in practice; at most 2 MiB).
//
// An invalid request is rejected locally with an error wrapping
// ErrBadRequest. Other errors: ErrNotConfigured, an *Error with API
// "getwxacodeunlimit" (e.g. 41030 unknown page with CheckPath; see
// IsPermanent), an error from AccessToken, or ErrUnavailable after the
// retries of -1, timeouts, network errors and HTTP 5xx. A rejected access
// token (40001/42001) is refreshed and the request retried once.
func (c *Client) WxaCodeUnlimit(ctx context.Context, app model.App, req WxaCodeRequest) (png []byte, err error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	cred, err := c.creds(apiWxaCodeUnlimit, app)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(wxaCodeBody{
		Scene: req.Scene, Page: req.Page, CheckPath: req.CheckPath, EnvVersion: req.EnvVersion, Width: req.Width,
	})
	if err != nil {
		return nil, err
	}
	var img imageOut
	err = c.withToken(ctx, app, apiWxaCodeUnlimit, func(ctx context.Context, token string) error {
		return c.call(ctx, apiWxaCodeUnlimit, c.postJSON("/wxa/getwxacodeunlimit", token, body), &img, cred.Secret, token)
	})
	if err != nil {
		return nil, err
	}
	return img.data, nil
}
