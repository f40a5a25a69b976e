package web

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, target string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// assetURLs returns the src and href attributes of a page, but for data: URLs.
func assetURLs(page string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page, -1) {
		if !strings.HasPrefix(m[1], "data:") {
			out = append(out, strings.ReplaceAll(m[1], "&amp;", "&"))
		}
	}
	return out
}

func TestBoard(t *testing.T) {
	h := Board()
	res := get(t, h, "/board/sl01ABC")
	page := body(t, res)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("page: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("page Cache-Control = %q, want no-cache", cc)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self' ws://example.com wss://example.com") {
		t.Errorf("page CSP = %q", csp)
	}
	urls := assetURLs(page)
	if len(urls) != 2 {
		t.Fatalf("page references %q, want board.css and board.js", urls)
	}
	for _, u := range urls {
		if !regexp.MustCompile(`^/board/assets/board\.(js|css)\?v=[0-9a-f]{16}$`).MatchString(u) {
			t.Errorf("asset URL %q is not content-hashed under /board/assets/", u)
		}
		res := get(t, h, u)
		b := body(t, res)
		if res.StatusCode != 200 || len(b) < 1000 {
			t.Fatalf("%s: %d, %d bytes", u, res.StatusCode, len(b))
		}
		if cc := res.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Errorf("%s: Cache-Control %q, want immutable", u, cc)
		}
		// Revalidation without the hash: 304 on a matching ETag.
		plain := strings.Split(u, "?")[0]
		res = get(t, h, plain)
		if cc := res.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("%s: Cache-Control %q, want no-cache", plain, cc)
		}
		if res = get(t, h, plain, "If-None-Match", res.Header.Get("ETag")); res.StatusCode != http.StatusNotModified {
			t.Errorf("%s with If-None-Match: %d, want 304", plain, res.StatusCode)
		}
		// gzip for clients that ask for it.
		res = get(t, h, u, "Accept-Encoding", "br, gzip;q=0.8")
		if res.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("%s: no gzip", u)
		}
		zr, err := gzip.NewReader(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		if unzipped, _ := io.ReadAll(zr); string(unzipped) != b {
			t.Errorf("%s: gzip body differs from the plain one", u)
		}
	}
	for _, path := range []string{"/board/", "/board/assets/nope.js", "/board/a/b"} {
		if res := get(t, h, path); res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, res.StatusCode)
		}
	}
}

func TestPlayground(t *testing.T) {
	h := Playground("/gql</script>")
	res := get(t, h, "/")
	page := body(t, res)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("page: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if !strings.Contains(page, `{"endpoint":"/gql\u003c/script\u003e"}`) {
		t.Errorf("endpoint not in the page, or not escaped:\n%s", page)
	}
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") || strings.Contains(page, "//cdn") {
		t.Errorf("page refers to another host:\n%s", page)
	}
	urls := assetURLs(page)
	if len(urls) != 2 {
		t.Fatalf("page references %q, want playground.css and playground.js", urls)
	}
	for _, u := range urls {
		res := get(t, h, "/"+u)
		b := body(t, res)
		if res.StatusCode != 200 || len(b) < 10000 || !strings.Contains(res.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("%s: %d, %d bytes, Cache-Control %q", u, res.StatusCode, len(b), res.Header.Get("Cache-Control"))
		}
	}
	if res := get(t, h, "/?asset=../web.go"); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown asset: %d, want 404", res.StatusCode)
	}
}

func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"":                   false,
		"gzip":               true,
		"gzip, deflate, br":  true,
		"br;q=1, GZIP;q=0.5": true,
		"gzip;q=0":           false,
		"identity":           false,
		"*":                  true,
	} {
		if got := acceptsGzip(header); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", header, got, want)
		}
	}
}

// TestConsoleAndTicket: both pages come with their hashed assets, refuse to
// be framed, and the console learns from the server whether dev login is on.
func TestConsoleAndTicket(t *testing.T) {
	for _, tc := range []struct {
		name    string
		h       http.Handler
		page    string
		assets  string
		contain string
	}{
		{"console dev", Console(true), "/console", `^/console/assets/console\.(js|css)\?v=[0-9a-f]{16}$`, `data-dev-login="1"`},
		{"console production", Console(false), "/console", `^/console/assets/console\.(js|css)\?v=[0-9a-f]{16}$`, `data-dev-login="0"`},
		{"ticket", Ticket(), "/t/AbC-123_x", `^/t/assets/ticket\.(js|css)\?v=[0-9a-f]{16}$`, `ticket.js`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := get(t, tc.h, tc.page)
			page := body(t, res)
			if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
				t.Fatalf("page: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
			}
			if !strings.Contains(page, tc.contain) {
				t.Errorf("page lacks %q", tc.contain)
			}
			csp := res.Header.Get("Content-Security-Policy")
			for _, want := range []string{"script-src 'self'", "style-src 'self';", "frame-ancestors 'none'", "connect-src 'self' ws://example.com wss://example.com"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %q", csp, want)
				}
			}
			if rp := res.Header.Get("Referrer-Policy"); rp != "no-referrer" {
				t.Errorf("Referrer-Policy %q", rp)
			}
			urls := assetURLs(page)
			if len(urls) != 2 {
				t.Fatalf("page references %q, want a script and a style", urls)
			}
			for _, u := range urls {
				if !regexp.MustCompile(tc.assets).MatchString(u) {
					t.Errorf("asset URL %q", u)
				}
				if res := get(t, tc.h, u); res.StatusCode != 200 || !strings.Contains(res.Header.Get("Cache-Control"), "immutable") {
					t.Errorf("%s: %d %q", u, res.StatusCode, res.Header.Get("Cache-Control"))
				}
			}
		})
	}
	if res := get(t, Console(true), "/console/"); res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "/console" {
		t.Errorf("/console/: %d → %q, want a redirect to /console", res.StatusCode, res.Header.Get("Location"))
	}
	for _, path := range []string{"/t/", "/t/assets/nope.js", "/t/a/b"} {
		if res := get(t, Ticket(), path); res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, res.StatusCode)
		}
	}
}
