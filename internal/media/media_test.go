package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/image/webp"
)

// ---- fixtures ----

// testImage is a deterministic, noisy image: left half reddish, right half
// bluish, so orientation changes are visible even after lossy compression.
func testImage(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			n := uint8((x*31 + y*17) % 40)
			if x < w/2 {
				img.SetNRGBA(x, y, color.NRGBA{220 + n/4, n, n, 255})
			} else {
				img.SetNRGBA(x, y, color.NRGBA{n, n, 220 + n/4, 255})
			}
		}
	}
	return img
}

func makePNG(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, testImage(w, h)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func makeJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, testImage(w, h), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

const gpsSecret = "GPS-SECRET-48.8584N-2.2945E"

// withExif inserts an APP1 Exif segment (big-endian TIFF with an orientation
// tag and a fake GPS payload) right after the SOI marker.
func withExif(jpg []byte, orientation uint16) []byte {
	var tiff bytes.Buffer
	tiff.WriteString("MM\x00\x2a\x00\x00\x00\x08") // header, IFD0 at 8
	binary.Write(&tiff, binary.BigEndian, uint16(1))
	binary.Write(&tiff, binary.BigEndian, []uint16{0x0112, 3})
	binary.Write(&tiff, binary.BigEndian, uint32(1))
	binary.Write(&tiff, binary.BigEndian, []uint16{orientation, 0})
	binary.Write(&tiff, binary.BigEndian, uint32(0)) // no next IFD
	tiff.WriteString(gpsSecret)

	seg := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	out := []byte{0xFF, 0xD8, 0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(out[4:], uint16(len(seg)+2))
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

// pngHeader returns a PNG signature plus a well-formed IHDR chunk only.
func pngHeader(w, h uint32) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	out := append([]byte{}, magicPNG...)
	out = binary.BigEndian.AppendUint32(out, 13)
	chunk := append([]byte("IHDR"), ihdr...)
	out = append(out, chunk...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(chunk))
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func riffChunk(id string, data []byte) []byte {
	out := append([]byte(id), 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(out[4:], uint32(len(data)))
	out = append(out, data...)
	if len(data)%2 == 1 {
		out = append(out, 0)
	}
	return out
}

func riff(chunks ...[]byte) []byte {
	body := []byte("WEBP")
	for _, c := range chunks {
		body = append(body, c...)
	}
	out := append([]byte("RIFF"), 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(out[4:], uint32(len(body)))
	return append(out, body...)
}

// webpWithExif wraps the simple lossless fixture (16x12) in an extended VP8X
// container carrying EXIF and XMP metadata, plus trailing garbage.
func webpWithExif(t testing.TB) []byte {
	t.Helper()
	simple := readFixture(t, "tiny_lossless.webp")
	if string(simple[12:16]) != "VP8L" {
		t.Fatalf("fixture is not a simple lossless WebP")
	}
	vp8l := simple[12:] // the VP8L chunk incl. header
	vp8x := make([]byte, 10)
	vp8x[0] = 1<<3 | 1<<2 // EXIF + XMP flags
	vp8x[4] = 16 - 1      // canvas width-1 (24-bit LE)
	vp8x[7] = 12 - 1      // canvas height-1
	exif := append([]byte("Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x00"), gpsSecret...)
	b := riff(riffChunk("VP8X", vp8x), vp8l, riffChunk("EXIF", exif), riffChunk("XMP ", []byte("<x:xmpmeta>"+gpsSecret+"</x:xmpmeta>")))
	return append(b, "<html>trailing polyglot</html>"...)
}

// ---- SniffImage ----

func TestSniffImage(t *testing.T) {
	pngData := makePNG(t, 20, 10)
	jpgData := makeJPEG(t, 24, 16)
	tests := []struct {
		name       string
		data       []byte
		kind       string
		w, h       int
		errContain string // when non-empty an ErrBadImage is expected
	}{
		{name: "png", data: pngData, kind: "png", w: 20, h: 10},
		{name: "jpeg", data: jpgData, kind: "jpeg", w: 24, h: 16},
		{name: "jpeg with exif", data: withExif(jpgData, 6), kind: "jpeg", w: 24, h: 16},
		{name: "webp lossless", data: readFixture(t, "tiny_lossless.webp"), kind: "webp", w: 16, h: 12},
		{name: "webp lossy", data: readFixture(t, "tiny_lossy.webp"), kind: "webp", w: 16, h: 12},
		{name: "webp extended", data: webpWithExif(t), kind: "webp", w: 16, h: 12},
		{name: "gif", data: []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"), errContain: "image/gif"},
		{name: "html", data: []byte("<!DOCTYPE html><html><script>alert(1)</script></html>"), errContain: "text/html"},
		{name: "svg", data: []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`), errContain: "not a JPEG"},
		{name: "heic", data: []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"), errContain: "HEIC"},
		{name: "empty", data: nil, errContain: "empty file"},
		{name: "png signature only", data: pngData[:8], errContain: "invalid png header"},
		{name: "jpeg magic only", data: []byte{0xFF, 0xD8, 0xFF}, errContain: "invalid jpeg header"},
		{name: "riff not webp", data: []byte("RIFF\x04\x00\x00\x00WAVEfmt "), errContain: "not a JPEG"},
		{name: "webp header only", data: []byte("RIFF\x1a\x00\x00\x00WEBPVP8 \x0e\x00\x00\x00"), errContain: "invalid webp header"},
		{name: "png zero width", data: pngHeader(0, 10), errContain: "invalid png header"},
		{name: "png too wide", data: pngHeader(8001, 10), errContain: "more than 8000 px"},
		{name: "png too tall", data: pngHeader(10, 9000), errContain: "more than 8000 px"},
		{name: "png too many pixels", data: pngHeader(7000, 7000), errContain: "megapixels"},
		{name: "png at limits", data: pngHeader(8000, 2000), kind: "png", w: 8000, h: 2000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kind, w, h, err := SniffImage(tc.data)
			if tc.errContain != "" {
				if !errors.Is(err, ErrBadImage) {
					t.Fatalf("err = %v, want ErrBadImage", err)
				}
				if !strings.Contains(err.Error(), tc.errContain) || !strings.Contains(err.Error(), "JPEG, PNG or WebP up to") {
					t.Fatalf("err = %q, want it to mention %q and what is accepted", err, tc.errContain)
				}
				if kind != "" || w != 0 || h != 0 {
					t.Fatalf("got %q %dx%d alongside error", kind, w, h)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if kind != tc.kind || w != tc.w || h != tc.h {
				t.Fatalf("got %q %dx%d, want %q %dx%d", kind, w, h, tc.kind, tc.w, tc.h)
			}
		})
	}
}

func TestContentTypeAndExt(t *testing.T) {
	tests := []struct{ kind, ct, ext string }{
		{"jpeg", "image/jpeg", "jpg"},
		{"jpg", "image/jpeg", "jpg"},
		{"png", "image/png", "png"},
		{"webp", "image/webp", "webp"},
		{"gif", "application/octet-stream", ""},
		{"", "application/octet-stream", ""},
	}
	for _, tc := range tests {
		if got := ContentType(tc.kind); got != tc.ct {
			t.Errorf("ContentType(%q) = %q, want %q", tc.kind, got, tc.ct)
		}
		if got := Ext(tc.kind); got != tc.ext {
			t.Errorf("Ext(%q) = %q, want %q", tc.kind, got, tc.ext)
		}
	}
}

// ---- CheckPhoto ----

func decodeAny(t *testing.T, p Photo) image.Image {
	t.Helper()
	var (
		img image.Image
		err error
	)
	switch p.Kind {
	case KindJPEG:
		img, err = jpeg.Decode(bytes.NewReader(p.Data))
	case KindPNG:
		img, err = png.Decode(bytes.NewReader(p.Data))
	case KindWebP:
		img, err = webp.Decode(bytes.NewReader(p.Data))
	default:
		t.Fatalf("kind %q", p.Kind)
	}
	if err != nil {
		t.Fatalf("output does not decode: %v", err)
	}
	return img
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestCheckPhoto(t *testing.T) {
	pngData := makePNG(t, 40, 30)
	jpgData := makeJPEG(t, 64, 48)
	lossy := readFixture(t, "tiny_lossy.webp")
	big := int64(1 << 20)

	// A PNG saved under a .jpg name: only the content counts.
	renamed := filepath.Join(t.TempDir(), "photo.jpg")
	if err := os.WriteFile(renamed, pngData, 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		open    func() io.Reader
		max     int64
		kind    string
		w, h    int
		wantErr error // ErrBadImage, ErrTooLarge or nil
		check   func(t *testing.T, p Photo)
	}{
		{name: "png", open: bytesOf(pngData), max: big, kind: "png", w: 40, h: 30},
		{name: "jpeg", open: bytesOf(jpgData), max: big, kind: "jpeg", w: 64, h: 48},
		{name: "webp lossless becomes jpeg", open: bytesOf(readFixture(t, "tiny_lossless.webp")), max: big, kind: "jpeg", w: 16, h: 12},
		{name: "webp lossy becomes jpeg", open: bytesOf(lossy), max: big, kind: "jpeg", w: 16, h: 12},
		{name: "png renamed .jpg", open: func() io.Reader {
			f, err := os.Open(renamed)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			return f
		}, max: big, kind: "png", w: 40, h: 30},
		{name: "exact size limit", open: bytesOf(pngData), max: int64(len(pngData)), kind: "png", w: 40, h: 30},
		{name: "one byte too large", open: bytesOf(pngData), max: int64(len(pngData)) - 1, wantErr: ErrTooLarge},
		{name: "endless stream too large", open: func() io.Reader { return io.MultiReader(bytes.NewReader(jpgData), zeroReader{}) }, max: 4096, wantErr: ErrTooLarge},
		{name: "gif", open: bytesOf([]byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;")), max: big, wantErr: ErrBadImage},
		{name: "html", open: bytesOf([]byte("<html><body>hi</body></html>")), max: big, wantErr: ErrBadImage},
		{name: "truncated jpeg", open: bytesOf(jpgData[:len(jpgData)*2/3]), max: big, wantErr: ErrBadImage},
		{name: "truncated png", open: bytesOf(pngData[:len(pngData)-20]), max: big, wantErr: ErrBadImage},
		{name: "truncated webp", open: bytesOf(lossy[:len(lossy)-10]), max: big, wantErr: ErrBadImage},
		{name: "png header claims huge image", open: bytesOf(pngHeader(8000, 5000)), max: big, wantErr: ErrBadImage},
		{name: "jpeg exif stripped", open: bytesOf(withExif(jpgData, 1)), max: big, kind: "jpeg", w: 64, h: 48,
			check: func(t *testing.T, p Photo) {
				for _, s := range []string{"Exif", gpsSecret} {
					if bytes.Contains(p.Data, []byte(s)) {
						t.Errorf("output still contains %q", s)
					}
				}
			}},
		{name: "jpeg exif orientation 6 applied", open: bytesOf(withExif(jpgData, 6)), max: big, kind: "jpeg", w: 48, h: 64,
			check: func(t *testing.T, p Photo) {
				if bytes.Contains(p.Data, []byte("Exif")) {
					t.Errorf("output still contains Exif")
				}
				// Rotated 90° clockwise: the red left half is now on top.
				img := decodeAny(t, p)
				if r, _, b := rgbAt(img, 24, 5); r < b {
					t.Errorf("top should be red, got r=%d b=%d", r, b)
				}
				if r, _, b := rgbAt(img, 24, 58); b < r {
					t.Errorf("bottom should be blue, got r=%d b=%d", r, b)
				}
			}},
		{name: "jpeg exif orientation 3 applied", open: bytesOf(withExif(jpgData, 3)), max: big, kind: "jpeg", w: 64, h: 48,
			check: func(t *testing.T, p Photo) {
				img := decodeAny(t, p)
				if r, _, b := rgbAt(img, 5, 24); b < r {
					t.Errorf("left should be blue after 180°, got r=%d b=%d", r, b)
				}
			}},
		{name: "webp metadata and trailer stripped", open: bytesOf(webpWithExif(t)), max: big, kind: "jpeg", w: 16, h: 12,
			check: func(t *testing.T, p Photo) {
				for _, s := range []string{"EXIF", "XMP ", gpsSecret, "html"} {
					if bytes.Contains(p.Data, []byte(s)) {
						t.Errorf("output still contains %q", s)
					}
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := CheckPhoto(tc.open(), tc.max)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if p.Data != nil {
					t.Fatalf("data returned alongside error")
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if p.Kind != tc.kind || p.Width != tc.w || p.Height != tc.h {
				t.Fatalf("got %q %dx%d, want %q %dx%d", p.Kind, p.Width, p.Height, tc.kind, tc.w, tc.h)
			}
			img := decodeAny(t, p)
			if b := img.Bounds(); b.Dx() != tc.w || b.Dy() != tc.h {
				t.Fatalf("output decodes to %v", b)
			}
			// The output itself must pass the sniffer with the same result.
			kind, w, h, err := SniffImage(p.Data)
			if err != nil || kind != p.Kind || w != p.Width || h != p.Height {
				t.Fatalf("re-sniff: %q %dx%d %v", kind, w, h, err)
			}
			if tc.check != nil {
				tc.check(t, p)
			}
		})
	}

	t.Run("reader error is not ErrBadImage", func(t *testing.T) {
		_, err := CheckPhoto(errReader{}, big)
		if err == nil || errors.Is(err, ErrBadImage) || errors.Is(err, ErrTooLarge) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("non-positive maxBytes", func(t *testing.T) {
		if _, err := CheckPhoto(bytes.NewReader(pngData), 0); err == nil {
			t.Fatal("want error")
		}
	})
}

func bytesOf(b []byte) func() io.Reader {
	return func() io.Reader { return bytes.NewReader(b) }
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func rgbAt(img image.Image, x, y int) (r, g, b uint32) {
	r, g, b, _ = img.At(img.Bounds().Min.X+x, img.Bounds().Min.Y+y).RGBA()
	return r >> 8, g >> 8, b >> 8
}

func TestApplyOrientation(t *testing.T) {
	// 3x2 source with distinct pixel values; expectations as row-major grids.
	src := image.NewGray(image.Rect(0, 0, 3, 2))
	copy(src.Pix, []uint8{1, 2, 3, 4, 5, 6})
	tests := []struct {
		o    int
		w, h int
		want []uint8
	}{
		{1, 3, 2, []uint8{1, 2, 3, 4, 5, 6}},
		{2, 3, 2, []uint8{3, 2, 1, 6, 5, 4}},
		{3, 3, 2, []uint8{6, 5, 4, 3, 2, 1}},
		{4, 3, 2, []uint8{4, 5, 6, 1, 2, 3}},
		{5, 2, 3, []uint8{1, 4, 2, 5, 3, 6}},
		{6, 2, 3, []uint8{4, 1, 5, 2, 6, 3}},
		{7, 2, 3, []uint8{6, 3, 5, 2, 4, 1}},
		{8, 2, 3, []uint8{3, 6, 2, 5, 1, 4}},
	}
	for _, tc := range tests {
		out := applyOrientation(src, tc.o)
		b := out.Bounds()
		if b.Dx() != tc.w || b.Dy() != tc.h {
			t.Errorf("orientation %d: size %v", tc.o, b)
			continue
		}
		var got []uint8
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				got = append(got, color.GrayModel.Convert(out.At(x, y)).(color.Gray).Y)
			}
		}
		if !bytes.Equal(got, tc.want) {
			t.Errorf("orientation %d: got %v, want %v", tc.o, got, tc.want)
		}
	}
}

func TestJPEGOrientationParsing(t *testing.T) {
	jpg := makeJPEG(t, 8, 8)
	tests := []struct {
		name string
		data []byte
		want int
	}{
		{"no exif", jpg, 1},
		{"orientation 6", withExif(jpg, 6), 6},
		{"orientation 8", withExif(jpg, 8), 8},
		{"out of range", withExif(jpg, 9), 1},
		{"not jpeg", []byte("hello"), 1},
		{"truncated segment", withExif(jpg, 6)[:20], 1},
	}
	for _, tc := range tests {
		if got := jpegOrientation(tc.data); got != tc.want {
			t.Errorf("%s: got %d, want %d", tc.name, got, tc.want)
		}
	}
}

// ---- Store ----

func newTestStore(t *testing.T) *DiskStore {
	t.Helper()
	s, err := NewDiskStore(filepath.Join(t.TempDir(), "photos", "nested"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestDiskStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	fi, err := os.Stat(s.Dir())
	if err != nil || !fi.IsDir() || fi.Mode().Perm()&^0o750 != 0 {
		t.Fatalf("dir: %v %v", fi, err)
	}

	for _, ext := range []string{"jpg", ".JPEG", "png", "webp"} {
		data := []byte("content for " + ext)
		before := time.Now().Add(-2 * time.Second)
		key, err := s.Put(ctx, data, ext)
		if err != nil {
			t.Fatalf("Put(%q): %v", ext, err)
		}
		if !ValidKey(key) {
			t.Fatalf("Put returned invalid key %q", key)
		}
		if want := "." + normExt(ext); !strings.HasSuffix(key, want) || len(key) != 32+len(want) {
			t.Fatalf("key %q, want 32 hex digits + %q", key, want)
		}
		rc, mod, err := s.Open(ctx, key)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read back %q, %v", got, err)
		}
		if mod.Before(before) || mod.After(time.Now().Add(2*time.Second)) {
			t.Fatalf("mod time %v", mod)
		}
		if fi, err := os.Stat(filepath.Join(s.Dir(), key)); err != nil || fi.Mode().Perm() != 0o640 {
			t.Fatalf("file mode: %v %v", fi, err)
		}
		if err := s.Delete(ctx, key); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, _, err := s.Open(ctx, key); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Open after Delete: %v", err)
		}
		if err := s.Delete(ctx, key); err != nil {
			t.Fatalf("second Delete: %v", err)
		}
	}

	// Keys are unique and no temp files are left behind.
	k1, _ := s.Put(ctx, []byte("same"), "png")
	k2, _ := s.Put(ctx, []byte("same"), "png")
	if k1 == k2 {
		t.Fatalf("duplicate key %q", k1)
	}
	entries, _ := os.ReadDir(s.Dir())
	if len(entries) != 2 {
		t.Fatalf("dir has %d entries, want 2: %v", len(entries), entries)
	}

	if _, err := s.Put(ctx, []byte("x"), "gif"); err == nil {
		t.Fatal("Put with gif extension should fail")
	}
	if _, err := s.Put(ctx, []byte("x"), "../../x"); err == nil {
		t.Fatal("Put with traversal extension should fail")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Put(cctx, []byte("x"), "png"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with canceled ctx: %v", err)
	}
}

func TestDiskStoreRejectsBadKeys(t *testing.T) {
	ctx := context.Background()
	parent := t.TempDir()
	dir := filepath.Join(parent, "photos")
	s, err := NewDiskStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	victim := filepath.Join(parent, "victim.jpg")
	if err := os.WriteFile(victim, []byte("do not touch"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{
		"", ".", "..", "../victim.jpg", "..%2fvictim.jpg", "/etc/passwd", victim,
		"0123456789abcdef/../../victim.jpg", "0123456789abcdef0123456789abcdef.jpg/..",
		"0123456789abcdef\\..\\victim.jpg", "0123456789ABCDEF0123456789ABCDEF.jpg",
		"0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef.exe",
		"0123456789abcdef0123456789abcdef.jpeg", "0123456789abcdef.jpg.png", "abc.jpg",
		"0123456789abcdef0123456789abcdef.jpg\x00", ".tmp-0123456789abcdef0123456789abcdef.tmp",
		"g123456789abcdef0123456789abcdef.jpg", strings.Repeat("a", 65) + ".jpg",
	} {
		if ValidKey(key) {
			t.Errorf("ValidKey(%q) = true", key)
		}
		if _, _, err := s.Open(ctx, key); !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Open(%q) = %v, want ErrInvalidKey + fs.ErrNotExist", key, err)
		}
		if err := s.Delete(ctx, key); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
	if b, err := os.ReadFile(victim); err != nil || string(b) != "do not touch" {
		t.Fatalf("victim file changed: %q %v", b, err)
	}

	// Defence in depth: a symlink planted inside the directory cannot be used
	// to read files outside it.
	link := "0123456789abcdef0123456789abcdef.jpg"
	if err := os.Symlink(victim, filepath.Join(dir, link)); err != nil {
		t.Skipf("symlinks unsupported: %v", err)
	}
	if rc, _, err := s.Open(ctx, link); err == nil {
		rc.Close()
		t.Fatalf("Open followed a symlink out of the store")
	}

	for _, key := range []string{"0123456789abcdef.jpg", "0123456789abcdef0123456789abcdef.png", strings.Repeat("f", 64) + ".webp"} {
		if !ValidKey(key) {
			t.Errorf("ValidKey(%q) = false", key)
		}
	}
}

// ---- ServePhotos ----

type failingStore struct{ Store }

func (failingStore) Open(context.Context, string) (io.ReadSeekCloser, time.Time, error) {
	return nil, time.Time{}, errors.New("disk on fire")
}

func TestServePhotos(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	jpg := makeJPEG(t, 8, 8)
	jpgKey, err := s.Put(ctx, jpg, "jpg")
	if err != nil {
		t.Fatal(err)
	}
	webpKey, err := s.Put(ctx, readFixture(t, "tiny_lossy.webp"), "webp")
	if err != nil {
		t.Fatal(err)
	}
	srv := ServePhotos(s)

	tests := []struct {
		name     string
		method   string
		path     string
		header   map[string]string
		status   int
		ctype    string
		bodyLen  int // -1: don't check
		cacheHdr bool
	}{
		{name: "jpeg", method: "GET", path: "/photos/" + jpgKey, status: 200, ctype: "image/jpeg", bodyLen: len(jpg), cacheHdr: true},
		{name: "webp", method: "GET", path: "/photos/" + webpKey, status: 200, ctype: "image/webp", bodyLen: -1, cacheHdr: true},
		{name: "head", method: "HEAD", path: "/photos/" + jpgKey, status: 200, ctype: "image/jpeg", bodyLen: 0, cacheHdr: true},
		{name: "etag match", method: "GET", path: "/photos/" + jpgKey, header: map[string]string{"If-None-Match": `"` + jpgKey + `"`}, status: 304, bodyLen: 0, cacheHdr: true},
		{name: "range", method: "GET", path: "/photos/" + jpgKey, header: map[string]string{"Range": "bytes=0-9"}, status: 206, ctype: "image/jpeg", bodyLen: 10, cacheHdr: true},
		{name: "unknown key", method: "GET", path: "/photos/0123456789abcdef0123456789abcdef.jpg", status: 404, bodyLen: -1},
		{name: "bad extension", method: "GET", path: "/photos/0123456789abcdef0123456789abcdef.html", status: 404, bodyLen: -1},
		{name: "upper case key", method: "GET", path: "/photos/" + strings.ToUpper(jpgKey), status: 404, bodyLen: -1},
		{name: "encoded traversal", method: "GET", path: "/photos/..%2f..%2fetc%2fpasswd", status: 404, bodyLen: -1},
		{name: "no key", method: "GET", path: "/photos/", status: 404, bodyLen: -1},
		{name: "other path", method: "GET", path: "/elsewhere", status: 404, bodyLen: -1},
		{name: "post", method: "POST", path: "/photos/" + jpgKey, status: 405, bodyLen: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, nil)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			res := rec.Result()
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
			}
			if tc.ctype != "" && res.Header.Get("Content-Type") != tc.ctype {
				t.Errorf("Content-Type %q, want %q", res.Header.Get("Content-Type"), tc.ctype)
			}
			if tc.bodyLen >= 0 && rec.Body.Len() != tc.bodyLen {
				t.Errorf("body %d bytes, want %d", rec.Body.Len(), tc.bodyLen)
			}
			cc := res.Header.Get("Cache-Control")
			if tc.cacheHdr {
				if cc != "public, max-age=31536000, immutable" {
					t.Errorf("Cache-Control %q", cc)
				}
				key := strings.TrimPrefix(tc.path, "/photos/")
				if et := res.Header.Get("ETag"); et != `"`+key+`"` {
					t.Errorf("ETag %q, want quoted key", et)
				}
				if res.Header.Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("missing nosniff")
				}
				if res.StatusCode != http.StatusNotModified && res.Header.Get("Last-Modified") == "" {
					t.Errorf("missing Last-Modified")
				}
			} else if strings.Contains(cc, "immutable") {
				t.Errorf("error response must not be cached as immutable: %q", cc)
			}
		})
	}

	t.Run("store failure is 500", func(t *testing.T) {
		rec := httptest.NewRecorder()
		ServePhotos(failingStore{s}).ServeHTTP(rec, httptest.NewRequest("GET", "/photos/"+jpgKey, nil))
		if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "fire") {
			t.Fatalf("got %d %q", rec.Code, rec.Body.String())
		}
	})
	t.Run("mounted in outer mux", func(t *testing.T) {
		mux := http.NewServeMux()
		mux.Handle("/photos/", srv)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", "/photos/"+jpgKey, nil))
		if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), jpg) {
			t.Fatalf("got %d", rec.Code)
		}
	})
}

// ---- QR ----

func TestQRCodePNG(t *testing.T) {
	tests := []struct {
		name    string
		content string
		size    int
		want    int // expected side; 0 means an error is expected
	}{
		{"default size", "https://example.com/stall/42", 0, 512},
		{"negative size", "CALL-1234", -3, 512},
		{"custom size", "CALL-1234", 300, 300},
		{"max content", strings.Repeat("x", 1000), 1024, 1024},
		{"empty", "", 512, 0},
		{"too long", strings.Repeat("x", 1001), 512, 0},
		{"too big", "x", MaxQRSize + 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := QRCodePNG(tc.content, tc.size)
			if tc.want == 0 {
				if err == nil {
					t.Fatal("want error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("not a PNG: %v", err)
			}
			if r := img.Bounds(); r.Dx() != tc.want || r.Dy() != tc.want {
				t.Fatalf("size %v, want %dx%d", r, tc.want, tc.want)
			}
			if kind, _, _, err := SniffImage(b); err != nil || kind != KindPNG {
				t.Fatalf("sniff: %q %v", kind, err)
			}
		})
	}
}
