package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/server/temporaltest"

	"casereview/activities"
	"casereview/devtemporal"
	"casereview/eventstore"
	"casereview/eventstore/embedded"
	"casereview/projections"
	"casereview/review"
	"casereview/server"
	"casereview/worker"
	"casereview/worker/payloadcrypt"
	"casereview/workflows"
)

// system is every casereview part wired together on a temporaltest server.
type system struct {
	store  eventstore.Store
	db     *projections.DB
	client client.Client
	http   *httptest.Server
}

func startSystem(t *testing.T) *system {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	kr, err := payloadcrypt.GenerateKeyring()
	if err != nil {
		t.Fatal(err)
	}
	ts := temporaltest.NewServer(temporaltest.WithT(t))
	if err := devtemporal.EnsureSearchAttributes(ctx, ts.GetFrontendHostPort(), ts.GetDefaultNamespace(), workflows.SearchAttributes); err != nil {
		t.Fatal(err)
	}
	c := ts.NewClientWithOptions(worker.ClientOptions(ts.GetFrontendHostPort(), ts.GetDefaultNamespace(), kr, zerolog.Nop()))
	dir := t.TempDir()
	store, err := embedded.Open(filepath.Join(dir, "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	w := sdkworker.New(c, workflows.TaskQueue, sdkworker.Options{})
	worker.Register(w, &activities.Activities{Store: store})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	db, err := projections.Open(filepath.Join(dir, "readmodels.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	done := make(chan error, 1)
	go func() { done <- db.Run(ctx, store, zerolog.Nop()) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("projections: %v", err)
		}
	})
	srv := httptest.NewServer(server.New(server.Config{Cases: workflows.Cases{Client: c}, ReadModels: db, Logger: zerolog.Nop()}))
	t.Cleanup(srv.Close)
	return &system{store: store, db: db, client: c, http: srv}
}

func (s *system) post(t *testing.T, path, body string) (*http.Response, map[string]any) {
	t.Helper()
	resp, err := http.Post(s.http.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("decode response of POST %s: %v", path, err)
	}
	return resp, out
}

func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestNotificationSlice drives one notification through HTTP, the workflow, the activity, the
// event store, the projection and the websocket feed.
func TestNotificationSlice(t *testing.T) {
	s := startSystem(t)

	wsURL := "ws" + strings.TrimPrefix(s.http.URL, "http") + "/api/v1/live?since=0"
	ws, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()

	today := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly) // yesterday: never in the future in London
	resp, created := s.post(t, "/api/v1/cases", `{"framework":"lcspr/wt2023","awarenessDate":"`+today+`","incidentDate":"`+today+`","nature":"serious-harm","outline":"Invented test case."}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/v1/cases: status %d, body %v", resp.StatusCode, created)
	}
	id, _ := created["id"].(string)
	if !strings.HasPrefix(id, "CR-") || resp.Header.Get("Location") != "/api/v1/cases/"+id {
		t.Fatalf("created %v, Location %q", created, resp.Header.Get("Location"))
	}
	if created["workflowId"] != "case:"+id {
		t.Errorf("workflowId = %v, want case:%s", created["workflowId"], id)
	}

	// The websocket receives the case as soon as the projection commits it.
	ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	var msg struct {
		Type     string             `json:"type"`
		Position uint64             `json:"position"`
		Change   projections.Change `json:"change"`
	}
	if err := ws.ReadJSON(&msg); err != nil {
		t.Fatalf("read live change: %v", err)
	}
	if msg.Type != "change" || msg.Change.CaseID != id || msg.Change.Case == nil || msg.Change.Case.Framework != "lcspr/wt2023" || msg.Position == 0 {
		t.Fatalf("live message = %+v", msg)
	}

	// The event is in the case's stream, with the deterministic ID the activity derives.
	events, err := s.store.ReadStream(context.Background(), workflows.CaseStream(id), eventstore.Forwards, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 || events[0].Type != review.EventCaseNotified || events[1].Type != review.EventClockStarted {
		t.Fatalf("stream events = %+v", events)
	}
	var meta eventstore.Metadata
	if err := json.Unmarshal(events[0].Metadata, &meta); err != nil || meta.Role != "business-unit" {
		t.Errorf("metadata = %s (%v)", events[0].Metadata, err)
	}

	// The read API returns it.
	r, err := http.Get(s.http.URL + "/api/v1/cases/" + id)
	if err != nil {
		t.Fatal(err)
	}
	var got projections.CaseSummary
	json.NewDecoder(r.Body).Decode(&got)
	r.Body.Close()
	if r.StatusCode != http.StatusOK || got.ID != id || got.AwarenessDate != today || got.Stage != "notification" {
		t.Fatalf("GET case: %d %+v", r.StatusCode, got)
	}
	r, err = http.Get(s.http.URL + "/api/v1/cases")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Position uint64                    `json:"position"`
		Cases    []projections.CaseSummary `json:"cases"`
	}
	json.NewDecoder(r.Body).Decode(&list)
	r.Body.Close()
	if len(list.Cases) != 1 || list.Cases[0].ID != id || list.Position < msg.Position {
		t.Fatalf("GET cases = %+v", list)
	}

	// The workflow is running, answers its status query and carries only process state in its
	// search attributes.
	st, err := workflows.Cases{Client: s.client}.Status(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	// CaseNotified and the notification clock's ClockStarted.
	if st.Stage != "notification" || st.Revision != 1 || len(st.Clocks) != 1 || st.Clocks[0].Clock != "notification" {
		t.Fatalf("status = %+v", st)
	}
	eventually(t, "case listed by its search attributes", func() error {
		res, err := s.client.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: "CaseStage = 'notification' AND CaseFramework = 'lcspr/wt2023' AND CaseOverdue = false",
		})
		if err != nil {
			return err
		}
		for _, e := range res.Executions {
			if e.Execution.WorkflowId == "case:"+id {
				return nil
			}
		}
		return fmt.Errorf("case:%s not among %d listed", id, len(res.Executions))
	})
}

func TestNotificationRejectedNamesField(t *testing.T) {
	s := startSystem(t)
	tests := []struct {
		name, body, field string
		status            int
	}{
		{"missing framework", `{"awarenessDate":"2022-09-16","incidentDate":"2022-09-15","nature":"death","outline":"x"}`, "framework", 400},
		{"unknown framework", `{"framework":"lcspr/wt1999","awarenessDate":"2022-09-16","incidentDate":"2022-09-15","nature":"death","outline":"x"}`, "framework", 400},
		{"malformed awareness date", `{"framework":"lcspr/wt2023","awarenessDate":"16/09/2022","incidentDate":"2022-09-15","nature":"death","outline":"x"}`, "awarenessDate", 400},
		{"impossible date", `{"framework":"lcspr/wt2023","awarenessDate":"2022-02-30","incidentDate":"2022-02-01","nature":"death","outline":"x"}`, "awarenessDate", 400},
		{"incident after awareness", `{"framework":"lcspr/wt2023","awarenessDate":"2022-09-16","incidentDate":"2022-09-17","nature":"death","outline":"x"}`, "incidentDate", 400},
		{"future date", `{"framework":"lcspr/wt2023","awarenessDate":"2999-01-01","incidentDate":"2022-09-17","nature":"death","outline":"x"}`, "awarenessDate", 400},
		{"bad nature", `{"framework":"lcspr/wt2023","awarenessDate":"2022-09-16","incidentDate":"2022-09-15","nature":"bruise","outline":"x"}`, "nature", 400},
		{"empty outline", `{"framework":"lcspr/wt2023","awarenessDate":"2022-09-16","incidentDate":"2022-09-15","nature":"death","outline":"  "}`, "outline", 400},
		{"unknown field", `{"framework":"lcspr/wt2023","awarenessDate":"2022-09-16","incidentDate":"2022-09-15","nature":"death","outline":"x","childName":"A"}`, "childName", 400},
		{"wrong type", `{"framework":7}`, "framework", 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := s.post(t, "/api/v1/cases", tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %v", resp.StatusCode, tc.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q", ct)
			}
			if body["status"] != float64(tc.status) || body["title"] == "" {
				t.Errorf("problem document %v", body)
			}
			errs, _ := body["errors"].([]any)
			var fields []string
			for _, e := range errs {
				fields = append(fields, fmt.Sprint(e.(map[string]any)["field"]))
			}
			if !containsString(fields, tc.field) {
				t.Errorf("errors name %v, want %q", fields, tc.field)
			}
		})
	}
	// Nothing was recorded and no workflow started.
	n := 0
	if err := s.store.ReadAll(context.Background(), 0, func(eventstore.RecordedEvent) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d events recorded after rejected notifications", n)
	}
	cases, err := s.db.ListCases(context.Background())
	if err != nil || len(cases) != 0 {
		t.Errorf("cases = %v, %v", cases, err)
	}
}

func containsString(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
