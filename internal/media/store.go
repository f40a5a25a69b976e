package media

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"
)

// Store keeps photo blobs under opaque, URL-safe keys.
type Store interface {
	// Put stores data under a new random key with the given extension; returns the key (URL-safe, e.g. "3f9c…e1.jpg").
	Put(ctx context.Context, data []byte, ext string) (key string, err error)
	// Open returns the content and its modification time; fs.ErrNotExist for an unknown key.
	Open(ctx context.Context, key string) (io.ReadSeekCloser, time.Time, error)
	Delete(ctx context.Context, key string) error // no error for a missing key
}

// ErrInvalidKey is returned for keys that ValidKey rejects. Open also wraps
// fs.ErrNotExist in that case, so callers can treat it as "not found".
var ErrInvalidKey = errors.New("media: invalid photo key")

const (
	keyRandBytes = 16 // 128-bit random keys: 32 hex digits
	minKeyHex    = 16
	maxKeyHex    = 64
)

// ValidKey reports whether key has the form produced by Put: 16 to 64
// lower-case hex digits, a dot and one of the extensions jpg, png, webp.
// Such a key cannot contain path separators or "..".
func ValidKey(key string) bool {
	name, ext, ok := strings.Cut(key, ".")
	if !ok || ext == "" || normExt(ext) != ext {
		return false
	}
	if len(name) < minKeyHex || len(name) > maxKeyHex {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// normExt maps "jpg", ".JPG", "jpeg", "png", "webp"… to the canonical
// storage extension, or "" when unsupported.
func normExt(ext string) string {
	switch strings.ToLower(strings.TrimPrefix(ext, ".")) {
	case "jpg", "jpeg":
		return "jpg"
	case "png":
		return "png"
	case "webp":
		return "webp"
	}
	return ""
}

// keyExt returns the extension of a valid key.
func keyExt(key string) string {
	_, ext, _ := strings.Cut(key, ".")
	return ext
}

func newKey(ext string) (string, error) {
	var b [keyRandBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]) + "." + ext, nil
}

// DiskStore is a Store keeping one file per key in a local directory.
// All file access goes through an os.Root, so even a key that slipped past
// validation could not escape the directory (symlinks included).
type DiskStore struct {
	dir  string
	root *os.Root
}

var _ Store = (*DiskStore)(nil)

// NewDiskStore opens (creating it with mode 0o750 if needed) a store in dir.
func NewDiskStore(dir string) (*DiskStore, error) {
	if dir == "" {
		return nil, errors.New("media: NewDiskStore: empty directory")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("media: creating photo dir: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("media: opening photo dir: %w", err)
	}
	return &DiskStore{dir: dir, root: root}, nil
}

// Dir returns the directory of the store.
func (s *DiskStore) Dir() string { return s.dir }

// Close releases the directory handle.
func (s *DiskStore) Close() error { return s.root.Close() }

// Put writes data atomically (temporary file, fsync, rename) under a new
// random key. ext is "jpg"/"jpeg", "png" or "webp" (a leading dot and upper
// case are accepted).
func (s *DiskStore) Put(ctx context.Context, data []byte, ext string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	e := normExt(ext)
	if e == "" {
		return "", fmt.Errorf("media: unsupported photo extension %q", ext)
	}
	key, err := newKey(e)
	if err != nil {
		return "", fmt.Errorf("media: generating key: %w", err)
	}
	tmpRand, err := newKey("tmp")
	if err != nil {
		return "", fmt.Errorf("media: generating temp name: %w", err)
	}
	tmp := ".tmp-" + tmpRand // never a ValidKey, so never served
	if err := s.writeTemp(tmp, data); err != nil {
		_ = s.root.Remove(tmp)
		return "", err
	}
	if err := ctx.Err(); err != nil {
		_ = s.root.Remove(tmp)
		return "", err
	}
	if err := s.root.Rename(tmp, key); err != nil {
		_ = s.root.Remove(tmp)
		return "", fmt.Errorf("media: storing photo: %w", err)
	}
	s.syncDir()
	return key, nil
}

func (s *DiskStore) writeTemp(name string, data []byte) error {
	f, err := s.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("media: creating temp file: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("media: writing photo: %w", err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("media: syncing photo: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("media: closing photo: %w", err)
	}
	return nil
}

// syncDir makes the rename durable (best effort).
func (s *DiskStore) syncDir() {
	if d, err := s.root.Open("."); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// Open returns the photo stored under key. Unknown and invalid keys yield an
// error wrapping fs.ErrNotExist.
func (s *DiskStore) Open(ctx context.Context, key string) (io.ReadSeekCloser, time.Time, error) {
	if err := ctx.Err(); err != nil {
		return nil, time.Time{}, err
	}
	if !ValidKey(key) {
		return nil, time.Time{}, fmt.Errorf("%w %q: %w", ErrInvalidKey, key, fs.ErrNotExist)
	}
	f, err := s.root.Open(key)
	if err != nil {
		return nil, time.Time{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, time.Time{}, err
	}
	if !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil, time.Time{}, &fs.PathError{Op: "open", Path: key, Err: fs.ErrNotExist}
	}
	return f, fi.ModTime(), nil
}

// Delete removes the photo stored under key. A missing key is not an error;
// an invalid key yields ErrInvalidKey.
func (s *DiskStore) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !ValidKey(key) {
		return fmt.Errorf("%w %q", ErrInvalidKey, key)
	}
	if err := s.root.Remove(key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
