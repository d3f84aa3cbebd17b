package signal

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCanPublish(t *testing.T) {
	tests := []struct {
		kind RoomKind
		role Role
		want bool
	}{
		{KindMeeting, RoleModerator, true},
		{KindMeeting, RolePresenter, true},
		{KindMeeting, RoleAttendee, true},
		{KindMeeting, RoleCaptioner, false},
		{KindWebinar, RoleModerator, true},
		{KindWebinar, RolePresenter, true},
		{KindWebinar, RoleAttendee, false},
		{KindWebinar, RoleCaptioner, false},
	}
	for _, tt := range tests {
		got := tt.kind.CanPublish(tt.role)
		require.Equal(t, tt.want, got, "%s in a %s: got %v, want %v", tt.role, tt.kind, got, tt.want)
	}
}

func TestValid(t *testing.T) {
	for _, r := range []Role{RoleModerator, RolePresenter, RoleAttendee, RoleCaptioner} {
		require.True(t, r.Valid(), "role %q", r)
	}
	for _, k := range []RoomKind{KindMeeting, KindWebinar} {
		require.True(t, k.Valid(), "kind %q", k)
	}
	for _, l := range []Label{LabelCamera, LabelMicrophone, LabelScreen} {
		require.True(t, l.Valid(), "label %q", l)
	}
	require.False(t, Role("admin").Valid())
	require.False(t, Role("").Valid())
	require.False(t, RoomKind("party").Valid())
	require.False(t, Label("webcam").Valid())
}

// TestCandidateIsTheBrowsers keeps Candidate the JSON of RTCIceCandidate.toJSON: the
// browser's field names, null for what is not known.
func TestCandidateIsTheBrowsers(t *testing.T) {
	mid, index := "0", uint16(0)
	b, err := json.Marshal(Candidate{Candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host", SDPMid: &mid, SDPMLineIndex: &index})
	require.NoError(t, err)
	require.JSONEq(t, `{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":null}`, string(b))
}
