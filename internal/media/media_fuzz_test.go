package media

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzSniffImage checks that arbitrary bytes never crash SniffImage or
// CheckPhoto, that both agree (whatever SniffImage rejects CheckPhoto
// rejects too, with ErrBadImage), and that CheckPhoto's output is itself an
// image the sniffer accepts with the reported kind and size: the input's
// kind (WebP becomes JPEG or PNG), scaled to at most MaxPhotoSide.
func FuzzSniffImage(f *testing.F) {
	jpg := makeJPEG(f, 16, 8)
	f.Add(makePNG(f, 5, 3))
	f.Add(jpg)
	f.Add(withExif(jpg, 6))
	f.Add(readFixture(f, "tiny_lossless.webp"))
	f.Add(readFixture(f, "tiny_lossy.webp"))
	f.Add(webpWithExif(f))
	f.Add(pngHeader(64, 64))

	f.Fuzz(func(t *testing.T, data []byte) {
		kind, w, h, sniffErr := SniffImage(data)
		if sniffErr != nil {
			if !errors.Is(sniffErr, ErrBadImage) {
				t.Fatalf("SniffImage error does not wrap ErrBadImage: %v", sniffErr)
			}
			if kind != "" || w != 0 || h != 0 {
				t.Fatalf("SniffImage returned %q %dx%d with an error", kind, w, h)
			}
		} else {
			if kind != KindJPEG && kind != KindPNG && kind != KindWebP {
				t.Fatalf("unexpected kind %q", kind)
			}
			if w <= 0 || h <= 0 || w > MaxImageSide || h > MaxImageSide || w*h > MaxImagePixels {
				t.Fatalf("accepted dimensions %dx%d", w, h)
			}
		}

		p, err := CheckPhoto(bytes.NewReader(data), int64(len(data))+1)
		if err != nil {
			if !errors.Is(err, ErrBadImage) {
				t.Fatalf("CheckPhoto error does not wrap ErrBadImage: %v", err)
			}
			return
		}
		if sniffErr != nil {
			t.Fatalf("CheckPhoto accepted what SniffImage rejected (%v)", sniffErr)
		}
		if p.Kind != kind && !(kind == KindWebP && (p.Kind == KindJPEG || p.Kind == KindPNG)) {
			t.Fatalf("CheckPhoto kind %q, SniffImage kind %q", p.Kind, kind)
		}
		// Scaled to fit; JPEG EXIF orientations 5..8 swap the axes.
		fw, fh := fitDims(w, h, MaxPhotoSide)
		if !(p.Width == fw && p.Height == fh) && !(kind == KindJPEG && p.Width == fh && p.Height == fw) {
			t.Fatalf("CheckPhoto %dx%d, SniffImage %dx%d (fits in %dx%d)", p.Width, p.Height, w, h, fw, fh)
		}
		k2, w2, h2, err := SniffImage(p.Data)
		if err != nil || k2 != p.Kind || w2 != p.Width || h2 != p.Height {
			t.Fatalf("CheckPhoto output re-sniffs as %q %dx%d (%v)", k2, w2, h2, err)
		}
	})
}
