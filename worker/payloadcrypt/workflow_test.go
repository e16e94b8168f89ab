package payloadcrypt

import (
	"bytes"
	"context"
	"reflect"
	"sync"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/proto"
)

// echoWorkflow passes its argument through an activity and a durable timer
// and returns it, so the argument crosses the data converter as workflow
// input, activity input, activity result and workflow result.
func echoWorkflow(ctx workflow.Context, in childRecord) (childRecord, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	var out childRecord
	if err := workflow.ExecuteActivity(ctx, echoActivity, in).Get(ctx, &out); err != nil {
		return childRecord{}, err
	}
	if err := workflow.Sleep(ctx, 24*time.Hour); err != nil {
		return childRecord{}, err
	}
	return out, nil
}

func echoActivity(_ context.Context, in childRecord) (childRecord, error) {
	return in, nil
}

// recordingCodec keeps every payload its inner codec produces, so the test
// can inspect what the workflow environment would hand to Temporal.
type recordingCodec struct {
	inner converter.PayloadCodec

	mu      sync.Mutex
	encoded []*commonpb.Payload
	decoded int
}

func (r *recordingCodec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out, err := r.inner.Encode(payloads)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.encoded = append(r.encoded, out...)
	return out, err
}

func (r *recordingCodec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	r.mu.Lock()
	r.decoded += len(payloads)
	r.mu.Unlock()
	return r.inner.Decode(payloads)
}

func TestWorkflowRoundTripThroughEncryptedConverter(t *testing.T) {
	kr := mustGenerate(t)
	recorder := &recordingCodec{inner: NewCodec(kr)}

	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.SetDataConverter(converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), recorder))
	env.RegisterWorkflow(echoWorkflow)
	env.RegisterActivity(echoActivity)

	in := sampleChild()
	env.ExecuteWorkflow(echoWorkflow, in)
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("workflow failed: %v", err)
	}
	var out childRecord
	if err := env.GetWorkflowResult(&out); err != nil {
		t.Fatalf("GetWorkflowResult: %v", err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Errorf("workflow returned %#v, want %#v", out, in)
	}

	recorder.mu.Lock()
	defer recorder.mu.Unlock()
	// Workflow input, activity input, activity result, workflow result.
	if len(recorder.encoded) < 4 || recorder.decoded < 4 {
		t.Fatalf("codec encoded %d and decoded %d payloads, want at least 4 each: the environment bypassed the codec",
			len(recorder.encoded), recorder.decoded)
	}
	for i, p := range recorder.encoded {
		if got := string(p.GetMetadata()[converter.MetadataEncoding]); got != EncodingEncrypted {
			t.Errorf("payload %d has encoding %q, want %q", i, got, EncodingEncrypted)
		}
		wire, err := proto.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(wire, []byte(childName)) {
			t.Errorf("payload %d handed to Temporal contains the child's name", i)
		}
	}
}

// TestWorkflowArgumentPayloadsAreEncrypted checks, with the converter package
// alone, what a client starting echoWorkflow sends: the argument payloads.
func TestWorkflowArgumentPayloadsAreEncrypted(t *testing.T) {
	kr := mustGenerate(t)
	dc := DataConverter(kr)
	payloads, err := dc.ToPayloads(sampleChild())
	if err != nil {
		t.Fatalf("ToPayloads: %v", err)
	}
	if len(payloads.GetPayloads()) != 1 {
		t.Fatalf("got %d payloads, want 1", len(payloads.GetPayloads()))
	}
	assertEncrypted(t, payloads.GetPayloads()[0], kr.ActiveKeyID())
	wire, err := proto.Marshal(payloads)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(wire, []byte(childName)) {
		t.Error("argument payloads contain the child's name")
	}

	// The worker side, with a keyring loaded separately, reads them back;
	// the default converter alone cannot.
	var got childRecord
	if err := dc.FromPayloads(payloads, &got); err != nil {
		t.Fatalf("FromPayloads: %v", err)
	}
	if !reflect.DeepEqual(got, sampleChild()) {
		t.Errorf("decoded %#v", got)
	}
	if err := converter.GetDefaultDataConverter().FromPayloads(payloads, &got); err == nil {
		t.Error("the default converter decoded an encrypted payload")
	}
}
