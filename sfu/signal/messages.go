package signal

import (
	"encoding/json"
	"time"
)

// The messages the server sends, each with its Type; docs/protocol.md says when. Several
// serve more than one type: SDPMessage is an offer or an answer, NoticeMessage a
// recording or a broadcast.

// JoinedMessage answers a join: who the participant is and the room as it is now.
type JoinedMessage struct {
	Type          string            `json:"type"`
	ParticipantID string            `json:"participant_id"`
	Name          string            `json:"name"`
	RoomID        string            `json:"room_id"`
	RoomKind      RoomKind          `json:"room_kind"`
	Role          Role              `json:"role"`
	Participants  []ParticipantInfo `json:"participants"`
	ICEServers    []ICEServer       `json:"ice_servers"`
	ActiveSpeaker string            `json:"active_speaker"`
	Chat          []ChatMessage     `json:"chat"`
	Polls         []PollMessage     `json:"polls"`
	Hands         []string          `json:"hands"`
	Locked        bool              `json:"locked"`
	Spotlight     string            `json:"spotlight"`
	Recording     bool              `json:"recording"`
	// Captions are the last captions of the room.
	Captions []CaptionMessage `json:"captions"`
	// Slides are the slides presented now; no slides_id when none.
	Slides       SlidesMessage `json:"slides"`
	Broadcasting bool          `json:"broadcasting"`
	// SessionToken lets this participant come back on a new connection (the join token
	// is good to enter for a few minutes only).
	SessionToken string `json:"session_token,omitempty"`
}

// SDPMessage is an offer or an answer of the server.
type SDPMessage struct {
	Type string `json:"type"`
	SDP  string `json:"sdp"`
}

// CandidateMessage is an ICE candidate of the server.
type CandidateMessage struct {
	Type      string    `json:"type"`
	Candidate Candidate `json:"candidate"`
}

// TracksMessage announces the tracks the server's next offer adds and removes.
type TracksMessage struct {
	Type    string         `json:"type"`
	Added   []TrackAdded   `json:"added,omitempty"`
	Removed []TrackRemoved `json:"removed,omitempty"`
}

// TrackAdded is a track the server's next offer adds, in the media section Mid.
type TrackAdded struct {
	ParticipantID string `json:"participant_id"`
	TrackInfo
	Mid string `json:"mid"`
	// RID is, for an edge node's relay only, the simulcast layer the added track carries.
	RID string `json:"rid,omitempty"`
}

// TrackRemoved is a track the server's next offer removes.
type TrackRemoved struct {
	ParticipantID string `json:"participant_id"`
	TrackID       string `json:"track_id"`
	Mid           string `json:"mid,omitempty"`
}

// ActiveSpeakerMessage names the participant speaking now, or nobody.
type ActiveSpeakerMessage struct {
	Type          string `json:"type"`
	ParticipantID string `json:"participant_id"`
}

// MuteMessage tells that a participant muted or unmuted the tracks of a label.
type MuteMessage struct {
	Type          string `json:"type"`
	ParticipantID string `json:"participant_id"`
	Label         Label  `json:"label"`
	Muted         bool   `json:"muted"`
	// ByModerator is set when a moderator muted the participant.
	ByModerator bool `json:"by_moderator,omitempty"`
}

// MutesMessage tells of several mute changes at once; a single one goes as mute.
type MutesMessage struct {
	Type    string        `json:"type"`
	Changes []MuteMessage `json:"changes"`
}

// ReactionMessage is a participant's reaction.
type ReactionMessage struct {
	Type          string `json:"type"`
	ParticipantID string `json:"participant_id"`
	Emoji         string `json:"emoji"`
}

// HandsMessage is the queue of raised hands, first raised first.
type HandsMessage struct {
	Type  string   `json:"type"`
	Queue []string `json:"queue"`
}

// RoomStateMessage is the state of the room a moderator sets.
type RoomStateMessage struct {
	Type   string `json:"type"`
	Locked bool   `json:"locked"`
	// Spotlight is the participant every client shows large, or empty.
	Spotlight string `json:"spotlight"`
}

// UnmuteRequestedMessage is a moderator's request that the participant unmute.
type UnmuteRequestedMessage struct {
	Type string `json:"type"`
	By   string `json:"by"`
}

// ParticipantJoinedMessage tells of a participant who entered the room.
type ParticipantJoinedMessage struct {
	Type        string          `json:"type"`
	Participant ParticipantInfo `json:"participant"`
}

// ParticipantLeftMessage tells of a participant who left the room.
type ParticipantLeftMessage struct {
	Type          string `json:"type"`
	ParticipantID string `json:"participant_id"`
}

// ParticipantsMessage tells of several participants who joined and left at once; a
// single change goes as participant_joined or participant_left.
type ParticipantsMessage struct {
	Type   string            `json:"type"`
	Joined []ParticipantInfo `json:"joined"`
	Left   []string          `json:"left"`
}

// RoleMessage tells a participant's new role.
type RoleMessage struct {
	Type          string `json:"type"`
	ParticipantID string `json:"participant_id"`
	Role          Role   `json:"role"`
}

// ErrorMessage is an error: Code is one of the Code constants, Message is meant for
// people.
type ErrorMessage struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
	TrackID string `json:"track_id,omitempty"`
}

// LobbyWaitMessage is what a waiting participant gets instead of joined.
type LobbyWaitMessage struct {
	Type          string `json:"type"`
	ParticipantID string `json:"participant_id"`
	Name          string `json:"name"`
	RoomID        string `json:"room_id"`
	// Recording tells that the session is being recorded.
	Recording bool `json:"recording"`
	// Broadcasting tells that the session is being broadcast live.
	Broadcasting bool `json:"broadcasting"`
	// SessionToken lets the participant come back on a new connection, as in joined.
	SessionToken string `json:"session_token,omitempty"`
}

// LobbyMessage tells the moderators who waits.
type LobbyMessage struct {
	Type    string       `json:"type"`
	Waiting []LobbyEntry `json:"waiting"`
}

// ChatMessage is a chat message as the room keeps it and sends it.
type ChatMessage struct {
	Type     string    `json:"type"`
	ID       int       `json:"id"`
	From     string    `json:"from"`
	FromName string    `json:"from_name"`
	Text     string    `json:"text"`
	To       string    `json:"to,omitempty"`
	SentAt   time.Time `json:"sent_at"`
}

// Poll states.
const (
	PollDraft  = "draft"
	PollOpen   = "open"
	PollClosed = "closed"
)

// PollMessage is a poll as one participant sees it.
type PollMessage struct {
	Type      string   `json:"type"`
	ID        string   `json:"poll_id"`
	Question  string   `json:"question"`
	Options   []string `json:"options"`
	Multiple  bool     `json:"multiple"`
	Anonymous bool     `json:"anonymous"`
	// State is PollDraft, PollOpen or PollClosed.
	State     string `json:"state"`
	Published bool   `json:"published"`
	// Results are the counts per option: for moderators always, for the others once
	// published.
	Results []int `json:"results,omitempty"`
	// Voters, of a named poll, for moderators: option index to names.
	Voters map[string][]string `json:"voters,omitempty"`
	// MyVote is the participant's own vote.
	MyVote []int `json:"my_vote,omitempty"`
	Voted  int   `json:"voted"`
}

// CaptionMessage is a caption as the participants receive it.
type CaptionMessage struct {
	Type string `json:"type"`
	ID   int    `json:"id"`
	Text string `json:"text"`
	Lang string `json:"lang"`
	// From is the captioner's participant id; empty for an automatic caption.
	From      string    `json:"from,omitempty"`
	Automatic bool      `json:"automatic,omitempty"`
	At        time.Time `json:"at"`
}

// SlidesMessage tells the presented slides: none when SlidesID is empty.
type SlidesMessage struct {
	Type     string `json:"type"`
	SlidesID string `json:"slides_id"`
	Pages    int    `json:"pages,omitempty"`
	Page     int    `json:"page,omitempty"`
	// Presenter is the participant who put the slides in the room.
	Presenter string `json:"presenter,omitempty"`
}

// SlidePointerMessage is where the presenter points on the page shown: X and Y from 0 to
// 1 of its width and height, from the top left; Hidden when it points nowhere.
type SlidePointerMessage struct {
	Type     string  `json:"type"`
	SlidesID string  `json:"slides_id"`
	X        float64 `json:"x"`
	Y        float64 `json:"y"`
	Hidden   bool    `json:"hidden,omitempty"`
}

// NoticeMessage tells the room that a recording or a broadcast started or stopped.
type NoticeMessage struct {
	Type   string `json:"type"`
	Active bool   `json:"active"`
	// Error, for moderators, says why a recording stopped early or why a broadcast's
	// target does not take the stream; Reason is the latter as a code.
	Error  string `json:"error,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// BreakoutsMessage is the state of the breakout rooms as one participant sees it.
type BreakoutsMessage struct {
	Type string `json:"type"`
	// Open tells whether breakout rooms are open; the rest is empty when not.
	Open     bool           `json:"open"`
	MainRoom string         `json:"main_room_id"`
	Rooms    []BreakoutRoom `json:"rooms"`
	Choose   bool           `json:"choose"`
	EndsAt   *time.Time     `json:"ends_at,omitempty"`
	// Assigned is the breakout room of the participant, or empty.
	Assigned string `json:"assigned,omitempty"`
}

// BreakoutRoom is one breakout room; its participants are given to moderators only.
type BreakoutRoom struct {
	ID           string           `json:"room_id"`
	Name         string           `json:"name"`
	Participants []BreakoutMember `json:"participants,omitempty"`
	Count        int              `json:"count"`
}

// BreakoutMember is a participant of a breakout room.
type BreakoutMember struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// BreakoutMoveMessage sends the participant to another room, with the token to join it.
type BreakoutMoveMessage struct {
	Type     string `json:"type"`
	RoomID   string `json:"room_id"`
	RoomName string `json:"room_name,omitempty"`
	// Main tells that the room is the main room.
	Main  bool   `json:"main"`
	Token string `json:"token"`
}

// BreakoutBroadcastMessage is a moderator's message to every breakout room.
type BreakoutBroadcastMessage struct {
	Type     string `json:"type"`
	From     string `json:"from"`
	FromName string `json:"from_name"`
	Text     string `json:"text"`
}

// BreakoutHelpRequestedMessage tells the moderators that a breakout room asks for help.
type BreakoutHelpRequestedMessage struct {
	Type          string `json:"type"`
	ParticipantID string `json:"participant_id"`
	Name          string `json:"name"`
	RoomID        string `json:"room_id"`
	RoomName      string `json:"room_name"`
}

// Actions of relay messages. From an edge node: a viewer there entered the room (enter,
// with its name), left it (leave), or said something (speak, with the message it sent:
// chat, hand, reaction or vote). From the origin: a viewer must go (end, with the error
// code: removed, room_moved...), or a message is for that viewer alone (deliver: its own
// copy of a private message to the moderators).
const (
	RelayEnter   = "enter"
	RelayLeave   = "leave"
	RelaySpeak   = "speak"
	RelayEnd     = "end"
	RelayDeliver = "deliver"
)

// RelayMessage is a relay message, either way between an edge node and the origin.
type RelayMessage struct {
	Type          string `json:"type"`
	Action        string `json:"action"`
	ParticipantID string `json:"participant_id"`
	Name          string `json:"name,omitempty"`
	// Invitation is, in enter, the invitation the viewer came with: revoking it removes
	// the viewer as any of its participants.
	Invitation string          `json:"invitation,omitempty"`
	Message    json.RawMessage `json:"message,omitempty"`
	Code       string          `json:"code,omitempty"`
}

// ServerMessage is any message of the server, as a client reads it: the union of the
// fields of the messages above, each under its JSON name (TestServerMessageHoldsEvery
// keeps them in step). Type says which fields count. It is for reading only.
type ServerMessage struct {
	Type string `json:"type"`
	// Errors.
	Code string `json:"code"`
	// Message is the text of an error; Relayed is the message a relay message carries.
	Message string          `json:"message"`
	Relayed json.RawMessage `json:"-"`
	// The participant and the room.
	ParticipantID string            `json:"participant_id"`
	Name          string            `json:"name"`
	RoomID        string            `json:"room_id"`
	RoomKind      RoomKind          `json:"room_kind"`
	Role          Role              `json:"role"`
	Participants  []ParticipantInfo `json:"participants"`
	ICEServers    []ICEServer       `json:"ice_servers"`
	ActiveSpeaker string            `json:"active_speaker"`
	SessionToken  string            `json:"session_token"`
	Participant   ParticipantInfo   `json:"participant"`
	Joined        []ParticipantInfo `json:"joined"`
	Left          []string          `json:"left"`
	Waiting       []LobbyEntry      `json:"waiting"`
	Locked        bool              `json:"locked"`
	Spotlight     string            `json:"spotlight"`
	Recording     bool              `json:"recording"`
	Broadcasting  bool              `json:"broadcasting"`
	// Negotiation and tracks.
	SDP         string         `json:"sdp"`
	Candidate   *Candidate     `json:"candidate"`
	Added       []TrackAdded   `json:"added"`
	Removed     []TrackRemoved `json:"removed"`
	TrackID     string         `json:"track_id"`
	Label       Label          `json:"label"`
	Muted       bool           `json:"muted"`
	ByModerator bool           `json:"by_moderator"`
	Changes     []MuteMessage  `json:"changes"`
	// Chat, hands, reactions and moderation.
	Chat     []ChatMessage `json:"chat"`
	ID       int           `json:"id"`
	From     string        `json:"from"`
	FromName string        `json:"from_name"`
	Text     string        `json:"text"`
	To       string        `json:"to"`
	SentAt   time.Time     `json:"sent_at"`
	Hands    []string      `json:"hands"`
	Queue    []string      `json:"queue"`
	Emoji    string        `json:"emoji"`
	By       string        `json:"by"`
	// Polls.
	Polls     []PollMessage       `json:"polls"`
	PollID    string              `json:"poll_id"`
	Question  string              `json:"question"`
	Options   []string            `json:"options"`
	Multiple  bool                `json:"multiple"`
	Anonymous bool                `json:"anonymous"`
	State     string              `json:"state"`
	Published bool                `json:"published"`
	Results   []int               `json:"results"`
	Voters    map[string][]string `json:"voters"`
	MyVote    []int               `json:"my_vote"`
	Voted     int                 `json:"voted"`
	// Captions.
	Captions  []CaptionMessage `json:"captions"`
	Lang      string           `json:"lang"`
	Automatic bool             `json:"automatic"`
	At        time.Time        `json:"at"`
	// Slides.
	Slides    SlidesMessage `json:"slides"`
	SlidesID  string        `json:"slides_id"`
	Pages     int           `json:"pages"`
	Page      int           `json:"page"`
	Presenter string        `json:"presenter"`
	X         float64       `json:"x"`
	Y         float64       `json:"y"`
	Hidden    bool          `json:"hidden"`
	// Recording and broadcast.
	Active bool   `json:"active"`
	Error  string `json:"error"`
	Reason string `json:"reason"`
	// Breakout rooms.
	Open     bool           `json:"open"`
	MainRoom string         `json:"main_room_id"`
	Rooms    []BreakoutRoom `json:"rooms"`
	Choose   bool           `json:"choose"`
	EndsAt   *time.Time     `json:"ends_at"`
	Assigned string         `json:"assigned"`
	RoomName string         `json:"room_name"`
	Main     bool           `json:"main"`
	Token    string         `json:"token"`
	// Relay messages, between nodes.
	Action     string `json:"action"`
	Invitation string `json:"invitation"`
}

// UnmarshalJSON reads a server message. The field "message" is text in an error and a
// message in a relay message: the latter goes to Relayed.
func (m *ServerMessage) UnmarshalJSON(data []byte) error {
	type fields ServerMessage // without this method
	var v struct {
		*fields
		Message json.RawMessage `json:"message"`
	}
	v.fields = (*fields)(m)
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	if len(v.Message) == 0 || string(v.Message) == "null" {
		return nil
	}
	if m.Type == TypeRelay {
		m.Relayed = v.Message
		return nil
	}
	return json.Unmarshal(v.Message, &m.Message)
}
