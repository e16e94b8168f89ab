package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"casereview/eventstore"
	"casereview/projections"
	"casereview/review"
	"casereview/server/apiclient"
)

// liveFrame is one message of the live feed.
type liveFrame struct {
	Type     string             `json:"type"`
	Position uint64             `json:"position"`
	Change   projections.Change `json:"change"`
}

// dialLive opens the live feed as c after position since.
func dialLive(t *testing.T, s *system, c *apiclient.Client, since uint64) *websocket.Conn {
	t.Helper()
	url := "ws" + strings.TrimPrefix(s.http.URL, "http") + "/api/v1/live?since=" + strconv.FormatUint(since, 10)
	ws, resp, err := websocket.DefaultDialer.Dial(url, c.Header())
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial live feed: status %d: %v", status, err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

// readFrames reads n frames, failing the test if they do not all come within the deadline.
func readFrames(t *testing.T, ws *websocket.Conn, n int) []liveFrame {
	t.Helper()
	out := make([]liveFrame, 0, n)
	ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	for len(out) < n {
		var f liveFrame
		if err := ws.ReadJSON(&f); err != nil {
			t.Fatalf("read frame %d of %d: %v", len(out)+1, n, err)
		}
		if f.Type != "change" || f.Position != f.Change.Position {
			t.Fatalf("frame %+v", f)
		}
		out = append(out, f)
	}
	return out
}

// noMoreFrames checks that nothing else arrives for a while.
func noMoreFrames(t *testing.T, ws *websocket.Conn) {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	var f liveFrame
	if err := ws.ReadJSON(&f); err == nil {
		t.Errorf("an unexpected frame arrived: %+v", f)
	}
}

// settle waits until the read models have applied every event in the log.
func settle(t *testing.T, s *system) {
	t.Helper()
	eventually(t, "read models catch up with the log", func() error {
		var head uint64
		if err := s.store.ReadAll(context.Background(), 0, func(e eventstore.RecordedEvent) error {
			head = max(head, e.Position)
			return nil
		}); err != nil {
			return err
		}
		cp, err := s.db.Checkpoint(context.Background())
		if err != nil {
			return err
		}
		if cp < head {
			return fmt.Errorf("checkpoint %d, log head %d", cp, head)
		}
		return nil
	})
}

// inReadModels waits until a notified case is in the read models. It asks the database rather
// than the API, since an API read is itself recorded and would add changes of its own.
func inReadModels(t *testing.T, s *system, id string) {
	t.Helper()
	eventually(t, id+" in the read models", func() error {
		_, err := s.db.GetCase(context.Background(), id)
		return err
	})
}

// changesSince lists the projections' changes after position that keep says a user may see.
func changesSince(t *testing.T, s *system, position uint64, keep func(projections.Change) bool) []projections.Change {
	t.Helper()
	var out []projections.Change
	if _, err := s.db.ChangesSince(context.Background(), position, func(c projections.Change) error {
		if keep(c) {
			out = append(out, c)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameChanges compares frames with changes one by one, in order.
func sameChanges(t *testing.T, got []liveFrame, want []projections.Change) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d frames, want %d", len(got), len(want))
	}
	for i := range want {
		g, _ := json.Marshal(got[i].Change)
		w, _ := json.Marshal(want[i])
		if string(g) != string(w) {
			t.Errorf("frame %d is %s\nwant %s", i, g, w)
		}
	}
}

func everything(projections.Change) bool { return true }

// TestLiveResume disconnects from the live feed, lets changes happen, and reconnects from the last
// position received: the missed changes come exactly once each, in order, then the live ones.
func TestLiveResume(t *testing.T) {
	s := startSystem(t)
	coordinator := s.as(t, "dev-coordinator")
	leadPolice := s.as(t, "dev-lead-police-north")

	ws := dialLive(t, s, coordinator, 0)
	first := notifyCase(t, coordinator)
	inReadModels(t, s, first)
	settle(t, s)
	before := changesSince(t, s, 0, everything)
	if len(before) == 0 {
		t.Fatal("no changes after a notification")
	}
	got := readFrames(t, ws, len(before))
	sameChanges(t, got, before)
	last := got[len(got)-1].Position
	ws.Close()

	// While the client is away: two more cases and a command.
	second := notifyCase(t, coordinator)
	third := notifyCase(t, coordinator)
	do(t, coordinator, first, review.SendNotification{Reference: "SIN-LIVE"})
	inReadModels(t, s, second)
	inReadModels(t, s, third)
	settle(t, s)
	missed := changesSince(t, s, last, everything)
	for _, id := range []string{second, third, first} {
		if !containsCase(missed, id) {
			t.Fatalf("no change about %s after %d: %+v", id, last, missed)
		}
	}

	ws = dialLive(t, s, coordinator, last)
	got = readFrames(t, ws, len(missed))
	sameChanges(t, got, missed)
	resumedTo := got[len(got)-1].Position

	// Then the live ones, as they happen, after what was replayed.
	do(t, coordinator, first, review.RecordRapidReviewFacts{Facts: "facts", AgenciesInvolved: []string{"police-north"}})
	settle(t, s)
	live := changesSince(t, s, resumedTo, everything)
	if len(live) == 0 {
		t.Fatal("the command changed no read model")
	}
	got = readFrames(t, ws, len(live))
	sameChanges(t, got, live)
	noMoreFrames(t, ws)

	// The police-north lead's feed carries the case their agency is in, never the others, nor the
	// audit trail, nor another agency's inbox.
	mine := func(c projections.Change) bool {
		if c.Audience.Public {
			return true
		}
		// Not the audit trail, nor the analysis (the partnership's), nor another agency's inbox.
		return c.CaseID == first && c.Model != projections.ModelAudit && c.Model != projections.ModelAnalysis &&
			(c.Audience.Agency == "" || c.Audience.Agency == "police-north")
	}
	want := changesSince(t, s, 0, mine)
	if len(want) == 0 {
		t.Fatal("nothing for police-north to see")
	}
	lead := dialLive(t, s, leadPolice, 0)
	got = readFrames(t, lead, len(want))
	sameChanges(t, got, want)
	noMoreFrames(t, lead)
	for _, f := range got {
		if f.Change.CaseID == second || f.Change.CaseID == third {
			t.Errorf("police-north received a change about %s, a case it is not in", f.Change.CaseID)
		}
	}
}

func containsCase(changes []projections.Change, id string) bool {
	for _, c := range changes {
		if c.CaseID == id {
			return true
		}
	}
	return false
}

// TestLiveOrigin refuses a browser page from another origin and admits the server's own.
func TestLiveOrigin(t *testing.T) {
	s := startSystem(t)
	coordinator := s.as(t, "dev-coordinator")
	url := "ws" + strings.TrimPrefix(s.http.URL, "http") + "/api/v1/live"
	for _, tc := range []struct {
		origin string
		status int
	}{
		{"https://evil.example", http.StatusForbidden},
		{"http://localhost.evil.example", http.StatusForbidden},
		{"null", http.StatusForbidden},
		{s.http.URL, http.StatusSwitchingProtocols},
		{"", http.StatusSwitchingProtocols}, // not a browser: it authenticates by cookie or token
	} {
		h := coordinator.Header()
		if tc.origin != "" {
			h.Set("Origin", tc.origin)
		}
		ws, resp, err := websocket.DefaultDialer.Dial(url, h)
		if ws != nil {
			ws.Close()
		}
		if resp == nil {
			t.Fatalf("origin %q: %v", tc.origin, err)
		}
		if resp.StatusCode != tc.status {
			t.Errorf("origin %q: status %d, want %d", tc.origin, resp.StatusCode, tc.status)
		}
	}
	// A bad position is a problem document, not a connection.
	_, resp, err := websocket.DefaultDialer.Dial(url+"?since=minus-one", coordinator.Header())
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("since=minus-one: %v %v", resp, err)
	}
}

// TestLiveCheckpoints asks for checkpoint frames and checks each says exactly how far the client
// has every change: the position of the last change before it, never a position still being sent.
func TestLiveCheckpoints(t *testing.T) {
	s := startSystem(t)
	coordinator := s.as(t, "dev-coordinator")
	id := notifyCase(t, coordinator)
	inReadModels(t, s, id)
	settle(t, s)
	want := changesSince(t, s, 0, everything)
	url := "ws" + strings.TrimPrefix(s.http.URL, "http") + "/api/v1/live?checkpoints=1&since=0"
	ws, _, err := websocket.DefaultDialer.Dial(url, coordinator.Header())
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	var changes []liveFrame
	var checkpoint uint64
	for checkpoint < want[len(want)-1].Position {
		var f liveFrame
		if err := ws.ReadJSON(&f); err != nil {
			t.Fatalf("after %d changes: %v", len(changes), err)
		}
		switch f.Type {
		case "change":
			if f.Position <= checkpoint {
				t.Fatalf("change at %d after checkpoint %d", f.Position, checkpoint)
			}
			changes = append(changes, f)
		case "checkpoint":
			if len(changes) == 0 || f.Position != changes[len(changes)-1].Position {
				t.Fatalf("checkpoint %d after changes up to %v", f.Position, changes)
			}
			checkpoint = f.Position
		default:
			t.Fatalf("frame %+v", f)
		}
	}
	sameChanges(t, changes, want)
}
