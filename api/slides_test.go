package api_test

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/sfu/signal"
	"webinaire/store"
)

// slidesPDF is a small PDF of n pages whose bytes hold marker.
func slidesPDF(n int, marker string) []byte {
	var b strings.Builder
	b.WriteString("%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n")
	fmt.Fprintf(&b, "2 0 obj << /Type /Pages /Count %d /Title (%s) >> endobj\n", n, marker)
	for i := range n {
		fmt.Fprintf(&b, "%d 0 obj << /Type /Page /Parent 2 0 R >> endobj\n", i+3)
	}
	b.WriteString("trailer << /Root 1 0 R >>\n%%EOF\n")
	return []byte(b.String())
}

// bombPDF is a one-page PDF with a stream that expands to 300 MiB.
func bombPDF() []byte {
	var z bytes.Buffer
	w, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	zero := make([]byte, 1<<20)
	for range 300 {
		_, _ = w.Write(zero)
	}
	_ = w.Close()
	pdf := slidesPDF(1, "bomb")
	var b bytes.Buffer
	b.Write(pdf[:len(pdf)-len("%%EOF\n")])
	fmt.Fprintf(&b, "9 0 obj << /Filter /FlateDecode /Length %d >>\nstream\n", z.Len())
	b.Write(z.Bytes())
	b.WriteString("\nendstream\nendobj\n%%EOF\n")
	return b.Bytes()
}

// TestSessionSlidesLeaveNoTrace: a presenter's PDF is checked (not a PDF, a bomb, no
// token, an attendee: refused with a clear error), reaches the others, who download it with
// their own credential, follows the presenter's page turns, and once the session has ended
// its bytes are nowhere: not in the database, not in a file of the server's, not in a log
// line, and no longer served.
func TestSessionSlidesLeaveNoTrace(t *testing.T) {
	const marker = "zq7-slides-marker-0b3d"
	e := setup(t, "sqlite", options{})
	owner, anon := e.browser(), e.browser()
	owner.Login(userOwner)
	w := createWebinar(owner, withoutLobby)
	o := connectRTC(t, e, joinAsOwner(owner, w.ID))
	ownerToken := o.waitJoined().SessionToken
	inv := createInvitation(owner, w.ID, "attendee")
	g := connectRTC(t, e, joinAsGuest(anon, inv.URL, "Zoé Martin"))
	guestToken := g.waitJoined().SessionToken
	require.NotEmpty(t, ownerToken)

	present := func(token string, pdf []byte) *http.Response {
		return anon.Do("POST", "/api/v1/slides", pdf, map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/pdf"})
	}
	for _, tt := range []struct {
		name   string
		token  string
		pdf    []byte
		status int
		code   string
	}{
		{"no credential", "", slidesPDF(2, marker), http.StatusUnauthorized, "invalid_token"},
		{"an attendee", guestToken, slidesPDF(2, marker), http.StatusForbidden, "not_presenter"},
		{"not a PDF", ownerToken, []byte("GIF89a" + marker), http.StatusUnprocessableEntity, "not_pdf"},
		{"a bomb", ownerToken, bombPDF(), http.StatusUnprocessableEntity, "pdf_too_large"},
		{"too many pages", ownerToken, slidesPDF(501, marker), http.StatusUnprocessableEntity, "pdf_pages"},
		{"too large", ownerToken, bytes.Repeat([]byte("%PDF-"), 5<<20), http.StatusRequestEntityTooLarge, "body_too_large"},
	} {
		resp := present(tt.token, tt.pdf)
		require.Equal(t, tt.status, resp.StatusCode, tt.name)
		require.Equal(t, tt.code, problemOf(t, resp).Code, tt.name)
	}

	resp := present(ownerToken, slidesPDF(3, marker))
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var out struct {
		ID    string `json:"slides_id"`
		Pages int    `json:"pages"`
	}
	decode(t, resp, &out)
	require.Equal(t, 3, out.Pages)
	g.waitMsg(func(m signal.ServerMessage) bool { return m.Type == "slides" && m.SlidesID == out.ID && m.Page == 1 })
	resp = anon.Do("GET", "/api/v1/slides/"+out.ID, nil, map[string]string{"Authorization": "Bearer " + guestToken})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "application/pdf", resp.Header.Get("Content-Type"))
	got, _ := io.ReadAll(resp.Body)
	require.Contains(t, string(got), marker)
	require.NoError(t, o.Send(t.Context(), map[string]any{"type": "slide_page", "slides_id": out.ID, "page": 3}))
	g.waitMsg(func(m signal.ServerMessage) bool { return m.Type == "slides" && m.SlidesID == out.ID && m.Page == 3 })

	require.NoError(t, o.Send(t.Context(), map[string]any{"type": "end_session"}))
	o.waitClosed()
	g.waitClosed()
	require.Eventually(t, func() bool { _, open := e.sfu.Room(w.RoomID); return !open }, rtcWait, 10*time.Millisecond, "the room is gone")
	resp = anon.Do("GET", "/api/v1/slides/"+out.ID, nil, map[string]string{"Authorization": "Bearer " + guestToken})
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "no longer served")

	require.False(t, findInDatabase(t, e, marker), "no database row holds the slides")
	require.False(t, findInFiles(t, e.recordingsRoot, marker), "no recording file")
	require.False(t, findInFiles(t, filepath.Dir(e.db.URL), marker), "nothing beside the database file")
	require.False(t, findInFiles(t, t.TempDir()+"/..", marker), "no temporary file")
	require.NotContains(t, e.logs.String(), marker, "no log line")
}

// TestSlidesAttachedBeforehand: an organizer attaches a PDF to a webinar (checked as any
// presented PDF), finds it in the export, a presenter in the room presents it, and its
// deletion, by the organizer or with the webinar, is a ledger entry.
func TestSlidesAttachedBeforehand(t *testing.T) {
	const marker = "zq7-attached-marker-77aa"
	e := setup(t, "sqlite", options{})
	owner, other, anon := e.browser(), e.browser(), e.browser()
	owner.Login(userOwner)
	other.Login(userOther)
	w := createWebinar(owner, withoutLobby)
	path := "/api/v1/webinars/" + w.ID + "/slides"
	pdfHeader := map[string]string{"Content-Type": "application/pdf"}

	resp := owner.Do("PUT", path, []byte("GIF89a"), pdfHeader)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Equal(t, "not_pdf", problemOf(t, resp).Code)
	resp = other.Do("PUT", path, slidesPDF(2, marker), pdfHeader)
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "another organizer's webinar")
	resp = owner.Do("PUT", path, slidesPDF(2, marker), pdfHeader)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var info struct {
		Pages     int       `json:"pages"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	decode(t, resp, &info)
	require.Equal(t, 2, info.Pages)
	require.Equal(t, time.Date(2027, 1, 3, 13, 0, 0, 0, time.UTC), info.ExpiresAt, "the webinar's date plus a month")
	resp = owner.Do("GET", path, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, _ := io.ReadAll(resp.Body)
	require.Contains(t, string(body), marker)

	resp = owner.Do("GET", "/api/v1/me/export", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var export struct {
		Slides []struct {
			WebinarID string `json:"webinar_id"`
			Pages     int    `json:"pages"`
		} `json:"slides"`
		Retention map[string]any `json:"retention"`
	}
	decode(t, resp, &export)
	require.Len(t, export.Slides, 1)
	require.Equal(t, w.ID, export.Slides[0].WebinarID)
	require.Contains(t, export.Retention, "slides")

	// Presented in the room by its moderator; an attendee may not.
	o := connectRTC(t, e, joinAsOwner(owner, w.ID))
	ownerToken := o.waitJoined().SessionToken
	g := connectRTC(t, e, joinAsGuest(anon, createInvitation(owner, w.ID, "attendee").URL, "Zoé Martin"))
	guestToken := g.waitJoined().SessionToken
	resp = anon.Do("POST", "/api/v1/slides/attached", nil, map[string]string{"Authorization": "Bearer " + guestToken})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp = anon.Do("POST", "/api/v1/slides/attached", nil, map[string]string{"Authorization": "Bearer " + ownerToken})
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	g.waitMsg(func(m signal.ServerMessage) bool { return m.Type == "slides" && m.SlidesID != "" && m.Page == 1 })

	require.True(t, findInDatabase(t, e, marker), "the attached file is in the database")
	resp = owner.Do("DELETE", path, nil, nil)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.False(t, findInDatabase(t, e, marker), "once deleted, its bytes are in no file of the database (secure_delete, the log emptied)")
	resp = owner.Do("DELETE", path, nil, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	// Attached again, then deleted with its webinar.
	require.Equal(t, http.StatusCreated, owner.Do("PUT", path, slidesPDF(1, marker), pdfHeader).StatusCode)
	require.NoError(t, o.Send(t.Context(), map[string]any{"type": "end_session"}))
	o.waitClosed()
	require.Equal(t, http.StatusNoContent, owner.Do("DELETE", "/api/v1/webinars/"+w.ID, nil, nil).StatusCode)

	entries, err := e.store.LedgerEntries(t.Context(), 0, 100)
	require.NoError(t, err)
	var rules []string
	for _, en := range entries {
		if en.Category == "slides" {
			rules = append(rules, en.Rule)
		}
	}
	require.Equal(t, []string{"deleted by the organizer", "deleted with its webinar by the organizer"}, rules)
	_, err = e.store.SlidesOf(t.Context(), w.ID, false)
	require.ErrorIs(t, err, store.ErrNotFound, "no row holds the slides any more")
	require.False(t, findInDatabase(t, e, marker), "nor any byte of the database's files")
}
