// Package web serves the browser pages built into the callme binary: a
// stall's call board (/board/{sellerId}), the staff console (/console), the
// public page of one ticket (/t/{token}) and the GraphiQL playground.
//
// Their files live in assets/, generated from src/ by build.mjs (esbuild,
// versions pinned by package-lock.json) and committed, so `go build` needs no
// Node and the binary needs no CDN: both pages work on a canteen network
// without internet. See README.md for how the board works and how to rebuild.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed assets
var assetsFS embed.FS

// Board serves the call board: the page at GET /board/{sellerId} (the page
// reads the id from its URL) and its script and style at
// /board/assets/{name}. Mount it at "/board/"; it expects full paths.
//
// Assets are referenced with a content hash (?v=…) and cached for a year;
// the page itself is revalidated on every load (ETag), so a new binary's
// board reaches the TVs on their next reload.
func Board() http.Handler {
	p := newPage("board", "")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /board/assets/{name}", p.serveAsset)
	mux.HandleFunc("GET /board/{sellerId}", p.servePage)
	mux.HandleFunc("GET /board/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintln(w, "A stall's call board is at /board/<seller id>.")
	})
	return mux
}

// Console serves the staff console: the page at GET /console and its files
// at /console/assets/{name}. devLogin tells the page whether the server
// accepts dev:<openid> login codes (else it offers only scan-to-log-in).
// Mount it at "/console" and "/console/".
func Console(devLogin bool) http.Handler {
	flag := "0"
	if devLogin {
		flag = "1"
	}
	p := newPage("console", flag)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /console/assets/{name}", p.serveAsset)
	mux.HandleFunc("GET /console", p.servePage)
	mux.HandleFunc("GET /console/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console", http.StatusMovedPermanently)
	})
	return mux
}

// Ticket serves the public page of one ticket, GET /t/{token} (the token of
// Ticket.trackURL; the page reads it from its URL), and its files at
// /t/assets/{name}. Mount it at "/t/".
func Ticket() http.Handler {
	p := newPage("ticket", "")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /t/assets/{name}", p.serveAsset)
	mux.HandleFunc("GET /t/{token}", p.servePage)
	return mux
}

// page is one of the bundled pages: assets/<name>/index.html referring to
// /<prefix>/assets/<name>.js and .css, rewritten to content-hashed URLs.
type page struct {
	html  *asset
	files map[string]*asset
	// noFrames: the console and the ticket page refuse to be framed (a
	// clickjacked console calls numbers); boards may sit in signage frames.
	noFrames bool
}

// newPage loads assets/<name>/. devLogin, when not empty, replaces the
// page's data-dev-login="0".
func newPage(name, devLogin string) *page {
	prefix := map[string]string{"board": "/board", "console": "/console", "ticket": "/t"}[name]
	js := mustAsset("assets/"+name+"/"+name+".js", "text/javascript; charset=utf-8")
	css := mustAsset("assets/"+name+"/"+name+".css", "text/css; charset=utf-8")
	html := string(mustRead("assets/" + name + "/index.html"))
	html = mustReplace(html, `"`+prefix+`/assets/`+name+`.js"`, `"`+prefix+`/assets/`+name+`.js?v=`+js.version+`"`)
	html = mustReplace(html, `"`+prefix+`/assets/`+name+`.css"`, `"`+prefix+`/assets/`+name+`.css?v=`+css.version+`"`)
	if devLogin != "" {
		html = mustReplace(html, `data-dev-login="0"`, `data-dev-login="`+devLogin+`"`)
	}
	return &page{
		html:     newAsset("text/html; charset=utf-8", []byte(html)),
		files:    map[string]*asset{name + ".js": js, name + ".css": css},
		noFrames: name != "board",
	}
}

func (p *page) serveAsset(w http.ResponseWriter, r *http.Request) {
	a := p.files[r.PathValue("name")]
	if a == nil {
		http.NotFound(w, r)
		return
	}
	a.serve(w, r, r.URL.Query().Get("v") == a.version)
}

// servePage sends the page with a strict CSP: scripts, styles and
// connections only to this host, images from here or data: URLs.
func (p *page) servePage(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	csp := "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'" + wsSources(r) + "; base-uri 'none'; form-action 'none'"
	if p.noFrames {
		csp += "; frame-ancestors 'none'"
		h.Set("X-Frame-Options", "DENY")
	}
	h.Set("Content-Security-Policy", csp)
	// The ticket page's URL is a capability: never send it on.
	h.Set("Referrer-Policy", "no-referrer")
	p.html.serve(w, r, false)
}

// Playground serves GraphiQL for the GraphQL endpoint at endpoint (e.g.
// "/query"; subscriptions use the same path over WebSocket). Everything comes
// from the binary: the page at the handler's path, and its script and style at
// the same path with ?asset=playground.js / ?asset=playground.css, so that it
// can be mounted as a single route ("GET /{$}").
func Playground(endpoint string) http.Handler {
	js := mustAsset("assets/playground/playground.js", "text/javascript; charset=utf-8")
	css := mustAsset("assets/playground/playground.css", "text/css; charset=utf-8")
	cfg, err := json.Marshal(map[string]string{"endpoint": endpoint}) // escapes <, > and &
	if err != nil {
		panic(err)
	}
	html := string(mustRead("assets/playground/index.html"))
	html = mustReplace(html, `{"endpoint":"/query"}`, string(cfg))
	html = mustReplace(html, `"?asset=playground.js"`, `"?asset=playground.js&amp;v=`+js.version+`"`)
	html = mustReplace(html, `"?asset=playground.css"`, `"?asset=playground.css&amp;v=`+css.version+`"`)
	page := newAsset("text/html; charset=utf-8", []byte(html))
	files := map[string]*asset{"playground.js": js, "playground.css": css}

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if name := q.Get("asset"); name != "" {
			a := files[name]
			if a == nil {
				http.NotFound(w, r)
				return
			}
			a.serve(w, r, q.Get("v") == a.version)
			return
		}
		h := w.Header()
		// React and its libraries set inline styles; scripts only from here.
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "+
			"img-src 'self' data:; font-src 'self' data:; connect-src 'self'"+wsSources(r)+"; base-uri 'none'; form-action 'none'")
		h.Set("Referrer-Policy", "same-origin")
		page.serve(w, r, false)
	})
}

// wsSources names this host's WebSocket origins for connect-src: CSP level 3
// lets 'self' cover them, older browsers do not.
func wsSources(r *http.Request) string {
	host := r.Host
	if host == "" || strings.ContainsFunc(host, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".-:[]", c))
	}) {
		return ""
	}
	return " ws://" + host + " wss://" + host
}

// asset is one embedded file, served with a strong ETag and, to clients that
// accept it, gzip (compressed once, on first use).
type asset struct {
	ctype   string
	body    []byte
	version string // first 16 hex digits of the SHA-256 of body
	gzOnce  sync.Once
	gz      []byte
}

func newAsset(ctype string, body []byte) *asset {
	sum := sha256.Sum256(body)
	return &asset{ctype: ctype, body: body, version: hex.EncodeToString(sum[:8])}
}

func mustAsset(name, ctype string) *asset { return newAsset(ctype, mustRead(name)) }

func mustRead(name string) []byte {
	b, err := fs.ReadFile(assetsFS, name)
	if err != nil {
		panic("web: embedded " + name + " missing (run the build in web/): " + err.Error())
	}
	return b
}

func mustReplace(s, old, new string) string {
	if strings.Count(s, old) != 1 {
		panic("web: expected exactly one " + strconv.Quote(old) + " in an embedded page")
	}
	return strings.Replace(s, old, new, 1)
}

func (a *asset) gzipped() []byte {
	a.gzOnce.Do(func() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(a.body)
		if zw.Close() == nil && buf.Len() < len(a.body) {
			a.gz = buf.Bytes()
		}
	})
	return a.gz
}

// serve writes the asset; immutable marks a content-hashed URL that may be
// cached for good, else the client revalidates each time (304 if unchanged).
func (a *asset) serve(w http.ResponseWriter, r *http.Request, immutable bool) {
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Add("Vary", "Accept-Encoding")
	if immutable {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	body, etag := a.body, `"`+a.version+`"`
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		if gz := a.gzipped(); gz != nil {
			body, etag = gz, `"`+a.version+`-gz"`
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "*" {
			continue
		}
		if q, ok := strings.CutPrefix(strings.ReplaceAll(strings.TrimSpace(params), " ", ""), "q="); ok {
			if v, err := strconv.ParseFloat(q, 64); err == nil && v == 0 {
				continue
			}
		}
		return true
	}
	return false
}
