package sfu

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestJoinedCarriesTURNCredentials(t *testing.T) {
	s := setupTURN(t)
	stun := ICEServer{URLs: []string{"stun:stun.example.org:3478"}}
	srv := newTestServer(t, func(p *Params) {
		p.Clock = newFakeClock()
		p.WebRTC.ICEServers = []ICEServer{stun}
		p.WebRTC.ICEServersFor = func(participantID string, expiry time.Time) []ICEServer {
			now := s.clock.Now()
			return []ICEServer{s.srv.Credentials(participantID, now, expiry.Sub(now))}
		}
	})
	c := join(t, srv, srv.token(t, "r1", "alice", RoleAttendee, KindMeeting))
	joined := c.waitMsg(func(m serverMsg) bool { return m.Type == typeJoined })
	require.Len(t, joined.ICEServers, 2, "got %v, want the static server and the TURN server", joined.ICEServers)
	require.Equal(t, stun, joined.ICEServers[0])
	ice := joined.ICEServers[1]
	// The credentials expire with the token: "<expiry>:<participant>".
	expiry := srv.clock.Now().Add(time.Hour)
	require.Equal(t, strconv.FormatInt(expiry.Unix(), 10)+":alice", ice.Username)
	require.Equal(t, s.srv.Credentials("alice", s.clock.Now(), time.Hour).URLs, ice.URLs)
	for _, transport := range turnTransports {
		relay, err := turnClient(t, s, transport, ice.Username, ice.Credential).Allocate()
		require.NoError(t, err, "the TURN server refused the credentials of the joined message over %s", transport)
		require.NoError(t, relay.Close())
	}
}
