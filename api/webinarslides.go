package api

import (
	"bytes"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"webinaire/privacy"
	"webinaire/sfu"
	"webinaire/store"
)

// webinarSlidesPath is where an organizer attaches slides to a webinar beforehand.
const webinarSlidesPath = "/api/v1/webinars/:id/slides"

// errNoAttachedSlides is a webinar without attached slides.
var errNoAttachedSlides = problem(http.StatusNotFound, "not_found", "this webinar has no slides attached")

// checkedPDF reads a PDF from the body and checks it as presented slides are; false once
// the request has been answered.
func (s *Server) checkedPDF(c *gin.Context) ([]byte, int, bool) {
	select {
	case s.slideChecks <- struct{}{}:
		defer func() { <-s.slideChecks }()
	default:
		writeProblem(c, errSlidesBusy)
		return nil, 0, false
	}
	pdf, p := readBody(c, errProblemNotPDF)
	if p != nil {
		writeProblem(c, p)
		return nil, 0, false
	}
	pages, err := checkPDF(pdf, pdfLimits{MaxPages: sfu.MaxSlidesPages, MaxExpanded: slidesExpansion})
	switch {
	case errors.Is(err, errPDFBomb):
		writeProblem(c, errProblemPDFBomb)
	case errors.Is(err, errPDFPages):
		writeProblem(c, errProblemPDFPages)
	case err != nil:
		writeProblem(c, errProblemNotPDF)
	default:
		return pdf, pages, true
	}
	return nil, 0, false
}

// attachSlides attaches a PDF to one of the organizer's webinars, in place of any other,
// for a presenter to show in its room. The retention policy keeps it until the policy's
// period for slides after the webinar's date.
func (s *Server) attachSlides(c *gin.Context) {
	w, ok := s.ownWebinar(c)
	if !ok {
		return
	}
	pdf, pages, ok := s.checkedPDF(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	ws := store.WebinarSlides{
		WebinarID: w.ID, PDF: pdf, Pages: pages, SizeBytes: int64(len(pdf)),
		AttachedAt: s.now(), ExpiresAt: s.p.Policy.Slides.Until(w.StartsAt),
	}
	sess, _ := sessionOf(c)
	err := s.p.Store.InTx(ctx, func(tx *store.Store) error {
		if err := tx.AttachSlides(ctx, ws); err != nil {
			return err
		}
		return tx.RecordAudit(ctx, s.auditEvent(sess.OrganizerID, "slides.attach", "webinar", w.ID, nil))
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, slidesJSON(ws))
}

// attachedSlides are the slides attached to the webinar, or false once the request has
// been answered (404 without).
func (s *Server) attachedSlides(c *gin.Context, webinarID string, withFile bool) (store.WebinarSlides, bool) {
	ws, err := s.p.Store.SlidesOf(c.Request.Context(), webinarID, withFile)
	if errors.Is(err, store.ErrNotFound) {
		writeProblem(c, errNoAttachedSlides)
		return ws, false
	} else if err != nil {
		s.fail(c, err)
		return ws, false
	}
	return ws, true
}

// slidesJSON describes attached slides, without the file.
func slidesJSON(ws store.WebinarSlides) gin.H {
	return gin.H{"pages": ws.Pages, "size_bytes": ws.SizeBytes, "attached_at": ws.AttachedAt.UTC(), "expires_at": ws.ExpiresAt.UTC()}
}

// getAttachedSlides serves the PDF attached to one of the organizer's webinars, or, with
// ?info, what it is.
func (s *Server) getAttachedSlides(c *gin.Context) {
	w, ok := s.ownWebinar(c)
	if !ok {
		return
	}
	_, info := c.GetQuery("info")
	ws, ok := s.attachedSlides(c, w.ID, !info)
	if !ok {
		return
	}
	if info {
		c.JSON(http.StatusOK, slidesJSON(ws))
		return
	}
	c.Header("Cache-Control", "private, no-store")
	c.Header("Content-Type", "application/pdf")
	http.ServeContent(c.Writer, c.Request, "slides.pdf", ws.AttachedAt, bytes.NewReader(ws.PDF))
}

// deleteAttachedSlides deletes the slides attached to one of the organizer's webinars,
// with a ledger entry.
func (s *Server) deleteAttachedSlides(c *gin.Context) {
	w, ok := s.ownWebinar(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	sess, _ := sessionOf(c)
	var found bool
	err := s.p.Store.InTx(ctx, func(tx *store.Store) error {
		var err error
		if found, err = tx.DeleteSlides(ctx, w.ID); err != nil || !found {
			return err
		}
		if err := tx.RecordAudit(ctx, s.auditEvent(sess.OrganizerID, "slides.delete", "webinar", w.ID, nil)); err != nil {
			return err
		}
		return s.p.Ledger.Record(ctx, tx, privacy.Entry{
			Rule: "deleted by the organizer", Category: privacy.CategorySlides, ObjectID: w.ID, Count: 1,
			Stores: []string{privacy.StoreDatabase}, At: s.now(),
		})
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	if !found {
		writeProblem(c, errNoAttachedSlides)
		return
	}
	if err := s.p.Store.Scrub(ctx); err != nil {
		s.log.Warn("database not scrubbed after a deletion", "err", err)
	}
	c.Status(http.StatusNoContent)
}

// presentAttachedSlides presents, in the room of the token's participant (a presenter or
// a moderator), the slides its organizer attached to the webinar.
func (s *Server) presentAttachedSlides(c *gin.Context) {
	claims, room, ok := s.participantRoom(c, errRoomNotOpen)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	w, err := s.p.Store.WebinarByRoom(ctx, claims.Room)
	if err != nil {
		s.fail(c, err)
		return
	}
	ws, ok := s.attachedSlides(c, w.ID, true)
	if !ok {
		return
	}
	s.present(c, room, claims, ws.PDF, ws.Pages)
}

// isPDFUpload tells whether a route takes a PDF as its body, up to sfu.MaxSlidesBytes.
func isPDFUpload(fullPath string) bool {
	return fullPath == slidesPath || fullPath == webinarSlidesPath
}
