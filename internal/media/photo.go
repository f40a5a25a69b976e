package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"
	"io"
	"math"

	xdraw "golang.org/x/image/draw"
)

// JPEGQuality is the quality used when re-encoding JPEG photos.
const JPEGQuality = 85

// ErrTooLarge is wrapped by CheckPhoto when the upload exceeds maxBytes.
var ErrTooLarge = errors.New("image file too large")

// Photo is an uploaded image that has been fully decoded and normalised.
type Photo struct {
	Kind   string // KindJPEG, KindPNG or KindWebP
	Data   []byte // bytes to store and serve
	Width  int    // pixel width of Data
	Height int    // pixel height of Data
}

// Ext is the storage extension for the photo ("jpg", "png" or "webp").
func (p Photo) Ext() string { return Ext(p.Kind) }

// ContentType is the MIME type of p.Data.
func (p Photo) ContentType() string { return ContentType(p.Kind) }

// MaxPhotoSide is the longest side of a stored photo. Phones show a stall's
// photo at most screen-wide, so larger uploads are scaled down: every phone
// that opens the stall decodes what is stored, whatever was uploaded.
const MaxPhotoSide = 1600

// Decoder checks uploads with at most a fixed number of decodes running at
// once. A decode takes a core and up to MaxImagePixels*4 bytes for a second
// or two, so uploads beyond the slots wait (until their context ends)
// instead of adding up.
type Decoder struct {
	slots chan struct{}
	// onDecode, for tests, runs in a slot before each decode.
	onDecode func()
}

// NewDecoder returns a Decoder with n slots (at least 1).
func NewDecoder(n int) *Decoder {
	return &Decoder{slots: make(chan struct{}, max(n, 1))}
}

// CheckPhoto is the package's CheckPhoto in one of d's slots. The upload is
// read and its header checked (size, dimensions, depth) before it waits for
// a slot, so what is refused never waits or decodes.
func (d *Decoder) CheckPhoto(ctx context.Context, r io.Reader, maxBytes int64) (Photo, error) {
	data, err := readUpload(r, maxBytes)
	if err != nil {
		return Photo{}, err
	}
	if _, _, _, err := SniffImage(data); err != nil {
		return Photo{}, err
	}
	select {
	case d.slots <- struct{}{}:
	case <-ctx.Done():
		return Photo{}, ctx.Err()
	}
	defer func() { <-d.slots }()
	if d.onDecode != nil {
		d.onDecode()
	}
	return checkPhotoBytes(data)
}

// CheckPhoto reads an untrusted upload of at most maxBytes bytes, identifies
// it by content, checks its header (see SniffImage), fully decodes it and
// normalises it:
//
//   - it is scaled down to MaxPhotoSide on its longest side;
//   - JPEG is re-encoded at quality JPEGQuality after applying the EXIF
//     orientation to the pixels (so phone photos keep displaying upright);
//   - PNG is re-encoded with default compression;
//   - WebP (which the standard library cannot encode) becomes a JPEG, or a
//     PNG when it has transparency.
//
// So nothing of the uploaded file is served, and all metadata (EXIF incl.
// GPS position, XMP, comments, text chunks) is dropped. An upload over
// maxBytes yields an error wrapping ErrTooLarge; an unacceptable image one
// wrapping ErrBadImage; other errors come from r. Uploads from users should
// go through a Decoder, which bounds how many decode at once.
func CheckPhoto(r io.Reader, maxBytes int64) (Photo, error) {
	data, err := readUpload(r, maxBytes)
	if err != nil {
		return Photo{}, err
	}
	return checkPhotoBytes(data)
}

func readUpload(r io.Reader, maxBytes int64) ([]byte, error) {
	if maxBytes <= 0 {
		return nil, fmt.Errorf("media: CheckPhoto: maxBytes must be positive, got %d", maxBytes)
	}
	limit := maxBytes
	if limit < math.MaxInt64 {
		limit++
	}
	data, err := io.ReadAll(io.LimitReader(r, limit))
	if err != nil {
		return nil, fmt.Errorf("media: reading photo: %w", err)
	}
	if int64(len(data)) > maxBytes {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, maxBytes)
	}
	return data, nil
}

func checkPhotoBytes(data []byte) (Photo, error) {
	kind, w, h, err := SniffImage(data)
	if err != nil {
		return Photo{}, err
	}
	img, err := decodeImage(kind, data)
	if err != nil {
		return Photo{}, badImage("corrupt %s image: %v", kind, err)
	}
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		return Photo{}, badImage("%s header says %dx%d, pixel data is %dx%d", kind, w, h, b.Dx(), b.Dy())
	}
	// Scale first: turning the scaled image is cheap, the full one is not.
	img = fit(img, MaxPhotoSide)
	out := kind
	switch kind {
	case KindJPEG:
		img = applyOrientation(img, jpegOrientation(data))
	case KindWebP:
		out = KindPNG
		if o, ok := img.(interface{ Opaque() bool }); ok && o.Opaque() {
			out = KindJPEG
		}
	}
	var buf bytes.Buffer
	switch out {
	case KindJPEG:
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: JPEGQuality}); err != nil {
			return Photo{}, fmt.Errorf("media: re-encoding JPEG: %w", err)
		}
	case KindPNG:
		if err := png.Encode(&buf, img); err != nil {
			return Photo{}, fmt.Errorf("media: re-encoding PNG: %w", err)
		}
	}
	b := img.Bounds()
	return Photo{Kind: out, Data: buf.Bytes(), Width: b.Dx(), Height: b.Dy()}, nil
}

// fitDims is the size of a w x h image scaled down to fit in side x side.
func fitDims(w, h, side int) (int, int) {
	switch {
	case w <= side && h <= side:
		return w, h
	case w >= h:
		return side, max(1, int(math.Round(float64(h)*float64(side)/float64(w))))
	default:
		return max(1, int(math.Round(float64(w)*float64(side)/float64(h)))), side
	}
}

// fit scales img down so that neither side exceeds side, keeping its aspect
// ratio; smaller images are returned as they are.
func fit(img image.Image, side int) image.Image {
	b := img.Bounds()
	nw, nh := fitDims(b.Dx(), b.Dy(), side)
	if nw == b.Dx() && nh == b.Dy() {
		return img
	}
	dst := image.NewRGBA(image.Rect(0, 0, nw, nh))
	xdraw.BiLinear.Scale(dst, dst.Bounds(), img, b, xdraw.Src, nil)
	return dst
}

// jpegOrientation returns the EXIF orientation (1..8) of a JPEG, or 1 when
// absent or malformed.
func jpegOrientation(data []byte) int {
	const exifHeader = "Exif\x00\x00"
	if len(data) < 2 || data[0] != 0xFF || data[1] != 0xD8 {
		return 1
	}
	p := 2
	for p+4 <= len(data) {
		if data[p] != 0xFF {
			return 1
		}
		marker := data[p+1]
		if marker == 0xFF { // fill byte
			p++
			continue
		}
		if marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7) {
			p += 2
			continue
		}
		if marker == 0xDA || marker == 0xD9 { // start of scan / end of image
			return 1
		}
		segLen := int(binary.BigEndian.Uint16(data[p+2 : p+4]))
		if segLen < 2 || p+2+segLen > len(data) {
			return 1
		}
		seg := data[p+4 : p+2+segLen]
		if marker == 0xE1 && len(seg) >= len(exifHeader) && string(seg[:len(exifHeader)]) == exifHeader {
			if o := tiffOrientation(seg[len(exifHeader):]); o != 0 {
				return o
			}
		}
		p += 2 + segLen
	}
	return 1
}

// tiffOrientation reads tag 0x0112 from IFD0 of a TIFF structure; 0 if absent.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	if bo.Uint16(t[2:4]) != 42 {
		return 0
	}
	ifd := uint64(bo.Uint32(t[4:8]))
	if ifd+2 > uint64(len(t)) {
		return 0
	}
	count := uint64(bo.Uint16(t[ifd : ifd+2]))
	for i := uint64(0); i < count; i++ {
		e := ifd + 2 + 12*i
		if e+12 > uint64(len(t)) {
			return 0
		}
		entry := t[e : e+12]
		if bo.Uint16(entry[0:2]) != 0x0112 {
			continue
		}
		if bo.Uint16(entry[2:4]) != 3 || bo.Uint32(entry[4:8]) != 1 { // SHORT, count 1
			return 0
		}
		if o := int(bo.Uint16(entry[8:10])); o >= 1 && o <= 8 {
			return o
		}
		return 0
	}
	return 0
}

// applyOrientation transforms img so that it displays upright for the given
// EXIF orientation.
func applyOrientation(img image.Image, orientation int) image.Image {
	if orientation < 2 || orientation > 8 {
		return img
	}
	b := img.Bounds()
	src := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(src, src.Bounds(), img, b.Min, draw.Src)
	w, h := b.Dx(), b.Dy()
	dw, dh := w, h
	if orientation >= 5 {
		dw, dh = h, w
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := 0; y < h; y++ {
		row := src.Pix[y*src.Stride : y*src.Stride+4*w]
		for x := 0; x < w; x++ {
			var dx, dy int
			switch orientation {
			case 2: // mirror horizontal
				dx, dy = w-1-x, y
			case 3: // rotate 180
				dx, dy = w-1-x, h-1-y
			case 4: // mirror vertical
				dx, dy = x, h-1-y
			case 5: // transpose
				dx, dy = y, x
			case 6: // rotate 90 clockwise
				dx, dy = h-1-y, x
			case 7: // transverse
				dx, dy = h-1-y, w-1-x
			case 8: // rotate 90 counter-clockwise
				dx, dy = y, w-1-x
			}
			o := dy*dst.Stride + 4*dx
			copy(dst.Pix[o:o+4], row[4*x:4*x+4])
		}
	}
	return dst
}
