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

// Signalling errors, for one message.
var (
	// ErrMessageTooLarge is a message over MaxMessageSize.
	ErrMessageTooLarge = errors.New("sfu: message too large")
	// ErrMalformedMessage is a message that is not valid JSON of the expected form.
	ErrMalformedMessage = errors.New("sfu: malformed message")
	// ErrUnknownMessageType is a message with a type the server does not know.
	ErrUnknownMessageType = errors.New("sfu: unknown message type")
	// ErrRateLimited is a connection sending more messages than allowed.
	ErrRateLimited = errors.New("sfu: too many messages")
)
