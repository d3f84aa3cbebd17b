package sfu

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/pion/webrtc/v4"

	"webinaire/sfu/signal"
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
	// A relay message of an edge node (relay.go).
	Action     string          `json:"action,omitempty"`
	Name       string          `json:"name,omitempty"`
	Message    json.RawMessage `json:"message,omitempty"`
	Invitation string          `json:"invitation,omitempty"`
	// Breakout rooms.
	Rooms    []breakoutSpec `json:"rooms,omitempty"`
	Random   bool           `json:"random,omitempty"`
	Choose   bool           `json:"choose,omitempty"`
	Duration int            `json:"duration,omitempty"` // seconds
	RoomID   string         `json:"room_id,omitempty"`
	// Lang is the language of a caption.
	Lang string `json:"lang,omitempty"`
	// SlidesID and Page name the slides and the page to show; X and Y, from 0 to 1, where
	// the presenter points on it, Hidden when it points nowhere.
	SlidesID string  `json:"slides_id,omitempty"`
	Page     int     `json:"page,omitempty"`
	X        float64 `json:"x,omitempty"`
	Y        float64 `json:"y,omitempty"`
	Hidden   bool    `json:"hidden,omitempty"`
}

// decodeMessage parses and checks one client message. Errors wrap ErrMessageTooLarge,
// ErrMalformedMessage or ErrUnknownMessageType.
func decodeMessage(data []byte) (clientMessage, error) {
	return decodeMessageUpTo(data, signal.MaxMessageSize)
}

// decodeMessageUpTo is decodeMessage for messages of up to limit bytes.
func decodeMessageUpTo(data []byte, limit int) (clientMessage, error) {
	var m clientMessage
	if len(data) > limit {
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
	case signal.TypeJoin:
		if m.Token == "" || len(m.Token) > maxTokenLen {
			return bad("join without a token")
		}
	case signal.TypeOffer, signal.TypeAnswer:
		if m.SDP == "" {
			return bad(m.Type + " without sdp")
		}
		if m.Type == signal.TypeAnswer && m.Labels != nil {
			return bad("labels go with an offer")
		}
		if len(m.Labels) > maxLabels {
			return bad("too many labels")
		}
		for id, l := range m.Labels {
			if id == "" || len(id) > maxClientIDLen || !l.Valid() {
				return bad("bad label")
			}
		}
	case signal.TypeCandidate:
		if m.Candidate == nil || len(m.Candidate.Candidate) > maxCandidate {
			return bad("candidate missing or too long")
		}
		if m.Candidate.SDPMid != nil && len(*m.Candidate.SDPMid) > maxClientIDLen {
			return bad("candidate mid too long")
		}
	case signal.TypeMute:
		if !m.Label.Valid() || m.Muted == nil {
			return bad("mute needs a label and muted")
		}
	case signal.TypeLayer:
		switch m.Quality {
		case signal.QualityHigh, signal.QualityMedium, signal.QualityLow, signal.QualityOff:
		default:
			return bad("layer quality")
		}
		if m.TrackID == "" || len(m.TrackID) > maxClientIDLen {
			return bad("layer track id")
		}
		if m.Width < 0 || m.Height < 0 || m.Width > maxTileSide || m.Height > maxTileSide {
			return bad("layer tile size")
		}
	case signal.TypeChat:
		text, ok := cleanText(m.Text, MaxChatText)
		if !ok {
			return bad(fmt.Sprintf("chat text: 1 to %d bytes of text", MaxChatText))
		}
		if m.To != "" && m.To != toModerators {
			return bad("chat goes to everyone or to \"moderators\"")
		}
		m.Text = text
	case signal.TypeCaption:
		text, ok := cleanCaption(m.Text, m.Lang)
		if !ok {
			return bad(fmt.Sprintf("caption: 1 to %d bytes of text, lang fr or en", MaxCaptionText))
		}
		m.Text = text
	case signal.TypeSlidePointer:
		if m.SlidesID == "" || len(m.SlidesID) > maxClientIDLen || !m.Hidden && (m.X < 0 || m.X > 1 || m.Y < 0 || m.Y > 1) {
			return bad("slide_pointer needs slides_id, and x and y from 0 to 1 unless hidden")
		}
	case signal.TypeSlidePage, signal.TypeSlidesClose:
		if m.SlidesID == "" || len(m.SlidesID) > maxClientIDLen {
			return bad(m.Type + " needs a slides_id")
		}
		if m.Type == signal.TypeSlidePage && (m.Page < 1 || m.Page > MaxSlidesPages) {
			return bad(fmt.Sprintf("slide_page needs a page from 1 to %d", MaxSlidesPages))
		}
	case signal.TypeReaction:
		if !slices.Contains(reactions, m.Emoji) {
			return bad("unknown reaction")
		}
	case signal.TypeHand:
		if m.Raised == nil {
			return bad("hand needs raised")
		}
	case signal.TypePollCreate:
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
	case signal.TypePollOpen, signal.TypePollClose, signal.TypePollPublish:
		if m.PollID == "" || len(m.PollID) > maxClientIDLen {
			return bad("poll id")
		}
	case signal.TypeVote:
		if m.PollID == "" || len(m.PollID) > maxClientIDLen || len(m.Choices) == 0 || len(m.Choices) > maxPollOptions {
			return bad("vote needs a poll id and 1 to 10 choices")
		}
	case signal.TypeMuteParticipant:
		if (m.ParticipantID == "") == !m.All {
			return bad("mute_participant needs a participant_id or all")
		}
	case signal.TypeLobbyAdmit:
		if (m.ParticipantID == "") == !m.All || len(m.ParticipantID) > maxClientIDLen {
			return bad("lobby_admit needs a participant_id or all")
		}
	case signal.TypeSpotlight:
		if len(m.ParticipantID) > maxClientIDLen {
			return bad("spotlight participant_id")
		}
	case signal.TypeAskUnmute, signal.TypeRemove, signal.TypeLowerHand, signal.TypeLobbyDeny:
		if m.ParticipantID == "" || len(m.ParticipantID) > maxClientIDLen {
			return bad(m.Type + " needs a participant_id")
		}
	case signal.TypeSetRole:
		if m.ParticipantID == "" || len(m.ParticipantID) > maxClientIDLen || !m.Role.Valid() {
			return bad("set_role needs a participant_id and a role")
		}
	case signal.TypeLock:
		if m.Locked == nil {
			return bad("lock needs locked")
		}
	case signal.TypeRelay:
		if !validID(m.ParticipantID) || isRelayID(m.ParticipantID) {
			return bad("relay participant_id")
		}
		switch m.Action {
		case relayEnter:
			if !validName(m.Name) || m.Invitation != "" && !validID(m.Invitation) {
				return bad("relay name or invitation")
			}
		case relayLeave:
		case relaySpeak:
			if len(m.Message) == 0 {
				return bad("relay message")
			}
		default:
			return bad("relay action")
		}
	case signal.TypeBreakoutStart, signal.TypeBreakoutAssign, signal.TypeBreakoutJoin, signal.TypeBreakoutBroadcast:
		if what := checkBreakoutMessage(&m); what != "" {
			return bad(what)
		}
	case signal.TypeRestartICE, signal.TypeLeave, signal.TypeEndSession, signal.TypeBreakoutHelp, signal.TypeBreakoutEnd:
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
	// Captions are the last captions of the room.
	Captions []captionMessage `json:"captions"`
	// Slides are the slides presented now; no slides_id when none.
	Slides       slidesMessage `json:"slides"`
	Broadcasting bool          `json:"broadcasting"`
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
	// RID is, for an edge node's relay only, the simulcast layer the added track carries.
	RID string `json:"rid,omitempty"`
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
