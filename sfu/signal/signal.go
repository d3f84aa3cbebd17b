// Package signal declares the signalling protocol of docs/protocol.md: message types,
// codes and limits, the messages of either side, and the checks of a client's message.
// The server (package sfu) and its clients (package sfu/client) share it.
package signal

// Close codes the server ends a connection with: WebSocket codes (RFC 6455 §7.4) and
// application codes in the 4000 range.
const (
	// CloseNormal: the participant left.
	CloseNormal = 1000
	// CloseGoingAway: the server is shutting down.
	CloseGoingAway = 1001
	// ClosePolicyViolation: a protocol error, such as a first message that is not join,
	// or a connection too slow to take its messages.
	ClosePolicyViolation = 1008
	// CloseInternalError: the server could not go on.
	CloseInternalError = 1011
	// CloseUnauthorized: the join token was refused.
	CloseUnauthorized = 4001
	// CloseRemoved: a moderator removed the participant.
	CloseRemoved = 4003
	// CloseRoomClosed: the room was closed.
	CloseRoomClosed = 4004
	// CloseRoomLocked: the room is locked and the participant is new to it.
	CloseRoomLocked = 4005
	// CloseRoomFull: the room, or its lobby, has as many participants as it may hold.
	CloseRoomFull = 4006
	// CloseReplaced: the same participant joined on another connection.
	CloseReplaced = 4009
	// CloseRateLimited: the connection kept sending over the rate limit.
	CloseRateLimited = 4029
	// CloseRoomMoved: the room runs on another node now, or this node lost it; the
	// client asks the API where it is (rejoin) and comes back there.
	CloseRoomMoved = 4010
	// CloseTryAgainLater: the server could not check the entry now (its database is out
	// of reach); the client may come back.
	CloseTryAgainLater = 1013
)

// Signalling limits, per connection.
const (
	// MaxMessageSize is the largest message accepted, in bytes.
	MaxMessageSize = 64 << 10
	// MessageRate is the sustained number of messages per second accepted.
	MessageRate = 50
	// MessageBurst is the number of messages accepted at once.
	MessageBurst = 100
)

// Message types: the value of the "type" field of every message, from either side.
// docs/protocol.md gives who sends each and its fields.
const (
	TypeJoin              = "join"
	TypeJoined            = "joined"
	TypeOffer             = "offer"
	TypeAnswer            = "answer"
	TypeCandidate         = "candidate"
	TypeTracks            = "tracks"
	TypeMute              = "mute"
	TypeMutes             = "mutes"
	TypeLayer             = "layer"
	TypeParticipantJoined = "participant_joined"
	TypeParticipantLeft   = "participant_left"
	TypeParticipants      = "participants"
	TypeActiveSpeaker     = "active_speaker"
	TypeChat              = "chat"
	TypeCaption           = "caption"
	TypeSlides            = "slides"
	TypeSlidePage         = "slide_page"
	TypeSlidesClose       = "slides_close"
	// TypeSlidePointer is the presenter's pointer over the page shown.
	TypeSlidePointer    = "slide_pointer"
	TypeReaction        = "reaction"
	TypeHand            = "hand"
	TypeHands           = "hands"
	TypePoll            = "poll"
	TypePollCreate      = "poll_create"
	TypePollOpen        = "poll_open"
	TypePollClose       = "poll_close"
	TypePollPublish     = "poll_publish"
	TypeVote            = "vote"
	TypeMuteParticipant = "mute_participant"
	TypeAskUnmute       = "ask_unmute"
	TypeUnmuteRequested = "unmute_requested"
	TypeRemove          = "remove"
	TypeSetRole         = "set_role"
	TypeLock            = "lock"
	TypeRoomState       = "room_state"
	TypeLowerHand       = "lower_hand"
	TypeSpotlight       = "spotlight"
	TypeEndSession      = "end_session"
	TypeLobby           = "lobby"
	TypeLobbyWait       = "lobby_wait"
	TypeLobbyAdmit      = "lobby_admit"
	TypeLobbyDeny       = "lobby_deny"
	TypeRecording       = "recording"
	TypeBroadcast       = "broadcast"
	TypeRole            = "role"
	TypeRestartICE      = "restart_ice"
	TypeLeave           = "leave"
	// TypeRelay is spoken only between the nodes of a cluster, on an edge's link to the
	// room's node: edge viewers entering, leaving and speaking, and their removal.
	TypeRelay = "relay"
	TypeError = "error"
)

// Message types of breakout rooms.
const (
	TypeBreakoutStart         = "breakout_start"
	TypeBreakoutAssign        = "breakout_assign"
	TypeBreakoutJoin          = "breakout_join"
	TypeBreakoutBroadcast     = "breakout_broadcast"
	TypeBreakoutHelp          = "breakout_help"
	TypeBreakoutEnd           = "breakout_end"
	TypeBreakouts             = "breakouts"
	TypeBreakoutMove          = "breakout_move"
	TypeBreakoutMessage       = "breakout_message"
	TypeBreakoutHelpRequested = "breakout_help_requested"
)

// Error codes: the "code" field of error messages. docs/protocol.md says what each
// means and whether the connection closes after it.
const (
	CodeMalformed         = "malformed_message"
	CodeUnknownType       = "unknown_type"
	CodeTooLarge          = "message_too_large"
	CodeRateLimited       = "rate_limited"
	CodeJoinRequired      = "join_required"
	CodeJoinTimeout       = "join_timeout"
	CodeAlreadyJoined     = "already_joined"
	CodeTokenInvalid      = "token_invalid"
	CodeTokenExpired      = "token_expired"
	CodeTokenRevoked      = "token_revoked"
	CodeInvitationRevoked = "invitation_revoked"
	CodeRoomGone          = "room_gone"
	CodeRoomMoved         = "room_moved"
	CodeUnavailable       = "unavailable"
	CodePublishForbidden  = "publish_forbidden"
	CodeNegotiation       = "negotiation_failed"
	CodeUnknownTrack      = "unknown_track"
	CodeRemoved           = "removed"
	CodeReplaced          = "replaced"
	CodeRoomClosed        = "room_closed"
	CodeServerClosing     = "server_closing"
	CodeInternal          = "internal_error"
	CodeForbidden         = "forbidden"
	CodeLimit             = "limit_reached"
	CodeUnknownPoll       = "unknown_poll"
	CodePollState         = "poll_state"
	CodeRoomLocked        = "room_locked"
	CodeNotFound          = "participant_not_found"
	CodeLobbyDenied       = "lobby_denied"
	CodeInLobby           = "in_lobby"
	CodeRoomFull          = "room_full"
	CodeLobbyFull         = "lobby_full"
	CodeBreakoutState     = "breakout_state"
	CodeBreakoutEnded     = "breakout_ended"
	CodeUnknownRoom       = "unknown_room"
	CodeUnknownSlides     = "unknown_slides"
)

// Error codes about the client's ICE candidates.
const (
	CodeCandidateRefused  = "candidate_refused"
	CodeTooManyCandidates = "too_many_candidates"
)

// Layer qualities a subscriber may ask for.
const (
	QualityHigh   = "high"
	QualityMedium = "medium"
	QualityLow    = "low"
	QualityOff    = "off"
)
