package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/websocket"

	"casereview/projections"
)

const (
	writeWait  = 10 * time.Second
	pongWait   = 60 * time.Second
	pingPeriod = pongWait * 9 / 10
)

var upgrader = websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 4096}

// liveMessage is one frame of the live feed.
type liveMessage struct {
	Type     string              `json:"type"` // "change"
	Position uint64              `json:"position"`
	Change   *projections.Change `json:"change,omitempty"`
}

// live streams read-model changes after ?since=POSITION: first every change the client missed, in
// order, then new ones as the projections commit them. Each connection follows the changes table
// itself, so a slow client only ever delays itself.
func (s *Server) live(w http.ResponseWriter, r *http.Request) {
	var since uint64
	if v := r.URL.Query().Get("since"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeProblem(w, r, http.StatusBadRequest, "Bad position", "since must be the last position you received, a whole number.",
				FieldError{Field: "since", Detail: "not a whole number"})
			return
		}
		since = n
	}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered the client
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		// The reader only handles control frames; any read error means the client has gone.
		defer cancel()
		conn.SetReadLimit(512)
		conn.SetReadDeadline(time.Now().Add(pongWait))
		conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(pongWait)) })
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}()
	defer conn.Close()
	ping := time.NewTicker(pingPeriod)
	defer ping.Stop()
	for {
		wake, head := s.cfg.ReadModels.Wait(since)
		last, err := s.cfg.ReadModels.ChangesSince(ctx, since, func(c projections.Change) error {
			conn.SetWriteDeadline(time.Now().Add(writeWait))
			return conn.WriteJSON(liveMessage{Type: "change", Position: c.Position, Change: &c})
		})
		if err != nil {
			return
		}
		// Events that changed no read model still move the head; skip past them or wake at once forever.
		since = max(last, head)
		select {
		case <-ctx.Done():
			conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "server stopping"), time.Now().Add(time.Second))
			return
		case <-wake:
		case <-ping.C:
			conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				return
			}
		}
	}
}
