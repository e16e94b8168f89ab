package payloadcrypt

import (
	"fmt"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
)

// caseNote is a JSON-encoded value of about the given size, the shape of
// what workflows carry.
type caseNote struct {
	CaseID string
	Text   string
}

func noteOfSize(size int) caseNote {
	return caseNote{CaseID: "case-0001", Text: strings.Repeat("x", size)}
}

// BenchmarkEncode measures ToPayload through the default converter (the
// baseline, no encryption) and through the encrypting converter in the same
// run, and the codec's Encode alone on an already converted payload.
func BenchmarkEncode(b *testing.B) {
	kr := mustGenerate(b)
	encrypting := DataConverter(kr)
	plain := converter.GetDefaultDataConverter()
	codec := NewCodec(kr)

	for _, size := range []int{1 << 10, 64 << 10} {
		note := noteOfSize(size)
		name := fmt.Sprintf("%dKiB", size>>10)

		b.Run(name+"/default", func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := plain.ToPayload(note); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/encrypted", func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := encrypting.ToPayload(note); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/codec-only", func(b *testing.B) {
			p, err := plain.ToPayload(note)
			if err != nil {
				b.Fatal(err)
			}
			in := []*commonpb.Payload{p}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := codec.Encode(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
