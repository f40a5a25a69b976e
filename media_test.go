package main

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"callme/internal/model"
	"callme/internal/store/storetest"
	"callme/internal/wechat"
	"callme/internal/wechat/wechattest"
)

func tinyPNG(t testing.TB) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 4, 3))
	img.Set(1, 1, color.RGBA{200, 30, 30, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestSellerPhoto uploads through the GraphQL multipart endpoint and reads
// the photo back at its URL.
func TestSellerPhoto(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, storetest.Engines()[0], func(c *config) { c.PhotoDir = dir })
	seller, stallID := s.openStall(t, "Photo", "P")
	stored := func() int {
		e, _ := os.ReadDir(dir)
		n := 0
		for _, f := range e {
			if !strings.HasPrefix(f.Name(), ".") {
				n++
			}
		}
		return n
	}

	for _, tc := range []struct {
		name, file string
		data       []byte
	}{
		{"HTML named .jpg", "evil.jpg", []byte("<html><script>alert(1)</script></html>")},
		{"GIF", "a.gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;")},
		{"too large", "big.png", append(tinyPNG(t), make([]byte, 600<<10)...)},
	} {
		if r := s.upload(t, seller, stallID, tc.file, tc.data); r.code() != "BAD_USER_INPUT" {
			t.Errorf("%s: %q %+v, want BAD_USER_INPUT", tc.name, r.code(), r.Errors)
		}
	}
	if n := stored(); n != 0 {
		t.Fatalf("%d files stored after bad uploads, want none", n)
	}
	var first, second string
	for _, dst := range []*string{&first, &second} {
		r := s.upload(t, seller, stallID, "photo.jpg", tinyPNG(t)) // content wins over the name
		var d struct{ UploadSellerPhoto struct{ PhotoURL string } }
		if len(r.Errors) > 0 || jsonUnmarshal(r.Data, &d) != nil {
			t.Fatalf("upload: %+v", r.Errors)
		}
		*dst = d.UploadSellerPhoto.PhotoURL
	}
	if n := stored(); n != 1 || first == second {
		t.Fatalf("%d files after replacing the photo (%s → %s), want the new one only", n, first, second)
	}
	res, err := http.Get(s.URL + second)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/png" || !strings.Contains(res.Header.Get("Cache-Control"), "immutable") {
		t.Fatalf("GET %s: %d %s %q", second, res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Cache-Control"))
	}
	if _, err := png.Decode(bytes.NewReader(body)); err != nil {
		t.Fatalf("served photo is not a PNG: %v", err)
	}
	if res, _ := http.Get(s.URL + first); res.StatusCode != 404 {
		t.Fatalf("the replaced photo is still served: %d", res.StatusCode)
	}
}

func TestSellerQRCode(t *testing.T) {
	t.Run("without WeChat: the board URL", func(t *testing.T) {
		s := startServer(t, storetest.Engines()[0], func(c *config) { c.PublicURL = "https://canteen.example.edu" })
		seller, stallID := s.openStall(t, "QR", "Q")
		var d struct {
			SellerQRCode struct{ DataURL, Target string }
		}
		s.ok(t, seller, `query($id: ID!) { sellerQRCode(sellerId: $id) { dataURL target } }`, map[string]any{"id": stallID}, &d)
		if d.SellerQRCode.Target != "https://canteen.example.edu/board/"+stallID {
			t.Fatalf("target %q", d.SellerQRCode.Target)
		}
		decodeDataURL(t, d.SellerQRCode.DataURL)
	})
	t.Run("with WeChat: a mini-program code", func(t *testing.T) {
		creds := map[model.App]wechat.AppCredentials{model.AppCustomer: {AppID: "wxc", Secret: "sec"}, model.AppSeller: {AppID: "wxs", Secret: "sec2"}}
		fake := wechattest.NewServer(t, creds)
		s := startServer(t, storetest.Engines()[0], func(c *config) {
			c.WeChatBaseURL, c.Admins, c.QRPage = fake.URL, "o-admin", "pages/stall/index"
			c.CustomerAppID, c.CustomerSecret, c.SellerAppID, c.SellerSecret = "wxc", "sec", "wxs", "sec2"
		})
		login := func(app model.App, openid string) string {
			var d struct{ Login struct{ Token string } }
			s.ok(t, "", `mutation($app: App!, $code: String!) { login(input: {app: $app, code: $code}) { token } }`,
				map[string]any{"app": string(app), "code": fake.IssueCode(app, openid)}, &d)
			return d.Login.Token
		}
		admin := login(model.AppSeller, "o-admin")
		var created struct {
			CreateSeller struct{ Seller struct{ ID string } }
		}
		s.ok(t, admin, `mutation { createSeller(input: {name: "WX"}) { seller { id } } }`, nil, &created)
		id := created.CreateSeller.Seller.ID
		fake.ExpireTokens() // the code still comes, after one token refresh
		var d struct {
			SellerQRCode struct{ DataURL, Target string }
		}
		s.ok(t, admin, `query($id: ID!) { sellerQRCode(sellerId: $id) { dataURL target } }`, map[string]any{"id": id}, &d)
		calls := fake.WxaCodeRequests()
		last := calls[len(calls)-1]
		if last.Scene != "s="+id || last.Page != "pages/stall/index" || len(last.Scene) > 32 {
			t.Fatalf("WeChat was asked for %+v", last)
		}
		if !strings.HasPrefix(d.SellerQRCode.Target, "pages/stall/index?scene=s=") {
			t.Fatalf("target %q", d.SellerQRCode.Target)
		}
		if !bytes.Equal(decodeDataURL(t, d.SellerQRCode.DataURL), wechattest.PNG()) {
			t.Fatal("the code is not the image WeChat returned")
		}
	})
}

func decodeDataURL(t *testing.T, u string) []byte {
	t.Helper()
	b64, ok := strings.CutPrefix(u, "data:image/png;base64,")
	if !ok {
		t.Fatalf("not a PNG data URL: %.40q", u)
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(b)); err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	return b
}
