package payloadcrypt

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
)

func postPayloads(t *testing.T, url string, payloads []*commonpb.Payload) (int, []*commonpb.Payload, string) {
	t.Helper()
	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: payloads})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil, string(raw)
	}
	var out commonpb.Payloads
	if err := protojson.Unmarshal(raw, &out); err != nil {
		t.Fatalf("response is not Payloads JSON: %v", err)
	}
	return resp.StatusCode, out.GetPayloads(), string(raw)
}

func TestHandler(t *testing.T) {
	kr := mustGenerate(t)
	srv := httptest.NewServer(http.StripPrefix("/codec", Handler(kr)))
	defer srv.Close()

	plain, err := converter.GetDefaultDataConverter().ToPayload(sampleChild())
	if err != nil {
		t.Fatal(err)
	}

	// What the worker writes, the codec server decodes for the Web UI.
	encrypted, err := DataConverter(kr).ToPayload(sampleChild())
	if err != nil {
		t.Fatal(err)
	}
	status, decoded, body := postPayloads(t, srv.URL+"/codec/decode", []*commonpb.Payload{encrypted, plain})
	if status != http.StatusOK {
		t.Fatalf("decode: status %d: %s", status, body)
	}
	if len(decoded) != 2 {
		t.Fatalf("decode returned %d payloads, want 2", len(decoded))
	}
	for i, p := range decoded {
		var got childRecord
		if err := converter.GetDefaultDataConverter().FromPayload(p, &got); err != nil {
			t.Fatalf("decoded payload %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, sampleChild()) {
			t.Errorf("decoded payload %d = %#v", i, got)
		}
	}

	// What the CLI encodes (a signal typed in by hand), the worker reads.
	status, encoded, body := postPayloads(t, srv.URL+"/codec/encode", []*commonpb.Payload{plain})
	if status != http.StatusOK {
		t.Fatalf("encode: status %d: %s", status, body)
	}
	if strings.Contains(body, childName) {
		t.Error("encode response contains plaintext")
	}
	assertEncrypted(t, encoded[0], kr.ActiveKeyID())
	var got childRecord
	if err := DataConverter(kr).FromPayload(encoded[0], &got); err != nil {
		t.Fatalf("worker cannot read codec-server output: %v", err)
	}

	// A payload under a key this server lacks is refused without echoing data.
	foreign, err := DataConverter(mustKeyring(t, "elsewhere", "elsewhere")).ToPayload(sampleChild())
	if err != nil {
		t.Fatal(err)
	}
	status, _, body = postPayloads(t, srv.URL+"/codec/decode", []*commonpb.Payload{foreign})
	if status != http.StatusBadRequest || !strings.Contains(body, "elsewhere") || strings.Contains(body, childName) {
		t.Errorf("foreign key: status %d, body %q; want 400 naming the key ID only", status, body)
	}

	resp, err := http.Get(srv.URL + "/codec/decode")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET status %d, want 404", resp.StatusCode)
	}
}

func TestHandlerRejectsOversizedBody(t *testing.T) {
	kr := mustGenerate(t)
	srv := httptest.NewServer(Handler(kr))
	defer srv.Close()
	big := strings.NewReader(`{"payloads":[{"data":"` + strings.Repeat("A", maxCodecRequestBytes) + `"}]}`)
	resp, err := http.Post(srv.URL+"/decode", "application/json", big)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Errorf("status %d for a body over %d bytes, want an error", resp.StatusCode, maxCodecRequestBytes)
	}
}
