package wechat

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"sort"
	"strings"
)

// Message push (消息推送): WeChat signs every request to the app's push URL
// with sha1 over the sorted concatenation of the configured token, the
// timestamp and the nonce (and, in safe mode, the encrypted body), and in
// safe mode encrypts the body with the console's EncodingAESKey:
//
//	AESKey     = base64(EncodingAESKey + "=")            32 bytes, AES-256
//	IV         = AESKey[:16]
//	ciphertext = AES-CBC(random(16) | len(msg) uint32 BE | msg | appid),
//	             PKCS#7-padded to a multiple of 32 bytes
//	Encrypt    = base64(ciphertext)
//
// These helpers do the cryptography; the HTTP handler lives in
// internal/wxpush.

// Signature is sha1 over the lexically sorted parts, hex-encoded.
func Signature(parts ...string) string {
	p := append([]string(nil), parts...)
	sort.Strings(p)
	sum := sha1.Sum([]byte(strings.Join(p, "")))
	return hex.EncodeToString(sum[:])
}

// SignatureOK compares a received signature with the expected one in
// constant time.
func SignatureOK(got string, parts ...string) bool {
	want := Signature(parts...)
	return subtle.ConstantTimeCompare([]byte(strings.ToLower(got)), []byte(want)) == 1
}

// ErrBadPush means a push could not be decrypted or did not belong to us.
var ErrBadPush = errors.New("wechat: undecryptable push")

// DecodeAESKey turns the console's 43-character EncodingAESKey into the
// 32-byte AES key.
func DecodeAESKey(encodingAESKey string) ([]byte, error) {
	if len(encodingAESKey) != 43 {
		return nil, errors.New("wechat: EncodingAESKey must be 43 characters")
	}
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil || len(key) != 32 {
		return nil, errors.New("wechat: EncodingAESKey is not base64 of 32 bytes")
	}
	return key, nil
}

// DecryptPush decrypts a safe-mode Encrypt field with key (see
// DecodeAESKey) and checks that it was meant for one of appIDs (both
// mini-programs may push to one URL).
func DecryptPush(key []byte, encrypted string, appIDs ...string) ([]byte, error) {
	ct, err := base64.StdEncoding.DecodeString(encrypted)
	if err != nil || len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, ErrBadPush
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, ErrBadPush
	}
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, key[:aes.BlockSize]).CryptBlocks(pt, ct)
	// PKCS#7 with WeChat's block size of 32.
	pad := int(pt[len(pt)-1])
	if pad < 1 || pad > 32 || pad > len(pt) || !bytes.Equal(pt[len(pt)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) {
		return nil, ErrBadPush
	}
	pt = pt[:len(pt)-pad]
	if len(pt) < 20 {
		return nil, ErrBadPush
	}
	n := binary.BigEndian.Uint32(pt[16:20])
	if uint64(n) > uint64(len(pt)-20) {
		return nil, ErrBadPush
	}
	msg, tail := pt[20:20+n], pt[20+n:]
	for _, id := range appIDs {
		if id != "" && subtle.ConstantTimeCompare(tail, []byte(id)) == 1 {
			return msg, nil
		}
	}
	return nil, ErrBadPush
}
