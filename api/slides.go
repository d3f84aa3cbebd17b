package api

import (
	"bytes"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"webinaire/sfu"
)

// slidesPath is where a presenter puts a PDF in its room, and where the participants get it.
const slidesPath = "/api/v1/slides"

// slidesExpansion bounds what a presented PDF's compressed streams may expand to.
const slidesExpansion = 256 << 20

// slideChecks is how many PDFs are checked at once on this server; more wait their turn
// as 429.
const slideChecks = 2

// Slides problems.
var (
	errProblemNotPDF   = problem(http.StatusUnprocessableEntity, "not_pdf", "this file is not a PDF")
	errProblemPDFBomb  = problem(http.StatusUnprocessableEntity, "pdf_too_large", "this PDF expands to too much data to be shown in the browsers")
	errProblemPDFPages = problem(http.StatusUnprocessableEntity, "pdf_pages", "a presented PDF has 1 to 500 pages")
	errNotPresenter    = problem(http.StatusForbidden, "not_presenter", "only a presenter or a moderator in the room may present slides")
	errSlidesBusy      = problem(http.StatusTooManyRequests, "slides_busy", "other slides are being checked; try again in a moment")
	errSlidesNotFound  = problem(http.StatusNotFound, "not_found", "these slides are not presented in your room")
)

// participantRoom is the participant a request's join token or session credential names
// and its room, open on this node; or false once the request has been answered: 401
// without a valid token, closed when the room is not open.
func (s *Server) participantRoom(c *gin.Context, closed *Problem) (sfu.Claims, *sfu.Room, bool) {
	token, ok := bearerToken(c.Request)
	if !ok {
		refuseBearer(c, false)
		return sfu.Claims{}, nil, false
	}
	claims, err := s.p.Tokens.Verify(token, s.now())
	if err != nil {
		refuseBearer(c, true)
		return sfu.Claims{}, nil, false
	}
	room, open := s.p.SFU.Room(claims.Room)
	if !open || room.Origin() != "" {
		// The room, and so its slides, may be on another node: the request goes there.
		if !s.proxyToRoom(c, claims.Room) {
			writeProblem(c, closed)
		}
		return sfu.Claims{}, nil, false
	}
	return claims, room, true
}

// presentSlides puts the PDF of the body in the room of the token's participant, a
// presenter or a moderator there now: everyone's browser shows it. The room keeps it in
// memory only, until it is closed or the room closes.
func (s *Server) presentSlides(c *gin.Context) {
	claims, room, ok := s.participantRoom(c, errRoomNotOpen)
	if !ok {
		return
	}
	pdf, pages, ok := s.checkedPDF(c)
	if !ok {
		return
	}
	s.present(c, room, claims, pdf, pages)
}

// present puts a checked PDF in the room, presented by the claims' participant.
func (s *Server) present(c *gin.Context, room *sfu.Room, claims sfu.Claims, pdf []byte, pages int) {
	id, err := room.PresentSlides(claims.Participant, pdf, pages)
	switch {
	case errors.Is(err, sfu.ErrNotPresenter):
		writeProblem(c, errNotPresenter)
		return
	case errors.Is(err, sfu.ErrRoomClosed):
		writeProblem(c, errRoomNotOpen)
		return
	case errors.Is(err, sfu.ErrSlidesMemory):
		writeProblem(c, errSlidesBusy)
		return
	case err != nil:
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"slides_id": id, "pages": pages})
}

// getSlides serves the PDF presented in the room of the token's participant.
func (s *Server) getSlides(c *gin.Context) {
	claims, room, ok := s.participantRoom(c, errSlidesNotFound)
	if !ok {
		return
	}
	pdf, ok := room.SlidesFile(claims.Participant, c.Param("slides"))
	if !ok {
		writeProblem(c, errSlidesNotFound)
		return
	}
	c.Header("Cache-Control", "private, no-store")
	c.Header("Content-Type", "application/pdf")
	http.ServeContent(c.Writer, c.Request, "slides.pdf", time.Time{}, bytes.NewReader(pdf))
}
