package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/store"
)

func TestRecordings(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		alice, bob := organizer(t, s, "alice"), organizer(t, s, "bob")
		w := &store.Webinar{OrganizerID: alice.ID, Title: "W", Kind: store.KindWebinar, StartsAt: t0, DurationMinutes: 60}
		require.NoError(t, s.CreateWebinar(ctx, w, t0))

		expires := t0.AddDate(1, 0, 0)
		r, err := s.CreateRecording(ctx, w.ID, "node-a", t0.Add(time.Minute), expires)
		require.NoError(t, err)
		require.Len(t, r.ID, 32, "an unguessable id")
		second, err := s.CreateRecording(ctx, w.ID, "node-b", t0.Add(time.Hour), expires.Add(time.Hour))
		require.NoError(t, err)
		// A recording made before nodes were named.
		legacy, err := s.CreateRecording(ctx, w.ID, "", t0.Add(2*time.Hour), expires.Add(2*time.Hour))
		require.NoError(t, err)

		// Each node's own, and those of no node; every node's with no node named.
		for node, want := range map[string][]string{
			"node-a": {r.ID, legacy.ID}, "node-b": {second.ID, legacy.ID}, "node-c": {legacy.ID}, "": {r.ID, second.ID, legacy.ID},
		} {
			active, err := s.RecordingsInState(ctx, node, store.RecordingActive)
			require.NoError(t, err)
			var ids []string
			for _, a := range active {
				ids = append(ids, a.ID)
			}
			require.Equal(t, want, ids, "recordings of %q, the oldest first", node)
			between, err := s.RecordingsBetween(ctx, node, "", "", 10)
			require.NoError(t, err)
			ids = ids[:0]
			for _, b := range between {
				ids = append(ids, b.ID)
			}
			slices.Sort(want)
			require.Equal(t, want, ids, "recordings of %q between ids, in order", node)
		}
		byID, err := s.RecordingByID(ctx, second.ID)
		require.NoError(t, err)
		require.Equal(t, "node-b", byID.NodeID)
		_, err = s.RecordingByID(ctx, "nope")
		require.ErrorIs(t, err, store.ErrNotFound)
		ofB, err := s.RecordingOf(ctx, alice.ID, second.ID)
		require.NoError(t, err)
		require.Equal(t, "node-b", ofB.NodeID)
		require.NoError(t, s.DeleteRecording(ctx, legacy.ID))

		end := t0.Add(30 * time.Minute)
		r.State, r.EndedAt, r.DurationMS, r.SizeBytes, r.SHA256 = store.RecordingReady, &end, 29*60*1000, 123456, "abc"
		require.NoError(t, s.FinishRecording(ctx, r))
		require.ErrorIs(t, s.FinishRecording(ctx, store.Recording{ID: "nope", State: store.RecordingReady}), store.ErrNotFound)

		got, err := s.RecordingOf(ctx, alice.ID, r.ID)
		require.NoError(t, err)
		require.Equal(t, store.RecordingReady, got.State)
		require.Equal(t, int64(123456), got.SizeBytes)
		require.True(t, got.ExpiresAt.Equal(expires), "got %v", got.ExpiresAt)
		_, err = s.RecordingOf(ctx, bob.ID, r.ID)
		require.ErrorIs(t, err, store.ErrNotFound, "another organizer's recording is not found")

		list, err := s.RecordingsOfWebinar(ctx, w.ID)
		require.NoError(t, err)
		require.Equal(t, []string{second.ID, r.ID}, []string{list[0].ID, list[1].ID}, "the latest first")

		expired, err := s.ExpiredRecordings(ctx, expires, "", 10)
		require.NoError(t, err)
		require.Equal(t, []string{r.ID}, expired, "the second expires an hour later")
		n, err := s.CountExpiredRecordings(ctx, expires)
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		gone, err := s.DeleteExpiredRecording(ctx, second.ID, expires)
		require.NoError(t, err)
		require.False(t, gone, "not expired: kept")
		gone, err = s.DeleteExpiredRecording(ctx, r.ID, expires)
		require.NoError(t, err)
		require.True(t, gone)

		owned, err := s.RecordingsOfOrganizers(ctx, []string{alice.ID, bob.ID})
		require.NoError(t, err)
		require.Equal(t, []store.OwnedRecording{{ID: second.ID, OrganizerID: alice.ID}}, owned)
		ids, err := s.RecordingIDsOfWebinar(ctx, w.ID)
		require.NoError(t, err)
		require.Equal(t, []string{second.ID}, ids)
		require.NoError(t, s.DeleteRecording(ctx, second.ID))
		list, err = s.RecordingsOfWebinar(ctx, w.ID)
		require.NoError(t, err)
		require.Empty(t, list)
	})
}
