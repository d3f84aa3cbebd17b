package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"webinaire/privacy"
	"webinaire/sfu"
	"webinaire/store"
)

// webinarJSON is a webinar as its organizer sees it.
type webinarJSON struct {
	ID               string    `json:"id"`
	Title            string    `json:"title"`
	Description      string    `json:"description"`
	Kind             string    `json:"kind"`
	StartsAt         time.Time `json:"starts_at"`
	DurationMinutes  int       `json:"duration_minutes"`
	LobbyEnabled     bool      `json:"lobby_enabled"`
	RecordingAllowed bool      `json:"recording_allowed"`
	RoomID           string    `json:"room_id"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

func toWebinarJSON(w store.Webinar) webinarJSON {
	return webinarJSON{
		ID: w.ID, Title: w.Title, Description: w.Description, Kind: w.Kind,
		StartsAt: w.StartsAt.UTC(), DurationMinutes: w.DurationMinutes,
		LobbyEnabled: w.LobbyEnabled, RecordingAllowed: w.RecordingAllowed,
		RoomID: w.RoomID, CreatedAt: w.CreatedAt.UTC(), UpdatedAt: w.UpdatedAt.UTC(),
	}
}

// webinarInput is the body of create (all required but description and options) and of update
// (only the fields given change).
type webinarInput struct {
	Title            *string `json:"title"`
	Description      *string `json:"description"`
	Kind             *string `json:"kind"`
	StartsAt         *string `json:"starts_at"`
	DurationMinutes  *int    `json:"duration_minutes"`
	LobbyEnabled     *bool   `json:"lobby_enabled"`
	RecordingAllowed *bool   `json:"recording_allowed"`
}

// Limits on webinar fields.
const (
	maxTitle       = 200
	maxDescription = 4000
	maxDuration    = 24 * 60
)

// apply validates in and copies it onto w; on create the required fields must be there.
func (in *webinarInput) apply(w *store.Webinar, create bool) []FieldError {
	var errs []FieldError
	bad := func(field, detail string) { errs = append(errs, FieldError{Field: field, Detail: detail}) }
	if in.Title != nil {
		t := strings.TrimSpace(*in.Title)
		switch {
		case t == "":
			bad("title", "must not be empty")
		case utf8.RuneCountInString(t) > maxTitle:
			bad("title", "at most 200 characters")
		case strings.IndexFunc(t, badNameRune) >= 0:
			bad("title", "must be one line of text: no control or text direction characters")
		default:
			w.Title = t
		}
	} else if create {
		bad("title", "is required")
	}
	if in.Description != nil {
		d := strings.TrimSpace(*in.Description)
		if utf8.RuneCountInString(d) > maxDescription {
			bad("description", "at most 4000 characters")
		} else if strings.IndexFunc(d, func(r rune) bool { return badNameRune(r) && r != '\n' && r != '\r' && r != '\t' }) >= 0 {
			bad("description", "text only: no control or text direction characters but line breaks and tabs")
		} else {
			w.Description = d
		}
	}
	if in.Kind != nil {
		switch *in.Kind {
		case store.KindMeeting, store.KindWebinar:
			w.Kind = *in.Kind
		default:
			bad("kind", "must be meeting or webinar")
		}
	} else if create {
		bad("kind", "is required")
	}
	if in.StartsAt != nil {
		t, err := time.Parse(time.RFC3339, *in.StartsAt)
		t = t.UTC()
		switch {
		case err != nil:
			bad("starts_at", "must be a date and time in RFC 3339 form, e.g. 2026-05-04T14:00:00+02:00")
		case t.Year() < 2000 || t.Year() > 2999:
			bad("starts_at", "must be a date between the years 2000 and 2999 (UTC)")
		case t.Nanosecond() != 0:
			bad("starts_at", "whole seconds only")
		default:
			w.StartsAt = t
		}
	} else if create {
		bad("starts_at", "is required")
	}
	if in.DurationMinutes != nil {
		if *in.DurationMinutes < 1 || *in.DurationMinutes > maxDuration {
			bad("duration_minutes", "must be between 1 and 1440")
		} else {
			w.DurationMinutes = *in.DurationMinutes
		}
	} else if create {
		bad("duration_minutes", "is required")
	}
	if in.LobbyEnabled != nil {
		w.LobbyEnabled = *in.LobbyEnabled
	}
	if in.RecordingAllowed != nil {
		w.RecordingAllowed = *in.RecordingAllowed
	}
	return errs
}

// page reads limit (1 to 100, default 20) and offset (from 0) from the query.
func page(c *gin.Context) (limit, offset int, p *Problem) {
	var errs []FieldError
	limit, offset = 20, 0
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			errs = append(errs, FieldError{Field: "limit", Detail: "must be a whole number from 1 to 100"})
		}
		limit = n
	}
	if v := c.Query("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			errs = append(errs, FieldError{Field: "offset", Detail: "must be a whole number from 0"})
		}
		offset = n
	}
	if errs != nil {
		return 0, 0, validationProblem(errs)
	}
	return limit, offset, nil
}

func (s *Server) getMe(c *gin.Context) {
	sess, _ := sessionOf(c)
	o := sess.Organizer
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{
		"id":               o.ID,
		"given_name":       o.GivenName,
		"family_name":      o.FamilyName,
		"email":            o.Email,
		"display_name":     o.DisplayName,
		"restricted_at":    o.RestrictedAt,
		"is_admin":         sess.IsAdmin,
		"last_activity_at": o.LastActivityAt.UTC(),
		"session_expires":  sess.ExpiresAt.UTC(),
		"csrf_token":       sess.CSRFToken,
	})
}

func (s *Server) listWebinars(c *gin.Context) {
	sess, _ := sessionOf(c)
	limit, offset, p := page(c)
	if p != nil {
		writeProblem(c, p)
		return
	}
	list, total, err := s.p.Store.ListWebinars(c.Request.Context(), sess.OrganizerID, limit, offset)
	if err != nil {
		s.fail(c, err)
		return
	}
	items := make([]webinarJSON, 0, len(list))
	for _, w := range list {
		items = append(items, toWebinarJSON(w))
	}
	c.JSON(http.StatusOK, gin.H{"items": items, "total": total, "limit": limit, "offset": offset})
}

func (s *Server) createWebinar(c *gin.Context) {
	sess, _ := sessionOf(c)
	var in webinarInput
	if p := decodeJSON(c, &in); p != nil {
		writeProblem(c, p)
		return
	}
	w := store.Webinar{OrganizerID: sess.OrganizerID}
	if errs := in.apply(&w, true); errs != nil {
		writeProblem(c, validationProblem(errs))
		return
	}
	ctx := c.Request.Context()
	err := s.p.Store.InTx(ctx, func(tx *store.Store) error {
		if err := tx.CreateWebinar(ctx, &w, s.now()); err != nil {
			return err
		}
		return tx.RecordAudit(ctx, s.auditEvent(sess.OrganizerID, "webinar.create", "webinar", w.ID, nil))
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Location", "/api/v1/webinars/"+w.ID)
	c.JSON(http.StatusCreated, toWebinarJSON(w))
}

// ownWebinar loads the webinar of the path for its owner; anyone else gets 404.
func (s *Server) ownWebinar(c *gin.Context) (store.Webinar, bool) {
	sess, _ := sessionOf(c)
	w, err := s.p.Store.WebinarOf(c.Request.Context(), sess.OrganizerID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return w, false
	}
	return w, true
}

func (s *Server) getWebinar(c *gin.Context) {
	if w, ok := s.ownWebinar(c); ok {
		c.JSON(http.StatusOK, toWebinarJSON(w))
	}
}

func (s *Server) updateWebinar(c *gin.Context) {
	sess, _ := sessionOf(c)
	var in webinarInput
	if p := decodeJSON(c, &in); p != nil {
		writeProblem(c, p)
		return
	}
	if in == (webinarInput{}) {
		s.getWebinar(c) // nothing to change, nothing written
		return
	}
	ctx := c.Request.Context()
	var w store.Webinar
	err := s.p.Store.InTx(ctx, func(tx *store.Store) error {
		var err error
		if w, err = tx.WebinarOf(ctx, sess.OrganizerID, c.Param("id")); err != nil {
			return err
		}
		if errs := in.apply(&w, false); errs != nil {
			return validationProblem(errs)
		}
		if err := tx.UpdateWebinar(ctx, &w, s.now()); err != nil {
			return err
		}
		return tx.RecordAudit(ctx, s.auditEvent(sess.OrganizerID, "webinar.update", "webinar", w.ID, nil))
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toWebinarJSON(w))
}

// withWebinarRule is the ledger's rule of what is deleted with its webinar (its slides,
// its recordings).
const withWebinarRule = "deleted with its webinar by the organizer"

// deleteWebinar deletes a webinar of the session's organizer with its invitations, stream
// key, slides and recordings (their files first, where they are kept), and closes its
// room wherever it runs.
func (s *Server) deleteWebinar(c *gin.Context) {
	sess, _ := sessionOf(c)
	ctx := c.Request.Context()
	id := c.Param("id")
	w, ok := s.ownWebinar(c)
	if !ok {
		return
	}
	// Where its room runs, read before its placement goes with it.
	elsewhere := s.roomNodesOf(ctx, []store.Webinar{w})
	// An ongoing recording is stopped and finalized first, then deleted with the others.
	if err := s.stopRecordingsOf(ctx, []store.Webinar{w}); err != nil {
		s.fail(c, err)
		return
	}
	// The recordings' files first: their rows go with the webinar's. While the node that
	// keeps some does not answer, the others go alone and the webinar stays (503).
	ids, err := s.p.Store.RecordingIDsOfWebinar(ctx, id)
	if err == nil {
		err = s.rights.DeleteRecordingFiles(ctx, ids, withWebinarRule, s.now())
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	// Every deletion is an entry of the ledger: the webinar with its invitations and
	// stream key (share links go with their recordings), each recording.
	err = s.p.Store.InTx(ctx, func(tx *store.Store) error {
		invitations, err := tx.ListInvitations(ctx, id)
		if err != nil {
			return err
		}
		hadKey, err := tx.ClearStreamKey(ctx, sess.OrganizerID, id)
		if err != nil {
			return err
		}
		hadSlides, err := tx.DeleteSlides(ctx, id)
		if err != nil {
			return err
		}
		if err := tx.DeleteWebinar(ctx, sess.OrganizerID, id); err != nil {
			return err
		}
		if err := tx.RecordAudit(ctx, s.auditEvent(sess.OrganizerID, "webinar.delete", "webinar", id, nil)); err != nil {
			return err
		}
		now := s.now()
		count := 1 + int64(len(invitations))
		if hadKey {
			count++
		}
		if err := s.p.Ledger.Record(ctx, tx, privacy.Entry{
			Rule: "webinar deleted by the organizer, with its invitations and stream key", Category: privacy.CategoryAccounts,
			ObjectID: id, Count: count, Stores: []string{privacy.StoreDatabase}, At: now,
		}); err != nil {
			return err
		}
		if hadSlides {
			if err := s.p.Ledger.Record(ctx, tx, privacy.Entry{
				Rule: withWebinarRule, Category: privacy.CategorySlides, ObjectID: id, Count: 1,
				Stores: []string{privacy.StoreDatabase}, At: now,
			}); err != nil {
				return err
			}
		}
		for _, rid := range ids {
			if err := s.p.Ledger.Record(ctx, tx, privacy.Entry{
				Rule: withWebinarRule, Category: privacy.CategoryRecordings, ObjectID: rid, Count: 1,
				Stores: []string{privacy.StoreFiles, privacy.StoreDatabase}, At: now,
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	s.streams.endStreams(func(e *httpSession) bool { return e.webinarID == id }) // its stream key went with it
	s.closeRoomsOf(ctx, []store.Webinar{w}, elsewhere)
	if err := s.p.Store.Scrub(ctx); err != nil {
		s.log.Warn("database not scrubbed after a deletion", "err", err)
	}
	c.Status(http.StatusNoContent)
}

// invitationJSON is an invitation with the link to hand out.
type invitationJSON struct {
	ID        string     `json:"id"`
	Role      string     `json:"role"`
	URL       string     `json:"url"`
	ICSURL    string     `json:"ics_url"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
	// ParticipantsRemoved is, when revoking with remove_participants, how many were removed.
	ParticipantsRemoved *int `json:"participants_removed,omitempty"`
}

func (s *Server) toInvitationJSON(inv store.Invitation) invitationJSON {
	j := invitationJSON{
		ID: inv.ID, Role: inv.Role,
		URL:       s.joinURL(inv.Token),
		ICSURL:    s.p.BaseURL + "/api/v1/invitations/" + inv.Token + "/invitation.ics",
		CreatedAt: inv.CreatedAt.UTC(),
	}
	if inv.RevokedAt != nil {
		t := inv.RevokedAt.UTC()
		j.RevokedAt = &t
	}
	return j
}

func (s *Server) joinURL(token string) string { return s.p.BaseURL + "/join/" + token }

func (s *Server) listInvitations(c *gin.Context) {
	w, ok := s.ownWebinar(c)
	if !ok {
		return
	}
	list, err := s.p.Store.ListInvitations(c.Request.Context(), w.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	items := make([]invitationJSON, 0, len(list))
	for _, inv := range list {
		items = append(items, s.toInvitationJSON(inv))
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

func (s *Server) createInvitation(c *gin.Context) {
	sess, _ := sessionOf(c)
	var in struct {
		Role string `json:"role"`
	}
	if p := decodeJSON(c, &in); p != nil {
		writeProblem(c, p)
		return
	}
	switch in.Role {
	case store.RoleAttendee, store.RolePresenter, store.RoleModerator, store.RoleCaptioner:
	default:
		writeProblem(c, validationProblem([]FieldError{{Field: "role", Detail: "must be attendee, presenter, moderator or captioner"}}))
		return
	}
	ctx := c.Request.Context()
	inv := store.Invitation{Role: in.Role}
	err := s.p.Store.InTx(ctx, func(tx *store.Store) error {
		w, err := tx.WebinarOf(ctx, sess.OrganizerID, c.Param("id"))
		if err != nil {
			return err
		}
		inv.WebinarID = w.ID
		if err := tx.CreateInvitation(ctx, &inv, s.now()); err != nil {
			return err
		}
		return tx.RecordAudit(ctx, s.auditEvent(sess.OrganizerID, "invitation.create", "invitation", inv.ID, map[string]string{"role": inv.Role}))
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Location", "/api/v1/webinars/"+inv.WebinarID+"/invitations/"+inv.ID)
	c.JSON(http.StatusCreated, s.toInvitationJSON(inv))
}

// revokeInvitation revokes an invitation: its link and every token minted from it can no
// longer enter the room, nor come back into it. Those in the room now stay, unless the
// owner asks with ?remove_participants=true: then they and those waiting in the lobby
// with it are removed too, and the answer says how many.
func (s *Server) revokeInvitation(c *gin.Context) {
	sess, _ := sessionOf(c)
	ctx := c.Request.Context()
	removeThem := false
	switch v := c.Query("remove_participants"); v {
	case "", "false":
	case "true":
		removeThem = true
	default:
		writeProblem(c, validationProblem([]FieldError{{Field: "remove_participants", Detail: "must be true or false"}}))
		return
	}
	var (
		inv store.Invitation
		w   store.Webinar
	)
	err := s.p.Store.InTx(ctx, func(tx *store.Store) error {
		var err error
		if w, err = tx.WebinarOf(ctx, sess.OrganizerID, c.Param("id")); err != nil {
			return err
		}
		if inv, err = tx.RevokeInvitation(ctx, w.ID, c.Param("invitation"), s.now()); err != nil {
			return err
		}
		return tx.RecordAudit(ctx, s.auditEvent(sess.OrganizerID, "invitation.revoke", "invitation", inv.ID, nil))
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	out := s.toInvitationJSON(inv)
	if removeThem {
		res, err := s.atRoom(ctx, roomCommand{Room: w.RoomID, Action: commandRemoveInvitees, Invitation: inv.ID})
		if err != nil && !errors.Is(err, sfu.ErrRoomClosed) {
			// The invitation is revoked: its participants are refused at their next entry.
			s.log.Warn("participants of a revoked invitation not removed now", "webinar", w.ID, "err", err)
		}
		out.ParticipantsRemoved = &res.Removed
	}
	c.JSON(http.StatusOK, out)
}

// getWebinarICS is the organizer's calendar entry; with ?invitation=ID it carries that link.
func (s *Server) getWebinarICS(c *gin.Context) {
	w, ok := s.ownWebinar(c)
	if !ok {
		return
	}
	link := ""
	if id := c.Query("invitation"); id != "" {
		list, err := s.p.Store.ListInvitations(c.Request.Context(), w.ID)
		if err != nil {
			s.fail(c, err)
			return
		}
		for _, inv := range list {
			if inv.ID == id && inv.RevokedAt == nil {
				link = s.joinURL(inv.Token)
			}
		}
		if link == "" {
			writeProblem(c, errNotFound)
			return
		}
	}
	s.writeICS(c, w, link)
}

// publicInvitationJSON is what the holder of a link may know before joining.
type publicInvitationJSON struct {
	Title            string    `json:"title"`
	Description      string    `json:"description"`
	Kind             string    `json:"kind"`
	Role             string    `json:"role"`
	StartsAt         time.Time `json:"starts_at"`
	DurationMinutes  int       `json:"duration_minutes"`
	LobbyEnabled     bool      `json:"lobby_enabled"`
	RecordingAllowed bool      `json:"recording_allowed"`
}

func (s *Server) getPublicInvitation(c *gin.Context) {
	inv, w, err := s.p.Store.InvitationByToken(c.Request.Context(), c.Param("token"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, publicInvitationJSON{
		Title: w.Title, Description: w.Description, Kind: w.Kind, Role: inv.Role,
		StartsAt: w.StartsAt.UTC(), DurationMinutes: w.DurationMinutes,
		LobbyEnabled: w.LobbyEnabled, RecordingAllowed: w.RecordingAllowed,
	})
}

func (s *Server) getPublicInvitationICS(c *gin.Context) {
	inv, w, err := s.p.Store.InvitationByToken(c.Request.Context(), c.Param("token"))
	if err != nil {
		s.fail(c, err)
		return
	}
	s.writeICS(c, w, s.joinURL(inv.Token))
}

func (s *Server) writeICS(c *gin.Context, w store.Webinar, link string) {
	host := strings.TrimPrefix(strings.TrimPrefix(s.p.BaseURL, "https://"), "http://")
	body := icsEvent(w, link, host, s.now())
	c.Header("Content-Disposition", `attachment; filename="webinaire.ics"`)
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, "text/calendar; charset=utf-8", []byte(body))
}

func (s *Server) listOrganizers(c *gin.Context) {
	limit, offset, p := page(c)
	if p != nil {
		writeProblem(c, p)
		return
	}
	var (
		list  []store.Organizer
		total int64
		err   error
	)
	if email := c.Query("email"); email != "" {
		list, err = s.p.Store.OrganizersByEmail(c.Request.Context(), email)
		total = int64(len(list))
	} else {
		list, total, err = s.p.Store.ListOrganizers(c.Request.Context(), limit, offset)
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	type organizerJSON struct {
		ID             string     `json:"id"`
		GivenName      string     `json:"given_name"`
		FamilyName     string     `json:"family_name"`
		Email          string     `json:"email"`
		LastActivityAt time.Time  `json:"last_activity_at"`
		CreatedAt      time.Time  `json:"created_at"`
		RestrictedAt   *time.Time `json:"restricted_at"`
	}
	items := make([]organizerJSON, 0, len(list))
	for _, o := range list {
		items = append(items, organizerJSON{o.ID, o.GivenName, o.FamilyName, o.Email, o.LastActivityAt.UTC(), o.CreatedAt.UTC(), o.RestrictedAt})
	}
	c.JSON(http.StatusOK, gin.H{"items": items, "total": total, "limit": limit, "offset": offset})
}
