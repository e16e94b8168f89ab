package payloadcrypt

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

// childName is distinctive so that finding it anywhere in encoded bytes can
// only mean plaintext leaked.
const childName = "Zephyrine Quillfeather-Oduya"

type childRecord struct {
	Name        string
	DateOfBirth string
	Agencies    []string
	Concerns    map[string]int
	Flagged     bool
}

func sampleChild() childRecord {
	return childRecord{
		Name:        childName,
		DateOfBirth: "2019-03-14",
		Agencies:    []string{"police", "health"},
		Concerns:    map[string]int{"neglect": 3},
		Flagged:     true,
	}
}

func mustGenerate(t testing.TB) *Keyring {
	t.Helper()
	kr, err := GenerateKeyring()
	if err != nil {
		t.Fatalf("GenerateKeyring: %v", err)
	}
	return kr
}

func mustKeyring(t testing.TB, active string, ids ...string) *Keyring {
	t.Helper()
	keys := make(map[string][]byte, len(ids))
	for i, id := range ids {
		keys[id] = bytes.Repeat([]byte{byte(i + 1)}, KeySize)
	}
	kr, err := NewKeyring(active, keys)
	if err != nil {
		t.Fatalf("NewKeyring: %v", err)
	}
	return kr
}

func assertEncrypted(t *testing.T, p *commonpb.Payload, wantKeyID string) {
	t.Helper()
	if got := string(p.GetMetadata()[converter.MetadataEncoding]); got != EncodingEncrypted {
		t.Errorf("encoding metadata = %q, want %q", got, EncodingEncrypted)
	}
	if got := string(p.GetMetadata()[MetadataKeyID]); got != wantKeyID {
		t.Errorf("key ID metadata = %q, want %q", got, wantKeyID)
	}
	if len(p.GetMetadata()) != 2 {
		t.Errorf("metadata has %d entries, want only encoding and key ID: the original metadata must be inside the ciphertext", len(p.GetMetadata()))
	}
}

func TestDataConverterRoundTrip(t *testing.T) {
	kr := mustGenerate(t)
	dc := DataConverter(kr)
	child := sampleChild()

	tests := []struct {
		name  string
		value any
		out   func() any // returns a pointer to decode into
		want  any        // when the decoded value differs from value
	}{
		{"string", "a string value", func() any { return new(string) }, nil},
		{"empty string", "", func() any { return new(string) }, nil},
		{"struct", child, func() any { return new(childRecord) }, nil},
		{"pointer to struct", &child, func() any { var p *childRecord; return &p }, nil},
		{"nil", nil, func() any { var p *childRecord; return &p }, nil},
		{"bytes", []byte{0, 1, 2, 0xff, 'x'}, func() any { return new([]byte) }, nil},
		{"empty bytes", []byte{}, func() any { return new([]byte) }, []byte(nil)}, // the default converter decodes empty as nil
		{"int", 42, func() any { return new(int) }, nil},
		{"slice", []string{"a", "b"}, func() any { return new([]string) }, nil},
		{"map", map[string]int{"a": 1}, func() any { return new(map[string]int) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := dc.ToPayload(tt.value)
			if err != nil {
				t.Fatalf("ToPayload: %v", err)
			}
			assertEncrypted(t, p, kr.ActiveKeyID())

			out := tt.out()
			if err := dc.FromPayload(p, out); err != nil {
				t.Fatalf("FromPayload: %v", err)
			}
			got := reflect.ValueOf(out).Elem().Interface()
			want := tt.value
			if tt.want != nil {
				want = tt.want
			}
			if want == nil {
				if !reflect.ValueOf(got).IsNil() {
					t.Errorf("decoded %#v, want nil", got)
				}
				return
			}
			if pw, ok := want.(*childRecord); ok {
				want = *pw
				got = *got.(*childRecord)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("decoded %#v, want %#v", got, want)
			}
		})
	}
}

func TestDataConverterRoundTripSeveralValues(t *testing.T) {
	kr := mustGenerate(t)
	dc := DataConverter(kr)
	payloads, err := dc.ToPayloads("case-1", sampleChild(), []byte("raw"))
	if err != nil {
		t.Fatalf("ToPayloads: %v", err)
	}
	if n := len(payloads.GetPayloads()); n != 3 {
		t.Fatalf("got %d payloads, want 3", n)
	}
	for _, p := range payloads.GetPayloads() {
		assertEncrypted(t, p, kr.ActiveKeyID())
	}
	var (
		id    string
		child childRecord
		raw   []byte
	)
	if err := dc.FromPayloads(payloads, &id, &child, &raw); err != nil {
		t.Fatalf("FromPayloads: %v", err)
	}
	if id != "case-1" || !reflect.DeepEqual(child, sampleChild()) || string(raw) != "raw" {
		t.Errorf("decoded %q, %#v, %q", id, child, raw)
	}
	// ToString is what tctl-style tools print: it must decrypt too.
	if s := dc.ToString(payloads.GetPayloads()[1]); !strings.Contains(s, childName) {
		t.Errorf("ToString = %q, want the decrypted struct", s)
	}
}

func TestCiphertextHoldsNoPlaintext(t *testing.T) {
	kr := mustGenerate(t)
	dc := DataConverter(kr)
	plain, err := converter.GetDefaultDataConverter().ToPayload(sampleChild())
	if err != nil {
		t.Fatal(err)
	}
	// Guard the guard: the unencrypted payload does contain the name.
	if !bytes.Contains(plain.GetData(), []byte(childName)) {
		t.Fatalf("default converter output lacks the name; the test below would prove nothing")
	}

	p, err := dc.ToPayload(sampleChild())
	if err != nil {
		t.Fatal(err)
	}
	wire, err := proto.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, needle := range []string{childName, "Zephyrine", "Quillfeather", "2019-03-14", "neglect", "json/plain", "DateOfBirth"} {
		if bytes.Contains(wire, []byte(needle)) {
			t.Errorf("encoded payload contains plaintext %q", needle)
		}
	}
	// A fresh nonce for each payload: the same value never encrypts the same way twice.
	again, err := dc.ToPayload(sampleChild())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(again.GetData(), p.GetData()) {
		t.Error("two encryptions of the same value are identical; the nonce is not fresh")
	}
	if bytes.Equal(again.GetData()[:nonceSize], p.GetData()[:nonceSize]) {
		t.Error("two encryptions share a nonce")
	}
}

func TestDecodeRejectsTampering(t *testing.T) {
	kr := mustGenerate(t)
	c := NewCodec(kr)
	plain, err := converter.GetDefaultDataConverter().ToPayload(sampleChild())
	if err != nil {
		t.Fatal(err)
	}
	encoded, err := c.Encode([]*commonpb.Payload{plain})
	if err != nil {
		t.Fatal(err)
	}
	good := encoded[0]
	n := len(good.GetData())

	tests := []struct {
		name    string
		tamper  func(data []byte) []byte
		wantErr error
	}{
		{"nonce byte flipped", func(d []byte) []byte { d[0] ^= 1; return d }, ErrAuthentication},
		{"ciphertext byte flipped", func(d []byte) []byte { d[nonceSize+5] ^= 0x80; return d }, ErrAuthentication},
		{"tag byte flipped", func(d []byte) []byte { d[n-1] ^= 1; return d }, ErrAuthentication},
		{"byte appended", func(d []byte) []byte { return append(d, 0) }, ErrAuthentication},
		{"last byte cut", func(d []byte) []byte { return d[:n-1] }, ErrAuthentication},
		{"cut below nonce and tag", func(d []byte) []byte { return d[:nonceSize+3] }, ErrMalformedPayload},
		{"empty", func(d []byte) []byte { return nil }, ErrMalformedPayload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := proto.Clone(good).(*commonpb.Payload)
			bad.Data = tt.tamper(bytes.Clone(good.GetData()))
			_, err := c.Decode([]*commonpb.Payload{bad})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Decode error = %v, want %v", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), childName) {
				t.Errorf("error %q leaks payload data", err)
			}
		})
	}
	// The untouched payload still decodes, so the failures above are the tampering's.
	if _, err := c.Decode([]*commonpb.Payload{good}); err != nil {
		t.Fatalf("Decode of untouched payload: %v", err)
	}
}

func TestDecodeRejectsSwappedKeyID(t *testing.T) {
	// "same" maps to the same key bytes as "k1": only the key ID bound as
	// additional data can tell a swap to it apart.
	key1 := bytes.Repeat([]byte{1}, KeySize)
	key2 := bytes.Repeat([]byte{2}, KeySize)
	kr, err := NewKeyring("k1", map[string][]byte{"k1": key1, "k2": key2, "same": key1})
	if err != nil {
		t.Fatal(err)
	}
	c := NewCodec(kr)
	encoded, err := c.Encode([]*commonpb.Payload{{Data: []byte(childName)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, swapTo := range []string{"k2", "same"} {
		t.Run(swapTo, func(t *testing.T) {
			swapped := proto.Clone(encoded[0]).(*commonpb.Payload)
			swapped.Metadata[MetadataKeyID] = []byte(swapTo)
			_, err := c.Decode([]*commonpb.Payload{swapped})
			if !errors.Is(err, ErrAuthentication) {
				t.Fatalf("Decode error = %v, want %v", err, ErrAuthentication)
			}
		})
	}
}

func TestDecodeUnknownKeyID(t *testing.T) {
	writer := mustKeyring(t, "writer-key", "writer-key")
	reader := mustKeyring(t, "reader-key", "reader-key")
	encoded, err := NewCodec(writer).Encode([]*commonpb.Payload{{Data: []byte(childName)}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewCodec(reader).Decode(encoded)
	if !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Decode error = %v, want %v", err, ErrUnknownKey)
	}
	if !strings.Contains(err.Error(), `"writer-key"`) {
		t.Errorf("error %q does not name the missing key ID", err)
	}
	if strings.Contains(err.Error(), childName) {
		t.Errorf("error %q leaks payload data", err)
	}

	tests := []struct {
		name    string
		keyID   string
		wantErr error
	}{
		{"missing key ID", "", ErrMalformedPayload},
		{"key ID with odd bytes", "evil\nlog line", ErrUnknownKey},
		{"key ID far too long", strings.Repeat("k", 500), ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := proto.Clone(encoded[0]).(*commonpb.Payload)
			bad.Metadata[MetadataKeyID] = []byte(tt.keyID)
			_, err := NewCodec(reader).Decode([]*commonpb.Payload{bad})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Decode error = %v, want %v", err, tt.wantErr)
			}
			if tt.keyID != "" && strings.Contains(err.Error(), tt.keyID) {
				t.Errorf("error %q echoes a malformed key ID", err)
			}
		})
	}
}

func TestDecodePlaintext(t *testing.T) {
	kr := mustGenerate(t)
	plain, err := converter.GetDefaultDataConverter().ToPayload(sampleChild())
	if err != nil {
		t.Fatal(err)
	}

	_, err = NewCodec(kr).Decode([]*commonpb.Payload{plain})
	if !errors.Is(err, ErrPlaintextPayload) {
		t.Fatalf("Decode of plaintext error = %v, want %v", err, ErrPlaintextPayload)
	}
	if strings.Contains(err.Error(), childName) {
		t.Errorf("error %q leaks payload data", err)
	}
	if !strings.Contains(err.Error(), "AllowPlaintext") {
		t.Errorf("error %q does not say how to read old histories", err)
	}

	// With AllowPlaintext, old and new payloads decode side by side.
	dc := DataConverter(kr, AllowPlaintext())
	encrypted, err := dc.ToPayload(sampleChild())
	if err != nil {
		t.Fatal(err)
	}
	assertEncrypted(t, encrypted, kr.ActiveKeyID())
	for name, p := range map[string]*commonpb.Payload{"plaintext": plain, "encrypted": encrypted} {
		var got childRecord
		if err := dc.FromPayload(p, &got); err != nil {
			t.Fatalf("%s: FromPayload: %v", name, err)
		}
		if !reflect.DeepEqual(got, sampleChild()) {
			t.Errorf("%s: decoded %#v", name, got)
		}
	}
	// Allowing plaintext on read never means writing it.
	if _, err := NewCodec(kr).Decode([]*commonpb.Payload{encrypted}); err != nil {
		t.Errorf("strict codec cannot read what the lenient one wrote: %v", err)
	}
}

func TestEncodeDoesNotMutateInput(t *testing.T) {
	kr := mustGenerate(t)
	in := &commonpb.Payload{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`"x"`)}
	before := proto.Clone(in)
	out, err := NewCodec(kr).Encode([]*commonpb.Payload{in})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(in, before) {
		t.Error("Encode changed its input")
	}
	back, err := NewCodec(kr).Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(back[0], before) {
		t.Errorf("round trip gave %v, want %v", back[0], before)
	}
}
