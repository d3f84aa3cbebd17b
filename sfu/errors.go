package sfu

import "errors"

// Token errors.
var (
	// ErrTokenInvalid is a token that is malformed, badly signed or carries bad claims.
	ErrTokenInvalid = errors.New("sfu: invalid join token")
	// ErrTokenExpired is a token past its expiry.
	ErrTokenExpired = errors.New("sfu: join token expired")
	// ErrTokenRevoked is a token of a participant removed from the room.
	ErrTokenRevoked = errors.New("sfu: join token revoked")
	// ErrTokenKeyTooShort is a signing key under 32 bytes.
	ErrTokenKeyTooShort = errors.New("sfu: token key too short")
)
