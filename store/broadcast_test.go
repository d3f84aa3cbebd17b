package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"webinaire/store"
)

func TestBroadcastTargets(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		alice, bob := organizer(t, s, "alice"), organizer(t, s, "bob")
		w := &store.Webinar{OrganizerID: alice.ID, Title: "W", Kind: store.KindWebinar, StartsAt: t0, DurationMinutes: 60}
		require.NoError(t, s.CreateWebinar(ctx, w, t0))

		_, err := s.BroadcastTargetOf(ctx, alice.ID, w.ID)
		require.ErrorIs(t, err, store.ErrNoBroadcastTarget, "none yet")
		target := store.BroadcastTarget{URL: "rtmp://peertube.example:1935/live", Key: "0f1e-key"}
		require.NoError(t, s.SetBroadcastTarget(ctx, alice.ID, w.ID, target))
		got, err := s.BroadcastTargetOf(ctx, alice.ID, w.ID)
		require.NoError(t, err)
		require.Equal(t, target, got)

		require.ErrorIs(t, s.SetBroadcastTarget(ctx, bob.ID, w.ID, target), store.ErrNotFound, "another organizer's webinar")
		_, err = s.BroadcastTargetOf(ctx, bob.ID, w.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, s.ClearBroadcastTarget(ctx, bob.ID, w.ID), store.ErrNotFound)
		_, err = s.BroadcastTargetOf(ctx, alice.ID, "nope")
		require.ErrorIs(t, err, store.ErrNotFound)
		require.Error(t, s.SetBroadcastTarget(ctx, alice.ID, w.ID, store.BroadcastTarget{URL: target.URL}), "a key is needed")

		other := store.BroadcastTarget{URL: "rtmps://owncast.example/live", Key: "k2"}
		require.NoError(t, s.SetBroadcastTarget(ctx, alice.ID, w.ID, other), "replacing")
		got, err = s.BroadcastTargetOf(ctx, alice.ID, w.ID)
		require.NoError(t, err)
		require.Equal(t, other, got)

		require.NoError(t, s.ClearBroadcastTarget(ctx, alice.ID, w.ID))
		require.NoError(t, s.ClearBroadcastTarget(ctx, alice.ID, w.ID), "clearing again")
		_, err = s.BroadcastTargetOf(ctx, alice.ID, w.ID)
		require.ErrorIs(t, err, store.ErrNoBroadcastTarget, "cleared")
	})
}
