package sfu

import (
	"errors"

	"webinaire/sfu/signal"
)

// Token errors.
var (
	// ErrTokenInvalid is a token that is malformed, badly signed or carries bad claims.
	ErrTokenInvalid = errors.New("sfu: invalid join token")
	// ErrTokenExpired is a token past its expiry.
	ErrTokenExpired = errors.New("sfu: join token expired")
	// ErrTokenRevoked is a token of a participant removed from the room.
	ErrTokenRevoked = errors.New("sfu: join token revoked")
	// ErrTokenUsed is a one-use token of a cluster's nodes presented again.
	ErrTokenUsed = errors.New("sfu: token used already")
	// ErrTokenKeyTooShort is a signing key under 32 bytes.
	ErrTokenKeyTooShort = errors.New("sfu: token key too short")
)

// Server, room and participant errors.
var (
	// ErrNotStarted is ServeConn called before Start.
	ErrNotStarted = errors.New("sfu: server not started")
	// ErrServerClosed is a call on a closed server.
	ErrServerClosed = errors.New("sfu: server closed")
	// ErrRoomClosed is an operation on a room that has closed.
	ErrRoomClosed = errors.New("sfu: room closed")
	// ErrParticipantNotFound is a participant id that is not in the room.
	ErrParticipantNotFound = errors.New("sfu: participant not found")
	// ErrInvalidRole is a role other than moderator, presenter and attendee.
	ErrInvalidRole = errors.New("sfu: invalid role")
	// ErrRemoved is the end of a session whose participant was removed from the room.
	ErrRemoved = errors.New("sfu: participant removed")
	// ErrReplaced is the end of a session replaced by a newer one of the same participant.
	ErrReplaced = errors.New("sfu: participant joined again elsewhere")
	// ErrJoinTimeout is a connection that did not send its join message in time.
	ErrJoinTimeout = errors.New("sfu: no join message in time")
	// ErrRoomLocked is a participant new to a locked room.
	ErrRoomLocked = errors.New("sfu: room locked")
	// ErrDenied is the end of a session a moderator did not admit from the lobby.
	ErrDenied = errors.New("sfu: not admitted from the lobby")
	// ErrRoomFull is a participant new to a room that has reached its cap
	// (Params.MaxMeetingParticipants, Params.MaxWebinarParticipants).
	ErrRoomFull = errors.New("sfu: room full")
	// ErrLobbyFull is a participant who would wait in a lobby that has reached
	// Params.MaxLobby.
	ErrLobbyFull = errors.New("sfu: lobby full")
	// ErrNotAssigned is a participant entering a breakout room it was not sent to.
	ErrNotAssigned = errors.New("sfu: not assigned to this breakout room")
	// ErrSlowConsumer is a connection that did not take its messages fast enough.
	ErrSlowConsumer = errors.New("sfu: connection too slow")
	// ErrInternal is the end of a session cut short by a fault of the server (a panic
	// recovered in one of its goroutines).
	ErrInternal = errors.New("sfu: internal error")
	// ErrInvalidCaption is a caption that is empty, too long, not text, or in a language
	// other than signal.CaptionLanguages.
	ErrInvalidCaption = errors.New("sfu: invalid caption")
	// ErrNotPresenter is a participant who may not present slides: not in the room, or
	// neither a presenter nor a moderator.
	ErrNotPresenter = errors.New("sfu: not a presenter")
	// ErrInvalidSlides is a deck with no page, too many, or too large a file.
	ErrInvalidSlides = errors.New("sfu: invalid slides")
	// ErrSlidesMemory is a deck beyond what the server's rooms may hold together
	// (MaxSlidesMemory).
	ErrSlidesMemory = errors.New("sfu: too many slides held")
)

// Signalling errors, for one message.
var (
	// ErrMessageTooLarge is a message over signal.MaxMessageSize.
	ErrMessageTooLarge = signal.ErrMessageTooLarge
	// ErrMalformedMessage is a message that is not valid JSON of the expected form.
	ErrMalformedMessage = signal.ErrMalformedMessage
	// ErrUnknownMessageType is a message with a type the server does not know.
	ErrUnknownMessageType = signal.ErrUnknownMessageType
	// ErrRateLimited is a connection sending more messages than allowed.
	ErrRateLimited = errors.New("sfu: too many messages")
)

// ErrWatchesElsewhere is a role that would let a participant of an edge node speak: it
// only receives there, from the room's node.
var ErrWatchesElsewhere = errors.New("sfu: the participant watches from an edge node")
