package sfu

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

func (r Role) valid() bool {
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

func (k RoomKind) valid() bool {
	return k == KindMeeting || k == KindWebinar
}

// canPublish tells whether role may publish in a room of kind k.
func (k RoomKind) canPublish(role Role) bool {
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

func (l Label) valid() bool {
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
