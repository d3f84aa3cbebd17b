package sfu

import (
	"sync"
	"testing"

	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"webinaire/sfu/signal"
)

// slidesSink keeps the slides events it is told of.
type slidesSink struct {
	mu     sync.Mutex
	events []SlidesEvent
}

func (s *slidesSink) AddTrack(string, TrackInfo, webrtc.RTPCodecParameters) SinkTrack { return nil }

func (s *slidesSink) Slides(e SlidesEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
}

func (s *slidesSink) pages() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int
	for _, e := range s.events {
		out = append(out, e.Page)
	}
	return out
}

func slidesAt(id string, page int) func(signal.ServerMessage) bool {
	return func(m signal.ServerMessage) bool {
		return m.Type == signal.TypeSlides && m.SlidesID == id && m.Page == page
	}
}

// TestSlidesFollowThePresenter: a presenter's slides reach everyone, page turns too; an
// attendee may neither present nor turn pages; a late comer gets the page shown in
// joined; a sink gets the file once and every page; closing tells everyone.
func TestSlidesFollowThePresenter(t *testing.T) {
	srv := newTestServer(t)
	pres := join(t, srv, srv.token(t, "s", "pres", RolePresenter, KindWebinar))
	alice := join(t, srv, srv.token(t, "s", "alice", RoleAttendee, KindWebinar))
	room, ok := srv.Room("s")
	require.True(t, ok)
	pdf := []byte("%PDF-1.7 a deck")

	_, err := room.PresentSlides("alice", pdf, 3)
	require.ErrorIs(t, err, ErrNotPresenter)
	_, err = room.PresentSlides("nobody", pdf, 3)
	require.ErrorIs(t, err, ErrNotPresenter)
	_, err = room.PresentSlides("pres", pdf, 0)
	require.ErrorIs(t, err, ErrInvalidSlides)
	id, err := room.PresentSlides("pres", pdf, 3)
	require.NoError(t, err)
	alice.waitMsg(slidesAt(id, 1))
	got, ok := room.SlidesFile("alice", id)
	require.True(t, ok)
	require.Equal(t, pdf, got)
	_, ok = room.SlidesFile("nobody", id)
	require.False(t, ok, "only a participant gets the file")

	sink := &slidesSink{}
	h, err := room.AddSink(sink)
	require.NoError(t, err)
	defer h.Close()

	pres.send(map[string]any{"type": "slide_page", "slides_id": id, "page": 2})
	alice.waitMsg(slidesAt(id, 2))
	alice.send(map[string]any{"type": "slide_page", "slides_id": id, "page": 3})
	alice.waitError(signal.CodeForbidden)
	pres.send(map[string]any{"type": "slide_page", "slides_id": id, "page": 4})
	pres.waitError(signal.CodeMalformed)
	pres.send(map[string]any{"type": "slide_page", "slides_id": "other", "page": 1})
	pres.waitError(signal.CodeUnknownSlides)

	bob := join(t, srv, srv.token(t, "s", "bob", RoleAttendee, KindWebinar))
	joined := bob.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeJoined })
	require.Equal(t, id, joined.Slides.SlidesID)
	require.Equal(t, 2, joined.Slides.Page)
	require.Equal(t, 3, joined.Slides.Pages)

	pres.send(map[string]any{"type": "slides_close", "slides_id": id})
	bob.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeSlides && m.SlidesID == "" })
	_, ok = room.SlidesFile("bob", id)
	require.False(t, ok, "closed slides are gone")
	require.Equal(t, []int{1, 2, 0}, sink.pages(), "the deck as attached, the turn, the end")
	sink.mu.Lock()
	require.Equal(t, pdf, sink.events[0].PDF, "the sink gets the file with the first event")
	require.Nil(t, sink.events[1].PDF)
	sink.mu.Unlock()
}

// TestSlidesHeldAreBounded: the rooms of a server hold MaxSlidesMemory of PDFs together;
// a deck replaced, closed or gone with its room frees its share.
func TestSlidesHeldAreBounded(t *testing.T) {
	srv := newTestServer(t)
	join(t, srv, srv.token(t, "a", "pres", RolePresenter, KindMeeting))
	b := join(t, srv, srv.token(t, "b", "pres", RolePresenter, KindMeeting))
	roomA, _ := srv.Room("a")
	roomB, _ := srv.Room("b")
	big := make([]byte, MaxSlidesBytes+1)
	_, err := roomA.PresentSlides("pres", big, 1)
	require.ErrorIs(t, err, ErrInvalidSlides, "over MaxSlidesBytes")
	deck := make([]byte, MaxSlidesBytes)
	n := MaxSlidesMemory / MaxSlidesBytes
	for range n {
		_, err := roomA.PresentSlides("pres", deck, 1) // replaces: holds one
		require.NoError(t, err)
	}
	require.EqualValues(t, MaxSlidesBytes, srv.slidesBytes.Load())
	srv.slidesBytes.Add(MaxSlidesMemory - 2*MaxSlidesBytes + 1) // as if other rooms held the rest
	_, err = roomB.PresentSlides("pres", deck, 1)
	require.ErrorIs(t, err, ErrSlidesMemory)
	srv.slidesBytes.Add(-(MaxSlidesMemory - 2*MaxSlidesBytes + 1))
	id, err := roomB.PresentSlides("pres", deck, 1)
	require.NoError(t, err)
	b.send(map[string]any{"type": "slides_close", "slides_id": id})
	b.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeSlides && m.SlidesID == "" })
	require.EqualValues(t, MaxSlidesBytes, srv.slidesBytes.Load())
	require.NoError(t, roomA.Close())
	require.Zero(t, srv.slidesBytes.Load(), "a closed room frees its deck")
}
