package payloadcrypt

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

func TestFailureConverterEncryptsMessages(t *testing.T) {
	kr := mustGenerate(t)
	fc := FailureConverter(kr)
	cause := temporal.NewApplicationError("no agency record for "+childName, "NotFound", sampleChild())

	failure := fc.ErrorToFailure(cause)
	wire, err := proto.Marshal(failure)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(wire, []byte(childName)) {
		t.Error("failure handed to Temporal contains the child's name")
	}
	// Guard the guard: the SDK's default converter does leak the message.
	plainWire, err := proto.Marshal(temporal.GetDefaultFailureConverter().ErrorToFailure(cause))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(plainWire, []byte(childName)) {
		t.Fatal("default failure converter hides the message; the check above proves nothing")
	}

	back := fc.FailureToError(failure)
	var appErr *temporal.ApplicationError
	if !errors.As(back, &appErr) {
		t.Fatalf("decoded error %T, want *temporal.ApplicationError", back)
	}
	if !strings.Contains(appErr.Error(), childName) || appErr.Type() != "NotFound" {
		t.Errorf("decoded error = %q (type %q), want the original message and type", appErr.Error(), appErr.Type())
	}
	var details childRecord
	if err := appErr.Details(&details); err != nil {
		t.Fatalf("Details: %v", err)
	}
	if details.Name != childName {
		t.Errorf("details = %#v", details)
	}
}
