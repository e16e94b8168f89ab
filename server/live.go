package server

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/gorilla/websocket"

	"casereview/auth"
	"casereview/projections"
)

// maxLiveLifetime bounds one live connection; see live.
const maxLiveLifetime = 30 * time.Minute

const (
	writeWait  = 10 * time.Second
	pongWait   = 60 * time.Second
	pingPeriod = pongWait * 9 / 10
)

// liveMessage is one frame of the live feed.
type liveMessage struct {
	Type     string              `json:"type"` // "change"
	Position uint64              `json:"position"`
	Change   *projections.Change `json:"change,omitempty"`
}

// checkOrigin admits browsers from this server's own origin and the configured allow-list.
// Clients that send no Origin (not browsers) are admitted: they authenticate with a token.
func (s *Server) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if u.Host == r.Host {
		return true
	}
	return slices.Contains(s.cfg.AllowedOrigins, origin)
}

// live streams read-model changes after ?since=POSITION: first every change the client missed, in
// order, then new ones as the projections commit them, each only if this user may see it. Each
// connection follows the changes table itself, so a slow client only ever delays itself; one that
// cannot take a frame within writeWait is closed with 1013 (try again later) and resumes from its
// last position when it reconnects.
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
	if !s.checkOrigin(r) {
		writeProblem(w, r, http.StatusForbidden, "Origin not allowed", "This page's origin may not open the live feed; add it to the allowed origins.")
		return
	}
	// With ?checkpoints=1 the feed also says, after each batch, the position up to which the client
	// has everything; a client that resumes from that never misses the rest of a position whose
	// changes were cut off mid-way.
	checkpoints := r.URL.Query().Get("checkpoints") == "1"
	upgrader := websocket.Upgrader{ReadBufferSize: 512, WriteBufferSize: 4096, CheckOrigin: s.checkOrigin}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered the client
	}
	u, _ := auth.UserFrom(r.Context())
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
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
	// Reads through the feed are not recorded as access: its frames say only that a read model
	// changed (the board row carries reference, framework, stage and dates, nothing about the
	// people), and the page that then fetches the case through the API records that read.
	vis := visibility{s: s, u: u, agencies: map[string][]string{}}
	ping := time.NewTicker(pingPeriod)
	defer ping.Stop()
	// A connection lives at most maxLiveLifetime: the client reconnects and signs in afresh, so a
	// session ended or a token revoked stops the feed within that time.
	expire := time.NewTimer(maxLiveLifetime)
	defer expire.Stop()
	lastPing := time.Now()
	for {
		wake, head := s.cfg.ReadModels.Wait(since)
		// Read a page of changes before looking cases up or writing: holding the read models'
		// database connection through either lets a few live connections take the whole pool,
		// each waiting on the next for a second connection, and stalls the API and the projections.
		page, last, full, err := s.changesPage(ctx, since)
		sent := 0
		for i := 0; err == nil && i < len(page); i++ {
			c := page[i]
			if !vis.may(ctx, c) {
				continue
			}
			conn.SetWriteDeadline(time.Now().Add(writeWait))
			err = conn.WriteJSON(liveMessage{Type: "change", Position: c.Position, Change: &c})
			sent++
		}
		if err != nil {
			if ctx.Err() == nil {
				conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseTryAgainLater, "too slow: reconnect with your last position"), time.Now().Add(time.Second))
			}
			return
		}
		// Only after frames this user saw: a checkpoint for nothing would be traffic for every
		// client on every commit, and would tell an agency when other cases change.
		if checkpoints && sent > 0 && last > since {
			conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := conn.WriteJSON(liveMessage{Type: "checkpoint", Position: last}); err != nil {
				return
			}
		}
		if full {
			since = last
			// A long catch-up still pings, or the client's read deadline ends it.
			if time.Since(lastPing) > pingPeriod {
				lastPing = time.Now()
				conn.SetWriteDeadline(time.Now().Add(writeWait))
				if err := conn.WriteMessage(websocket.PingMessage, nil); err != nil {
					return
				}
			}
			continue
		}
		// Events that changed no read model still move the head; skip past them or wake at once forever.
		since = max(last, head)
		select {
		case <-ctx.Done():
			return
		case <-s.stopping:
			conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "server stopping"), time.Now().Add(time.Second))
			return
		case <-wake:
		case <-expire.C:
			conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "reconnect to renew your sign-in"), time.Now().Add(time.Second))
			return
		case <-ping.C:
			lastPing = time.Now()
			conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				return
			}
		}
	}
}

// livePage bounds the changes a live connection holds in memory at once while it catches up.
const livePage = 256

var errPageFull = errors.New("live: page full")

// changesPage returns the changes after since, at most about livePage of them, ending at a whole
// position so that the next page can start after it; full reports that more may follow at once.
func (s *Server) changesPage(ctx context.Context, since uint64) (page []projections.Change, last uint64, full bool, err error) {
	last = since
	_, err = s.cfg.ReadModels.ChangesSince(ctx, since, func(c projections.Change) error {
		if len(page) >= livePage && c.Position != last {
			full = true
			return errPageFull
		}
		page = append(page, c)
		last = c.Position
		return nil
	})
	if errors.Is(err, errPageFull) {
		err = nil
	}
	return page, last, full, err
}

// visibility decides which changes one user may see, remembering each case's agencies.
type visibility struct {
	s        *Server
	u        auth.User
	agencies map[string][]string
}

func (v *visibility) may(ctx context.Context, c projections.Change) bool {
	switch {
	case c.Audience.Public:
		return true
	case c.Model == projections.ModelAudit:
		return auth.Can(v.u, auth.ActionAuditRead, auth.Resource{CaseID: c.CaseID})
	case c.Audience.Agency != "" && v.u.Role.AgencyScoped() && c.Audience.Agency != v.u.Agency:
		return false
	case c.Model == projections.ModelAnalysis && v.u.Role.AgencyScoped():
		return false // as in the API: the analysis is the partnership's, not one agency's
	}
	if !v.u.Role.AgencyScoped() {
		return auth.Can(v.u, auth.ActionCaseRead, auth.Resource{CaseID: c.CaseID})
	}
	agencies, ok := v.agencies[c.CaseID]
	if !ok || c.Model == projections.ModelCase {
		if d, err := v.s.cfg.ReadModels.CaseDetail(ctx, c.CaseID, v.s.today()); err == nil {
			agencies = agenciesOf(d.CaseFile)
		}
		v.agencies[c.CaseID] = agencies
	}
	return auth.Can(v.u, auth.ActionCaseRead, auth.Resource{CaseID: c.CaseID, Agencies: agencies})
}
