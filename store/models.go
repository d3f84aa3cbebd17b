package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Organizer is an account created at first login from the ID token: nothing else is stored
// but a display name the organizer may set (rectification).
type Organizer struct {
	ID             string
	Issuer         string
	Subject        string
	FamilyName     string
	GivenName      string
	Email          string
	DisplayName    string
	LastActivityAt time.Time
	CreatedAt      time.Time
	// RestrictedAt is set while processing is restricted (GDPR art. 18): no sweep and no
	// use touches the account until it is lifted.
	RestrictedAt *time.Time
	// PurgeMarkedAt is set by the account sweep before it deletes; activity clears it.
	PurgeMarkedAt *time.Time
}

// Session is an organizer's login. ID is the SHA-256 of the cookie value, never the value itself.
type Session struct {
	ID          string
	OrganizerID string
	CSRFToken   string `gorm:"column:csrf_token"`
	IsAdmin     bool
	CreatedAt   time.Time
	LastSeenAt  time.Time
	ExpiresAt   time.Time
	Organizer   Organizer `gorm:"foreignKey:OrganizerID"`
}

// LoginFlow is a pending OpenID Connect login, keyed by the SHA-256 of its state.
type LoginFlow struct {
	ID       string
	Nonce    string
	Verifier string
	ReturnTo string
	// ClientKey names the client that started the login, for the bound on pending logins
	// per client: a keyed hash of its address (never the address itself).
	ClientKey string
	ExpiresAt time.Time
}

// LoginFlowLimits bound the pending logins (not expired yet) that CreateLoginFlow lets in:
// PerClient of one ClientKey, Total in all.
type LoginFlowLimits struct {
	PerClient int
	Total     int
}

// Webinar kinds.
const (
	KindMeeting = "meeting"
	KindWebinar = "webinar"
)

// Webinar is a scheduled meeting or webinar.
type Webinar struct {
	ID               string
	OrganizerID      string
	Title            string
	Description      string
	Kind             string
	StartsAt         time.Time
	DurationMinutes  int
	RoomID           string
	LobbyEnabled     bool
	RecordingAllowed bool
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Invitation roles.
const (
	RoleAttendee  = "attendee"
	RolePresenter = "presenter"
	RoleModerator = "moderator"
	// RoleCaptioner types the live captions of the room.
	RoleCaptioner = "captioner"
)

// Invitation is a link that lets its holder join a webinar with a role, until revoked.
type Invitation struct {
	ID        string
	WebinarID string
	Role      string
	Token     string
	CreatedAt time.Time
	RevokedAt *time.Time
}

// AuditEvent is something an organizer or administrator did. It holds ids, never content.
type AuditEvent struct {
	ID         int64
	At         time.Time
	ActorID    *string
	Action     string
	ObjectType string
	ObjectID   string
	Detail     string
}

// validID tells whether id can name a row; anything else is simply not found.
func validID(id string) bool {
	_, err := uuid.Parse(id)
	return err == nil
}

// UpsertOrganizer creates the account of (issuer, subject) or refreshes its name and email,
// and sets its last activity to now.
func (s *Store) UpsertOrganizer(ctx context.Context, o Organizer, now time.Time) (Organizer, error) {
	now = now.UTC()
	o.ID = uuid.NewString()
	o.CreatedAt = now
	o.LastActivityAt = now
	err := s.conn(ctx).Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "issuer"}, {Name: "subject"}},
		DoUpdates: append(clause.AssignmentColumns([]string{"family_name", "given_name", "email", "last_activity_at"}),
			clause.Assignment{Column: clause.Column{Name: "purge_marked_at"}, Value: nil}),
	}).Create(&o).Error
	if err != nil {
		return Organizer{}, translate("upsert organizer", err)
	}
	var got Organizer
	err = s.conn(ctx).Where("issuer = ? AND subject = ?", o.Issuer, o.Subject).Take(&got).Error
	return got, translate("upsert organizer", err)
}

// Organizer returns one account.
func (s *Store) Organizer(ctx context.Context, id string) (Organizer, error) {
	var o Organizer
	if !validID(id) {
		return o, fmt.Errorf("organizer: %w", ErrNotFound)
	}
	return o, translate("organizer", s.conn(ctx).Take(&o, "id = ?", id).Error)
}

// TouchOrganizer moves an account's last activity to now when it is older than every.
func (s *Store) TouchOrganizer(ctx context.Context, id string, now time.Time, every time.Duration) error {
	now = now.UTC()
	err := s.conn(ctx).Model(&Organizer{}).
		Where("id = ? AND last_activity_at < ?", id, now.Add(-every)).
		Updates(map[string]any{"last_activity_at": now, "purge_marked_at": nil}).Error
	return translate("touch organizer", err)
}

// ListOrganizers returns a page of accounts by creation, and how many there are.
func (s *Store) ListOrganizers(ctx context.Context, limit, offset int) ([]Organizer, int64, error) {
	var (
		list  []Organizer
		total int64
	)
	db := s.conn(ctx).Model(&Organizer{}).Session(&gorm.Session{})
	if err := db.Count(&total).Error; err != nil {
		return nil, 0, translate("list organizers", err)
	}
	err := db.Order("created_at, id").Limit(limit).Offset(offset).Find(&list).Error
	return list, total, translate("list organizers", err)
}

// CreateSession stores a new session.
func (s *Store) CreateSession(ctx context.Context, sess Session) error {
	return translate("create session", s.conn(ctx).Omit(clause.Associations).Create(&sess).Error)
}

// Session returns a session with its organizer.
func (s *Store) Session(ctx context.Context, id string) (Session, error) {
	var sess Session
	err := s.conn(ctx).Preload("Organizer").Take(&sess, "id = ?", id).Error
	return sess, translate("session", err)
}

// TouchSession records that the session was used at now.
func (s *Store) TouchSession(ctx context.Context, id string, now time.Time) error {
	err := s.conn(ctx).Model(&Session{}).Where("id = ?", id).Update("last_seen_at", now.UTC()).Error
	return translate("touch session", err)
}

// DeleteSession ends a session; ending one that is gone is not an error.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return translate("delete session", s.conn(ctx).Delete(&Session{}, "id = ?", id).Error)
}

// CreateLoginFlow stores a pending login, unless its client already has limits.PerClient
// pending logins at now, or there are limits.Total pending in all: then ErrTooMany, and
// nothing is written. Creations are serialised (on PostgreSQL by a table lock held to the
// end of the transaction, on SQLite by its single writer), so the bounds hold exactly.
func (s *Store) CreateLoginFlow(ctx context.Context, f LoginFlow, now time.Time, limits LoginFlowLimits) error {
	err := s.InTx(ctx, func(tx *Store) error {
		if tx.driver == DriverPostgres {
			if err := tx.conn(ctx).Exec("LOCK TABLE login_flows IN SHARE ROW EXCLUSIVE MODE").Error; err != nil {
				return err
			}
		}
		// Each count stops at its bound: its cost does not grow with the table.
		count := func(where string, args ...any) (int, error) {
			var n int
			err := tx.conn(ctx).Raw(`SELECT count(*) FROM (SELECT 1 FROM login_flows WHERE `+where+` LIMIT ?) AS pending`, args...).Scan(&n).Error
			return n, err
		}
		n, err := count(`client_key = ? AND expires_at > ?`, f.ClientKey, now.UTC(), limits.PerClient)
		if err != nil {
			return err
		}
		if n >= limits.PerClient {
			return fmt.Errorf("%d pending logins of the client: %w", n, ErrTooMany)
		}
		if n, err = count(`expires_at > ?`, now.UTC(), limits.Total); err != nil {
			return err
		}
		if n >= limits.Total {
			return fmt.Errorf("%d pending logins in all: %w", n, ErrTooMany)
		}
		f.ExpiresAt = f.ExpiresAt.UTC()
		return tx.conn(ctx).Create(&f).Error
	})
	return translate("create login flow", err)
}

// TakeLoginFlow removes and returns a pending login, once: a second call, or a call after
// it expired, finds nothing.
func (s *Store) TakeLoginFlow(ctx context.Context, id string, now time.Time) (LoginFlow, error) {
	var f LoginFlow
	err := s.InTx(ctx, func(tx *Store) error {
		if err := tx.conn(ctx).Take(&f, "id = ?", id).Error; err != nil {
			return err
		}
		res := tx.conn(ctx).Delete(&LoginFlow{}, "id = ?", id)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return gorm.ErrRecordNotFound
		}
		return nil
	})
	if err != nil {
		return LoginFlow{}, translate("take login flow", err)
	}
	if !now.Before(f.ExpiresAt) {
		return LoginFlow{}, fmt.Errorf("take login flow: expired: %w", ErrNotFound)
	}
	return f, nil
}

// CreateWebinar stores w with a new id and a new room id.
func (s *Store) CreateWebinar(ctx context.Context, w *Webinar, now time.Time) error {
	w.ID = uuid.NewString()
	w.RoomID = NewSecret()
	w.CreatedAt = now.UTC()
	w.UpdatedAt = w.CreatedAt
	w.StartsAt = w.StartsAt.UTC()
	return translate("create webinar", s.conn(ctx).Create(w).Error)
}

// ListWebinars returns a page of an organizer's webinars by start time, and how many there are.
func (s *Store) ListWebinars(ctx context.Context, organizerID string, limit, offset int) ([]Webinar, int64, error) {
	var (
		list  []Webinar
		total int64
	)
	db := s.conn(ctx).Model(&Webinar{}).Where("organizer_id = ?", organizerID).Session(&gorm.Session{})
	if err := db.Count(&total).Error; err != nil {
		return nil, 0, translate("list webinars", err)
	}
	err := db.Order("starts_at, id").Limit(limit).Offset(offset).Find(&list).Error
	return list, total, translate("list webinars", err)
}

// WebinarOf returns an organizer's webinar; another organizer's is not found.
func (s *Store) WebinarOf(ctx context.Context, organizerID, id string) (Webinar, error) {
	var w Webinar
	if !validID(id) {
		return w, fmt.Errorf("webinar: %w", ErrNotFound)
	}
	err := s.conn(ctx).Take(&w, "id = ? AND organizer_id = ?", id, organizerID).Error
	return w, translate("webinar", err)
}

// WebinarByRoom returns the webinar whose room has that id.
func (s *Store) WebinarByRoom(ctx context.Context, roomID string) (Webinar, error) {
	var w Webinar
	err := s.conn(ctx).Take(&w, "room_id = ?", roomID).Error
	return w, translate("webinar of room", err)
}

// UpdateWebinar saves the editable fields of w, which must belong to its organizer.
func (s *Store) UpdateWebinar(ctx context.Context, w *Webinar, now time.Time) error {
	w.UpdatedAt = now.UTC()
	w.StartsAt = w.StartsAt.UTC()
	res := s.conn(ctx).Model(&Webinar{}).Where("id = ? AND organizer_id = ?", w.ID, w.OrganizerID).
		Select("title", "description", "kind", "starts_at", "duration_minutes", "lobby_enabled", "recording_allowed", "updated_at").
		Updates(w)
	if res.Error != nil {
		return translate("update webinar", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("update webinar: %w", ErrNotFound)
	}
	return nil
}

// DeleteWebinar deletes an organizer's webinar and its invitations.
func (s *Store) DeleteWebinar(ctx context.Context, organizerID, id string) error {
	if !validID(id) {
		return fmt.Errorf("delete webinar: %w", ErrNotFound)
	}
	res := s.conn(ctx).Delete(&Webinar{}, "id = ? AND organizer_id = ?", id, organizerID)
	if res.Error != nil {
		return translate("delete webinar", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete webinar: %w", ErrNotFound)
	}
	return nil
}

// CreateInvitation stores inv with a new id and token.
func (s *Store) CreateInvitation(ctx context.Context, inv *Invitation, now time.Time) error {
	inv.ID = uuid.NewString()
	inv.Token = NewSecret()
	inv.CreatedAt = now.UTC()
	inv.RevokedAt = nil
	return translate("create invitation", s.conn(ctx).Create(inv).Error)
}

// ListInvitations returns a webinar's invitations, revoked ones included, oldest first.
func (s *Store) ListInvitations(ctx context.Context, webinarID string) ([]Invitation, error) {
	var list []Invitation
	err := s.conn(ctx).Where("webinar_id = ?", webinarID).Order("created_at, id").Find(&list).Error
	return list, translate("list invitations", err)
}

// RevokeInvitation revokes an invitation of a webinar; revoking it again changes nothing.
func (s *Store) RevokeInvitation(ctx context.Context, webinarID, id string, now time.Time) (Invitation, error) {
	var inv Invitation
	if !validID(id) {
		return inv, fmt.Errorf("revoke invitation: %w", ErrNotFound)
	}
	err := s.InTx(ctx, func(tx *Store) error {
		if err := tx.conn(ctx).Take(&inv, "id = ? AND webinar_id = ?", id, webinarID).Error; err != nil {
			return err
		}
		if inv.RevokedAt != nil {
			return nil
		}
		t := now.UTC()
		inv.RevokedAt = &t
		return tx.conn(ctx).Model(&inv).Update("revoked_at", t).Error
	})
	return inv, translate("revoke invitation", err)
}

// InvitationByToken returns a valid (not revoked) invitation and its webinar.
func (s *Store) InvitationByToken(ctx context.Context, token string) (Invitation, Webinar, error) {
	var (
		inv Invitation
		w   Webinar
	)
	if err := s.conn(ctx).Take(&inv, "token = ? AND revoked_at IS NULL", token).Error; err != nil {
		return inv, w, translate("invitation", err)
	}
	err := s.conn(ctx).Take(&w, "id = ?", inv.WebinarID).Error
	return inv, w, translate("invitation", err)
}

// RecordAudit appends an audit event.
func (s *Store) RecordAudit(ctx context.Context, e AuditEvent) error {
	e.At = e.At.UTC()
	return translate("record audit event", s.conn(ctx).Create(&e).Error)
}

// AuditEvents returns the latest audit events, newest first.
func (s *Store) AuditEvents(ctx context.Context, limit int) ([]AuditEvent, error) {
	var list []AuditEvent
	err := s.conn(ctx).Order("id DESC").Limit(limit).Find(&list).Error
	return list, translate("audit events", err)
}
