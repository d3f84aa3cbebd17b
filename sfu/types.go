package sfu

import "webinaire/sfu/signal"

// The protocol's value types, declared in package signal, under the names callers of the
// server know them by.
type (
	// Role is what a participant may do in a room.
	Role = signal.Role
	// RoomKind is the kind of a room.
	RoomKind = signal.RoomKind
	// Label says what a track carries.
	Label = signal.Label
	// ParticipantInfo describes a participant of a room as the others see it.
	ParticipantInfo = signal.ParticipantInfo
	// TrackInfo describes a published track.
	TrackInfo = signal.TrackInfo
	// ICEServer is a STUN or TURN server handed to clients in the joined message.
	ICEServer = signal.ICEServer
	// LobbyEntry is a participant waiting in the lobby.
	LobbyEntry = signal.LobbyEntry
)

// Roles.
const (
	// RoleModerator publishes and, through the API, manages the room.
	RoleModerator = signal.RoleModerator
	// RolePresenter publishes.
	RolePresenter = signal.RolePresenter
	// RoleAttendee publishes in a meeting and only receives in a webinar.
	RoleAttendee = signal.RoleAttendee
	// RoleCaptioner types the live captions and never publishes.
	RoleCaptioner = signal.RoleCaptioner
)

// Room kinds.
const (
	// KindMeeting is a room where everyone publishes.
	KindMeeting = signal.KindMeeting
	// KindWebinar is a room where attendees only receive until they are promoted.
	KindWebinar = signal.KindWebinar
)

// Track labels.
const (
	// LabelCamera is a camera's video.
	LabelCamera = signal.LabelCamera
	// LabelMicrophone is a microphone's audio.
	LabelMicrophone = signal.LabelMicrophone
	// LabelScreen is a shared screen, video or its audio.
	LabelScreen = signal.LabelScreen
)
