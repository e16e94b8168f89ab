package workflows_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"casereview/activities"
	"casereview/worker/payloadcrypt"
	"casereview/workflows"
)

// loadTestKeyring loads testdata/keyring-test.json, the test-only keyring the recorded histories
// are encrypted with. Git does not keep file modes and LoadKeyring refuses a file others may
// read, so it loads a private copy.
func loadTestKeyring(t *testing.T) *payloadcrypt.Keyring {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "keyring-test.json"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "keyring.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	kr, err := payloadcrypt.LoadKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// newReplayer returns a replayer that decrypts with kr and knows the given workflows.
func newReplayer(t *testing.T, kr *payloadcrypt.Keyring, register func(sdkworker.WorkflowReplayer)) sdkworker.WorkflowReplayer {
	t.Helper()
	rp, err := sdkworker.NewWorkflowReplayerWithOptions(sdkworker.WorkflowReplayerOptions{
		DataConverter:    payloadcrypt.DataConverter(kr),
		FailureConverter: payloadcrypt.FailureConverter(kr),
	})
	if err != nil {
		t.Fatal(err)
	}
	register(rp)
	return rp
}

func registerAll(rp sdkworker.WorkflowReplayer) {
	rp.RegisterWorkflow(workflows.Review)
	rp.RegisterWorkflow(workflows.AgencyRequest)
	rp.RegisterWorkflow(workflows.ActionItem)
}

func recordedHistories(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "history-*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/history-*.json: record them with go test ./integration -run TestRecordedHistories -update")
	}
	return files
}

// TestReplayRecordedHistories replays every recorded history against today's workflow code: a
// change that would make running cases fail on their next workflow task fails here first.
func TestReplayRecordedHistories(t *testing.T) {
	kr := loadTestKeyring(t)
	logger := sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})))
	for _, file := range recordedHistories(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			rp := newReplayer(t, kr, registerAll)
			if err := rp.ReplayWorkflowHistoryFromJSONFile(logger, file); err != nil {
				t.Fatalf("replay %s: %v", file, err)
			}
		})
	}
}

// notifyFirst stands in for a Review whose first step was changed from recording the notification
// to sending a message.
func notifyFirst(ctx workflow.Context, _ workflows.ReviewInput) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	var a *activities.Activities
	return workflow.ExecuteActivity(ctx, a.Notify, activities.NotifyInput{}).Get(ctx, nil)
}

// TestReplayCatchesChanges shows the replay can fail: under a changed Review, or without the key
// the history was encrypted with, the recorded case does not replay.
func TestReplayCatchesChanges(t *testing.T) {
	file := filepath.Join("testdata", "history-review.json")
	quiet := sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))

	changed := newReplayer(t, loadTestKeyring(t), func(rp sdkworker.WorkflowReplayer) {
		rp.RegisterWorkflowWithOptions(notifyFirst, workflow.RegisterOptions{Name: "Review"})
	})
	err := changed.ReplayWorkflowHistoryFromJSONFile(quiet, file)
	// TMPRL1100 is the code the SDK gives every nondeterminism error.
	if err == nil || !strings.Contains(err.Error(), "TMPRL1100") {
		t.Errorf("replay under a changed Review: %v; want a nondeterminism error", err)
	}

	other, err := payloadcrypt.GenerateKeyring()
	if err != nil {
		t.Fatal(err)
	}
	// The workflow cannot decode its input, so it does none of what the history records; the
	// SDK reports that as a mismatch rather than as the decryption failure behind it.
	if err := newReplayer(t, other, registerAll).ReplayWorkflowHistoryFromJSONFile(quiet, file); err == nil {
		t.Error("replay without the history's key succeeded")
	}
}
