package signal

// Role is what a participant may do in a room.
type Role string

// Roles.
const (
	// RoleModerator publishes and, through the API, manages the room.
	RoleModerator Role = "moderator"
	// RolePresenter publishes.
	RolePresenter Role = "presenter"
	// RoleAttendee publishes in a meeting and only receives in a webinar.
	RoleAttendee Role = "attendee"
	// RoleCaptioner types the live captions; it receives like an attendee and never
	// publishes.
	RoleCaptioner Role = "captioner"
)

// Valid tells whether r is one of the roles.
func (r Role) Valid() bool {
	switch r {
	case RoleModerator, RolePresenter, RoleAttendee, RoleCaptioner:
		return true
	}
	return false
}

// RoomKind is the kind of a room.
type RoomKind string

// Room kinds.
const (
	// KindMeeting is a room where everyone publishes.
	KindMeeting RoomKind = "meeting"
	// KindWebinar is a room where moderators and presenters publish and attendees only
	// receive until they are promoted.
	KindWebinar RoomKind = "webinar"
)

// Valid tells whether k is one of the room kinds.
func (k RoomKind) Valid() bool {
	return k == KindMeeting || k == KindWebinar
}

// CanPublish tells whether role may publish in a room of kind k.
func (k RoomKind) CanPublish(role Role) bool {
	if role == RoleCaptioner {
		return false
	}
	return k == KindMeeting || role == RoleModerator || role == RolePresenter
}

// Label says what a track carries.
type Label string

// Track labels.
const (
	// LabelCamera is a camera's video.
	LabelCamera Label = "camera"
	// LabelMicrophone is a microphone's audio.
	LabelMicrophone Label = "microphone"
	// LabelScreen is a shared screen, video or its audio.
	LabelScreen Label = "screen"
)

// Valid tells whether l is one of the labels.
func (l Label) Valid() bool {
	return l == LabelCamera || l == LabelMicrophone || l == LabelScreen
}

// ParticipantInfo describes a participant of a room as the others see it.
type ParticipantInfo struct {
	// ID is the participant id.
	ID string `json:"id"`
	// Name is the display name.
	Name string `json:"name"`
	// Role is the current role.
	Role Role `json:"role"`
	// Tracks are the tracks the participant publishes to the room.
	Tracks []TrackInfo `json:"tracks"`
}

// TrackInfo describes a published track.
type TrackInfo struct {
	// ID is the server's track id, the msid track id its subscribers see.
	ID string `json:"track_id"`
	// StreamID is the msid stream id its subscribers see: a participant's camera and
	// microphone share one stream, its screen share is another.
	StreamID string `json:"stream_id"`
	// Kind is audio or video.
	Kind string `json:"kind"`
	// Label is camera, microphone or screen.
	Label Label `json:"label"`
	// Muted is the state the publisher last announced.
	Muted bool `json:"muted"`
}

// ICEServer is a STUN or TURN server handed to clients in the joined message, as in
// RTCIceServer.
type ICEServer struct {
	// URLs are stun:, turn: or turns: URLs.
	URLs []string `json:"urls"`
	// Username for TURN.
	Username string `json:"username,omitempty"`
	// Credential for TURN.
	Credential string `json:"credential,omitempty"`
}

// Candidate is an ICE candidate as the browser's RTCIceCandidate.toJSON gives it
// (RTCIceCandidateInit), the field names of which are not snake_case; a field not known
// is null. An empty Candidate ends the candidates of a generation. Its fields are those
// of Pion's webrtc.ICECandidateInit, in the same order, so that either converts to the
// other.
type Candidate struct {
	// Candidate is the candidate line, "candidate:..." without "a=".
	Candidate string `json:"candidate"`
	// SDPMid is the media section's mid.
	SDPMid *string `json:"sdpMid"`
	// SDPMLineIndex is the media section's index.
	SDPMLineIndex *uint16 `json:"sdpMLineIndex"`
	// UsernameFragment is the ICE ufrag of the generation it belongs to.
	UsernameFragment *string `json:"usernameFragment"`
}

// LobbyEntry is a participant waiting in the lobby.
type LobbyEntry struct {
	// ID is the participant id.
	ID string `json:"id"`
	// Name is the display name.
	Name string `json:"name"`
}
