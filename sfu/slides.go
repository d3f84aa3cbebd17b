package sfu

import (
	"crypto/rand"
	"encoding/hex"
	"time"

	"webinaire/sfu/signal"
)

// Presented slides: a presenter (or a moderator) puts a PDF in the room, everyone's
// browser renders the current page, and the presenter turns the pages. The room holds the
// file in memory only, one at a time, until it is closed, replaced, or the room closes:
// nothing of it is written anywhere, unless a SlidesSink (the recorder) is attached.

// Limits of presented slides; the API checks a file before it reaches the room.
const (
	// MaxSlidesBytes is the largest PDF a room holds.
	MaxSlidesBytes = 20 << 20
	// MaxSlidesPages is the most pages it may have.
	MaxSlidesPages = signal.MaxSlidesPages
	// MaxSlidesMemory bounds the presented PDFs all the rooms of a server hold together.
	MaxSlidesMemory = 1 << 30
	// SlidesRate and SlidesBurst limit page turns per participant.
	SlidesRate  = 10.0 // per second
	SlidesBurst = 20
)

// SlidesEvent is a change of the presented slides, as a SlidesSink is told.
type SlidesEvent struct {
	// ID is the deck's id; empty when the slides were closed.
	ID string
	// PDF is the file, given with the first event of a deck only.
	PDF []byte
	// Page is the page shown, from 1.
	Page int
	// At is when it changed.
	At time.Time
}

// SlidesSink is a Sink that is told of the presented slides too, such as the recorder.
type SlidesSink interface {
	// Slides is called at every change, in order, and at once with the current deck
	// when the sink is attached. It must not block.
	Slides(e SlidesEvent)
}

// slideDeck is the PDF presented in a room, guarded by Room.mu.
type slideDeck struct {
	id        string
	pdf       []byte
	pages     int
	page      int
	presenter string
}

// mayPresent tells whether a role may present slides.
func mayPresent(role Role) bool { return role == RoleModerator || role == RolePresenter }

func (d *slideDeck) message() signal.SlidesMessage {
	if d == nil {
		return signal.SlidesMessage{Type: signal.TypeSlides}
	}
	return signal.SlidesMessage{Type: signal.TypeSlides, SlidesID: d.id, Pages: d.pages, Page: d.page, Presenter: d.presenter}
}

// PresentSlides puts a PDF of pages pages in the room, presented by the participant
// participantID (a presenter or a moderator now in the room), in place of any other, and
// returns its id. The caller has checked the file; the room keeps it (not a copy) until
// it is closed or replaced, or the room closes. Errors: ErrNotPresenter, ErrRoomClosed,
// ErrInvalidSlides (no page, too many, too large).
func (r *Room) PresentSlides(participantID string, pdf []byte, pages int) (string, error) {
	if len(pdf) == 0 || len(pdf) > MaxSlidesBytes || pages < 1 || pages > MaxSlidesPages {
		return "", ErrInvalidSlides
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return "", ErrRoomClosed
	}
	p := r.participants[participantID]
	if p == nil || !mayPresent(p.role) {
		r.mu.Unlock()
		return "", ErrNotPresenter
	}
	if !r.setSlidesLocked(&slideDeck{id: id, pdf: pdf, pages: pages, page: 1, presenter: participantID}) {
		r.mu.Unlock()
		return "", ErrSlidesMemory
	}
	sinks := r.slidesChangedLocked(true)
	r.mu.Unlock()
	sinks()
	return id, nil
}

// setSlidesLocked puts d in place of the room's deck, within MaxSlidesMemory for the
// server's rooms together; false, and nothing changed, beyond.
func (r *Room) setSlidesLocked(d *slideDeck) bool {
	var add int64
	if d != nil {
		add = int64(len(d.pdf))
	}
	var drop int64
	if r.slides != nil {
		drop = int64(len(r.slides.pdf))
	}
	if r.srv.slidesBytes.Add(add-drop) > MaxSlidesMemory && add > 0 {
		r.srv.slidesBytes.Add(drop - add)
		return false
	}
	r.slides = d
	return true
}

// SlidesFile is the PDF of the deck id presented now, for a participant of the room.
func (r *Room) SlidesFile(participantID, id string) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.participants[participantID] == nil || r.slides == nil || r.slides.id != id {
		return nil, false
	}
	return r.slides.pdf, true
}

// turnSlide shows page of the slides, for their presenter or a moderator.
func (r *Room) turnSlide(p *member, id string, page int) (code, why string) {
	r.mu.Lock()
	d, code, why := r.presentedByLocked(p, id, "turn their pages")
	switch {
	case code != "":
		r.mu.Unlock()
		return code, why
	case page < 1 || page > d.pages:
		r.mu.Unlock()
		return signal.CodeMalformed, "no such page"
	case page == d.page:
		r.mu.Unlock()
		return "", ""
	}
	d.page = page
	sinks := r.slidesChangedLocked(false)
	r.mu.Unlock()
	sinks()
	return "", ""
}

// presentedByLocked is the deck id when p may act on it (its presenter, or a moderator),
// else the error's code and words, what saying what p may not do; r.mu held.
func (r *Room) presentedByLocked(p *member, id, what string) (*slideDeck, string, string) {
	d := r.slides
	switch {
	case r.participants[p.id] != p || !(p.role == RoleModerator || (d != nil && d.presenter == p.id && mayPresent(p.role))):
		return nil, signal.CodeForbidden, "only the presenter of the slides or a moderator may " + what
	case d == nil || d.id != id:
		return nil, signal.CodeUnknownSlides, "these slides are not presented"
	}
	return d, "", ""
}

// pointSlide shows everyone else where the presenter of the slides, or a moderator,
// points on the page: a laser pointer, nothing kept.
func (r *Room) pointSlide(p *member, id string, x, y float64, hidden bool) (code, why string) {
	r.mu.Lock()
	if _, code, why := r.presentedByLocked(p, id, "point at them"); code != "" {
		r.mu.Unlock()
		return code, why
	}
	others := r.othersLocked(p)
	r.mu.Unlock()
	msg := encode(signal.SlidePointerMessage{Type: signal.TypeSlidePointer, SlidesID: id, X: x, Y: y, Hidden: hidden})
	for _, o := range others {
		o.session.sendRaw(msg)
	}
	return "", ""
}

// closeSlides stops presenting the slides, for their presenter or a moderator.
func (r *Room) closeSlides(p *member, id string) (code, why string) {
	r.mu.Lock()
	d := r.slides
	switch {
	case r.participants[p.id] != p || !(p.role == RoleModerator || (d != nil && d.presenter == p.id)):
		r.mu.Unlock()
		return signal.CodeForbidden, "only the presenter of the slides or a moderator may close them"
	case d == nil || d.id != id:
		r.mu.Unlock()
		return signal.CodeUnknownSlides, "these slides are not presented"
	}
	r.setSlidesLocked(nil)
	sinks := r.slidesChangedLocked(false)
	r.mu.Unlock()
	sinks()
	return "", ""
}

// slidesChangedLocked tells everyone the slides now, and returns what tells the sinks,
// to be called once mu is released. withFile gives the sinks the PDF.
func (r *Room) slidesChangedLocked(withFile bool) func() {
	msg := encode(r.slides.message())
	for _, o := range r.participants {
		o.session.sendRaw(msg)
	}
	e := SlidesEvent{At: r.srv.clock.Now().UTC()}
	if d := r.slides; d != nil {
		e.ID, e.Page = d.id, d.page
		if withFile {
			e.PDF = d.pdf
		}
	}
	var sinks []SlidesSink
	for _, h := range r.sinks {
		if ss, ok := h.sink.(SlidesSink); ok {
			sinks = append(sinks, ss)
		}
	}
	return func() {
		for _, s := range sinks {
			s.Slides(e)
		}
	}
}

// currentSlidesLocked is the deck shown now, for a sink attached to the room.
func (r *Room) currentSlidesLocked() (SlidesEvent, bool) {
	d := r.slides
	if d == nil {
		return SlidesEvent{}, false
	}
	return SlidesEvent{ID: d.id, PDF: d.pdf, Page: d.page, At: r.srv.clock.Now().UTC()}, true
}
