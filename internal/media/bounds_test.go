package media

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// bitWriter writes a VP8L bitstream: values least significant bit first.
type bitWriter struct {
	buf  []byte
	bits uint64
	n    uint
}

func (w *bitWriter) write(v uint64, n uint) {
	w.bits |= v << w.n
	w.n += n
	for w.n >= 8 {
		w.buf = append(w.buf, byte(w.bits))
		w.bits >>= 8
		w.n -= 8
	}
}

func (w *bitWriter) bytes() []byte {
	if w.n > 0 {
		return append(w.buf, byte(w.bits))
	}
	return w.buf
}

// bombWebP is a lossless WebP of w x h opaque black pixels in a few dozen
// bytes: every prefix code has a single symbol, so pixels take no bits at
// all, and the decoder allocates w*h*4 bytes from almost nothing.
func bombWebP(w, h int) []byte {
	var bw bitWriter
	bw.write(0x2f, 8) // VP8L signature
	bw.write(uint64(w-1), 14)
	bw.write(uint64(h-1), 14)
	bw.write(0, 1)                                  // no alpha
	bw.write(0, 3)                                  // version 0
	bw.write(0, 1)                                  // no transform
	bw.write(0, 1)                                  // no color cache
	bw.write(0, 1)                                  // no meta prefix codes
	for i, sym := range []uint64{0, 0, 0, 255, 0} { // green, red, blue, alpha, distance
		bw.write(1, 1) // simple code
		bw.write(0, 1) // one symbol
		if i == 3 {
			bw.write(1, 1) // 8-bit symbol
			bw.write(sym, 8)
		} else {
			bw.write(0, 1) // 1-bit symbol
			bw.write(sym, 1)
		}
	}
	return riff(riffChunk("VP8L", bw.bytes()))
}

// bombPNG16 is a 16-bit RGB PNG of w x h black pixels: a real image,
// compressed about a thousand to one.
func bombPNG16(t testing.TB, w, h int) []byte {
	t.Helper()
	chunk := func(out []byte, typ string, data []byte) []byte {
		out = binary.BigEndian.AppendUint32(out, uint32(len(data)))
		c := append([]byte(typ), data...)
		out = append(out, c...)
		return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(c))
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = 16, 2 // 16-bit RGB
	var idat bytes.Buffer
	z, _ := zlib.NewWriterLevel(&idat, zlib.BestCompression)
	row := make([]byte, 1+6*w) // filter byte 0, then zeros
	for y := 0; y < h; y++ {
		z.Write(row)
	}
	z.Close()
	out := chunk(append([]byte{}, magicPNG...), "IHDR", ihdr)
	out = chunk(out, "IDAT", idat.Bytes())
	return chunk(out, "IEND", nil)
}

// TestImageBombsRefusedBeforeDecoding: images whose header promises more
// pixels or bits than a photo needs are refused from the header, without a
// decode, with a reason the seller can act on.
func TestImageBombsRefusedBeforeDecoding(t *testing.T) {
	var decodes atomic.Int32
	d := NewDecoder(2)
	d.onDecode = func() { decodes.Add(1) }
	for _, tc := range []struct {
		name, reason string
		data         []byte
	}{
		{"34-byte WebP of 6324x6324", "more than 16 megapixels", bombWebP(6324, 6324)},
		{"16-bit PNG of 6324x6324", "more than 16 megapixels", bombPNG16(t, 6324, 6324)},
		{"16-bit PNG within the size", "16-bit png is not supported", bombPNG16(t, 64, 64)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := d.CheckPhoto(context.Background(), bytes.NewReader(tc.data), 1<<20)
			if !errors.Is(err, ErrBadImage) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("%d bytes: %v, want ErrBadImage saying %q", len(tc.data), err, tc.reason)
			}
		})
	}
	if n := decodes.Load(); n != 0 {
		t.Fatalf("%d decodes ran", n)
	}
}

// TestPhotosAreScaledAndReencoded: what is stored is never the upload: a
// WebP becomes a JPEG (a PNG with transparency), and anything larger than
// MaxPhotoSide is scaled down to it.
func TestPhotosAreScaledAndReencoded(t *testing.T) {
	wide := image.NewNRGBA(image.Rect(0, 0, 4000, 1000))
	var widePNG bytes.Buffer
	png.Encode(&widePNG, wide)
	for _, tc := range []struct {
		name string
		data []byte
		kind string
		w, h int
	}{
		{"tiny WebP of 4000x4000", bombWebP(4000, 4000), KindJPEG, MaxPhotoSide, MaxPhotoSide},
		{"PNG of 4000x1000", widePNG.Bytes(), KindPNG, MaxPhotoSide, 400},
		{"tall JPEG", makeJPEG(t, 500, 3000), KindJPEG, 267, MaxPhotoSide},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewDecoder(1).CheckPhoto(context.Background(), bytes.NewReader(tc.data), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if p.Kind != tc.kind || p.Width != tc.w || p.Height != tc.h {
				t.Fatalf("got %s %dx%d, want %s %dx%d", p.Kind, p.Width, p.Height, tc.kind, tc.w, tc.h)
			}
			var cfg image.Config
			switch p.Kind {
			case KindJPEG:
				cfg, err = jpeg.DecodeConfig(bytes.NewReader(p.Data))
			case KindPNG:
				cfg, err = png.DecodeConfig(bytes.NewReader(p.Data))
			}
			if err != nil || cfg.Width != tc.w || cfg.Height != tc.h {
				t.Fatalf("stored bytes are %dx%d (%v)", cfg.Width, cfg.Height, err)
			}
		})
	}
}

// TestDecodesAreBounded: eight uploads at once run at most as many decodes
// as the Decoder has slots; the rest wait, or give up with their context.
func TestDecodesAreBounded(t *testing.T) {
	d := NewDecoder(2)
	var inFlight, most atomic.Int32
	release := make(chan struct{})
	d.onDecode = func() {
		n := inFlight.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-release
		inFlight.Add(-1)
	}
	img := makePNG(t, 40, 30)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := d.CheckPhoto(context.Background(), bytes.NewReader(img), 1<<20)
			errs <- err
		})
	}
	for inFlight.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // room for any more to (wrongly) start
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if m := most.Load(); m != 2 {
		t.Fatalf("%d decodes ran at once, want 2", m)
	}

	// A caller whose request ends while waiting gives up.
	hold := make(chan struct{})
	var held atomic.Int32
	d.onDecode = func() { held.Add(1); <-hold }
	defer close(hold)
	for range 2 {
		go d.CheckPhoto(context.Background(), bytes.NewReader(img), 1<<20)
	}
	for held.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := d.CheckPhoto(ctx, bytes.NewReader(img), 1<<20); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting past the deadline: %v", err)
	}
}
