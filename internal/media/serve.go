package media

import (
	"errors"
	"io/fs"
	"net/http"
)

// PhotoCacheControl is sent with every served photo. Keys are never reused
// (a new upload gets a new random key), so responses are immutable.
const PhotoCacheControl = "public, max-age=31536000, immutable"

// ServePhotos returns a handler for GET (and HEAD) /photos/{key}, serving the
// photos of s with a Content-Type derived from the key's extension, long-lived
// immutable caching, ETag = quoted key, Last-Modified, range and conditional
// request support (http.ServeContent) and X-Content-Type-Options: nosniff.
// Invalid and unknown keys get 404.
//
// The handler matches the full request path, so mount it as-is, e.g.
// mux.Handle("/photos/", media.ServePhotos(store)) — not under StripPrefix.
func ServePhotos(s Store) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /photos/{key}", func(w http.ResponseWriter, r *http.Request) {
		key := r.PathValue("key")
		if !ValidKey(key) {
			http.NotFound(w, r)
			return
		}
		f, modTime, err := s.Open(r.Context(), key)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				http.NotFound(w, r)
				return
			}
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		defer f.Close()
		h := w.Header()
		h.Set("Content-Type", ContentType(keyExt(key)))
		h.Set("Cache-Control", PhotoCacheControl)
		h.Set("ETag", `"`+key+`"`)
		h.Set("X-Content-Type-Options", "nosniff")
		// Defence in depth should a file ever be opened as a document.
		h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
		http.ServeContent(w, r, "", modTime, f)
	})
	return mux
}
