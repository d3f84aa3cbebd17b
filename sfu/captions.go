package sfu

import (
	"fmt"
	"time"

	"webinaire/sfu/signal"
)

// Live captions: a captioner (or a moderator) types what is said, everyone in the room
// receives it and shows it if they turned captions on. A speech-to-text service of the
// organisation may add captions too (AddCaption). The room keeps the last few in memory
// for those who join later; a CaptionSink attached to the room (the recorder) gets every
// one, so that a recording keeps them. Outside a recording nothing is kept once the room
// closes.

// Limits of captions.
const (
	// MaxCaptionHistory is the number of captions a room keeps for those who join later.
	MaxCaptionHistory = 20
	// CaptionRate and CaptionBurst limit the captions of one participant.
	CaptionRate  = 4.0 // per second
	CaptionBurst = 10
)

// Caption is one line of live captions.
type Caption struct {
	// Text is the caption: one line of at most signal.MaxCaptionText bytes.
	Text string
	// Lang is fr or en, as the captioner said.
	Lang string
	// At is when the room received it.
	At time.Time
	// Automatic is set when a speech-to-text service made it.
	Automatic bool
}

// CaptionSink is a Sink that receives the room's captions too, such as the recorder.
type CaptionSink interface {
	// Caption is called for every caption, in order, while the sink is attached. It must
	// not block.
	Caption(c Caption)
}

// mayCaption tells whether a role may send captions.
func mayCaption(role Role) bool { return role == RoleCaptioner || role == RoleModerator }

// caption posts a caption of p, who must be a captioner or a moderator.
func (r *Room) caption(p *member, text, lang string) (code, why string) {
	r.mu.Lock()
	if r.participants[p.id] != p || !mayCaption(p.role) {
		r.mu.Unlock()
		return signal.CodeForbidden, "only a captioner or a moderator may send captions"
	}
	c, sinks := r.postCaptionLocked(text, lang, p.id)
	r.mu.Unlock()
	tellCaption(sinks, c)
	return "", ""
}

// AddCaption posts an automatic caption, from a speech-to-text service, to the room.
// The text is made one line; ErrInvalidCaption when it is empty, too long or not text,
// or when lang is not one of signal.CaptionLanguages.
func (r *Room) AddCaption(text, lang string) error {
	text, ok := signal.CleanCaption(text, lang)
	if !ok {
		return fmt.Errorf("caption of %d bytes in %.8q: %w", len(text), lang, ErrInvalidCaption)
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrRoomClosed
	}
	c, sinks := r.postCaptionLocked(text, lang, "")
	r.mu.Unlock()
	tellCaption(sinks, c)
	return nil
}

// postCaptionLocked keeps a caption in the room's short history, sends it to everyone
// and returns it with the sinks that take captions, to be told once mu is released.
func (r *Room) postCaptionLocked(text, lang, from string) (Caption, []CaptionSink) {
	now := r.srv.clock.Now().UTC()
	r.collab.captionID++
	m := signal.CaptionMessage{Type: signal.TypeCaption, ID: r.collab.captionID, Text: text, Lang: lang, From: from, Automatic: from == "", At: now}
	r.collab.captions = keepLast(append(r.collab.captions, m), MaxCaptionHistory)
	r.collab.stats.Captions++
	msg := encode(m)
	for _, o := range r.participants {
		o.session.sendRaw(msg)
	}
	var sinks []CaptionSink
	for _, h := range r.sinks {
		if cs, ok := h.sink.(CaptionSink); ok {
			sinks = append(sinks, cs)
		}
	}
	return Caption{Text: text, Lang: lang, At: now, Automatic: from == ""}, sinks
}

func tellCaption(sinks []CaptionSink, c Caption) {
	for _, s := range sinks {
		s.Caption(c)
	}
}
