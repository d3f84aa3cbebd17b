package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/store"
	"webinaire/store/storetest"
)

func TestLeaseIsHeldByOneHolderUntilItExpires(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ok, l, err := s.AcquireLease(ctx, "job", "a", t0, t0.Add(time.Hour))
		require.NoError(t, err)
		require.True(t, ok, "a free lease is taken")
		require.Equal(t, "a", l.Holder)

		ok, l, err = s.AcquireLease(ctx, "job", "b", t0.Add(59*time.Minute), t0.Add(2*time.Hour))
		require.NoError(t, err)
		require.False(t, ok, "another holder waits until it expires")
		require.Equal(t, "a", l.Holder)
		require.True(t, t0.Add(time.Hour).Equal(l.ExpiresAt), "got expiry %s, want %s", l.ExpiresAt, t0.Add(time.Hour))

		ok, _, err = s.AcquireLease(ctx, "other-job", "b", t0, t0.Add(time.Hour))
		require.NoError(t, err)
		require.True(t, ok, "leases are per job")

		ok, l, err = s.AcquireLease(ctx, "job", "a", t0.Add(30*time.Minute), t0.Add(90*time.Minute))
		require.NoError(t, err)
		require.True(t, ok, "the holder renews it")
		require.True(t, t0.Add(90*time.Minute).Equal(l.ExpiresAt))

		ok, l, err = s.AcquireLease(ctx, "job", "b", t0.Add(91*time.Minute), t0.Add(3*time.Hour))
		require.NoError(t, err)
		require.True(t, ok, "an expired lease is taken over")
		require.Equal(t, "b", l.Holder)

		require.NoError(t, s.ReleaseLease(ctx, "job", "a"), "releasing another's lease does nothing")
		ok, _, err = s.AcquireLease(ctx, "job", "a", t0.Add(92*time.Minute), t0.Add(3*time.Hour))
		require.NoError(t, err)
		require.False(t, ok)
		require.NoError(t, s.ReleaseLease(ctx, "job", "b"))
		_, err = s.LeaseOf(ctx, "job")
		require.ErrorIs(t, err, store.ErrNotFound, "a released lease is gone")
		ok, _, err = s.AcquireLease(ctx, "job", "a", t0.Add(92*time.Minute), t0.Add(3*time.Hour))
		require.NoError(t, err)
		require.True(t, ok, "a released lease is free")
		l, err = s.LeaseOf(ctx, "job")
		require.NoError(t, err)
		require.Equal(t, "a", l.Holder)
	})
}

func TestRetentionRunsAreRecorded(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		crashed := store.RetentionRun{StartedAt: t0, Status: store.RunRunning}
		require.NoError(t, s.StartRetentionRun(ctx, &crashed))
		dry := store.RetentionRun{StartedAt: t0.Add(time.Minute), DryRun: true, Status: store.RunRunning}
		require.NoError(t, s.StartRetentionRun(ctx, &dry))
		done := store.RetentionRun{StartedAt: t0.Add(2 * time.Minute), Status: store.RunRunning}
		require.NoError(t, s.StartRetentionRun(ctx, &done))
		require.NoError(t, s.FinishRetentionRun(ctx, done.ID, t0.Add(3*time.Minute), store.RunOK, `{"accounts":2}`, ""))

		require.NoError(t, s.FailInterruptedRuns(ctx, t0.Add(4*time.Minute), t0))
		runs, err := s.RetentionRuns(ctx, 10)
		require.NoError(t, err)
		require.Len(t, runs, 3)
		require.Equal(t, done.ID, runs[0].ID, "newest first")
		require.Equal(t, store.RunOK, runs[0].Status)
		require.Equal(t, `{"accounts":2}`, runs[0].Summary)
		require.Equal(t, store.RunRunning, runs[1].Status, "a recent dry run may still be running elsewhere")
		require.Equal(t, store.RunFailed, runs[2].Status, "a real run left running had its holder die")
		require.Contains(t, runs[2].Error, "interrupted")
		require.NotNil(t, runs[2].FinishedAt)
	})
}

func TestOldConnectionsComeInTimeOrder(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		for _, at := range []time.Time{t0.Add(3 * time.Hour), t0.Add(time.Hour), t0.Add(2 * time.Hour), t0.Add(5 * time.Hour)} {
			require.NoError(t, s.LogConnection(ctx, store.ConnectionEvent{At: at, ActorKind: store.ActorGuest, ActorID: "g", IP: "192.0.2.1", Action: "join"}))
		}
		cutoff := t0.Add(4 * time.Hour)
		n, err := s.CountOldConnections(ctx, cutoff)
		require.NoError(t, err)
		require.EqualValues(t, 3, n)

		table := ""
		if s.Driver() == store.DriverPostgres {
			table = store.LogPartitionName(t0)
		}
		first, err := s.OldConnections(ctx, table, cutoff, nil, 2)
		require.NoError(t, err)
		require.Len(t, first, 2)
		require.True(t, t0.Add(time.Hour).Equal(first[0].At), "got %s first, want the oldest", first[0].At)
		require.True(t, t0.Add(2*time.Hour).Equal(first[1].At))
		rest, err := s.OldConnections(ctx, table, cutoff, &first[1], 2)
		require.NoError(t, err)
		require.Len(t, rest, 1, "the entry after the cutoff is not listed")

		deleted, err := s.DeleteOldConnections(ctx, table, cutoff, 2)
		require.NoError(t, err)
		require.ElementsMatch(t, []int64{first[0].ID, first[1].ID}, deleted, "a delete takes the batch the listing showed")
		n, err = s.CountOldConnections(ctx, cutoff)
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
	})
}

func TestLogPartitionsAndTheirDrop(t *testing.T) {
	s := storetest.Open(t, store.DriverPostgres)
	ctx := context.Background()
	require.NoError(t, s.EnsureLogPartitions(ctx, t0, 2))
	for range 3 {
		require.NoError(t, s.LogConnection(ctx, store.ConnectionEvent{At: t0, ActorKind: store.ActorGuest, ActorID: "g", IP: "192.0.2.1", Action: "join"}))
	}
	parts, err := s.LogPartitions(ctx)
	require.NoError(t, err)
	var march *store.LogPartition
	for i, p := range parts {
		if p.Name == store.LogPartitionName(t0) {
			march = &parts[i]
		}
	}
	require.NotNil(t, march, "got partitions %v", parts)
	require.True(t, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Equal(*march.From), "got lower bound %s", march.From)
	require.True(t, time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC).Equal(*march.To), "got upper bound %s", march.To)

	n, err := s.CountLogPartition(ctx, march.Name)
	require.NoError(t, err)
	require.EqualValues(t, 3, n)

	boom := errors.New("boom")
	_, _, err = s.DropLogPartition(ctx, march.Name, func(*store.Store, int64) error { return boom })
	require.ErrorIs(t, err, boom)
	n, err = s.CountLogPartition(ctx, march.Name)
	require.NoError(t, err)
	require.EqualValues(t, 3, n, "when the record fails, the drop is rolled back")

	var recorded int64
	dropped, rows, err := s.DropLogPartition(ctx, march.Name, func(tx *store.Store, n int64) error {
		recorded = n
		return nil
	})
	require.NoError(t, err)
	require.True(t, dropped)
	require.EqualValues(t, 3, rows)
	require.EqualValues(t, 3, recorded)
	after, err := s.LogPartitions(ctx)
	require.NoError(t, err)
	require.Len(t, after, len(parts)-1)

	dropped, _, err = s.DropLogPartition(ctx, march.Name, func(*store.Store, int64) error {
		t.Error("nothing to record for a partition that is gone")
		return nil
	})
	require.NoError(t, err)
	require.False(t, dropped, "dropping it again is a no-op")
}

func TestLogPartitionsOnSQLiteAreNone(t *testing.T) {
	s := storetest.Open(t, store.DriverSQLite)
	parts, err := s.LogPartitions(context.Background())
	require.NoError(t, err)
	require.Empty(t, parts)
	_, _, err = s.DropLogPartition(context.Background(), "connection_log", func(*store.Store, int64) error { return nil })
	require.Error(t, err)
}
