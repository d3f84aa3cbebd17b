package api_test

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // the coturn formula
	"encoding/base64"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"webinaire/api"
	"webinaire/sfu"
)

func TestJoinsCarryTURNCredentials(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		secret := []byte("coturn-static-auth-secret")
		urls := []string{"turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349?transport=tcp"}
		e := setup(t, driver, options{turn: sfu.ExternalTURN{URLs: urls, Secret: secret}})
		owner, anon := e.browser(), e.browser()
		owner.Login(userOwner)
		w := createWebinar(owner, newWebinar)
		inv := createInvitation(owner, w.ID, "attendee")

		for _, j := range []joinAnswer{joinAsOwner(owner, w.ID), joinAsGuest(anon, inv.URL, "Zoé")} {
			require.Len(t, j.ICEServers, 1, "got %d ICE servers, want the TURN server", len(j.ICEServers))
			ice := j.ICEServers[0]
			require.Equal(t, urls, ice.URLs)
			// "<expiry>:<participant>": the credentials last as long as the participant
			// may be in the room, entering at the join token's expiry for the session
			// lifetime (media.token_lifetime), not the few minutes of the join token.
			until := j.ExpiresAt.Add(api.DefaultTokenLifetime)
			require.Equal(t, strconv.FormatInt(until.Unix(), 10)+":"+j.ParticipantID, ice.Username)
			mac := hmac.New(sha1.New, secret)
			mac.Write([]byte(ice.Username))
			require.Equal(t, base64.StdEncoding.EncodeToString(mac.Sum(nil)), ice.Credential)
		}
	})
}
