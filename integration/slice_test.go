package integration

import (
	"context"
	"encoding/json"
	"errors"
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

	"casereview/access"
	"casereview/activities"
	"casereview/auth"
	"casereview/devtemporal"
	"casereview/eventstore"
	"casereview/eventstore/embedded"
	"casereview/projections"
	"casereview/review"
	"casereview/server"
	"casereview/server/apiclient"
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

func startSystem(t *testing.T) *system { return startSystemWith(t, zerolog.Nop()) }

// startSystemWith starts the system with the server logging to log and the event store opened
// with opts (e.g. a clock the test controls).
func startSystemWith(t *testing.T, log zerolog.Logger, opts ...embedded.Option) *system {
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
	store, err := embedded.Open(filepath.Join(dir, "events.db"), opts...)
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
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("projections: %v", err)
		}
	})
	authStore, err := auth.OpenStore(ctx, filepath.Join(dir, "auth.db"), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { authStore.Close() })
	a, err := auth.New(auth.Config{Store: authStore, InsecureCookies: true, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := auth.NewDevSignIn(nil)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := access.NewRecorder(access.Config{Flush: server.AccessFlusher(store), Interval: 50 * time.Millisecond, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rec.Close(context.Background()) })
	handler := server.New(server.Config{Cases: workflows.Cases{Client: c}, ReadModels: db, Store: store, Auth: a, SignIn: dev, Access: rec, Logger: log})
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	t.Cleanup(handler.Close)
	return &system{store: store, db: db, client: c, http: srv}
}

// as signs in as a dev user.
func (s *system) as(t *testing.T, userID string) *apiclient.Client {
	t.Helper()
	c, err := apiclient.SignInDev(context.Background(), s.http.URL, userID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (s *system) post(t *testing.T, c *apiclient.Client, path, body string) (*http.Response, map[string]any) {
	t.Helper()
	resp, err := c.Send(context.Background(), http.MethodPost, path, []byte(body))
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

	coordinator := s.as(t, "dev-coordinator")
	wsURL := "ws" + strings.TrimPrefix(s.http.URL, "http") + "/api/v1/live?since=0"
	ws, _, err := websocket.DefaultDialer.Dial(wsURL, coordinator.Header())
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()

	today := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly) // yesterday: never in the future in London
	resp, created := s.post(t, coordinator, "/api/v1/cases", `{"framework":"lcspr/wt2023","awarenessDate":"`+today+`","incidentDate":"`+today+`","nature":"serious-harm","outline":"Invented test case."}`)
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
	for msg.Change.Model != projections.ModelBoard {
		if err := ws.ReadJSON(&msg); err != nil {
			t.Fatalf("read live change: %v", err)
		}
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
	ctx := context.Background()
	var got projections.CaseDetail
	if code, err := coordinator.Get(ctx, "/api/v1/cases/"+id, &got); err != nil || code != http.StatusOK {
		t.Fatalf("GET case: %d %v", code, err)
	}
	if got.CaseID != id || got.Notification.AwarenessDate.String() != today || got.Stage != "notification" {
		t.Fatalf("GET case: %+v", got)
	}
	var list struct {
		Position uint64                 `json:"position"`
		Cases    []projections.BoardRow `json:"cases"`
	}
	if code, err := coordinator.Get(ctx, "/api/v1/cases", &list); err != nil || code != http.StatusOK {
		t.Fatalf("GET cases: %d %v", code, err)
	}
	if len(list.Cases) != 1 || list.Cases[0].CaseID != id || list.Position < msg.Position || list.Cases[0].NextDeadline == nil {
		t.Fatalf("GET cases = %+v", list)
	}
	// Without signing in, nothing.
	if r, err := http.Get(s.http.URL + "/api/v1/cases/" + id); err != nil || r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous GET case: %v %v", r.StatusCode, err)
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
	coordinator := s.as(t, "dev-coordinator")
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
			resp, body := s.post(t, coordinator, "/api/v1/cases", tc.body)
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
