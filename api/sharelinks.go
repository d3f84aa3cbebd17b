package api

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"webinaire/recording"
	"webinaire/store"
)

// maxLinkDays is the longest a share link may live; it never outlives its recording.
const maxLinkDays = 365

// linkJSON is a share link as its owner sees it.
type linkJSON struct {
	ID        string     `json:"id"`
	URL       string     `json:"url"`
	Audience  string     `json:"audience"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

func (s *Server) toLinkJSON(l store.RecordingLink) linkJSON {
	return linkJSON{
		ID: l.ID, URL: s.p.BaseURL + "/replay/" + l.ID, Audience: l.Audience,
		CreatedAt: l.CreatedAt.UTC(), ExpiresAt: l.ExpiresAt.UTC(), RevokedAt: l.RevokedAt,
	}
}

// createRecordingLink makes a share link of a finished recording: for anyone with the
// link (public) or for the webinar's invitees, expiring after expires_in_days and never
// after the recording.
func (s *Server) createRecordingLink(c *gin.Context) {
	var in struct {
		Audience      string `json:"audience"`
		ExpiresInDays int    `json:"expires_in_days"`
	}
	if p := decodeJSON(c, &in); p != nil {
		writeProblem(c, p)
		return
	}
	var fields []FieldError
	if in.Audience != store.AudiencePublic && in.Audience != store.AudienceInvitees {
		fields = append(fields, FieldError{Field: "audience", Detail: "must be public or invitees"})
	}
	if in.ExpiresInDays < 1 || in.ExpiresInDays > maxLinkDays {
		fields = append(fields, FieldError{Field: "expires_in_days", Detail: "must be 1 to 365"})
	}
	if len(fields) > 0 {
		writeProblem(c, validationProblem(fields))
		return
	}
	r, ok := s.ownRecording(c)
	if !ok {
		return
	}
	if r.State != store.RecordingReady {
		writeProblem(c, errRecordingBusy)
		return
	}
	now := s.now()
	expires := now.AddDate(0, 0, in.ExpiresInDays)
	if expires.After(r.ExpiresAt) {
		expires = r.ExpiresAt
	}
	l, err := s.p.Store.CreateRecordingLink(c.Request.Context(), r.ID, in.Audience, now, expires)
	if err != nil {
		s.fail(c, err)
		return
	}
	sess, _ := sessionOf(c)
	if err := s.p.Store.RecordAudit(c.Request.Context(), s.auditEvent(sess.OrganizerID, "recording_link.create", "recording", r.ID, map[string]string{"audience": l.Audience})); err != nil {
		s.log.Error("link not audited", "err", err)
	}
	c.JSON(http.StatusCreated, s.toLinkJSON(l))
}

// listRecordingLinks lists a recording's share links, revoked ones included.
func (s *Server) listRecordingLinks(c *gin.Context) {
	r, ok := s.ownRecording(c)
	if !ok {
		return
	}
	links, err := s.p.Store.RecordingLinks(c.Request.Context(), r.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	writeItems(c, links, s.toLinkJSON)
}

// revokeRecordingLink revokes a share link at once.
func (s *Server) revokeRecordingLink(c *gin.Context) {
	r, ok := s.ownRecording(c)
	if !ok {
		return
	}
	l, err := s.p.Store.RevokeRecordingLink(c.Request.Context(), r.ID, c.Param("link"), s.now())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, s.toLinkJSON(l))
}

// sharedRecording finds what a share link gives access to: a live link, a finished
// recording, and for an invitees' link a valid invitation of the webinar (the
// invitation query parameter, the last segment of an invitation link). Anything else is
// not found, so that a link tells nothing once it is over.
func (s *Server) sharedRecording(c *gin.Context) (store.Recording, store.Webinar, bool) {
	ctx := c.Request.Context()
	l, r, w, err := s.p.Store.LiveRecordingLink(ctx, c.Param("token"), s.now())
	if err != nil {
		s.fail(c, err)
		return r, w, false
	}
	if l.Audience == store.AudienceInvitees {
		_, iw, err := s.p.Store.InvitationByToken(ctx, c.Query("invitation"))
		if err != nil || iw.ID != w.ID {
			writeProblem(c, errNotFound)
			return r, w, false
		}
	}
	if r.State != store.RecordingReady {
		writeProblem(c, errRecordingBusy)
		return r, w, false
	}
	c.Header("Cache-Control", "private, no-store")
	c.Header("Referrer-Policy", "no-referrer")
	return r, w, true
}

// getShared describes a shared recording.
func (s *Server) getShared(c *gin.Context) {
	r, w, ok := s.sharedRecording(c)
	if !ok {
		return
	}
	m, err := s.manifest(r)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{
		"title": w.Title, "started_at": r.StartedAt.UTC(), "duration_ms": r.DurationMS,
		"expires_at": r.ExpiresAt.UTC(), "files": m.Files(),
	})
}

// getSharedFile serves a file of a shared recording, with range requests.
func (s *Server) getSharedFile(c *gin.Context) {
	r, _, ok := s.sharedRecording(c)
	if !ok {
		return
	}
	s.serveRecordingFile(c, r)
}

// serveRecordingFile serves the file of the path's file parameter of a finished recording,
// from this node's storage, or through the node that recorded it.
func (s *Server) serveRecordingFile(c *gin.Context, r store.Recording) {
	m, node, err := s.recordingManifest(c.Request.Context(), r)
	if err != nil {
		s.fail(c, err)
		return
	}
	name := c.Param("file")
	switch {
	case !slices.Contains(m.Files(), name):
		writeProblem(c, errNotFound)
	case node.ID != "":
		s.passRecordingFile(c, node, r.ID, name)
	default:
		s.serveLocalRecordingFile(c, r.ID, name)
	}
}

// serveLocalRecordingFile serves a file of recording id from this node's storage, with
// range requests.
func (s *Server) serveLocalRecordingFile(c *gin.Context, id, file string) {
	f, modified, err := s.p.Recordings.Open(c.Request.Context(), id, file)
	if err != nil {
		s.fail(c, err)
		return
	}
	defer f.Close()
	c.Header("Cache-Control", "private, no-store")
	if rangeCount(c.GetHeader("Range")) > maxRanges {
		// Each range costs a part header; thousands of tiny ones multiply the answer.
		if size, err := f.Seek(0, io.SeekEnd); err == nil {
			c.Header("Content-Range", fmt.Sprintf("bytes */%d", size))
		}
		writeProblem(c, errTooManyRanges)
		return
	}
	c.Header("Content-Type", recording.ContentType(file))
	http.ServeContent(s.longAnswer(c.Writer), c.Request, file, modified, f)
}

// maxRanges is the most byte ranges a request for a recording's file may ask for: a player
// asks for one, a download manager for a few.
const maxRanges = 16

var errTooManyRanges = problem(http.StatusRequestedRangeNotSatisfiable, "too_many_ranges", fmt.Sprintf("ask for at most %d byte ranges at once", maxRanges))

// rangeCount is the number of ranges a Range header asks for: its comma-separated parts,
// 0 when it is not a byte range.
func rangeCount(header string) int {
	spec, ok := strings.CutPrefix(header, "bytes=")
	if !ok {
		return 0
	}
	return strings.Count(spec, ",") + 1
}
