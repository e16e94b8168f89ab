package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Store keeps sessions and API tokens in SQLite. Only SHA-256 hashes of session IDs and tokens are
// stored, so a copy of the database does not yield a live cookie or token.
type Store struct {
	db  *sql.DB
	now func() time.Time
}

const schema = `
CREATE TABLE IF NOT EXISTS sessions (
	id_hash         BLOB PRIMARY KEY,
	user_id         TEXT NOT NULL,
	user_name       TEXT NOT NULL,
	role            TEXT NOT NULL,
	agency          TEXT NOT NULL,
	csrf_token      TEXT NOT NULL,
	created_at      INTEGER NOT NULL,
	idle_expires_at INTEGER NOT NULL,
	expires_at      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sessions_idle_expires_at ON sessions (idle_expires_at);
CREATE TABLE IF NOT EXISTS api_tokens (
	id         TEXT PRIMARY KEY,
	hash       BLOB NOT NULL,
	name       TEXT NOT NULL,
	user_id    TEXT NOT NULL,
	user_name  TEXT NOT NULL,
	role       TEXT NOT NULL,
	agency     TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	revoked_at INTEGER
) WITHOUT ROWID;
`

// OpenStore opens (creating if needed) the SQLite file at path. now is the clock; time.Now when nil.
func OpenStore(ctx context.Context, path string, now func() time.Time) (*Store, error) {
	if path == "" {
		return nil, errors.New("auth: session store path is empty; give a file path such as data/auth.db")
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("auth: open session store %s: %w", path, err)
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("auth: create session store schema in %s: %w", path, err)
	}
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, now: now}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Session is a signed-in browser session.
type Session struct {
	User          User
	CSRFToken     string
	CreatedAt     time.Time
	IdleExpiresAt time.Time
	ExpiresAt     time.Time // absolute: no activity extends a session beyond it
}

func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("auth: read random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// CreateSession stores a new session for u and returns its ID, the only copy of which goes into the
// cookie. idle and absolute are the idle and absolute lifetimes.
func (s *Store) CreateSession(ctx context.Context, u User, idle, absolute time.Duration) (string, Session, error) {
	if err := u.Validate(); err != nil {
		return "", Session{}, err
	}
	if idle <= 0 || absolute <= 0 || idle > absolute {
		return "", Session{}, fmt.Errorf("auth: session lifetimes idle=%s absolute=%s: both must be positive and idle no longer than absolute", idle, absolute)
	}
	id, err := randomString(32) // 256 bits
	if err != nil {
		return "", Session{}, err
	}
	csrf, err := randomString(32)
	if err != nil {
		return "", Session{}, err
	}
	now := s.now()
	sess := Session{
		User:          u,
		CSRFToken:     csrf,
		CreatedAt:     now,
		IdleExpiresAt: now.Add(idle),
		ExpiresAt:     now.Add(absolute),
	}
	// Expired rows are swept here rather than by a timer: sign-ins are frequent enough, and a
	// session that outlives its expiry is refused on lookup anyway.
	if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE idle_expires_at < ?`, now.UnixNano()); err != nil {
		return "", Session{}, fmt.Errorf("auth: sweep expired sessions: %w", err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO sessions
		(id_hash, user_id, user_name, role, agency, csrf_token, created_at, idle_expires_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		hashSecret(id), u.ID, u.Name, string(u.Role), u.Agency, csrf,
		now.UnixNano(), sess.IdleExpiresAt.UnixNano(), sess.ExpiresAt.UnixNano())
	if err != nil {
		return "", Session{}, fmt.Errorf("auth: store session: %w", err)
	}
	return id, sess, nil
}

// touchEvery limits how often a lookup writes a new idle expiry: a page load makes many requests,
// and a write per request would serialise them all on the database for no gain.
const touchEvery = time.Minute

// LookupSession returns the live session with this ID and extends its idle expiry. It returns
// ErrNoSession or ErrSessionExpired (deleting the expired row) when there is none.
func (s *Store) LookupSession(ctx context.Context, id string, idle time.Duration) (Session, error) {
	if id == "" {
		return Session{}, ErrNoSession
	}
	key := hashSecret(id)
	var (
		sess                       Session
		role                       string
		created, idleExp, absolute int64
	)
	err := s.db.QueryRowContext(ctx, `SELECT user_id, user_name, role, agency, csrf_token, created_at, idle_expires_at, expires_at
		FROM sessions WHERE id_hash = ?`, key).Scan(
		&sess.User.ID, &sess.User.Name, &role, &sess.User.Agency, &sess.CSRFToken, &created, &idleExp, &absolute)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, fmt.Errorf("auth: look up session: %w", err)
	}
	sess.User.Role = Role(role)
	sess.CreatedAt = time.Unix(0, created)
	sess.IdleExpiresAt = time.Unix(0, idleExp)
	sess.ExpiresAt = time.Unix(0, absolute)
	now := s.now()
	if !now.Before(sess.IdleExpiresAt) || !now.Before(sess.ExpiresAt) {
		if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, key); err != nil {
			return Session{}, fmt.Errorf("auth: delete expired session: %w", err)
		}
		return Session{}, ErrSessionExpired
	}
	next := now.Add(idle)
	if next.After(sess.ExpiresAt) {
		next = sess.ExpiresAt
	}
	if next.Sub(sess.IdleExpiresAt) >= touchEvery {
		if _, err := s.db.ExecContext(ctx, `UPDATE sessions SET idle_expires_at = ? WHERE id_hash = ?`, next.UnixNano(), key); err != nil {
			return Session{}, fmt.Errorf("auth: extend session: %w", err)
		}
		sess.IdleExpiresAt = next
	}
	return sess, nil
}

// DeleteSession removes the session with this ID; deleting a missing session is not an error.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, hashSecret(id)); err != nil {
		return fmt.Errorf("auth: delete session: %w", err)
	}
	return nil
}

// TokenPrefix begins every API token, so that secret scanners and people can recognise one.
const TokenPrefix = "crt_"

// MaxTokenLifetime bounds API tokens: a forgotten machine credential should die on its own.
const MaxTokenLifetime = 366 * 24 * time.Hour

// TokenInfo describes an API token without its secret.
type TokenInfo struct {
	ID        string // the public part of the token, shown in listings
	Name      string
	User      User
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt time.Time // zero while the token is live
}

// CreateToken issues an API token acting as u, named name (what the client is), valid for
// lifetime. The plaintext is returned once and never stored: only its SHA-256 hash is kept, under
// the token's ID (the part between "crt_" and the second "_") for lookup.
func (s *Store) CreateToken(ctx context.Context, u User, name string, lifetime time.Duration) (string, error) {
	if err := u.Validate(); err != nil {
		return "", err
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return "", fmt.Errorf("%w: the token name is empty; name the client that will use it, e.g. \"police-north case system\"", ErrBadTokenRequest)
	}
	if lifetime <= 0 || lifetime > MaxTokenLifetime {
		return "", fmt.Errorf("%w: lifetime %s must be positive and at most %s", ErrBadTokenRequest, lifetime, MaxTokenLifetime)
	}
	idBytes := make([]byte, 8)
	if _, err := rand.Read(idBytes); err != nil {
		return "", fmt.Errorf("auth: read random bytes: %w", err)
	}
	id := hex.EncodeToString(idBytes)
	secret, err := randomString(32)
	if err != nil {
		return "", err
	}
	plaintext := TokenPrefix + id + "_" + secret
	now := s.now()
	_, err = s.db.ExecContext(ctx, `INSERT INTO api_tokens
		(id, hash, name, user_id, user_name, role, agency, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, hashSecret(plaintext), name, u.ID, u.Name, string(u.Role), u.Agency,
		now.UnixNano(), now.Add(lifetime).UnixNano())
	if err != nil {
		return "", fmt.Errorf("auth: store API token: %w", err)
	}
	return plaintext, nil
}

// TokenID returns the public ID part of a plaintext token, for RevokeToken and listings.
func TokenID(plaintext string) (string, error) {
	rest, ok := strings.CutPrefix(plaintext, TokenPrefix)
	id, _, ok2 := strings.Cut(rest, "_")
	if !ok || !ok2 || len(id) != 16 {
		return "", fmt.Errorf("%w: expected %s<16 hex digits>_<secret>", ErrInvalidToken, TokenPrefix)
	}
	return id, nil
}

// AuthenticateToken returns the user a plaintext token acts as. It returns ErrInvalidToken,
// ErrTokenExpired or ErrTokenRevoked.
func (s *Store) AuthenticateToken(ctx context.Context, plaintext string) (User, error) {
	id, err := TokenID(plaintext)
	if err != nil {
		return User{}, err
	}
	info, hash, err := s.token(ctx, id)
	if err != nil {
		return User{}, err
	}
	if subtle.ConstantTimeCompare(hash, hashSecret(plaintext)) != 1 {
		return User{}, ErrInvalidToken
	}
	if !info.RevokedAt.IsZero() {
		return User{}, ErrTokenRevoked
	}
	if !s.now().Before(info.ExpiresAt) {
		return User{}, ErrTokenExpired
	}
	return info.User, nil
}

const tokenColumns = `id, hash, name, user_id, user_name, role, agency, created_at, expires_at, revoked_at`

// scanToken reads one api_tokens row selected as tokenColumns.
func scanToken(row interface{ Scan(...any) error }) (TokenInfo, []byte, error) {
	var (
		info             TokenInfo
		hash             []byte
		role             string
		created, expires int64
		revoked          sql.NullInt64
	)
	if err := row.Scan(&info.ID, &hash, &info.Name, &info.User.ID, &info.User.Name, &role, &info.User.Agency, &created, &expires, &revoked); err != nil {
		return TokenInfo{}, nil, err
	}
	info.User.Role = Role(role)
	info.CreatedAt = time.Unix(0, created)
	info.ExpiresAt = time.Unix(0, expires)
	if revoked.Valid {
		info.RevokedAt = time.Unix(0, revoked.Int64)
	}
	return info, hash, nil
}

func (s *Store) token(ctx context.Context, id string) (TokenInfo, []byte, error) {
	info, hash, err := scanToken(s.db.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return TokenInfo{}, nil, ErrInvalidToken
	}
	if err != nil {
		return TokenInfo{}, nil, fmt.Errorf("auth: look up API token: %w", err)
	}
	return info, hash, nil
}

// RevokeToken revokes the token with this ID (see TokenID). The row stays, so listings show when a
// credential was withdrawn. It returns ErrInvalidToken when there is no such token.
func (s *Store) RevokeToken(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, s.now().UnixNano(), id)
	if err != nil {
		return fmt.Errorf("auth: revoke API token: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("auth: revoke API token: %w", err)
	} else if n == 0 {
		return fmt.Errorf("%w: no token with id %q", ErrInvalidToken, id)
	}
	return nil
}

// ListTokens lists the tokens issued to userID, or every token when userID is empty, newest first.
func (s *Store) ListTokens(ctx context.Context, userID string) ([]TokenInfo, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens
		WHERE ? = '' OR user_id = ? ORDER BY created_at DESC, id`, userID, userID)
	if err != nil {
		return nil, fmt.Errorf("auth: list API tokens: %w", err)
	}
	defer rows.Close()
	infos := []TokenInfo{}
	for rows.Next() {
		info, _, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("auth: list API tokens: %w", err)
		}
		infos = append(infos, info)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("auth: list API tokens: %w", err)
	}
	return infos, nil
}
