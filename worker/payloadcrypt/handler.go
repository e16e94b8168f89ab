package payloadcrypt

import (
	"net/http"

	"go.temporal.io/sdk/converter"
)

// maxCodecRequestBytes bounds one codec-server request. Temporal refuses
// payloads above 2 MiB by default; a batch from the Web UI holds several.
const maxCodecRequestBytes = 32 << 20

// Handler returns a Temporal codec-server handler over kr: POST …/encode and
// POST …/decode with a JSON Payloads body, as the Web UI and the CLI's
// --codec-endpoint expect. Mount it under a path prefix of your choice.
//
// It performs no authentication, authorisation or CORS: whoever can reach it
// can decrypt any history, so the caller must wrap it in a handler that
// admits only authorised users (and answers the Web UI's CORS preflight).
//
// Decoding passes unencrypted payloads through unchanged (AllowPlaintext):
// the handler only shows data to a user, and one plaintext payload, such as
// one recorded before encryption, must not hide the rest of a history.
func Handler(kr *Keyring) http.Handler {
	return http.MaxBytesHandler(converter.NewPayloadCodecHTTPHandler(NewCodec(kr, AllowPlaintext())), maxCodecRequestBytes)
}
