package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"casereview/server/apiclient"
	"casereview/worker"
	"casereview/worker/payloadcrypt"
	"casereview/workflows"
)

func devConfigFor(dir string) devConfig {
	return devConfig{DataDir: dir, HTTPAddr: "127.0.0.1:0", TemporalAddr: "127.0.0.1:0", Namespace: "default", Demo: true}
}

func signIn(t *testing.T, baseURL string) *apiclient.Client {
	t.Helper()
	c, err := apiclient.SignInDev(context.Background(), baseURL, "dev-coordinator")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func waitFor(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDevRestartKeepsCases runs the whole dev stack on a directory, stops it, starts it again and
// finds the cases and their running workflows.
func TestDevRestartKeepsCases(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()

	st, err := startDev(ctx, devConfigFor(dir), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	api := signIn(t, st.url)
	var created struct{ ID string }
	code, err := api.Post(ctx, "/api/v1/cases", []byte(`{"framework":"scr/wt2015","awarenessDate":"2009-04-06","incidentDate":"2009-04-04","nature":"serious-harm","outline":"Invented historic case."}`), &created)
	if err != nil || code != http.StatusCreated {
		t.Fatalf("POST: %d %v", code, err)
	}
	for _, id := range []string{demoCaseID, created.ID} {
		waitFor(t, "case "+id+" in read model", func() error {
			if code, _ := api.Get(ctx, "/api/v1/cases/"+id, nil); code != http.StatusOK {
				return fmt.Errorf("GET status %d", code)
			}
			return nil
		})
	}
	// A second process on the same directory is refused while the first holds it.
	if _, err := startDev(ctx, devConfigFor(dir), zerolog.Nop()); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second start on a held directory: %v", err)
	}
	st.Stop()

	st, err = startDev(ctx, devConfigFor(dir), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Stop()
	var list struct {
		Cases []struct{ CaseID string }
	}
	if code, err := signIn(t, st.url).Get(ctx, "/api/v1/cases", &list); err != nil || code != http.StatusOK || len(list.Cases) != 4 {
		t.Fatalf("after restart: %d %+v (three demo cases, seeded once, and one notified)", code, list)
	}
	kr, err := payloadcrypt.LoadKeyring(filepath.Join(dir, "payload-keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial(worker.ClientOptions(st.temporal, "default", kr, zerolog.Nop()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, id := range []string{demoCaseID, created.ID} {
		d, err := c.DescribeWorkflowExecution(ctx, workflows.ReviewWorkflowID(id), "")
		if err != nil {
			t.Fatal(err)
		}
		if s := d.WorkflowExecutionInfo.Status; s != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			t.Errorf("%s: status %v after restart", id, s)
		}
		status, err := workflows.Cases{Client: c}.Status(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if status.Revision < 1 || status.Stage != "notification" {
			t.Errorf("%s: status %+v", id, status)
		}
	}
}
