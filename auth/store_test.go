package auth

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var dana = User{ID: "dev-coordinator", Name: "Dana Coordinator", Role: RoleCoordinator}

func TestSessionLifecycle(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	s, _ := newTestStore(t, clock.Now)
	const idle, absolute = 30 * time.Minute, 2 * time.Hour

	id, sess, err := s.CreateSession(ctx, dana, idle, absolute)
	if err != nil {
		t.Fatal(err)
	}
	if len(id) < 43 {
		t.Errorf("session id %q is shorter than 256 bits of base64", id)
	}
	if sess.CSRFToken == "" || sess.CSRFToken == id {
		t.Errorf("CSRF token %q must be set and differ from the session id", sess.CSRFToken)
	}
	got, err := s.LookupSession(ctx, id, idle)
	if err != nil {
		t.Fatal(err)
	}
	if got.User != dana || got.CSRFToken != sess.CSRFToken {
		t.Errorf("LookupSession = %+v, want user %+v and the same CSRF token", got, dana)
	}

	// Activity every 20 minutes keeps the session past its first idle expiry...
	for range 5 {
		clock.Advance(20 * time.Minute)
		if _, err := s.LookupSession(ctx, id, idle); err != nil {
			t.Fatalf("after %v of activity: %v", clock.Now().Sub(sess.CreatedAt), err)
		}
	}
	// ...but never past the absolute expiry.
	clock.Advance(20 * time.Minute) // two hours after sign-in
	if _, err := s.LookupSession(ctx, id, idle); !errors.Is(err, ErrSessionExpired) {
		t.Fatalf("at the absolute expiry: %v, want ErrSessionExpired", err)
	}
	if _, err := s.LookupSession(ctx, id, idle); !errors.Is(err, ErrNoSession) {
		t.Errorf("expired session was not deleted: %v, want ErrNoSession", err)
	}
}

func TestSessionIdleExpiry(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	s, _ := newTestStore(t, clock.Now)
	id, _, err := s.CreateSession(ctx, dana, 30*time.Minute, 8*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(30 * time.Minute)
	if _, err := s.LookupSession(ctx, id, 30*time.Minute); !errors.Is(err, ErrSessionExpired) {
		t.Errorf("after 30 idle minutes: %v, want ErrSessionExpired", err)
	}
}

func TestSessionDeleteAndUnknown(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t, nil)
	id, _, err := s.CreateSession(ctx, dana, time.Hour, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession(ctx, id); err != nil {
		t.Fatal(err)
	}
	for _, probe := range []string{id, "", "not-a-session"} {
		if _, err := s.LookupSession(ctx, probe, time.Hour); !errors.Is(err, ErrNoSession) {
			t.Errorf("LookupSession(%q) = %v, want ErrNoSession", probe, err)
		}
	}
}

func TestCreateSessionRejectsBadInput(t *testing.T) {
	s, _ := newTestStore(t, nil)
	tests := []struct {
		name           string
		user           User
		idle, absolute time.Duration
	}{
		{"public user", Public, time.Hour, time.Hour},
		{"agency lead without agency", User{ID: "x", Role: RoleAgencyLead}, time.Hour, time.Hour},
		{"idle longer than absolute", dana, 2 * time.Hour, time.Hour},
		{"zero idle", dana, 0, time.Hour},
	}
	for _, tt := range tests {
		if _, _, err := s.CreateSession(context.Background(), tt.user, tt.idle, tt.absolute); err == nil {
			t.Errorf("%s: CreateSession = nil error", tt.name)
		}
	}
}

// databaseBytes returns every byte SQLite wrote: the database file and its WAL.
func databaseBytes(t *testing.T, path string) []byte {
	t.Helper()
	var all []byte
	matches, _ := filepath.Glob(path + "*")
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

// tableText returns every value of every row of table, as text.
func tableText(t *testing.T, path, table string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT * FROM " + table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var b strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			switch v := v.(type) {
			case []byte:
				b.Write(v)
			default:
				fmt.Fprint(&b, v)
			}
			b.WriteByte('|')
		}
	}
	return b.String()
}

func TestSessionIDIsStoredOnlyHashed(t *testing.T) {
	ctx := context.Background()
	s, path := newTestStore(t, nil)
	id, _, err := s.CreateSession(ctx, dana, time.Hour, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	rows := tableText(t, path, "sessions")
	if !strings.Contains(rows, dana.ID) {
		t.Fatalf("sessions table does not hold the session at all: %q", rows)
	}
	if strings.Contains(rows, id) {
		t.Error("sessions table holds the plaintext session id")
	}
	if bytes.Contains(databaseBytes(t, path), []byte(id)) {
		t.Error("database files hold the plaintext session id")
	}
	if !bytes.Contains([]byte(rows), hashSecret(id)) {
		t.Error("sessions table does not hold the SHA-256 of the session id")
	}
}

func TestTokenLifecycle(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	s, path := newTestStore(t, clock.Now)
	lead := User{ID: "svc-police-north", Name: "Police North case system", Role: RoleAgencyLead, Agency: "police-north"}

	tok, err := s.CreateToken(ctx, lead, "police-north case system", 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, TokenPrefix) {
		t.Errorf("token %q lacks the %s prefix", tok, TokenPrefix)
	}
	u, err := s.AuthenticateToken(ctx, tok)
	if err != nil || u != lead {
		t.Fatalf("AuthenticateToken = %+v, %v; want %+v", u, err, lead)
	}

	rows := tableText(t, path, "api_tokens")
	if strings.Contains(rows, tok) || bytes.Contains(databaseBytes(t, path), []byte(tok)) {
		t.Error("the database holds the plaintext token")
	}
	_, secret, _ := strings.Cut(strings.TrimPrefix(tok, TokenPrefix), "_")
	if bytes.Contains(databaseBytes(t, path), []byte(secret)) {
		t.Error("the database holds the token's secret part")
	}

	id, err := TokenID(tok)
	if err != nil {
		t.Fatal(err)
	}
	list, err := s.ListTokens(ctx, lead.ID)
	if err != nil || len(list) != 1 || list[0].ID != id || list[0].Name != "police-north case system" || !list[0].RevokedAt.IsZero() {
		t.Fatalf("ListTokens = %+v, %v; want the one live token", list, err)
	}

	wrongSecret := tok[:len(tok)-4] + "AAAA"
	if wrongSecret == tok {
		wrongSecret = tok[:len(tok)-4] + "BBBB"
	}
	for _, bad := range []string{wrongSecret, "crt_0000000000000000_x", "crt_short_x", "garbage", ""} {
		if _, err := s.AuthenticateToken(ctx, bad); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("AuthenticateToken(%q) = %v, want ErrInvalidToken", bad, err)
		}
	}

	if err := s.RevokeToken(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateToken(ctx, tok); !errors.Is(err, ErrTokenRevoked) {
		t.Errorf("after revoke: %v, want ErrTokenRevoked", err)
	}
	if err := s.RevokeToken(ctx, "0000000000000000"); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("RevokeToken(unknown) = %v, want ErrInvalidToken", err)
	}

	short, err := s.CreateToken(ctx, lead, "short-lived", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	if _, err := s.AuthenticateToken(ctx, short); !errors.Is(err, ErrTokenExpired) {
		t.Errorf("after its lifetime: %v, want ErrTokenExpired", err)
	}
	all, err := s.ListTokens(ctx, "")
	if err != nil || len(all) != 2 {
		t.Errorf("ListTokens(all) = %d tokens, %v; want 2", len(all), err)
	}
}

func TestCreateTokenRejectsBadInput(t *testing.T) {
	s, _ := newTestStore(t, nil)
	tests := []struct {
		name     string
		user     User
		token    string
		lifetime time.Duration
	}{
		{"no name", dana, " ", time.Hour},
		{"no lifetime", dana, "ci", 0},
		{"too long", dana, "ci", MaxTokenLifetime + time.Hour},
		{"invalid user", User{ID: "x", Role: "root"}, "ci", time.Hour},
	}
	for _, tt := range tests {
		_, err := s.CreateToken(context.Background(), tt.user, tt.token, tt.lifetime)
		if !errors.Is(err, ErrBadTokenRequest) && !errors.Is(err, ErrInvalidUser) {
			t.Errorf("%s: CreateToken = %v, want ErrBadTokenRequest or ErrInvalidUser", tt.name, err)
		}
	}
}
