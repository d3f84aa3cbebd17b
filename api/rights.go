package api

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"webinaire/store"
)

// connectionEvent is the connection-log entry of the request c: who, from where, doing what.
func (s *Server) connectionEvent(c *gin.Context, kind, actorID, displayName, action, webinarID string) store.ConnectionEvent {
	ip, port := s.clientAddr(c.Request)
	if from, ok := c.Get(forwardedClientKey); ok {
		// A request another node of the cluster passed on: its client's address.
		ap := from.(netip.AddrPort)
		ip, port = ap.Addr(), int(ap.Port())
	}
	protocol := "http"
	if s.secure {
		protocol = "https"
	}
	return store.ConnectionEvent{
		At: s.now(), ActorKind: kind, ActorID: actorID, DisplayName: displayName,
		IP: ip.String(), Port: port, Action: action, WebinarID: webinarID, Protocol: protocol,
	}
}

// needUnrestricted refuses every use of an account whose processing is restricted (GDPR
// art. 18), but for reading and exporting its own data.
func (s *Server) needUnrestricted(c *gin.Context) {
	if sess, _ := sessionOf(c); sess.Organizer.RestrictedAt != nil {
		writeProblem(c, errRestricted)
		return
	}
	c.Next()
}

func (s *Server) exportMe(c *gin.Context) {
	sess, _ := sessionOf(c)
	x, err := s.rights.Export(c.Request.Context(), sess.OrganizerID, s.now())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Content-Disposition", `attachment; filename="webinaire-export.json"`)
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, x)
}

func (s *Server) rectifyMe(c *gin.Context) {
	sess, _ := sessionOf(c)
	var in struct {
		DisplayName *string `json:"display_name"`
	}
	if p := decodeJSON(c, &in); p != nil {
		writeProblem(c, p)
		return
	}
	if in.DisplayName == nil {
		writeProblem(c, validationProblem([]FieldError{{Field: "display_name", Detail: "is required"}}))
		return
	}
	name := strings.TrimSpace(*in.DisplayName)
	if utf8.RuneCountInString(name) > 100 || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		writeProblem(c, validationProblem([]FieldError{{Field: "display_name", Detail: "one line of at most 100 characters (empty to use the name from the identity provider)"}}))
		return
	}
	ctx := c.Request.Context()
	err := s.p.Store.InTx(ctx, func(tx *store.Store) error {
		if err := tx.SetDisplayName(ctx, sess.OrganizerID, name); err != nil {
			return err
		}
		return tx.RecordAudit(ctx, s.auditEvent(sess.OrganizerID, "organizer.rectify", "organizer", sess.OrganizerID, nil))
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	sess.Organizer.DisplayName = name
	c.Set(sessionKey, sess)
	s.getMe(c)
}

// eraseMe deletes the organizer's account and everything with it but the connection log,
// which the law keeps for its own period; the answer says until when.
func (s *Server) eraseMe(c *gin.Context) {
	sess, _ := sessionOf(c)
	ctx := c.Request.Context()
	webinars, err := s.p.Store.AllWebinars(ctx, sess.OrganizerID)
	elsewhere := s.roomNodesOf(ctx, webinars) // read before the placements go with them
	if err == nil {
		err = s.stopRecordingsOf(ctx, webinars) // finalized, then erased with the rest
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	out, err := s.rights.Erase(ctx, sess.OrganizerID, s.now())
	if err != nil {
		s.fail(c, err)
		return
	}
	s.streams.endStreams(func(e *httpSession) bool { return e.organizerID == sess.OrganizerID })
	if err := s.p.Store.Scrub(ctx); err != nil {
		s.log.Warn("database not scrubbed after the erasure", "err", err)
	}
	s.closeRoomsOf(ctx, webinars, elsewhere)
	s.setCookie(c, "webinaire_session", "", -1)
	body := gin.H{
		"erased":                 true,
		"connection_log_entries": out.ConnectionLogEntries,
		"connection_log_reason":  "legal obligation to keep connection data (décret n° 2021-1362), which GDPR art. 17(3)(b) puts before erasure",
	}
	if !out.ConnectionLogKeptUntil.IsZero() {
		body["connection_log_kept_until"] = out.ConnectionLogKeptUntil
	}
	c.JSON(http.StatusOK, body)
}

// restriction restricts or lifts the restriction of the organizer of the path.
func (s *Server) restriction(c *gin.Context, restrict bool) {
	sess, _ := sessionOf(c)
	ctx := c.Request.Context()
	id := c.Param("id")
	changed, err := s.rights.Restrict(ctx, id, restrict, s.now())
	if err != nil {
		s.fail(c, err)
		return
	}
	action := "organizer.restriction_lifted"
	if restrict {
		action = "organizer.restricted"
		// No processing for the account from now on: its recordings stop (and are
		// kept), its webinars' streams and rooms end; the Gate refuses them entry.
		webinars, err := s.p.Store.AllWebinars(ctx, id)
		if err == nil {
			err = s.stopRecordingsOf(ctx, webinars)
		}
		if err != nil {
			s.fail(c, err)
			return
		}
		s.streams.endStreams(func(e *httpSession) bool { return e.organizerID == id })
		s.closeRoomsOf(ctx, webinars, s.roomNodesOf(ctx, webinars))
	}
	if changed {
		if err := s.p.Store.RecordAudit(ctx, s.auditEvent(sess.OrganizerID, action, "organizer", c.Param("id"), nil)); err != nil {
			s.fail(c, err)
			return
		}
	}
	o, err := s.p.Store.Organizer(ctx, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"id": o.ID, "restricted_at": o.RestrictedAt, "changed": changed})
}

func (s *Server) restrictOrganizer(c *gin.Context) { s.restriction(c, true) }
func (s *Server) liftRestriction(c *gin.Context)   { s.restriction(c, false) }

// connectionJSON is a connection-log entry as an administrator reads it.
type connectionJSON struct {
	At          time.Time `json:"at"`
	ActorKind   string    `json:"actor_kind"`
	ActorID     string    `json:"actor_id"`
	DisplayName string    `json:"display_name,omitempty"`
	IP          string    `json:"ip"`
	Port        int       `json:"port"`
	Action      string    `json:"action"`
	WebinarID   string    `json:"webinar_id,omitempty"`
	Protocol    string    `json:"protocol"`
}

// connectionSearch is the body of a connection-log search: an address or an identifier, and
// the time range.
type connectionSearch struct {
	IP      string `json:"ip"`
	ActorID string `json:"actor_id"`
	From    string `json:"from"`
	To      string `json:"to"`
}

// maxActorID bounds the identifier a connection-log search names.
const maxActorID = 128

// searchConnectionLog answers a legal request: entries by source address and time range.
// The search itself is recorded in the audit trail, with a keyed hash of the address; since
// it writes, it is a POST with the CSRF token, never a GET a link could make an
// administrator's browser send.
func (s *Server) searchConnectionLog(c *gin.Context) {
	sess, _ := sessionOf(c)
	var in connectionSearch
	if p := decodeJSON(c, &in); p != nil {
		writeProblem(c, p)
		return
	}
	var errs []FieldError
	f := store.ConnectionFilter{Limit: 1000}
	if in.IP != "" {
		a, err := netip.ParseAddr(in.IP)
		if err != nil {
			errs = append(errs, FieldError{Field: "ip", Detail: "must be an IPv4 or IPv6 address"})
		}
		f.IP = a.Unmap().String()
	}
	if len(in.ActorID) > maxActorID {
		errs = append(errs, FieldError{Field: "actor_id", Detail: "at most 128 bytes"})
	}
	f.ActorID = in.ActorID
	for _, q := range []struct {
		name, value string
		dst         *time.Time
	}{{"from", in.From, &f.From}, {"to", in.To, &f.To}} {
		if q.value != "" {
			t, err := time.Parse(time.RFC3339, q.value)
			if err != nil {
				errs = append(errs, FieldError{Field: q.name, Detail: "must be an RFC 3339 date and time"})
			}
			*q.dst = t
		}
	}
	if f.IP == "" && f.ActorID == "" {
		errs = append(errs, FieldError{Field: "ip", Detail: "give an address (ip) or an identifier (actor_id)"})
	}
	if f.From.IsZero() || f.To.IsZero() {
		errs = append(errs, FieldError{Field: "from", Detail: "give the time range: from and to"})
	} else if !f.From.Before(f.To) {
		errs = append(errs, FieldError{Field: "to", Detail: "must be after from"})
	}
	if errs != nil {
		writeProblem(c, validationProblem(errs))
		return
	}
	ctx := c.Request.Context()
	list, err := s.p.Store.ConnectionLog(ctx, f)
	if err != nil {
		s.fail(c, err)
		return
	}
	detail := map[string]string{"from": f.From.UTC().Format(time.RFC3339), "to": f.To.UTC().Format(time.RFC3339), "results": strconv.Itoa(len(list))}
	if f.IP != "" {
		detail["ip_hash"] = s.p.Ledger.ObjectHash(f.IP)
	}
	if f.ActorID != "" {
		detail["actor_hash"] = s.p.Ledger.ObjectHash(f.ActorID)
	}
	if err := s.p.Store.RecordAudit(ctx, s.auditEvent(sess.OrganizerID, "connection_log.search", "connection_log", "", detail)); err != nil {
		s.fail(c, err) // a search that cannot be recorded is not answered
		return
	}
	items := make([]connectionJSON, 0, len(list))
	for _, e := range list {
		items = append(items, connectionJSON{e.At.UTC(), e.ActorKind, e.ActorID, e.DisplayName, e.IP, e.Port, e.Action, e.WebinarID, e.Protocol})
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"items": items, "truncated": len(list) == f.Limit})
}

func (s *Server) listLedger(c *gin.Context) {
	var errs []FieldError
	after, err := strconv.ParseInt(c.DefaultQuery("after", "0"), 10, 64)
	if err != nil || after < 0 {
		errs = append(errs, FieldError{Field: "after", Detail: "a sequence number from 0"})
	}
	limit, err := strconv.Atoi(c.DefaultQuery("limit", "100"))
	if err != nil || limit < 1 || limit > 1000 {
		errs = append(errs, FieldError{Field: "limit", Detail: "a whole number from 1 to 1000"})
	}
	if errs != nil {
		writeProblem(c, validationProblem(errs))
		return
	}
	list, err := s.p.Ledger.Entries(c.Request.Context(), after, limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": list})
}

func (s *Server) exportLedger(c *gin.Context) {
	format := c.DefaultQuery("format", "json")
	if format != "json" && format != "csv" {
		writeProblem(c, validationProblem([]FieldError{{Field: "format", Detail: "json or csv"}}))
		return
	}
	ctype := map[string]string{"json": "application/json", "csv": "text/csv; charset=utf-8"}[format]
	c.Header("Content-Type", ctype)
	c.Header("Content-Disposition", `attachment; filename="deletion-ledger.`+format+`"`)
	c.Status(http.StatusOK)
	if err := s.p.Ledger.Export(c.Request.Context(), c.Writer, format); err != nil {
		// The status is sent; the cut body shows the export failed.
		s.log.ErrorContext(c.Request.Context(), "ledger export failed", "err", err)
	}
}

var errRestricted = problem(http.StatusForbidden, "restricted", "processing of this account is restricted (GDPR art. 18): it can be read and exported, nothing else, until an administrator lifts the restriction")
