package signal

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Errors of DecodeClient, for one message.
var (
	// ErrMessageTooLarge is a message over its size limit (MaxMessageSize).
	ErrMessageTooLarge = errors.New("signal: message too large")
	// ErrMalformedMessage is a message that is not valid JSON of the expected form.
	ErrMalformedMessage = errors.New("signal: malformed message")
	// ErrUnknownMessageType is a message with a type a client does not send.
	ErrUnknownMessageType = errors.New("signal: unknown message type")
)

// Bounds of the fields of client messages.
const (
	// MaxTokenSize is the largest join token, in bytes.
	MaxTokenSize = 4096
	// MaxLabels is the most labels an offer carries.
	MaxLabels = 16
	// MaxClientIDSize is the longest id a client names: a track, a media section, a poll,
	// slides, a participant.
	MaxClientIDSize = 256
	// MaxCandidateSize is the longest candidate line.
	MaxCandidateSize = 1024
	// MaxTileSide is the largest width or height of a tile a layer request gives.
	MaxTileSide = 16384
	// MaxChatText is the longest chat message, in bytes.
	MaxChatText = 2000
	// MaxCaptionText is the longest caption, in bytes.
	MaxCaptionText = 500
	// MaxSlidesPages is the most pages presented slides may have.
	MaxSlidesPages = 500
	// MaxQuestion and MaxOptionText are the longest question and option of a poll, in
	// bytes; a poll has MinPollOptions to MaxPollOptions options.
	MaxQuestion    = 300
	MaxOptionText  = 200
	MinPollOptions = 2
	MaxPollOptions = 10
	// ToModerators is the recipient of a chat message to the moderators only.
	ToModerators = "moderators"
	// MaxBreakoutRooms is the most breakout rooms a main room may have at once.
	MaxBreakoutRooms = 50
	// MaxBreakoutName is the longest name of a breakout room, in bytes.
	MaxBreakoutName = 64
	// MaxBreakoutDuration is the longest time breakout rooms may be given.
	MaxBreakoutDuration = 8 * time.Hour
	// MaxBreakoutBroadcast is the longest message a moderator broadcasts to every room,
	// in bytes.
	MaxBreakoutBroadcast = 500
)

// reactions are the reactions a participant may send; captionLanguages the languages a
// caption may be in.
var (
	reactions        = [...]string{"👍", "👏", "❤️", "😂", "😮", "🎉"}
	captionLanguages = [...]string{"fr", "en"}
)

// CaptionLanguages are the languages a caption may be in.
func CaptionLanguages() []string { return slices.Clone(captionLanguages[:]) }

// ClientMessage is any message a client sends; Type says which fields count. Relays of
// edge nodes send it to the origin too.
type ClientMessage struct {
	Type      string           `json:"type"`
	Token     string           `json:"token,omitempty"`
	SDP       string           `json:"sdp,omitempty"`
	Labels    map[string]Label `json:"labels,omitempty"`
	Candidate *Candidate       `json:"candidate,omitempty"`
	Label     Label            `json:"label,omitempty"`
	Muted     *bool            `json:"muted,omitempty"`
	TrackID   string           `json:"track_id,omitempty"`
	Quality   string           `json:"quality,omitempty"`
	Width     int              `json:"width,omitempty"`
	Height    int              `json:"height,omitempty"`
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
	// A relay message of an edge node.
	Action     string          `json:"action,omitempty"`
	Name       string          `json:"name,omitempty"`
	Message    json.RawMessage `json:"message,omitempty"`
	Invitation string          `json:"invitation,omitempty"`
	// Breakout rooms.
	Rooms    []BreakoutSpec `json:"rooms,omitempty"`
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

// BreakoutSpec is a breakout room as a moderator asks for it.
type BreakoutSpec struct {
	Name         string   `json:"name"`
	Participants []string `json:"participants,omitempty"`
}

// DecodeClient parses and checks one client message of at most MaxMessageSize bytes.
func DecodeClient(data []byte) (ClientMessage, error) {
	return DecodeClientUpTo(data, MaxMessageSize)
}

// DecodeClientUpTo parses and checks one client message of at most limit bytes: what it
// accepts has the fields its type needs, within their bounds, and its texts trimmed.
// Errors wrap ErrMessageTooLarge, ErrMalformedMessage or ErrUnknownMessageType.
func DecodeClientUpTo(data []byte, limit int) (ClientMessage, error) {
	var m ClientMessage
	if len(data) > limit {
		return m, fmt.Errorf("%w: %d bytes", ErrMessageTooLarge, len(data))
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return ClientMessage{}, fmt.Errorf("%w: not a JSON object of the protocol", ErrMalformedMessage)
	}
	if m.Type == "" {
		return ClientMessage{}, fmt.Errorf("%w: no type", ErrMalformedMessage)
	}
	what, known := m.check()
	if !known {
		return ClientMessage{}, fmt.Errorf("%w: %.32q", ErrUnknownMessageType, m.Type)
	}
	if what != "" {
		return ClientMessage{}, fmt.Errorf("%w: %s", ErrMalformedMessage, what)
	}
	return m, nil
}

// validClientID tells whether id names something of the client: not empty, not too long.
func validClientID(id string) bool { return id != "" && len(id) <= MaxClientIDSize }

// check checks the fields of m for its type and cleans its texts. It returns what is
// wrong, empty when nothing is, and whether a client may send the type at all.
func (m *ClientMessage) check() (what string, known bool) {
	switch m.Type {
	case TypeJoin:
		if m.Token == "" || len(m.Token) > MaxTokenSize {
			return "join without a token", true
		}
	case TypeOffer, TypeAnswer:
		if m.SDP == "" {
			return m.Type + " without sdp", true
		}
		if m.Type == TypeAnswer && m.Labels != nil {
			return "labels go with an offer", true
		}
		if len(m.Labels) > MaxLabels {
			return "too many labels", true
		}
		for id, l := range m.Labels {
			if !validClientID(id) || !l.Valid() {
				return "bad label", true
			}
		}
	case TypeCandidate:
		if m.Candidate == nil || len(m.Candidate.Candidate) > MaxCandidateSize {
			return "candidate missing or too long", true
		}
		if m.Candidate.SDPMid != nil && len(*m.Candidate.SDPMid) > MaxClientIDSize {
			return "candidate mid too long", true
		}
	case TypeMute:
		if !m.Label.Valid() || m.Muted == nil {
			return "mute needs a label and muted", true
		}
	case TypeLayer:
		switch m.Quality {
		case QualityHigh, QualityMedium, QualityLow, QualityOff:
		default:
			return "layer quality", true
		}
		if !validClientID(m.TrackID) {
			return "layer track id", true
		}
		if m.Width < 0 || m.Height < 0 || m.Width > MaxTileSide || m.Height > MaxTileSide {
			return "layer tile size", true
		}
	case TypeChat:
		text, ok := CleanText(m.Text, MaxChatText)
		if !ok {
			return fmt.Sprintf("chat text: 1 to %d bytes of text", MaxChatText), true
		}
		if m.To != "" && m.To != ToModerators {
			return "chat goes to everyone or to \"moderators\"", true
		}
		m.Text = text
	case TypeCaption:
		text, ok := CleanCaption(m.Text, m.Lang)
		if !ok {
			return fmt.Sprintf("caption: 1 to %d bytes of text, lang fr or en", MaxCaptionText), true
		}
		m.Text = text
	case TypeSlidePointer:
		if !validClientID(m.SlidesID) || !m.Hidden && (m.X < 0 || m.X > 1 || m.Y < 0 || m.Y > 1) {
			return "slide_pointer needs slides_id, and x and y from 0 to 1 unless hidden", true
		}
	case TypeSlidePage, TypeSlidesClose:
		if !validClientID(m.SlidesID) {
			return m.Type + " needs a slides_id", true
		}
		if m.Type == TypeSlidePage && (m.Page < 1 || m.Page > MaxSlidesPages) {
			return fmt.Sprintf("slide_page needs a page from 1 to %d", MaxSlidesPages), true
		}
	case TypeReaction:
		if !slices.Contains(reactions[:], m.Emoji) {
			return "unknown reaction", true
		}
	case TypeHand:
		if m.Raised == nil {
			return "hand needs raised", true
		}
	case TypePollCreate:
		return m.checkPoll(), true
	case TypePollOpen, TypePollClose, TypePollPublish:
		if !validClientID(m.PollID) {
			return "poll id", true
		}
	case TypeVote:
		if !validClientID(m.PollID) || len(m.Choices) == 0 || len(m.Choices) > MaxPollOptions {
			return fmt.Sprintf("vote needs a poll id and 1 to %d choices", MaxPollOptions), true
		}
	case TypeMuteParticipant:
		if (m.ParticipantID == "") == !m.All {
			return "mute_participant needs a participant_id or all", true
		}
	case TypeLobbyAdmit:
		if (m.ParticipantID == "") == !m.All || len(m.ParticipantID) > MaxClientIDSize {
			return "lobby_admit needs a participant_id or all", true
		}
	case TypeSpotlight:
		if len(m.ParticipantID) > MaxClientIDSize {
			return "spotlight participant_id", true
		}
	case TypeAskUnmute, TypeRemove, TypeLowerHand, TypeLobbyDeny:
		if !validClientID(m.ParticipantID) {
			return m.Type + " needs a participant_id", true
		}
	case TypeSetRole:
		if !validClientID(m.ParticipantID) || !m.Role.Valid() {
			return "set_role needs a participant_id and a role", true
		}
	case TypeLock:
		if m.Locked == nil {
			return "lock needs locked", true
		}
	case TypeRelay:
		return m.checkRelay(), true
	case TypeBreakoutStart, TypeBreakoutAssign, TypeBreakoutJoin, TypeBreakoutBroadcast:
		return m.checkBreakout(), true
	case TypeRestartICE, TypeLeave, TypeEndSession, TypeBreakoutHelp, TypeBreakoutEnd:
	default:
		return "", false
	}
	return "", true
}

// checkPoll checks and cleans a poll_create message.
func (m *ClientMessage) checkPoll() string {
	q, ok := CleanText(m.Question, MaxQuestion)
	if !ok {
		return fmt.Sprintf("poll question: 1 to %d bytes", MaxQuestion)
	}
	m.Question = q
	if len(m.Options) < MinPollOptions || len(m.Options) > MaxPollOptions {
		return fmt.Sprintf("a poll has %d to %d options", MinPollOptions, MaxPollOptions)
	}
	for i, o := range m.Options {
		t, ok := CleanText(o, MaxOptionText)
		if !ok {
			return fmt.Sprintf("poll option: 1 to %d bytes", MaxOptionText)
		}
		m.Options[i] = t
	}
	return ""
}

// checkRelay checks a relay message of an edge node. Its participant id is a viewer's,
// never a relay's: ValidID refuses the "~" of relays' ids.
func (m *ClientMessage) checkRelay() string {
	if !ValidID(m.ParticipantID) {
		return "relay participant_id"
	}
	switch m.Action {
	case RelayEnter:
		if !ValidName(m.Name) || m.Invitation != "" && !ValidID(m.Invitation) {
			return "relay name or invitation"
		}
	case RelayLeave:
	case RelaySpeak:
		if len(m.Message) == 0 {
			return "relay message"
		}
	default:
		return "relay action"
	}
	return ""
}

// checkBreakout checks and cleans a breakout message.
func (m *ClientMessage) checkBreakout() string {
	switch m.Type {
	case TypeBreakoutStart:
		if len(m.Rooms) < 1 || len(m.Rooms) > MaxBreakoutRooms {
			return fmt.Sprintf("1 to %d breakout rooms", MaxBreakoutRooms)
		}
		if m.Duration < 0 || time.Duration(m.Duration)*time.Second > MaxBreakoutDuration {
			return fmt.Sprintf("duration: 0 to %d seconds", int(MaxBreakoutDuration/time.Second))
		}
		seen := map[string]bool{}
		for i, r := range m.Rooms {
			name, ok := CleanText(r.Name, MaxBreakoutName)
			if !ok || strings.ContainsAny(name, "\n\t") {
				return fmt.Sprintf("breakout room name: 1 to %d bytes on one line", MaxBreakoutName)
			}
			m.Rooms[i].Name = name
			for _, id := range r.Participants {
				if !ValidID(id) || seen[id] {
					return "breakout participants: ids, each in one room"
				}
				seen[id] = true
			}
		}
	case TypeBreakoutAssign:
		if !ValidID(m.ParticipantID) || m.RoomID != "" && !ValidID(m.RoomID) {
			return "breakout_assign needs a participant_id and a room_id"
		}
	case TypeBreakoutJoin:
		if m.RoomID != "" && !ValidID(m.RoomID) {
			return "breakout_join room_id"
		}
	case TypeBreakoutBroadcast:
		text, ok := CleanText(m.Text, MaxBreakoutBroadcast)
		if !ok {
			return fmt.Sprintf("broadcast text: 1 to %d bytes", MaxBreakoutBroadcast)
		}
		m.Text = text
	}
	return ""
}

// CleanText checks and trims a text of a participant: valid UTF-8, no control
// characters but new lines and tabs, at most max bytes, not empty.
func CleanText(s string, max int) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > max || !utf8.ValidString(s) {
		return "", false
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return "", false
		}
	}
	return s, true
}

// CleanCaption checks a caption's text and language: the text becomes one line of at
// most MaxCaptionText bytes, the language is one of CaptionLanguages.
func CleanCaption(text, lang string) (string, bool) {
	text = strings.Join(strings.Fields(text), " ")
	text, ok := CleanText(text, MaxCaptionText)
	return text, ok && slices.Contains(captionLanguages[:], lang)
}

// ValidID tells whether id may be a room or participant id: 1 to 128 characters among
// A-Z a-z 0-9 . _ - (safe in SDP msid tokens, logs and URLs).
func ValidID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// ValidName refuses control characters and invalid UTF-8 in a display name.
func ValidName(name string) bool {
	for _, r := range name {
		if r == 0xFFFD || r < 0x20 || r == 0x7F {
			return false
		}
	}
	return true
}
