package payloadcrypt

import (
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
)

// FailureConverter returns a failure converter that encrypts error messages
// and stack traces as well as error details. The SDK's default keeps messages
// and stack traces in plaintext in the history, and an error message such as
// "no record for <child's name>" is personal data. Set it as
// client.Options.FailureConverter beside DataConverter.
func FailureConverter(kr *Keyring, opts ...Option) converter.FailureConverter {
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter:          DataConverter(kr, opts...),
		EncodeCommonAttributes: true,
	})
}
