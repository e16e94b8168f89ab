// Package payloadcrypt encrypts every Temporal payload with AES-256-GCM so that
// workflow histories, which carry facts about children, never sit in plaintext
// in Temporal's database.
package payloadcrypt

import (
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

const (
	// EncodingEncrypted is the "encoding" metadata of an encrypted payload.
	EncodingEncrypted = "binary/encrypted"
	// MetadataKeyID names the payload metadata that holds the ID of the key
	// that encrypted it, so that Decode can pick the key after a rotation.
	MetadataKeyID = "encryption-key-id"

	// nonceSize is the standard 96-bit GCM nonce.
	nonceSize = 12
	// additionalDataPrefix is authenticated with the key ID. It ties the
	// ciphertext to this scheme as well as to the key ID in the metadata.
	additionalDataPrefix = "casereview/payloadcrypt/v1:"
	// maxEncodingInError bounds how much of a stranger's metadata goes into
	// an error message.
	maxEncodingInError = 40
)

var (
	// ErrPlaintextPayload reports a payload that is not encrypted where only
	// encrypted payloads are accepted.
	ErrPlaintextPayload = errors.New("payload is not encrypted")
	// ErrUnknownKey reports a payload encrypted with a key the keyring does
	// not hold.
	ErrUnknownKey = errors.New("unknown encryption key ID")
	// ErrMalformedPayload reports an encrypted payload whose framing is broken.
	ErrMalformedPayload = errors.New("malformed encrypted payload")
	// ErrAuthentication reports ciphertext, or its key ID, that does not
	// authenticate: it was changed after encryption, or belongs to another key.
	ErrAuthentication = errors.New("encrypted payload failed authentication")
)

// Option configures a codec made by NewCodec.
type Option func(*codec)

// AllowPlaintext makes Decode pass through payloads that are not encrypted.
// It exists only for reading histories recorded before encryption was turned
// on. It is off by default because a plaintext payload in an encrypted
// namespace means either a misconfigured client or someone injecting
// unauthenticated input, and both should stop the workflow rather than be
// silently trusted.
func AllowPlaintext() Option {
	return func(c *codec) { c.allowPlaintext = true }
}

// codec encrypts each payload, metadata and data together, with the
// keyring's active key, and decrypts with whichever key the payload names.
type codec struct {
	keyring        *Keyring
	allowPlaintext bool
}

// NewCodec returns a payload codec that encrypts each payload, metadata and
// data together, with the active key of kr, and decrypts with whichever key of
// kr the payload names.
func NewCodec(kr *Keyring, opts ...Option) converter.PayloadCodec {
	if kr == nil {
		// Without keys every payload would fail later, far from the mistake.
		panic("payloadcrypt: NewCodec called with a nil keyring")
	}
	c := &codec{keyring: kr}
	for _, opt := range opts {
		opt(c)
	}
	return c
}

// DataConverter returns the SDK's default data converter with every payload
// encrypted by a codec over kr. Give it to the client, the worker and the test
// environment alike: payloads written by one must be read by the others.
func DataConverter(kr *Keyring, opts ...Option) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), NewCodec(kr, opts...))
}

// additionalData binds the ciphertext to its key ID, so that swapping the
// key-ID metadata fails authentication instead of decrypting under the
// wrong key or being mistaken for another key's payload.
func additionalData(keyID string) []byte {
	return []byte(additionalDataPrefix + keyID)
}

// Encode encrypts every payload with the active key. Each output payload
// holds nonce || ciphertext of the marshalled input payload.
func (c *codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	keyID, aead := c.keyring.activeAEAD()
	result := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		encrypted, err := encrypt(aead, keyID, p)
		if err != nil {
			return nil, fmt.Errorf("encrypt payload %d: %w", i, err)
		}
		result[i] = encrypted
	}
	return result, nil
}

func encrypt(aead cipher.AEAD, keyID string, p *commonpb.Payload) (*commonpb.Payload, error) {
	// One buffer, nonce || marshalled payload, encrypted in place: Seal's
	// output starts exactly where the plaintext does, which it permits.
	buf := make([]byte, nonceSize, nonceSize+proto.Size(p)+aead.Overhead())
	if _, err := rand.Read(buf); err != nil {
		return nil, fmt.Errorf("generate nonce: %w", err)
	}
	buf, err := proto.MarshalOptions{}.MarshalAppend(buf, p)
	if err != nil {
		return nil, fmt.Errorf("marshal payload: %w", err)
	}
	nonce, plaintext := buf[:nonceSize], buf[nonceSize:]
	out := aead.Seal(nonce, nonce, plaintext, additionalData(keyID))
	return &commonpb.Payload{
		Metadata: map[string][]byte{
			converter.MetadataEncoding: []byte(EncodingEncrypted),
			MetadataKeyID:              []byte(keyID),
		},
		Data: out,
	}, nil
}

// Decode decrypts every payload with the key its metadata names. A payload
// that is not encrypted is an error unless the codec allows plaintext.
func (c *codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	result := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		encoding := string(p.GetMetadata()[converter.MetadataEncoding])
		if encoding != EncodingEncrypted {
			// Passing it through would let anyone who can write to the
			// namespace feed unauthenticated input to a workflow, and would
			// hide a client that forgot the codec; see AllowPlaintext.
			if c.allowPlaintext {
				result[i] = p
				continue
			}
			return nil, fmt.Errorf("decode payload %d: %w (encoding %q, expected %q); if this history predates encryption, decode it with payloadcrypt.AllowPlaintext()",
				i, ErrPlaintextPayload, truncate(encoding, maxEncodingInError), EncodingEncrypted)
		}
		decrypted, err := c.decrypt(p)
		if err != nil {
			return nil, fmt.Errorf("decode payload %d: %w", i, err)
		}
		result[i] = decrypted
	}
	return result, nil
}

func (c *codec) decrypt(p *commonpb.Payload) (*commonpb.Payload, error) {
	keyID := string(p.GetMetadata()[MetadataKeyID])
	if keyID == "" {
		return nil, fmt.Errorf("%w: no %q metadata", ErrMalformedPayload, MetadataKeyID)
	}
	aead, ok := c.keyring.aead(keyID)
	if !ok {
		if validateKeyID(keyID) != nil {
			// Not one of ours: do not echo arbitrary bytes into logs.
			return nil, fmt.Errorf("%w: key ID is not well formed", ErrUnknownKey)
		}
		return nil, fmt.Errorf("%w %q: the keyring does not hold it; add the key to the keyring file (keys: %v)",
			ErrUnknownKey, keyID, c.keyring.KeyIDs())
	}
	data := p.GetData()
	if len(data) < nonceSize+aead.Overhead() {
		return nil, fmt.Errorf("%w: %d bytes is shorter than a nonce and tag", ErrMalformedPayload, len(data))
	}
	plaintext, err := aead.Open(nil, data[:nonceSize], data[nonceSize:], additionalData(keyID))
	if err != nil {
		// The cipher's own error adds nothing; never include the data.
		return nil, fmt.Errorf("%w (key ID %q)", ErrAuthentication, keyID)
	}
	var decoded commonpb.Payload
	if err := proto.Unmarshal(plaintext, &decoded); err != nil {
		return nil, fmt.Errorf("%w: decrypted bytes are not a payload: %w", ErrMalformedPayload, err)
	}
	return &decoded, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
