package media

import (
	"errors"
	"fmt"

	qrcode "github.com/skip2/go-qrcode"
)

// QR code limits.
const (
	DefaultQRSize = 512  // pixels, used when size <= 0
	MaxQRSize     = 4096 // pixels
	MaxQRContent  = 1000 // bytes
)

// QRCodePNG renders content as a size×size PNG QR code (medium error
// recovery) locally, without any external service. size <= 0 means
// DefaultQRSize; content must be 1..MaxQRContent bytes.
func QRCodePNG(content string, size int) ([]byte, error) {
	if content == "" {
		return nil, errors.New("media: QR code content is empty")
	}
	if len(content) > MaxQRContent {
		return nil, fmt.Errorf("media: QR code content is %d bytes, more than %d", len(content), MaxQRContent)
	}
	if size <= 0 {
		size = DefaultQRSize
	}
	if size > MaxQRSize {
		return nil, fmt.Errorf("media: QR code size %d exceeds %d px", size, MaxQRSize)
	}
	png, err := qrcode.Encode(content, qrcode.Medium, size)
	if err != nil {
		return nil, fmt.Errorf("media: encoding QR code: %w", err)
	}
	return png, nil
}
