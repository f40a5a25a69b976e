// Package media validates, normalises, stores and serves stall photos and
// renders QR codes locally.
//
// Uploaded images are identified by their content (magic bytes), never by
// their file name or the client's Content-Type, and are fully decoded before
// they are accepted.
package media

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"net/http"

	"golang.org/x/image/webp"
)

// Image limits enforced by SniffImage and CheckPhoto.
const (
	// MaxImageSide is the largest accepted width or height in pixels.
	MaxImageSide = 8000
	// MaxImagePixels is the largest accepted width*height (16 megapixels:
	// a 12 MP phone photo fits). Decoding takes up to 4 bytes a pixel (64 MB
	// here; a progressive JPEG half as much again), so this and the
	// Decoder's slots bound what uploads can take.
	MaxImagePixels = 16_000_000
)

// Image kinds returned by SniffImage.
const (
	KindJPEG = "jpeg"
	KindPNG  = "png"
	KindWebP = "webp"
)

// ErrBadImage is wrapped by every error that rejects an image because of its
// content. Its message tells the user what is accepted.
var ErrBadImage = errors.New("unsupported image: JPEG, PNG or WebP up to 8000 px per side and 16 megapixels accepted")

func badImage(format string, args ...any) error {
	return fmt.Errorf("%w (%s)", ErrBadImage, fmt.Sprintf(format, args...))
}

var (
	magicJPEG = []byte{0xFF, 0xD8, 0xFF}
	magicPNG  = []byte{0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A}
)

// sniffKind returns the kind from the magic bytes only, or "".
func sniffKind(data []byte) string {
	switch {
	case bytes.HasPrefix(data, magicJPEG):
		return KindJPEG
	case bytes.HasPrefix(data, magicPNG):
		return KindPNG
	case len(data) >= 12 && string(data[0:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return KindWebP
	}
	return ""
}

// describe gives a short, user-presentable guess of what unsupported data is.
func describe(data []byte) string {
	if len(data) == 0 {
		return "empty file"
	}
	// ISO-BMFF based formats phones commonly produce.
	if len(data) >= 12 && string(data[4:8]) == "ftyp" {
		switch string(data[8:12]) {
		case "heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1":
			return "HEIC/HEIF is not supported"
		case "avif", "avis":
			return "AVIF is not supported"
		}
	}
	return "got " + http.DetectContentType(data)
}

// SniffImage identifies data as JPEG, PNG or WebP by its magic bytes, then
// decodes the image header to confirm it and obtain the dimensions.
// kind is one of KindJPEG, KindPNG, KindWebP. Anything else, including
// headers that do not decode and images that are empty or exceed
// MaxImageSide/MaxImagePixels or have 16 bits per channel (they decode to
// twice the memory, and a photo gains nothing from them), yields an error
// wrapping ErrBadImage.
//
// SniffImage does not decode the pixel data; use CheckPhoto for untrusted
// uploads.
func SniffImage(data []byte) (kind string, width, height int, err error) {
	kind = sniffKind(data)
	if kind == "" {
		return "", 0, 0, badImage("not a JPEG, PNG or WebP image: %s", describe(data))
	}
	cfg, err := decodeConfig(kind, data)
	if err != nil {
		return "", 0, 0, badImage("invalid %s header: %v", kind, err)
	}
	if err := checkDims(cfg.Width, cfg.Height); err != nil {
		return "", 0, 0, err
	}
	switch cfg.ColorModel {
	case color.RGBA64Model, color.NRGBA64Model, color.Gray16Model:
		return "", 0, 0, badImage("16-bit %s is not supported; save it with 8 bits per channel", kind)
	}
	return kind, cfg.Width, cfg.Height, nil
}

func checkDims(w, h int) error {
	switch {
	case w <= 0 || h <= 0:
		return badImage("empty image %dx%d", w, h)
	case w > MaxImageSide || h > MaxImageSide:
		return badImage("image is %dx%d px, more than %d px on a side", w, h, MaxImageSide)
	case int64(w)*int64(h) > MaxImagePixels:
		return badImage("image is %dx%d px, more than %d megapixels", w, h, MaxImagePixels/1_000_000)
	}
	return nil
}

func decodeConfig(kind string, data []byte) (cfg image.Config, err error) {
	defer recoverDecoder(&err)
	r := bytes.NewReader(data)
	switch kind {
	case KindJPEG:
		return jpeg.DecodeConfig(r)
	case KindPNG:
		return png.DecodeConfig(r)
	case KindWebP:
		return webp.DecodeConfig(r)
	}
	return image.Config{}, fmt.Errorf("unknown kind %q", kind)
}

func decodeImage(kind string, data []byte) (img image.Image, err error) {
	defer recoverDecoder(&err)
	r := bytes.NewReader(data)
	switch kind {
	case KindJPEG:
		return jpeg.Decode(r)
	case KindPNG:
		return png.Decode(r)
	case KindWebP:
		return webp.Decode(r)
	}
	return nil, fmt.Errorf("unknown kind %q", kind)
}

// recoverDecoder turns a panic inside a third-party decoder into an error, so
// that a hostile upload can never crash the server.
func recoverDecoder(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("decoder failure: %v", r)
	}
}

// ContentType returns the MIME type for a kind (or file extension) such as
// "jpeg", "jpg", "png" or "webp"; "application/octet-stream" otherwise.
func ContentType(kind string) string {
	switch kind {
	case KindJPEG, "jpg":
		return "image/jpeg"
	case KindPNG:
		return "image/png"
	case KindWebP:
		return "image/webp"
	}
	return "application/octet-stream"
}

// Ext returns the file extension (without dot) used to store a kind:
// "jpg", "png" or "webp"; "" for an unknown kind.
func Ext(kind string) string {
	switch kind {
	case KindJPEG, "jpg":
		return "jpg"
	case KindPNG:
		return "png"
	case KindWebP:
		return "webp"
	}
	return ""
}
