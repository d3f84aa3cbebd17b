package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"webinaire/store"
)

func TestStreamKeys(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		alice, bob := organizer(t, s, "alice"), organizer(t, s, "bob")
		w := &store.Webinar{OrganizerID: alice.ID, Title: "W", Kind: store.KindWebinar, StartsAt: t0, DurationMinutes: 60}
		require.NoError(t, s.CreateWebinar(ctx, w, t0))
		other := &store.Webinar{OrganizerID: alice.ID, Title: "Other", Kind: store.KindMeeting, StartsAt: t0, DurationMinutes: 60}
		require.NoError(t, s.CreateWebinar(ctx, other, t0))

		_, err := s.WebinarByStreamKey(ctx, w.ID, "anything")
		require.ErrorIs(t, err, store.ErrNotFound, "no key yet: WHIP is off")

		require.NoError(t, s.SetStreamKey(ctx, alice.ID, w.ID, "key-one"))
		got, err := s.WebinarByStreamKey(ctx, w.ID, "key-one")
		require.NoError(t, err)
		require.Equal(t, w.ID, got.ID)
		require.Equal(t, w.RoomID, got.RoomID)
		require.Equal(t, alice.ID, got.OrganizerID)

		for name, tc := range map[string]struct{ id, key string }{
			"wrong key":              {w.ID, "key-two"},
			"empty key":              {w.ID, ""},
			"key of another webinar": {other.ID, "key-one"},
			"not a uuid":             {"nope", "key-one"},
		} {
			_, err := s.WebinarByStreamKey(ctx, tc.id, tc.key)
			require.ErrorIs(t, err, store.ErrNotFound, name)
		}

		require.ErrorIs(t, s.SetStreamKey(ctx, bob.ID, w.ID, "bobs-key"), store.ErrNotFound, "another organizer's webinar")
		_, err = s.WebinarByStreamKey(ctx, w.ID, "bobs-key")
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = s.ClearStreamKey(ctx, bob.ID, w.ID)
		require.ErrorIs(t, err, store.ErrNotFound)

		require.NoError(t, s.SetStreamKey(ctx, alice.ID, w.ID, "key-two"), "replacing")
		_, err = s.WebinarByStreamKey(ctx, w.ID, "key-one")
		require.ErrorIs(t, err, store.ErrNotFound, "the old key is dead")
		_, err = s.WebinarByStreamKey(ctx, w.ID, "key-two")
		require.NoError(t, err)

		had, err := s.ClearStreamKey(ctx, alice.ID, w.ID)
		require.NoError(t, err)
		require.True(t, had)
		had, err = s.ClearStreamKey(ctx, alice.ID, w.ID)
		require.NoError(t, err, "clearing again")
		require.False(t, had, "clearing again")
		_, err = s.WebinarByStreamKey(ctx, w.ID, "key-two")
		require.ErrorIs(t, err, store.ErrNotFound, "cleared")

		// Updating the webinar keeps its key.
		require.NoError(t, s.SetStreamKey(ctx, alice.ID, w.ID, "key-three"))
		w.Title = "Renamed"
		require.NoError(t, s.UpdateWebinar(ctx, w, t0))
		_, err = s.WebinarByStreamKey(ctx, w.ID, "key-three")
		require.NoError(t, err)
	})
}
