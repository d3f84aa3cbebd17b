package privacy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"webinaire/store"
)

// Rights carries out the rights of the person: access and portability (export), erasure,
// rectification, restriction.
type Rights struct {
	store  *store.Store
	ledger *Ledger
	policy Policy
	files  RecordingFiles // nil: no recordings
}

// NewRights returns the rights of the people whose data st holds; files deletes their
// recordings' files (nil when there are no recordings).
func NewRights(st *store.Store, ledger *Ledger, policy Policy, files RecordingFiles) *Rights {
	return &Rights{store: st, ledger: ledger, policy: policy, files: files}
}

// Export is everything Webinaire holds about an organizer (GDPR art. 15 and 20).
type Export struct {
	ExportedAt    time.Time             `json:"exported_at"`
	Account       ExportAccount         `json:"account"`
	Webinars      []ExportWebinar       `json:"webinars"`
	Invitations   []ExportInvitation    `json:"invitations"`
	Recordings    []ExportRecording     `json:"recordings"`
	Slides        []ExportSlides        `json:"slides"`
	ConnectionLog []ExportConnection    `json:"connection_log"`
	AuditTrail    []ExportAuditEvent    `json:"audit_trail"`
	Retention     map[string]ExportRule `json:"retention"`
}

// ExportSlides are the slides attached to one of the person's webinars; the file itself is
// downloaded with GET /api/v1/webinars/{id}/slides.
type ExportSlides struct {
	WebinarID  string    `json:"webinar_id"`
	Pages      int       `json:"pages"`
	SizeBytes  int64     `json:"size_bytes"`
	AttachedAt time.Time `json:"attached_at"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// ExportAccount is the account as stored.
type ExportAccount struct {
	ID             string     `json:"id"`
	Issuer         string     `json:"issuer"`
	Subject        string     `json:"subject"`
	FamilyName     string     `json:"family_name"`
	GivenName      string     `json:"given_name"`
	Email          string     `json:"email"`
	DisplayName    string     `json:"display_name"`
	LastActivityAt time.Time  `json:"last_activity_at"`
	CreatedAt      time.Time  `json:"created_at"`
	RestrictedAt   *time.Time `json:"restricted_at"`
}

// ExportWebinar is a webinar as stored.
type ExportWebinar struct {
	ID               string    `json:"id"`
	Title            string    `json:"title"`
	Description      string    `json:"description"`
	Kind             string    `json:"kind"`
	StartsAt         time.Time `json:"starts_at"`
	DurationMinutes  int       `json:"duration_minutes"`
	LobbyEnabled     bool      `json:"lobby_enabled"`
	RecordingAllowed bool      `json:"recording_allowed"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
	// BroadcastURL is the live broadcast's target, when set; its stream key is a secret
	// of the target's and is left out.
	BroadcastURL *string `json:"broadcast_url,omitempty"`
}

// ExportInvitation is an invitation as stored (its token is a secret link, so it is left out).
type ExportInvitation struct {
	ID        string     `json:"id"`
	WebinarID string     `json:"webinar_id"`
	Role      string     `json:"role"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

// ExportRecording is a recording of one of the person's webinars, with its share links.
type ExportRecording struct {
	ID         string                `json:"id"`
	WebinarID  string                `json:"webinar_id"`
	State      string                `json:"state"`
	StartedAt  time.Time             `json:"started_at"`
	EndedAt    *time.Time            `json:"ended_at"`
	DurationMS int64                 `json:"duration_ms"`
	SizeBytes  int64                 `json:"size_bytes"`
	ExpiresAt  time.Time             `json:"expires_at"`
	Error      string                `json:"error,omitempty"`
	ShareLinks []ExportRecordingLink `json:"share_links"`
}

// ExportRecordingLink is a share link of a recording; its token is the link itself, a
// secret, so it is left out.
type ExportRecordingLink struct {
	Audience  string     `json:"audience"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

// ExportConnection is one of the person's connection-log entries.
type ExportConnection struct {
	At        time.Time `json:"at"`
	IP        string    `json:"ip"`
	Port      int       `json:"port"`
	Action    string    `json:"action"`
	WebinarID string    `json:"webinar_id,omitempty"`
	Protocol  string    `json:"protocol"`
}

// ExportAuditEvent is something the person did, or that was done to their account.
type ExportAuditEvent struct {
	At         time.Time `json:"at"`
	Action     string    `json:"action"`
	ObjectType string    `json:"object_type"`
	ObjectID   string    `json:"object_id"`
}

// ExportRule says how long a category is kept.
type ExportRule struct {
	Kept       string `json:"kept"`
	LegalBasis string `json:"legal_basis"`
}

// Export gathers an organizer's data.
func (r *Rights) Export(ctx context.Context, organizerID string, now time.Time) (Export, error) {
	o, err := r.store.Organizer(ctx, organizerID)
	if err != nil {
		return Export{}, fmt.Errorf("export: %w", err)
	}
	x := Export{
		ExportedAt: now.UTC(),
		Account: ExportAccount{
			ID: o.ID, Issuer: o.Issuer, Subject: o.Subject, FamilyName: o.FamilyName, GivenName: o.GivenName,
			Email: o.Email, DisplayName: o.DisplayName, LastActivityAt: o.LastActivityAt.UTC(), CreatedAt: o.CreatedAt.UTC(),
			RestrictedAt: o.RestrictedAt,
		},
		Webinars: []ExportWebinar{}, Invitations: []ExportInvitation{}, Recordings: []ExportRecording{}, Slides: []ExportSlides{},
		ConnectionLog: []ExportConnection{}, AuditTrail: []ExportAuditEvent{}, Retention: map[string]ExportRule{},
	}
	webinars, err := r.store.AllWebinars(ctx, o.ID)
	if err != nil {
		return Export{}, fmt.Errorf("export: %w", err)
	}
	for _, w := range webinars {
		xw := ExportWebinar{ID: w.ID, Title: w.Title, Description: w.Description, Kind: w.Kind, StartsAt: w.StartsAt.UTC(),
			DurationMinutes: w.DurationMinutes, LobbyEnabled: w.LobbyEnabled, RecordingAllowed: w.RecordingAllowed,
			CreatedAt: w.CreatedAt.UTC(), UpdatedAt: w.UpdatedAt.UTC()}
		target, err := r.store.BroadcastTargetOf(ctx, o.ID, w.ID)
		switch {
		case err == nil:
			xw.BroadcastURL = &target.URL
		case !errors.Is(err, store.ErrNoBroadcastTarget):
			return Export{}, fmt.Errorf("export: %w", err)
		}
		x.Webinars = append(x.Webinars, xw)
		ws, err := r.store.SlidesOf(ctx, w.ID, false)
		if errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return Export{}, fmt.Errorf("export: %w", err)
		}
		x.Slides = append(x.Slides, ExportSlides{ws.WebinarID, ws.Pages, ws.SizeBytes, ws.AttachedAt.UTC(), ws.ExpiresAt.UTC()})
	}
	invitations, err := r.store.InvitationsOfOrganizer(ctx, o.ID)
	if err != nil {
		return Export{}, fmt.Errorf("export: %w", err)
	}
	for _, inv := range invitations {
		x.Invitations = append(x.Invitations, ExportInvitation{inv.ID, inv.WebinarID, inv.Role, inv.CreatedAt.UTC(), inv.RevokedAt})
	}
	if x.Recordings, err = r.exportRecordings(ctx, o.ID); err != nil {
		return Export{}, fmt.Errorf("export: %w", err)
	}
	log, err := r.store.ConnectionLog(ctx, store.ConnectionFilter{ActorID: o.ID})
	if err != nil {
		return Export{}, fmt.Errorf("export: %w", err)
	}
	for _, e := range log {
		x.ConnectionLog = append(x.ConnectionLog, ExportConnection{e.At.UTC(), e.IP, e.Port, e.Action, e.WebinarID, e.Protocol})
	}
	events, err := r.store.AuditEventsAbout(ctx, o.ID)
	if err != nil {
		return Export{}, fmt.Errorf("export: %w", err)
	}
	for _, e := range events {
		x.AuditTrail = append(x.AuditTrail, ExportAuditEvent{e.At.UTC(), e.Action, e.ObjectType, e.ObjectID})
	}
	for _, c := range r.policy.Categories() {
		x.Retention[c.Key] = ExportRule{Kept: c.Kept.EN, LegalBasis: c.LegalBasis.EN}
	}
	return x, nil
}

// exportRecordings are the recordings of an organizer's webinars with their share links.
func (r *Rights) exportRecordings(ctx context.Context, organizerID string) ([]ExportRecording, error) {
	recs, err := r.store.RecordingsOfOrganizer(ctx, organizerID)
	if err != nil {
		return nil, err
	}
	out := make([]ExportRecording, 0, len(recs))
	for _, rec := range recs {
		links, err := r.store.RecordingLinks(ctx, rec.ID)
		if err != nil {
			return nil, err
		}
		x := ExportRecording{
			ID: rec.ID, WebinarID: rec.WebinarID, State: rec.State, StartedAt: rec.StartedAt.UTC(), EndedAt: utcOrNil(rec.EndedAt),
			DurationMS: rec.DurationMS, SizeBytes: rec.SizeBytes, ExpiresAt: rec.ExpiresAt.UTC(), Error: rec.Error,
			ShareLinks: make([]ExportRecordingLink, 0, len(links)),
		}
		for _, l := range links {
			x.ShareLinks = append(x.ShareLinks, ExportRecordingLink{l.Audience, l.CreatedAt.UTC(), l.ExpiresAt.UTC(), utcOrNil(l.RevokedAt)})
		}
		out = append(out, x)
	}
	return out, nil
}

// utcOrNil is t in UTC, or nil.
func utcOrNil(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// Erasure is what an erasure did and what it kept.
type Erasure struct {
	// ConnectionLogEntries stay until their own period is over: legal obligation
	// (décret n° 2021-1362), which GDPR art. 17(3)(b) puts before erasure.
	ConnectionLogEntries int
	// ConnectionLogKeptUntil is when the last of them goes; zero when there are none.
	ConnectionLogKeptUntil time.Time
}

// Erase deletes an organizer's account with its sessions, webinars and invitations, takes its
// id out of the audit trail (replaced by the keyed hash the ledger uses), and records it in
// the ledger in the same transaction. Connection-log entries stay.
func (r *Rights) Erase(ctx context.Context, organizerID string, now time.Time) (Erasure, error) {
	var out Erasure
	log, err := r.store.ConnectionLog(ctx, store.ConnectionFilter{ActorID: organizerID})
	if err != nil {
		return out, fmt.Errorf("erase: %w", err)
	}
	if n := len(log); n > 0 {
		out.ConnectionLogEntries = n
		out.ConnectionLogKeptUntil = r.policy.ConnectionLog.Until(log[n-1].At).UTC()
	}
	stores := []string{StoreDatabase}
	if r.files != nil {
		// The recordings' files first: their rows go with the account's.
		owned, err := r.store.RecordingsOfOrganizers(ctx, []string{organizerID})
		if err != nil {
			return out, fmt.Errorf("erase: %w", err)
		}
		if err := r.DeleteRecordingFiles(ctx, recordingIDs(owned), eraseRule, now); err != nil {
			return out, fmt.Errorf("erase: %w", err)
		}
		stores = append(stores, StoreFiles)
	}
	err = r.store.InTx(ctx, func(tx *store.Store) error {
		if err := tx.PseudonymiseAuditEvents(ctx, organizerID, r.ledger.ObjectHash(organizerID)); err != nil {
			return err
		}
		if err := tx.DeleteOrganizer(ctx, organizerID); err != nil {
			return err
		}
		return r.ledger.Record(ctx, tx, Entry{
			Rule: eraseRule, Category: CategoryAccounts,
			ObjectID: organizerID, Count: 1, Stores: stores, At: now,
		})
	})
	if err != nil {
		return Erasure{}, fmt.Errorf("erase: %w", err)
	}
	return out, nil
}

// eraseRule is the ledger's rule of an erasure and of what goes with it.
const eraseRule = "erasure at the person's request (GDPR art. 17)"

// DeleteRecordingFiles deletes, at a person's request, the files of the recordings ids
// wherever they are kept, before the deletion that takes their rows with it (their
// webinar's, their account's). When the files of some are unreachable now, it deletes at
// once the rows of the others, with one ledger entry each under rule, and returns an error
// wrapping ErrFilesUnreachable: the deletion waits, with the recordings left, for the
// person to ask again. Without recordings (no RecordingFiles) it does nothing.
func (r *Rights) DeleteRecordingFiles(ctx context.Context, ids []string, rule string, now time.Time) error {
	if r.files == nil {
		return nil
	}
	left, err := deleteFiles(ctx, r.files, ids)
	if err != nil || len(left) == 0 {
		return err
	}
	err = r.store.InTx(ctx, func(tx *store.Store) error {
		for _, id := range ids {
			if slices.Contains(left, id) {
				continue
			}
			if err := tx.DeleteRecording(ctx, id); err != nil {
				return err
			}
			err := r.ledger.Record(ctx, tx, Entry{
				Rule: rule, Category: CategoryRecordings, ObjectID: id, Count: 1, Stores: []string{StoreFiles, StoreDatabase}, At: now,
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete recordings whose files went: %w", err)
	}
	return fmt.Errorf("%d of %d recordings: %w", len(left), len(ids), ErrFilesUnreachable)
}

// recordingIDs are the ids of recordings.
func recordingIDs(recordings []store.OwnedRecording) []string {
	ids := make([]string, len(recordings))
	for i, r := range recordings {
		ids[i] = r.ID
	}
	return ids
}

// Restrict restricts processing of an account (GDPR art. 18), or lifts the restriction; both
// are recorded in the ledger. It reports whether anything changed.
func (r *Rights) Restrict(ctx context.Context, organizerID string, restrict bool, now time.Time) (bool, error) {
	var changed bool
	err := r.store.InTx(ctx, func(tx *store.Store) error {
		var at *time.Time
		rule := "restriction of processing lifted (GDPR art. 18)"
		if restrict {
			at, rule = &now, "restriction of processing (GDPR art. 18)"
		}
		var err error
		if changed, err = tx.SetRestricted(ctx, organizerID, at); err != nil || !changed {
			return err
		}
		return r.ledger.Record(ctx, tx, Entry{
			Rule: rule, Category: CategoryAccounts, ObjectID: organizerID, Count: 0, Stores: []string{StoreDatabase}, At: now,
		})
	})
	if err != nil {
		return false, fmt.Errorf("restrict: %w", err)
	}
	return changed, nil
}
