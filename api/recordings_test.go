package api_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/recording/recordingtest"
	"webinaire/sfu/signal"
	"webinaire/store"
)

type recordingOut struct {
	ID        string    `json:"id"`
	WebinarID string    `json:"webinar_id"`
	State     string    `json:"state"`
	SizeBytes int64     `json:"size_bytes"`
	SHA256    string    `json:"sha256"`
	ExpiresAt time.Time `json:"expires_at"`
	Error     string    `json:"error"`
	Files     []string  `json:"files"`
	// FilesMissingAt is set once the retention sweep found the files gone.
	FilesMissingAt *time.Time `json:"files_missing_at"`
}

func listRecordings(b *browser, webinarID string) []recordingOut {
	b.T.Helper()
	resp := b.Do("GET", "/api/v1/webinars/"+webinarID+"/recordings", nil, nil)
	require.Equal(b.T, http.StatusOK, resp.StatusCode)
	var out struct {
		Items []recordingOut `json:"items"`
	}
	decode(b.T, resp, &out)
	return out.Items
}

// TestRecordingAMeetingFromStartToDeletion records a meeting with live captions, plays,
// downloads and deletes the recording, with the files on local disk and in an S3 bucket:
// the captions are a file of the recording, and nothing of them remains after deletion.
func TestRecordingAMeetingFromStartToDeletion(t *testing.T) {
	recordingtest.Tool(t, "ffprobe")
	for _, storage := range []string{"folder", "s3"} {
		t.Run(storage, func(t *testing.T) { recordAMeeting(t, storage == "s3") })
	}
}

func recordAMeeting(t *testing.T, s3 bool) {
	e := setup(t, "sqlite", options{s3: s3})
	owner, other, anon := e.browser(), e.browser(), e.browser()
	owner.Login(userOwner)
	other.Login(userOther)
	w := createWebinar(owner, withoutLobby)
	noRec := createWebinar(owner, map[string]any{"title": "Not recorded", "kind": "meeting", "starts_at": "2026-12-03T14:00:00Z", "duration_minutes": 30})

	resp := owner.Do("POST", "/api/v1/webinars/"+w.ID+"/recording", nil, nil)
	require.Equal(t, http.StatusConflict, resp.StatusCode)
	require.Equal(t, "room_not_open", problemOf(t, resp).Code)
	resp = owner.Do("POST", "/api/v1/webinars/"+noRec.ID+"/recording", nil, nil)
	require.Equal(t, "recording_not_allowed", problemOf(t, resp).Code)

	oj := joinAsOwner(owner, w.ID)
	o := connectRTC(t, e, oj)
	o.waitJoined()
	o.publish()
	inv := createInvitation(owner, w.ID, "attendee")
	g := connectRTC(t, e, joinAsGuest(anon, inv.URL, "Zoé Martin"))
	g.waitJoined()
	require.NoError(t, g.Receive(t.Context()))

	resp = other.Do("POST", "/api/v1/webinars/"+w.ID+"/recording", nil, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "another organizer's webinar")
	resp = owner.Do("POST", "/api/v1/webinars/"+w.ID+"/recording", nil, nil)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var started recordingOut
	decode(t, resp, &started)
	require.Equal(t, "recording", started.State)
	// The webinar's date plus the policy's 12 months.
	require.Equal(t, time.Date(2027, 12, 3, 13, 0, 0, 0, time.UTC), started.ExpiresAt)
	g.waitMsg(func(m signal.ServerMessage) bool { return m.Type == "recording" && m.Active })
	resp = owner.Do("POST", "/api/v1/webinars/"+w.ID+"/recording", nil, nil)
	require.Equal(t, "recording_active", problemOf(t, resp).Code)
	late := connectRTC(t, e, joinAsGuest(anon, inv.URL, "Late"))
	require.True(t, late.waitJoined().Recording, "someone joining is told at once")

	// A captioner's line, kept by the recording.
	const captionMarker = "zq7-caption-marker-51d0"
	capt := connectRTC(t, e, joinAsGuest(anon, createInvitation(owner, w.ID, "captioner").URL, "Claire"))
	require.Equal(t, "captioner", string(capt.waitJoined().Role))
	require.NoError(t, capt.Send(t.Context(), map[string]any{"type": "caption", "text": "Bonjour " + captionMarker, "lang": "fr"}))
	g.waitMsg(func(m signal.ServerMessage) bool { return m.Type == "caption" && m.Text == "Bonjour "+captionMarker })

	// Some seconds of media, then stop.
	g.waitMedia(oj.ParticipantID, 200)
	resp = owner.Do("DELETE", "/api/v1/webinars/"+w.ID+"/recording", nil, nil)
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	g.waitMsg(func(m signal.ServerMessage) bool { return m.Type == "recording" && !m.Active })
	var rec recordingOut
	require.Eventually(t, func() bool {
		list := listRecordings(owner, w.ID)
		rec = list[0]
		return len(list) == 1 && rec.State != "recording" && rec.State != "finalizing"
	}, 30*time.Second, 50*time.Millisecond)
	require.Equal(t, "ready", rec.State, rec.Error)
	require.Equal(t, []string{"replay.webm", "captions.vtt"}, rec.Files, "one replay: the owner's camera, the microphone mixed, and its captions")
	require.Positive(t, rec.SizeBytes)
	require.Len(t, rec.SHA256, 64)
	dir, err := e.recordings.Dir(rec.ID)
	require.NoError(t, err)
	if s3 {
		require.ElementsMatch(t, []string{rec.ID + "/manifest.json", rec.ID + "/replay.webm", rec.ID + "/captions.vtt"}, e.bucket.keys(t, rec.ID+"/"), "stored in the bucket")
		require.NoDirExists(t, dir, "the local folder is freed once uploaded")
	}

	resp = owner.Do("GET", "/api/v1/recordings/"+rec.ID+"/files/captions.vtt", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/vtt; charset=utf-8", resp.Header.Get("Content-Type"))
	vtt, _ := io.ReadAll(resp.Body)
	require.Contains(t, string(vtt), "<lang fr>Bonjour "+captionMarker+"</lang>")

	// Played with range requests, downloaded whole; checked by ffprobe.
	for _, name := range rec.Files[:1] {
		path := "/api/v1/recordings/" + rec.ID + "/files/" + name
		resp := owner.Do("GET", path, nil, map[string]string{"Range": "bytes=0-99"})
		require.Equal(t, http.StatusPartialContent, resp.StatusCode)
		part, _ := io.ReadAll(resp.Body)
		require.Len(t, part, 100)
		resp = owner.Do("GET", path, nil, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "video/webm", resp.Header.Get("Content-Type"))
		whole, _ := io.ReadAll(resp.Body)
		file := filepath.Join(t.TempDir(), name)
		require.NoError(t, os.WriteFile(file, whole, 0o600))
		p := recordingtest.Read(t, file)
		var codecs []string
		for _, st := range p.Streams {
			codecs = append(codecs, st.CodecName)
		}
		require.ElementsMatch(t, []string{"vp8", "opus", "webvtt"}, codecs)
		require.Greater(t, p.Duration, 1.0, "finalized files have a duration")

		resp = other.Do("GET", path, nil, nil)
		require.Equal(t, http.StatusNotFound, resp.StatusCode, "another organizer gets nothing")
		resp = anon.Do("GET", path, nil, nil)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	}

	// Deleted by its owner: files, row, and a ledger entry.
	resp = other.Do("DELETE", "/api/v1/recordings/"+rec.ID, nil, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	if !s3 {
		require.DirExists(t, dir)
	}
	resp = owner.Do("DELETE", "/api/v1/recordings/"+rec.ID, nil, nil)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.NoDirExists(t, dir)
	if s3 {
		require.Empty(t, e.bucket.keys(t, rec.ID+"/"), "no object left in the bucket")
	}
	require.False(t, findInFiles(t, e.recordingsRoot, captionMarker), "no file holds the captions")
	require.False(t, findInDatabase(t, e, captionMarker), "no row holds the captions")
	require.Empty(t, listRecordings(owner, w.ID))
	resp = owner.Do("GET", "/api/v1/admin/ledger", nil, nil)
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "the ledger is for administrators")
	entries, err := e.store.LedgerEntries(t.Context(), 0, 100)
	require.NoError(t, err)
	var rules []string
	for _, en := range entries {
		if en.Category == "recordings" {
			rules = append(rules, en.Rule)
		}
	}
	require.Equal(t, []string{"deleted by the organizer"}, rules)
}

// shortRecording records a few seconds of the owner's camera and microphone in webinar
// id's room, as a guest with inv sees them go by, and returns the recording once ready.
func shortRecording(t *testing.T, e *env, owner *browser, id string, inv invitation) recordingOut {
	t.Helper()
	oj := joinAsOwner(owner, id)
	o := connectRTC(t, e, oj)
	o.waitJoined()
	o.publish()
	g := connectRTC(t, e, joinAsGuest(e.browser(), inv.URL, "Zoé Martin"))
	g.waitJoined()
	require.NoError(t, g.Receive(t.Context()))
	require.Equal(t, http.StatusCreated, owner.Do("POST", "/api/v1/webinars/"+id+"/recording", nil, nil).StatusCode)
	g.waitMedia(oj.ParticipantID, 50)
	require.Equal(t, http.StatusAccepted, owner.Do("DELETE", "/api/v1/webinars/"+id+"/recording", nil, nil).StatusCode)
	var rec recordingOut
	require.Eventually(t, func() bool {
		rec = listRecordings(owner, id)[0]
		return rec.State == "ready"
	}, 30*time.Second, 50*time.Millisecond)
	return rec
}

func TestShareLinksOfARecording(t *testing.T) {
	e := setup(t, "sqlite", options{})
	owner, other, anon := e.browser(), e.browser(), e.browser()
	owner.Login(userOwner)
	other.Login(userOther)
	w := createWebinar(owner, withoutLobby)
	inv := createInvitation(owner, w.ID, "attendee")
	invToken := invitationToken(inv.URL)
	elsewhere := createWebinar(owner, withoutLobby)
	otherInv := invitationToken(createInvitation(owner, elsewhere.ID, "attendee").URL)

	rec := shortRecording(t, e, owner, w.ID, inv)
	links := "/api/v1/recordings/" + rec.ID + "/links"

	type link struct {
		ID        string     `json:"id"`
		URL       string     `json:"url"`
		Audience  string     `json:"audience"`
		ExpiresAt time.Time  `json:"expires_at"`
		RevokedAt *time.Time `json:"revoked_at"`
	}
	create := func(audience string, days int) link {
		t.Helper()
		resp := owner.Do("POST", links, map[string]any{"audience": audience, "expires_in_days": days}, nil)
		require.Equal(t, http.StatusCreated, resp.StatusCode)
		var l link
		decode(t, resp, &l)
		require.Equal(t, e.base+"/replay/"+l.ID, l.URL)
		require.Len(t, l.ID, 32, "an unguessable token")
		return l
	}
	resp := owner.Do("POST", links, map[string]any{"audience": "everyone", "expires_in_days": 0}, nil)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	resp = other.Do("POST", links, map[string]any{"audience": "public", "expires_in_days": 7}, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "another organizer's recording")

	public := create("public", 7)
	invitees := create("invitees", 400-35)
	require.True(t, invitees.ExpiresAt.Equal(rec.ExpiresAt) || invitees.ExpiresAt.Before(rec.ExpiresAt), "never after the recording")

	get := func(path string) int { return anon.Do("GET", path, nil, nil).StatusCode }
	file := "/files/replay.webm"
	require.Equal(t, http.StatusOK, get("/api/v1/shared/"+public.ID))
	resp = anon.Do("GET", "/api/v1/shared/"+public.ID+file, nil, map[string]string{"Range": "bytes=0-9"})
	require.Equal(t, http.StatusPartialContent, resp.StatusCode, "anyone with a public link plays it")
	// A few ranges are served; thousands of one-byte ranges, each with its part header, are not.
	resp = anon.Do("GET", "/api/v1/shared/"+public.ID+file, nil, map[string]string{"Range": oneByteRanges(16)})
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Type"), "multipart/byteranges")
	resp = anon.Do("GET", "/api/v1/shared/"+public.ID+file, nil, map[string]string{"Range": oneByteRanges(1000)})
	require.Equal(t, http.StatusRequestedRangeNotSatisfiable, resp.StatusCode)
	require.Regexp(t, `^bytes \*/[1-9][0-9]*$`, resp.Header.Get("Content-Range"))
	require.Equal(t, "too_many_ranges", problemOf(t, resp).Code)
	require.Equal(t, http.StatusNotFound, get("/api/v1/shared/"+invitees.ID+file), "invitees only")
	require.Equal(t, http.StatusNotFound, get("/api/v1/shared/"+invitees.ID+file+"?invitation="+otherInv), "another webinar's invitation")
	require.Equal(t, http.StatusOK, get("/api/v1/shared/"+invitees.ID+file+"?invitation="+invToken))
	require.Equal(t, http.StatusNotFound, get("/api/v1/shared/"+public.ID+"/files/manifest.json"), "only the recording's files")
	require.Equal(t, http.StatusNotFound, get("/api/v1/shared/"+store.NewSecret()))

	// Revoked: over at once; revoking an invitation closes its invitees' access.
	resp = owner.Do("DELETE", links+"/"+public.ID, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, http.StatusNotFound, get("/api/v1/shared/"+public.ID+file))
	require.Equal(t, http.StatusOK, owner.Do("DELETE", "/api/v1/webinars/"+w.ID+"/invitations/"+inv.ID, nil, nil).StatusCode)
	require.Equal(t, http.StatusNotFound, get("/api/v1/shared/"+invitees.ID+file+"?invitation="+invToken))

	// Expired: over too.
	short := create("public", 1)
	require.Equal(t, http.StatusOK, get("/api/v1/shared/"+short.ID))
	e.clock.Advance(25 * time.Hour)
	require.Equal(t, http.StatusNotFound, get("/api/v1/shared/"+short.ID))

	e.clock.Advance(-25 * time.Hour) // back to the owner's session
	resp = owner.Do("GET", links, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var list struct{ Items []link }
	decode(t, resp, &list)
	require.Len(t, list.Items, 3, "revoked and expired links are listed")

	// Deleting the recording deletes its links.
	require.Equal(t, http.StatusNoContent, owner.Do("DELETE", "/api/v1/recordings/"+rec.ID, nil, nil).StatusCode)
	require.Equal(t, http.StatusNotFound, get("/api/v1/shared/"+invitees.ID+"?invitation="+invToken))
}

// oneByteRanges is a Range header asking for n one-byte ranges, apart from each other.
func oneByteRanges(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf("%d-%d", 2*i, 2*i)
	}
	return "bytes=" + strings.Join(parts, ",")
}
