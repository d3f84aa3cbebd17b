package api_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/stretchr/testify/require"

	"webinaire/sfu"
	"webinaire/store"
)

// streamKeyAnswer is the answer of POST /api/v1/webinars/{id}/stream-key.
type streamKeyAnswer struct {
	StreamKey string `json:"stream_key"`
	WHIPURL   string `json:"whip_url"`
}

// newStreamKey makes a new stream key for webinar id.
func newStreamKey(b *browser, id string) streamKeyAnswer {
	b.T.Helper()
	resp := b.Do("POST", "/api/v1/webinars/"+id+"/stream-key", nil, nil)
	require.Equal(b.T, http.StatusOK, resp.StatusCode)
	require.Equal(b.T, "no-store", resp.Header.Get("Cache-Control"))
	var k streamKeyAnswer
	decode(b.T, resp, &k)
	return k
}

// sdpClient is an encoder's or a player's HTTP client: no cookie, no Origin, and it
// remembers the source port of its last connection.
type sdpClient struct {
	t    *testing.T
	http *http.Client
	port atomic.Int64
}

func newSDPClient(t *testing.T) *sdpClient {
	c := &sdpClient{t: t}
	dialer := &net.Dialer{}
	c.http = &http.Client{Timeout: rtcWait, Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dialer.DialContext(ctx, network, addr)
		if err == nil {
			c.port.Store(int64(conn.LocalAddr().(*net.TCPAddr).Port))
		}
		return conn, err
	}}}
	t.Cleanup(c.http.CloseIdleConnections)
	return c
}

// do sends body to url with the bearer token (none when empty) and content type.
func (c *sdpClient) do(method, url, bearer, contentType, body string) *http.Response {
	c.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, strings.NewReader(body))
	require.NoError(c.t, err)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	require.NoError(c.t, err)
	return resp
}

// offerAll makes pc's offer with every ICE candidate in it, as encoders and players do
// without trickle ICE.
func offerAll(t *testing.T, pc *webrtc.PeerConnection) string {
	t.Helper()
	offer, err := pc.CreateOffer(nil)
	require.NoError(t, err)
	gathered := webrtc.GatheringCompletePromise(pc)
	require.NoError(t, pc.SetLocalDescription(offer))
	select {
	case <-gathered:
	case <-time.After(rtcWait):
		t.Fatal("ICE gathering did not complete")
	}
	return pc.LocalDescription().SDP
}

// obsCodecs are what OBS Studio offers over WHIP: H.264 (constrained baseline,
// packetization mode 1) and Opus.
func obsCodecs(m *webrtc.MediaEngine) error {
	feedback := []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeH264, ClockRate: 90000, RTCPFeedback: feedback,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
	}, PayloadType: 102}, webrtc.RTPCodecTypeVideo); err != nil {
		return err
	}
	return m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1",
	}, PayloadType: 111}, webrtc.RTPCodecTypeAudio)
}

// h264Frame is a synthetic H.264 access unit in Annex B form: SPS, PPS and an IDR slice
// for a keyframe, else one non-IDR slice.
func h264Frame(key bool) []byte {
	start := []byte{0, 0, 0, 1}
	if !key {
		return append(append(start, 0x41), make([]byte, 300)...)
	}
	f := append(append([]byte{}, start...), 0x67, 0x42, 0xe0, 0x1f, 0x8c, 0x8d, 0x40)
	f = append(append(f, start...), 0x68, 0xce, 0x3c, 0x80)
	return append(append(append(f, start...), 0x65), make([]byte, 1800)...)
}

// encoder is a WHIP client as OBS Studio is one: one complete offer, H.264 and Opus sent
// until the test ends.
type encoder struct {
	pc       *webrtc.PeerConnection
	client   *sdpClient
	location string // the session's URL
}

// offerWHIP prepares an encoder's PeerConnection and returns it with its offer.
func offerWHIP(t *testing.T) (*webrtc.PeerConnection, *webrtc.TrackLocalStaticSample, *webrtc.TrackLocalStaticSample, string) {
	t.Helper()
	pc := newPeerConnection(t, obsCodecs)
	t.Cleanup(func() { _ = pc.Close() })
	video, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264}, "video", "obs")
	require.NoError(t, err)
	audio, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", "obs")
	require.NoError(t, err)
	for _, tr := range []webrtc.TrackLocal{video, audio} {
		_, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		require.NoError(t, err)
	}
	return pc, video, audio, offerAll(t, pc)
}

// publishWHIP starts a WHIP session for webinar id with key and streams until the test ends.
func publishWHIP(t *testing.T, e *env, id, key string) *encoder {
	t.Helper()
	pc, video, audio, offer := offerWHIP(t)
	enc := &encoder{pc: pc, client: newSDPClient(t)}
	resp := enc.client.do("POST", e.base+"/api/v1/whip/"+id, key, "application/sdp", offer)
	answer := readBody(t, resp)
	require.Equal(t, http.StatusCreated, resp.StatusCode, answer)
	require.Equal(t, "application/sdp", resp.Header.Get("Content-Type"))
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	loc := resp.Header.Get("Location")
	require.True(t, strings.HasPrefix(loc, "/api/v1/whip/"+id+"/sessions/"), loc)
	require.GreaterOrEqual(t, len(loc)-len("/api/v1/whip/"+id+"/sessions/"), 32, "an unguessable session id")
	enc.location = e.base + loc
	require.NoError(t, pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}))

	stop, done := make(chan struct{}), make(chan struct{})
	go func() { // owned by the test; ends at its cleanup
		defer close(done)
		sendSamples(video, audio, func(n int) []byte { return h264Frame(n%25 == 0) }, stop)
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
	})
	return enc
}

// player is a WHEP client: it receives one video and one audio track and counts their
// packets.
type player struct {
	pc       *webrtc.PeerConnection
	client   *sdpClient
	location string
	resp     *http.Response // the answer to the POST
	body     string
	mu       sync.Mutex
	video    *webrtc.TrackRemote
	packets  map[webrtc.RTPCodecType]*atomic.Int64
}

// watchWHEP posts a WHEP offer with token; the session is set up when the answer is 201.
func watchWHEP(t *testing.T, e *env, token string) *player {
	t.Helper()
	pc := newPeerConnection(t, (*webrtc.MediaEngine).RegisterDefaultCodecs)
	t.Cleanup(func() { _ = pc.Close() })
	pl := &player{pc: pc, client: newSDPClient(t), packets: map[webrtc.RTPCodecType]*atomic.Int64{
		webrtc.RTPCodecTypeVideo: {}, webrtc.RTPCodecTypeAudio: {},
	}}
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		_, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
		require.NoError(t, err)
	}
	pc.OnTrack(func(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if remote.Kind() == webrtc.RTPCodecTypeVideo {
			pl.mu.Lock()
			pl.video = remote
			pl.mu.Unlock()
		}
		n := pl.packets[remote.Kind()]
		buf := make([]byte, 1500)
		for {
			if _, _, err := remote.Read(buf); err != nil {
				return
			}
			n.Add(1)
		}
	})
	pl.resp = pl.client.do("POST", e.base+"/api/v1/whep", token, "application/sdp", offerAll(t, pc))
	pl.body = readBody(t, pl.resp)
	if pl.resp.StatusCode != http.StatusCreated {
		return pl
	}
	require.Equal(t, "application/sdp", pl.resp.Header.Get("Content-Type"))
	loc := pl.resp.Header.Get("Location")
	require.True(t, strings.HasPrefix(loc, "/api/v1/whep/sessions/"), loc)
	pl.location = e.base + loc
	require.NoError(t, pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: pl.body}))
	return pl
}

// roomParticipants lists who is in the webinar's room now.
func roomParticipants(e *env, roomID string) []sfu.ParticipantInfo {
	room, open := e.sfu.Room(roomID)
	if !open {
		return nil
	}
	return room.Participants()
}

// connectionEntries are the connection-log entries of actor since start.
func connectionEntries(t *testing.T, e *env, actor string, start time.Time) []store.ConnectionEvent {
	t.Helper()
	list, err := e.store.ConnectionLog(context.Background(), store.ConnectionFilter{ActorID: actor, From: start, To: time.Now().Add(time.Minute), Limit: 20})
	require.NoError(t, err)
	return list
}

func TestWHIPPublishWatchedThroughWHEP(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		e := setup(t, driver, options{})
		start := time.Now().Add(-time.Second)
		owner, anon := e.browser(), e.browser()
		owner.Login(userOwner)
		me, _ := getMe(owner)
		w := createWebinar(owner, withoutLobby)
		inv := createInvitation(owner, w.ID, "attendee")

		k := newStreamKey(owner, w.ID)
		require.Equal(t, e.base+"/api/v1/whip/"+w.ID, k.WHIPURL)
		require.Len(t, k.StreamKey, 43, "32 random bytes in unpadded base64url")

		// A viewer before anyone publishes.
		early := joinAsGuest(anon, inv.URL, "Zoé Martin")
		pl := watchWHEP(t, e, early.Token)
		require.Equal(t, http.StatusConflict, pl.resp.StatusCode, pl.body)
		require.Contains(t, pl.body, `"code":"nothing_to_view"`)

		enc := publishWHIP(t, e, w.ID, k.StreamKey)
		// The encoder is a presenter named WHIP in the room; its tracks are there once
		// their first packets have come.
		var whip sfu.ParticipantInfo
		require.Eventually(t, func() bool {
			for _, p := range roomParticipants(e, w.RoomID) {
				if p.Name == "WHIP" {
					whip = p
				}
			}
			return len(whip.Tracks) == 2
		}, rtcWait, 10*time.Millisecond, "the encoder's video and audio in the room")
		require.Equal(t, sfu.RolePresenter, whip.Role)

		// A second encoder with the same key is refused while the first streams.
		_, _, _, offer := offerWHIP(t)
		resp := newSDPClient(t).do("POST", k.WHIPURL, k.StreamKey, "application/sdp", offer)
		require.Equal(t, "stream_busy", problemOf(t, resp).Code)

		// A guest watches through WHEP: the encoder's H.264 video and Opus audio.
		gj := joinAsGuest(anon, inv.URL, "Zoé Martin")
		viewer := watchWHEP(t, e, gj.Token)
		require.Equal(t, http.StatusCreated, viewer.resp.StatusCode, viewer.body)
		require.Eventually(t, func() bool {
			return viewer.packets[webrtc.RTPCodecTypeVideo].Load() >= 20 && viewer.packets[webrtc.RTPCodecTypeAudio].Load() >= 20
		}, rtcWait, 10*time.Millisecond, "the WHEP player receives the WHIP stream")
		viewer.mu.Lock()
		require.Equal(t, webrtc.MimeTypeH264, viewer.video.Codec().MimeType)
		viewer.mu.Unlock()
		require.Contains(t, ids(roomParticipants(e, w.RoomID)), gj.ParticipantID)

		// The WHEP DELETE wants the token that started the session.
		resp = viewer.client.do("DELETE", viewer.location, gj.Token+"x", "", "")
		require.Equal(t, "invalid_token", problemOf(t, resp).Code)
		resp = viewer.client.do("DELETE", viewer.location, gj.Token, "", "")
		readBody(t, resp)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.NotContains(t, ids(roomParticipants(e, w.RoomID)), gj.ParticipantID)
		resp = viewer.client.do("DELETE", viewer.location, gj.Token, "", "")
		require.Equal(t, http.StatusNotFound, problemOf(t, resp).Status, "ended")

		// The WHIP DELETE, with the stream key.
		resp = enc.client.do("DELETE", enc.location, "another key", "", "")
		require.Equal(t, "invalid_token", problemOf(t, resp).Code)
		require.Contains(t, ids(roomParticipants(e, w.RoomID)), whip.ID)
		resp = enc.client.do("DELETE", enc.location, k.StreamKey, "", "")
		readBody(t, resp)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.NotContains(t, ids(roomParticipants(e, w.RoomID)), whip.ID, "the encoder left the room")
		resp = enc.client.do("DELETE", enc.location, k.StreamKey, "", "")
		require.Equal(t, http.StatusNotFound, problemOf(t, resp).Status)

		// The connection log: the encoder under the organizer, the player under its guest
		// id, each with the address and port of its POST.
		ol := connectionEntries(t, e, me.ID, start)
		require.Len(t, ol, 3, "the owner's login, the encoder's join and leave")
		for i, action := range []string{"join", "leave"} {
			got := ol[1+i]
			require.Equal(t, store.ConnectionEvent{
				ID: got.ID, At: got.At, ActorKind: "organizer", ActorID: me.ID, IP: "127.0.0.1", Port: int(enc.client.port.Load()),
				Action: action, WebinarID: w.ID, Protocol: "whip",
			}, got)
		}
		gl := connectionEntries(t, e, gj.ParticipantID, start)
		require.Len(t, gl, 2)
		for i, action := range []string{"join", "leave"} {
			got := gl[i]
			require.Equal(t, store.ConnectionEvent{
				ID: got.ID, At: got.At, ActorKind: "guest", ActorID: gj.ParticipantID, DisplayName: "Zoé Martin",
				IP: "127.0.0.1", Port: int(viewer.client.port.Load()), Action: action, WebinarID: w.ID, Protocol: "whep",
			}, got)
		}

		logs := e.logs.String()
		require.NotContains(t, logs, k.StreamKey, "a stream key never reaches the log")
		require.NotContains(t, logs, gj.Token[:20], "nor a join token")

		audit, err := e.store.AuditEvents(context.Background(), 20)
		require.NoError(t, err)
		var actions []string
		for _, a := range audit {
			actions = append(actions, a.Action)
			require.NotContains(t, a.Detail, k.StreamKey)
		}
		require.Contains(t, actions, "stream_key.create")
	})
}

func TestStreamKeyReplacedOrDeletedEndsTheStream(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		e := setup(t, driver, options{})
		owner := e.browser()
		owner.Login(userOwner)
		w := createWebinar(owner, withoutLobby)
		old := newStreamKey(owner, w.ID)
		publishWHIP(t, e, w.ID, old.StreamKey)
		require.Len(t, roomParticipants(e, w.RoomID), 1)

		// A new key: the stream of the old one ends, and the old key is dead.
		k := newStreamKey(owner, w.ID)
		require.NotEqual(t, old.StreamKey, k.StreamKey)
		require.Empty(t, roomParticipants(e, w.RoomID), "the old key's stream ended")
		_, _, _, offer := offerWHIP(t)
		resp := newSDPClient(t).do("POST", k.WHIPURL, old.StreamKey, "application/sdp", offer)
		require.Equal(t, "invalid_token", problemOf(t, resp).Code)
		publishWHIP(t, e, w.ID, k.StreamKey)
		require.Len(t, roomParticipants(e, w.RoomID), 1, "the new key streams")

		// No key: WHIP is off.
		resp = owner.Do("DELETE", "/api/v1/webinars/"+w.ID+"/stream-key", nil, nil)
		readBody(t, resp)
		require.Equal(t, http.StatusNoContent, resp.StatusCode)
		require.Empty(t, roomParticipants(e, w.RoomID), "the stream ended with its key")
		_, _, _, offer = offerWHIP(t)
		resp = newSDPClient(t).do("POST", k.WHIPURL, k.StreamKey, "application/sdp", offer)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		require.Equal(t, `Bearer realm="webinaire", error="invalid_token"`, resp.Header.Get("WWW-Authenticate"))
		require.Equal(t, "invalid_token", problemOf(t, resp).Code)

		audit, err := e.store.AuditEvents(context.Background(), 20)
		require.NoError(t, err)
		var actions []string
		for _, a := range audit {
			actions = append(actions, a.Action)
		}
		require.Subset(t, actions, []string{"stream_key.create", "stream_key.delete"})

		// Deleting the webinar ends its stream, its key gone with it.
		k = newStreamKey(owner, w.ID)
		publishWHIP(t, e, w.ID, k.StreamKey)
		require.Len(t, roomParticipants(e, w.RoomID), 1)
		resp = owner.Do("DELETE", "/api/v1/webinars/"+w.ID, nil, nil)
		readBody(t, resp)
		require.Equal(t, http.StatusNoContent, resp.StatusCode)
		require.Empty(t, roomParticipants(e, w.RoomID))
	})
}

func TestWHIPEndsWithTheRightToStream(t *testing.T) {
	e := setup(t, "sqlite", options{})
	owner, admin := e.browser(), e.browser()
	owner.Login(userOwner)
	admin.Login(userAdmin)
	me, _ := getMe(owner)
	w := createWebinar(owner, withoutLobby)
	k := newStreamKey(owner, w.ID)
	publishWHIP(t, e, w.ID, k.StreamKey)
	require.Len(t, roomParticipants(e, w.RoomID), 1)

	// Restricting the organizer (GDPR art. 18) ends the stream and refuses the key.
	resp := admin.Do("POST", "/api/v1/admin/organizers/"+me.ID+"/restriction", nil, nil)
	readBody(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Empty(t, roomParticipants(e, w.RoomID), "the stream ended with the restriction")
	_, _, _, offer := offerWHIP(t)
	resp = newSDPClient(t).do("POST", k.WHIPURL, k.StreamKey, "application/sdp", offer)
	require.Equal(t, "restricted", problemOf(t, resp).Code, "no use of a restricted account, its stream key included")
	require.Empty(t, roomParticipants(e, w.RoomID))

	resp = admin.Do("DELETE", "/api/v1/admin/organizers/"+me.ID+"/restriction", nil, nil)
	readBody(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	publishWHIP(t, e, w.ID, k.StreamKey)
	require.Len(t, roomParticipants(e, w.RoomID), 1, "the key works again once the restriction is lifted")

	// Erasing the account ends the stream: the webinar and its key are gone.
	resp = owner.Do("DELETE", "/api/v1/me", nil, nil)
	readBody(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Empty(t, roomParticipants(e, w.RoomID))
	_, _, _, offer = offerWHIP(t)
	resp = newSDPClient(t).do("POST", k.WHIPURL, k.StreamKey, "application/sdp", offer)
	require.Equal(t, "invalid_token", problemOf(t, resp).Code)
}

func TestWHIPAndWHEPRefusals(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		e := setup(t, driver, options{})
		owner, anon := e.browser(), e.browser()
		owner.Login(userOwner)
		w := createWebinar(owner, withoutLobby)
		keyless := createWebinar(owner, newWebinar)
		k := newStreamKey(owner, w.ID)
		inv := createInvitation(owner, w.ID, "attendee")
		gj := joinAsGuest(anon, inv.URL, "Zoé Martin")
		waiting := joinAsGuest(anon, createInvitation(owner, keyless.ID, "attendee").URL, "Zoé Martin")
		_, _, _, offer := offerWHIP(t)
		whip := "/api/v1/whip/" + w.ID
		c := newSDPClient(t)

		for _, tc := range []struct {
			name, method, path, bearer, contentType, body string
			headers                                       map[string]string
			status                                        int
			code                                          string
		}{
			{"no key", "POST", whip, "", "application/sdp", offer, nil, 401, "invalid_token"},
			{"wrong key", "POST", whip, "not-the-key", "application/sdp", offer, nil, 401, "invalid_token"},
			{"another scheme", "POST", whip, "", "application/sdp", offer, map[string]string{"Authorization": "Basic " + k.StreamKey}, 401, "invalid_token"},
			{"a webinar without a key", "POST", "/api/v1/whip/" + keyless.ID, k.StreamKey, "application/sdp", offer, nil, 401, "invalid_token"},
			{"an unknown webinar", "POST", "/api/v1/whip/00000000-0000-4000-8000-000000000000", k.StreamKey, "application/sdp", offer, nil, 401, "invalid_token"},
			{"not a webinar id", "POST", "/api/v1/whip/nope", k.StreamKey, "application/sdp", offer, nil, 401, "invalid_token"},
			{"a join token as stream key", "POST", whip, gj.Token, "application/sdp", offer, nil, 401, "invalid_token"},
			{"wrong content type", "POST", whip, k.StreamKey, "application/json", `{"sdp":"v=0"}`, nil, 415, "unsupported_media_type"},
			{"no content type", "POST", whip, k.StreamKey, "", offer, nil, 415, "unsupported_media_type"},
			{"malformed SDP", "POST", whip, k.StreamKey, "application/sdp", "v=0\r\nthis is not an offer\r\n", nil, 400, "offer_refused"},
			{"empty offer", "POST", whip, k.StreamKey, "application/sdp", "", nil, 400, "offer_refused"},
			{"oversized offer", "POST", whip, k.StreamKey, "application/sdp", offer + "a=x-padding:" + strings.Repeat("a", 40<<10) + "\r\n", nil, 413, "body_too_large"},
			{"a browser on another site", "POST", whip, k.StreamKey, "application/sdp", offer, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, "cross_origin"},
			{"trickle ICE", "PATCH", whip + "/sessions/abc", k.StreamKey, "application/trickle-ice-sdpfrag", "a=candidate:1 1 udp 1 127.0.0.1 9 typ host\r\n", nil, 405, "method_not_allowed"},
			{"unknown WHIP session", "DELETE", whip + "/sessions/abc", k.StreamKey, "", "", nil, 404, "not_found"},
			{"WHIP DELETE without key", "DELETE", whip + "/sessions/abc", "", "", "", nil, 401, "invalid_token"},
			{"WHEP without token", "POST", "/api/v1/whep", "", "application/sdp", offer, nil, 401, "invalid_token"},
			{"WHEP with a bad token", "POST", "/api/v1/whep", gj.Token[:len(gj.Token)-2], "application/sdp", offer, nil, 401, "invalid_token"},
			{"WHEP with a stream key", "POST", "/api/v1/whep", k.StreamKey, "application/sdp", offer, nil, 401, "invalid_token"},
			{"WHEP wrong content type", "POST", "/api/v1/whep", gj.Token, "text/plain", offer, nil, 415, "unsupported_media_type"},
			{"WHEP malformed SDP", "POST", "/api/v1/whep", gj.Token, "application/sdp", "hello", nil, 400, "offer_refused"},
			{"WHEP for an attendee of a lobby", "POST", "/api/v1/whep", waiting.Token, "application/sdp", offer, nil, 403, "lobby_required"},
			{"unknown WHEP session", "DELETE", "/api/v1/whep/sessions/abc", gj.Token, "", "", nil, 404, "not_found"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				req, err := http.NewRequest(tc.method, e.base+tc.path, strings.NewReader(tc.body))
				require.NoError(t, err)
				if tc.bearer != "" {
					req.Header.Set("Authorization", "Bearer "+tc.bearer)
				}
				if tc.contentType != "" {
					req.Header.Set("Content-Type", tc.contentType)
				}
				for name, v := range tc.headers {
					req.Header.Set(name, v)
				}
				resp, err := c.http.Do(req)
				require.NoError(t, err)
				switch tc.status {
				case http.StatusUnauthorized:
					require.True(t, strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer "), resp.Header.Get("WWW-Authenticate"))
				case http.StatusMethodNotAllowed:
					require.Equal(t, "DELETE", resp.Header.Get("Allow"), "no trickle ICE: only DELETE on a session")
				}
				p := problemOf(t, resp)
				require.Equal(t, tc.status, p.Status)
				require.Equal(t, tc.code, p.Code)
			})
		}
		require.Empty(t, roomParticipants(e, w.RoomID), "no refused request left anyone in the room")
		require.NotContains(t, e.logs.String(), k.StreamKey)
	})
}

func ids(ps []sfu.ParticipantInfo) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

func TestClosingTheSFUEndsWHIPSessions(t *testing.T) {
	e := setup(t, "sqlite", options{})
	start := time.Now().Add(-time.Second)
	owner := e.browser()
	owner.Login(userOwner)
	me, _ := getMe(owner)
	w := createWebinar(owner, newWebinar)
	k := newStreamKey(owner, w.ID)
	enc := publishWHIP(t, e, w.ID, k.StreamKey)

	require.NoError(t, e.sfu.Close(), "what serve does at shutdown")
	// Close returns once the sessions have ended, their leaves written.
	var actions []string
	for _, entry := range connectionEntries(t, e, me.ID, start) {
		actions = append(actions, entry.Action+"/"+entry.Protocol)
	}
	require.Equal(t, []string{"login/http", "join/whip", "leave/whip"}, actions)
	resp := enc.client.do("DELETE", enc.location, k.StreamKey, "", "")
	require.Equal(t, http.StatusNotFound, problemOf(t, resp).Status, "the session has ended")

	_, _, _, offer := offerWHIP(t)
	resp = enc.client.do("POST", k.WHIPURL, k.StreamKey, "application/sdp", offer)
	require.Equal(t, "media_unavailable", problemOf(t, resp).Code, "a closed SFU takes no new session")
	require.Equal(t, "5", resp.Header.Get("Retry-After"))
}

// newPeerConnection is a client's PeerConnection on loopback UDP only, with the codecs
// register puts in its media engine and Pion's default interceptors.
func newPeerConnection(t *testing.T, register func(*webrtc.MediaEngine) error) *webrtc.PeerConnection {
	t.Helper()
	m := &webrtc.MediaEngine{}
	require.NoError(t, register(m))
	ir := &interceptor.Registry{}
	require.NoError(t, webrtc.RegisterDefaultInterceptors(m, ir))
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	require.NoError(t, err)
	return pc
}

// sendSamples sends a video frame, frame(n) for the n-th, and an Opus frame every 20 ms
// until stop is closed.
func sendSamples(video, audio *webrtc.TrackLocalStaticSample, frame func(n int) []byte, stop <-chan struct{}) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		_ = video.WriteSample(media.Sample{Data: frame(n), Duration: 20 * time.Millisecond})
		_ = audio.WriteSample(media.Sample{Data: []byte{0xf8, 0xff, 0xfe}, Duration: 20 * time.Millisecond})
	}
}

// vp8Frame is a synthetic VP8 frame, a keyframe or not, that the SFU recognises as such.
func vp8Frame(key bool) []byte {
	if key {
		f := make([]byte, 1800)
		copy(f, []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00})
		return f
	}
	f := make([]byte, 300)
	copy(f, []byte{0x11, 0x02, 0x00})
	return f
}
