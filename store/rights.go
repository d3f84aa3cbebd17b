package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// OrganizersByEmail finds accounts by email, compared without case.
func (s *Store) OrganizersByEmail(ctx context.Context, email string) ([]Organizer, error) {
	var list []Organizer
	err := s.conn(ctx).Where("lower(email) = ?", strings.ToLower(strings.TrimSpace(email))).Order("created_at, id").Find(&list).Error
	return list, translate("organizers by email", err)
}

// SetDisplayName records the name an organizer wants to be shown by (rectification).
func (s *Store) SetDisplayName(ctx context.Context, id, name string) error {
	res := s.conn(ctx).Model(&Organizer{}).Where("id = ?", id).Update("display_name", name)
	if res.Error != nil {
		return translate("set display name", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("set display name: %w", ErrNotFound)
	}
	return nil
}

// SetRestricted restricts processing of an account (at not nil) or lifts the restriction.
// It reports whether anything changed.
func (s *Store) SetRestricted(ctx context.Context, id string, at *time.Time) (bool, error) {
	if !validID(id) {
		return false, fmt.Errorf("set restriction: %w", ErrNotFound)
	}
	if _, err := s.Organizer(ctx, id); err != nil {
		return false, err
	}
	db := s.conn(ctx).Model(&Organizer{}).Where("id = ?", id)
	var value any
	if at != nil {
		db = db.Where("restricted_at IS NULL")
		value = at.UTC().Truncate(time.Microsecond)
	} else {
		db = db.Where("restricted_at IS NOT NULL")
	}
	res := db.Update("restricted_at", value)
	return res.RowsAffected == 1, translate("set restriction", res.Error)
}

// DeleteOrganizer deletes an account with its sessions, webinars and invitations (by the
// database's cascades); its connection-log entries stay, they have their own period.
func (s *Store) DeleteOrganizer(ctx context.Context, id string) error {
	if !validID(id) {
		return fmt.Errorf("delete organizer: %w", ErrNotFound)
	}
	res := s.conn(ctx).Delete(&Organizer{}, "id = ?", id)
	if res.Error != nil {
		return translate("delete organizer", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete organizer: %w", ErrNotFound)
	}
	return nil
}

// AllWebinars returns every webinar of an organizer, by start time.
func (s *Store) AllWebinars(ctx context.Context, organizerID string) ([]Webinar, error) {
	var list []Webinar
	err := s.conn(ctx).Where("organizer_id = ?", organizerID).Order("starts_at, id").Find(&list).Error
	return list, translate("all webinars", err)
}

// InvitationsOfOrganizer returns the invitations of every webinar of an organizer.
func (s *Store) InvitationsOfOrganizer(ctx context.Context, organizerID string) ([]Invitation, error) {
	var list []Invitation
	err := s.conn(ctx).Where("webinar_id IN (?)", s.conn(ctx).Model(&Webinar{}).Select("id").Where("organizer_id = ?", organizerID)).
		Order("created_at, id").Find(&list).Error
	return list, translate("invitations of organizer", err)
}

// AuditEventsAbout returns what a person did and what was done to their account (an
// administrator's restriction), oldest first.
func (s *Store) AuditEventsAbout(ctx context.Context, organizerID string) ([]AuditEvent, error) {
	var list []AuditEvent
	err := s.conn(ctx).Where("actor_id = ? OR (object_type = 'organizer' AND object_id = ?)", organizerID, organizerID).
		Order("id").Find(&list).Error
	return list, translate("audit events about organizer", err)
}

// RecordingsOfOrganizer returns the recordings of every webinar of an organizer, by
// start time.
func (s *Store) RecordingsOfOrganizer(ctx context.Context, organizerID string) ([]Recording, error) {
	var list []Recording
	err := s.conn(ctx).Where("webinar_id IN (?)", s.conn(ctx).Model(&Webinar{}).Select("id").Where("organizer_id = ?", organizerID)).
		Order("started_at, id").Find(&list).Error
	return list, translate("recordings of organizer", err)
}

// AuditEventsOf returns what an actor did, oldest first.
func (s *Store) AuditEventsOf(ctx context.Context, actorID string) ([]AuditEvent, error) {
	var list []AuditEvent
	err := s.conn(ctx).Where("actor_id = ?", actorID).Order("id").Find(&list).Error
	return list, translate("audit events of actor", err)
}

// PseudonymiseAuditEvents takes an account's id out of the audit trail, so that no event can
// be joined back to the person: the events it did lose their actor, and wherever an event
// names it (its object, or in its detail) the id is replaced by pseudonym. Call it in the
// transaction that deletes the account.
func (s *Store) PseudonymiseAuditEvents(ctx context.Context, organizerID, pseudonym string) error {
	if !validID(organizerID) {
		return nil // no row can name it
	}
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`UPDATE audit_events SET actor_id = NULL WHERE actor_id = ?`, []any{organizerID}},
		{`UPDATE audit_events SET object_id = ? WHERE object_id = ?`, []any{pseudonym, organizerID}},
		// A uuid has no LIKE wildcard.
		{`UPDATE audit_events SET detail = replace(detail, ?, ?) WHERE detail LIKE ?`, []any{organizerID, pseudonym, "%" + organizerID + "%"}},
	} {
		if err := s.conn(ctx).Exec(q.sql, q.args...).Error; err != nil {
			return translate("pseudonymise audit events", err)
		}
	}
	return nil
}
