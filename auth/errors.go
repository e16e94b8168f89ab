package auth

import "errors"

// Errors callers test with errors.Is.
var (
	ErrInvalidUser     = errors.New("auth: invalid user")
	ErrNoSession       = errors.New("auth: no such session")
	ErrSessionExpired  = errors.New("auth: session expired")
	ErrInvalidToken    = errors.New("auth: invalid API token")
	ErrTokenExpired    = errors.New("auth: API token expired")
	ErrTokenRevoked    = errors.New("auth: API token revoked")
	ErrBadTokenRequest = errors.New("auth: bad API token request")
	ErrNotLoopback     = errors.New("auth: dev sign-in refuses a non-loopback address")
	ErrClaims          = errors.New("auth: identity provider claims not usable")
)
