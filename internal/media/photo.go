package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"
	"io"
	"math"
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

// CheckPhoto reads an untrusted upload of at most maxBytes bytes, identifies
// it by content, fully decodes it and normalises it:
//
//   - JPEG is re-encoded at quality JPEGQuality after applying the EXIF
//     orientation to the pixels (so phone photos keep displaying upright);
//   - PNG is re-encoded with default compression;
//   - WebP (which the standard library cannot encode) keeps its bitstream, but
//     the RIFF container is rebuilt without EXIF/XMP/unknown chunks and
//     trailing bytes.
//
// All metadata (EXIF incl. GPS position, XMP, comments, text chunks) is thus
// dropped. An upload over maxBytes yields an error wrapping ErrTooLarge; an
// unacceptable image one wrapping ErrBadImage; other errors come from r.
func CheckPhoto(r io.Reader, maxBytes int64) (Photo, error) {
	if maxBytes <= 0 {
		return Photo{}, fmt.Errorf("media: CheckPhoto: maxBytes must be positive, got %d", maxBytes)
	}
	limit := maxBytes
	if limit < math.MaxInt64 {
		limit++
	}
	data, err := io.ReadAll(io.LimitReader(r, limit))
	if err != nil {
		return Photo{}, fmt.Errorf("media: reading photo: %w", err)
	}
	if int64(len(data)) > maxBytes {
		return Photo{}, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, maxBytes)
	}
	return checkPhotoBytes(data)
}

func checkPhotoBytes(data []byte) (Photo, error) {
	kind, w, h, err := SniffImage(data)
	if err != nil {
		return Photo{}, err
	}
	if kind == KindWebP {
		if data, err = cleanWebP(data); err != nil {
			return Photo{}, err
		}
	}
	img, err := decodeImage(kind, data)
	if err != nil {
		return Photo{}, badImage("corrupt %s image: %v", kind, err)
	}
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		return Photo{}, badImage("%s header says %dx%d, pixel data is %dx%d", kind, w, h, b.Dx(), b.Dy())
	}

	var buf bytes.Buffer
	switch kind {
	case KindJPEG:
		img = applyOrientation(img, jpegOrientation(data))
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: JPEGQuality}); err != nil {
			return Photo{}, fmt.Errorf("media: re-encoding JPEG: %w", err)
		}
		data = buf.Bytes()
	case KindPNG:
		if err := png.Encode(&buf, img); err != nil {
			return Photo{}, fmt.Errorf("media: re-encoding PNG: %w", err)
		}
		data = buf.Bytes()
	}
	b := img.Bounds()
	return Photo{Kind: kind, Data: data, Width: b.Dx(), Height: b.Dy()}, nil
}

// cleanWebP rebuilds a WebP RIFF container keeping only the chunks needed to
// render a still image (VP8X with metadata flags cleared, ICCP, ALPH and the
// first VP8/VP8L bitstream). It drops EXIF and XMP metadata, unknown chunks
// and anything after the image data.
func cleanWebP(data []byte) ([]byte, error) {
	if len(data) < 12 {
		return nil, badImage("truncated WebP")
	}
	end := uint64(binary.LittleEndian.Uint32(data[4:8])) + 8
	if end > uint64(len(data)) {
		return nil, badImage("truncated WebP: RIFF size %d exceeds file size %d", end, len(data))
	}
	body := data[12:end]
	out := make([]byte, 12, len(body)+12)
	copy(out, "RIFF\x00\x00\x00\x00WEBP")
	for {
		if len(body) < 8 {
			return nil, badImage("WebP has no image data")
		}
		id := string(body[:4])
		n := uint64(binary.LittleEndian.Uint32(body[4:8]))
		padded := n + n&1
		if 8+n > uint64(len(body)) {
			return nil, badImage("truncated WebP chunk %q", id)
		}
		chunk := body[:8+n]
		if 8+padded <= uint64(len(body)) {
			body = body[8+padded:]
		} else {
			body = nil // missing final padding byte; tolerated
		}
		switch id {
		case "VP8X":
			start := len(out)
			out = append(out, chunk...)
			if n > 0 {
				const xmpBit, exifBit = 1 << 2, 1 << 3
				out[start+8] &^= xmpBit | exifBit
			}
		case "ICCP", "ALPH":
			out = append(out, chunk...)
		case "VP8 ", "VP8L":
			out = append(out, chunk...)
			if n&1 == 1 {
				out = append(out, 0)
			}
			binary.LittleEndian.PutUint32(out[4:8], uint32(len(out)-8))
			return out, nil
		default: // EXIF, XMP, ANIM/ANMF (unsupported anyway), unknown
			continue
		}
		if n&1 == 1 {
			out = append(out, 0)
		}
	}
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
