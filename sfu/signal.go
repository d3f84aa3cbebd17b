package sfu

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/pion/webrtc/v4"
)

// Conn is one participant's signalling connection, carrying one JSON message per
// ReadMessage and WriteMessage. The API package adapts a WebSocket to it. ReadMessage and
// WriteMessage are each called from one goroutine at a time, possibly concurrently with
// each other and with Close; both must return once ctx ends or the connection closes.
type Conn interface {
	// ReadMessage returns the next message.
	ReadMessage(ctx context.Context) ([]byte, error)
	// WriteMessage sends one message.
	WriteMessage(ctx context.Context, msg []byte) error
	// Close ends the connection with a WebSocket close code and a reason meant for people.
	Close(code int, reason string) error
}

// Close codes ServeConn ends a connection with: WebSocket codes (RFC 6455 §7.4) and
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

// Message types.
const (
	typeJoin              = "join"
	typeJoined            = "joined"
	typeOffer             = "offer"
	typeAnswer            = "answer"
	typeCandidate         = "candidate"
	typeTracks            = "tracks"
	typeMute              = "mute"
	typeMutes             = "mutes"
	typeLayer             = "layer"
	typeParticipantJoined = "participant_joined"
	typeParticipantLeft   = "participant_left"
	typeParticipants      = "participants"
	typeActiveSpeaker     = "active_speaker"
	typeChat              = "chat"
	typeReaction          = "reaction"
	typeHand              = "hand"
	typeHands             = "hands"
	typePoll              = "poll"
	typePollCreate        = "poll_create"
	typePollOpen          = "poll_open"
	typePollClose         = "poll_close"
	typePollPublish       = "poll_publish"
	typeVote              = "vote"
	typeMuteParticipant   = "mute_participant"
	typeAskUnmute         = "ask_unmute"
	typeUnmuteRequested   = "unmute_requested"
	typeRemove            = "remove"
	typeSetRole           = "set_role"
	typeLock              = "lock"
	typeRoomState         = "room_state"
	typeLowerHand         = "lower_hand"
	typeSpotlight         = "spotlight"
	typeEndSession        = "end_session"
	typeLobby             = "lobby"
	typeLobbyWait         = "lobby_wait"
	typeLobbyAdmit        = "lobby_admit"
	typeLobbyDeny         = "lobby_deny"
	typeRecording         = "recording"
	typeRole              = "role"
	typeRestartICE        = "restart_ice"
	typeLeave             = "leave"
	typeError             = "error"
)

// Error codes of error messages (docs/protocol.md lists them).
const (
	codeMalformed         = "malformed_message"
	codeUnknownType       = "unknown_type"
	codeTooLarge          = "message_too_large"
	codeRateLimited       = "rate_limited"
	codeJoinRequired      = "join_required"
	codeJoinTimeout       = "join_timeout"
	codeAlreadyJoined     = "already_joined"
	codeTokenInvalid      = "token_invalid"
	codeTokenExpired      = "token_expired"
	codeTokenRevoked      = "token_revoked"
	codeInvitationRevoked = "invitation_revoked"
	codeRoomGone          = "room_gone"
	codeRoomMoved         = "room_moved"
	codeUnavailable       = "unavailable"
	codePublishForbidden  = "publish_forbidden"
	codeNegotiation       = "negotiation_failed"
	codeUnknownTrack      = "unknown_track"
	codeRemoved           = "removed"
	codeReplaced          = "replaced"
	codeRoomClosed        = "room_closed"
	codeServerClosing     = "server_closing"
	codeInternal          = "internal_error"
	codeNothingToView     = "nothing_to_view"
	codeForbidden         = "forbidden"
	codeLimit             = "limit_reached"
	codeUnknownPoll       = "unknown_poll"
	codePollState         = "poll_state"
	codeRoomLocked        = "room_locked"
	codeNotFound          = "participant_not_found"
	codeLobbyDenied       = "lobby_denied"
	codeInLobby           = "in_lobby"
	codeRoomFull          = "room_full"
	codeLobbyFull         = "lobby_full"
)

// Error codes of the client's ICE candidates (docs/protocol.md lists them).
const (
	codeCandidateRefused  = "candidate_refused"
	codeTooManyCandidates = "too_many_candidates"
)

// Layer qualities a subscriber may ask for.
const (
	qualityHigh   = "high"
	qualityMedium = "medium"
	qualityLow    = "low"
	qualityOff    = "off"
)

// Field bounds.
const (
	maxLabels      = 16
	maxClientIDLen = 256
	maxCandidate   = 1024
	maxTileSide    = 16384
)

// clientMessage is any message a client sends; Type says which fields count.
type clientMessage struct {
	Type      string                   `json:"type"`
	Token     string                   `json:"token,omitempty"`
	SDP       string                   `json:"sdp,omitempty"`
	Labels    map[string]Label         `json:"labels,omitempty"`
	Candidate *webrtc.ICECandidateInit `json:"candidate,omitempty"`
	Label     Label                    `json:"label,omitempty"`
	Muted     *bool                    `json:"muted,omitempty"`
	TrackID   string                   `json:"track_id,omitempty"`
	Quality   string                   `json:"quality,omitempty"`
	Width     int                      `json:"width,omitempty"`
	Height    int                      `json:"height,omitempty"`
	// Collaboration and moderation.
	Text          string   `json:"text,omitempty"`
	To            string   `json:"to,omitempty"`
	Emoji         string   `json:"emoji,omitempty"`
	Raised        *bool    `json:"raised,omitempty"`
	PollID        string   `json:"poll_id,omitempty"`
	Question      string   `json:"question,omitempty"`
	Options       []string `json:"options,omitempty"`
	Multiple      bool     `json:"multiple,omitempty"`
	Anonymous     bool     `json:"anonymous,omitempty"`
	Choices       []int    `json:"choices,omitempty"`
	ParticipantID string   `json:"participant_id,omitempty"`
	All           bool     `json:"all,omitempty"`
	Role          Role     `json:"role,omitempty"`
	Locked        *bool    `json:"locked,omitempty"`
}

// decodeMessage parses and checks one client message. Errors wrap ErrMessageTooLarge,
// ErrMalformedMessage or ErrUnknownMessageType.
func decodeMessage(data []byte) (clientMessage, error) {
	var m clientMessage
	if len(data) > MaxMessageSize {
		return m, fmt.Errorf("%w: %d bytes", ErrMessageTooLarge, len(data))
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return clientMessage{}, fmt.Errorf("%w: not a JSON object of the protocol", ErrMalformedMessage)
	}
	bad := func(what string) (clientMessage, error) {
		return clientMessage{}, fmt.Errorf("%w: %s", ErrMalformedMessage, what)
	}
	switch m.Type {
	case "":
		return bad("no type")
	case typeJoin:
		if m.Token == "" || len(m.Token) > maxTokenLen {
			return bad("join without a token")
		}
	case typeOffer, typeAnswer:
		if m.SDP == "" {
			return bad(m.Type + " without sdp")
		}
		if m.Type == typeAnswer && m.Labels != nil {
			return bad("labels go with an offer")
		}
		if len(m.Labels) > maxLabels {
			return bad("too many labels")
		}
		for id, l := range m.Labels {
			if id == "" || len(id) > maxClientIDLen || !l.valid() {
				return bad("bad label")
			}
		}
	case typeCandidate:
		if m.Candidate == nil || len(m.Candidate.Candidate) > maxCandidate {
			return bad("candidate missing or too long")
		}
		if m.Candidate.SDPMid != nil && len(*m.Candidate.SDPMid) > maxClientIDLen {
			return bad("candidate mid too long")
		}
	case typeMute:
		if !m.Label.valid() || m.Muted == nil {
			return bad("mute needs a label and muted")
		}
	case typeLayer:
		switch m.Quality {
		case qualityHigh, qualityMedium, qualityLow, qualityOff:
		default:
			return bad("layer quality")
		}
		if m.TrackID == "" || len(m.TrackID) > maxClientIDLen {
			return bad("layer track id")
		}
		if m.Width < 0 || m.Height < 0 || m.Width > maxTileSide || m.Height > maxTileSide {
			return bad("layer tile size")
		}
	case typeChat:
		text, ok := cleanText(m.Text, MaxChatText)
		if !ok {
			return bad(fmt.Sprintf("chat text: 1 to %d bytes of text", MaxChatText))
		}
		if m.To != "" && m.To != toModerators {
			return bad("chat goes to everyone or to \"moderators\"")
		}
		m.Text = text
	case typeReaction:
		if !slices.Contains(reactions, m.Emoji) {
			return bad("unknown reaction")
		}
	case typeHand:
		if m.Raised == nil {
			return bad("hand needs raised")
		}
	case typePollCreate:
		q, ok := cleanText(m.Question, maxQuestion)
		if !ok {
			return bad(fmt.Sprintf("poll question: 1 to %d bytes", maxQuestion))
		}
		m.Question = q
		if len(m.Options) < minPollOptions || len(m.Options) > maxPollOptions {
			return bad(fmt.Sprintf("a poll has %d to %d options", minPollOptions, maxPollOptions))
		}
		for i, o := range m.Options {
			t, ok := cleanText(o, maxOptionText)
			if !ok {
				return bad(fmt.Sprintf("poll option: 1 to %d bytes", maxOptionText))
			}
			m.Options[i] = t
		}
	case typePollOpen, typePollClose, typePollPublish:
		if m.PollID == "" || len(m.PollID) > maxClientIDLen {
			return bad("poll id")
		}
	case typeVote:
		if m.PollID == "" || len(m.PollID) > maxClientIDLen || len(m.Choices) == 0 || len(m.Choices) > maxPollOptions {
			return bad("vote needs a poll id and 1 to 10 choices")
		}
	case typeMuteParticipant:
		if (m.ParticipantID == "") == !m.All {
			return bad("mute_participant needs a participant_id or all")
		}
	case typeLobbyAdmit:
		if (m.ParticipantID == "") == !m.All || len(m.ParticipantID) > maxClientIDLen {
			return bad("lobby_admit needs a participant_id or all")
		}
	case typeSpotlight:
		if len(m.ParticipantID) > maxClientIDLen {
			return bad("spotlight participant_id")
		}
	case typeAskUnmute, typeRemove, typeLowerHand, typeLobbyDeny:
		if m.ParticipantID == "" || len(m.ParticipantID) > maxClientIDLen {
			return bad(m.Type + " needs a participant_id")
		}
	case typeSetRole:
		if m.ParticipantID == "" || len(m.ParticipantID) > maxClientIDLen || !m.Role.valid() {
			return bad("set_role needs a participant_id and a role")
		}
	case typeLock:
		if m.Locked == nil {
			return bad("lock needs locked")
		}
	case typeRestartICE, typeLeave, typeEndSession:
	default:
		return clientMessage{}, fmt.Errorf("%w: %.32q", ErrUnknownMessageType, m.Type)
	}
	return m, nil
}

// LayerRequest is what a subscriber last asked of a video track it receives: a quality
// and the size of the tile it shows the track in. The simulcast layer selection uses it.
type LayerRequest struct {
	// Quality is high, medium, low or off.
	Quality string
	// Width and Height are the tile's size in CSS pixels, 0 when not given.
	Width, Height int
}

// Server messages.

type joinedMessage struct {
	Type          string            `json:"type"`
	ParticipantID string            `json:"participant_id"`
	Name          string            `json:"name"`
	RoomID        string            `json:"room_id"`
	RoomKind      RoomKind          `json:"room_kind"`
	Role          Role              `json:"role"`
	Participants  []ParticipantInfo `json:"participants"`
	ICEServers    []ICEServer       `json:"ice_servers"`
	ActiveSpeaker string            `json:"active_speaker"`
	Chat          []chatEntry       `json:"chat"`
	Polls         []pollMessage     `json:"polls"`
	Hands         []string          `json:"hands"`
	Locked        bool              `json:"locked"`
	Spotlight     string            `json:"spotlight"`
	Recording     bool              `json:"recording"`
	// SessionToken lets this participant come back on a new connection (the join token
	// is good to enter for a few minutes only).
	SessionToken string `json:"session_token,omitempty"`
}

type sdpMessage struct {
	Type string `json:"type"`
	SDP  string `json:"sdp"`
}

type candidateMessage struct {
	Type      string                  `json:"type"`
	Candidate webrtc.ICECandidateInit `json:"candidate"`
}

type tracksMessage struct {
	Type    string         `json:"type"`
	Added   []trackAdded   `json:"added,omitempty"`
	Removed []trackRemoved `json:"removed,omitempty"`
}

type trackAdded struct {
	ParticipantID string `json:"participant_id"`
	TrackInfo
	Mid string `json:"mid"`
}

type trackRemoved struct {
	ParticipantID string `json:"participant_id"`
	TrackID       string `json:"track_id"`
	Mid           string `json:"mid,omitempty"`
}

type activeSpeakerMessage struct {
	Type          string `json:"type"`
	ParticipantID string `json:"participant_id"`
}

type muteMessage struct {
	Type          string `json:"type"`
	ParticipantID string `json:"participant_id"`
	Label         Label  `json:"label"`
	Muted         bool   `json:"muted"`
	// ByModerator is set when a moderator muted the participant.
	ByModerator bool `json:"by_moderator,omitempty"`
}

type reactionMessage struct {
	Type          string `json:"type"`
	ParticipantID string `json:"participant_id"`
	Emoji         string `json:"emoji"`
}

type handsMessage struct {
	Type  string   `json:"type"`
	Queue []string `json:"queue"`
}

type roomStateMessage struct {
	Type   string `json:"type"`
	Locked bool   `json:"locked"`
	// Spotlight is the participant every client shows large, or empty.
	Spotlight string `json:"spotlight"`
}

type unmuteRequestedMessage struct {
	Type string `json:"type"`
	By   string `json:"by"`
}

type participantJoinedMessage struct {
	Type        string          `json:"type"`
	Participant ParticipantInfo `json:"participant"`
}

type participantLeftMessage struct {
	Type          string `json:"type"`
	ParticipantID string `json:"participant_id"`
}

type roleMessage struct {
	Type          string `json:"type"`
	ParticipantID string `json:"participant_id"`
	Role          Role   `json:"role"`
}

type errorMessage struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
	TrackID string `json:"track_id,omitempty"`
}

// encode marshals a server message; they are all plain structs, so it cannot fail.
func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("sfu: encode %T: %v", v, err))
	}
	return b
}

// tokenBucket limits the rate of incoming messages: rate per second, up to burst at once.
type tokenBucket struct {
	rate, burst float64
	tokens      float64
	last        time.Time
}

func newTokenBucket(rate, burst float64, now time.Time) *tokenBucket {
	return &tokenBucket{rate: rate, burst: burst, tokens: burst, last: now}
}

// allow takes a token if there is one at now.
func (b *tokenBucket) allow(now time.Time) bool {
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(b.burst, b.tokens+d.Seconds()*b.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
