package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/store"
	"webinaire/store/pgtest"
	"webinaire/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// eachDriver runs fn on a fresh migrated store of every driver.
func eachDriver(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	for _, d := range storetest.Drivers {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, storetest.Open(t, d))
		})
	}
}

func organizer(t testing.TB, s *store.Store, subject string) store.Organizer {
	t.Helper()
	o, err := s.UpsertOrganizer(context.Background(), store.Organizer{
		Issuer: "https://idp.example", Subject: subject, GivenName: "Given " + subject,
		FamilyName: "Family", Email: subject + "@example.org",
	}, t0)
	require.NoError(t, err)
	return o
}

func TestMigrateIsIdempotentAndReady(t *testing.T) {
	for _, d := range storetest.Drivers {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			s, err := store.Open(storetest.Config(t, d), slog.New(slog.NewTextHandler(io.Discard, nil)))
			require.NoError(t, err)
			defer s.Close()

			err = s.Ready(ctx)
			require.ErrorIs(t, err, store.ErrNotReady, "a database without migrations is not ready")

			files, err := os.ReadDir("migrations/" + d)
			require.NoError(t, err)
			n, err := s.Migrate(ctx)
			require.NoError(t, err)
			require.Equal(t, len(files), n, "first run applies every migration")
			require.NoError(t, s.Ready(ctx))

			n, err = s.Migrate(ctx)
			require.NoError(t, err)
			require.Equal(t, 0, n, "second run applies nothing")
		})
	}
}

func TestReadyFailsWhenDatabaseIsUnreachable(t *testing.T) {
	s, err := store.Open(store.Config{Driver: store.DriverPostgres, URL: "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2", MaxOpenConns: 1},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err, "opening does not connect")
	defer s.Close()
	require.ErrorIs(t, s.Ready(context.Background()), store.ErrNotReady)
	_, err = s.Migrate(context.Background())
	require.Error(t, err)
}

func TestUpsertOrganizer(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		first := organizer(t, s, "alice")
		require.NotEmpty(t, first.ID)
		require.Equal(t, "alice@example.org", first.Email)

		later := t0.Add(48 * time.Hour)
		again, err := s.UpsertOrganizer(ctx, store.Organizer{
			Issuer: "https://idp.example", Subject: "alice", GivenName: "Alice", FamilyName: "Martin", Email: "alice@new.example",
		}, later)
		require.NoError(t, err)
		require.Equal(t, first.ID, again.ID, "same issuer and subject is the same account")
		require.Equal(t, "alice@new.example", again.Email)
		require.Equal(t, "Martin", again.FamilyName)
		require.WithinDuration(t, later, again.LastActivityAt, time.Second)
		require.WithinDuration(t, t0, again.CreatedAt, time.Second, "creation time is kept")

		other, err := s.UpsertOrganizer(ctx, store.Organizer{Issuer: "https://other.example", Subject: "alice"}, t0)
		require.NoError(t, err)
		require.NotEqual(t, first.ID, other.ID, "the same subject at another issuer is another account")

		list, total, err := s.ListOrganizers(ctx, 1, 0)
		require.NoError(t, err)
		require.EqualValues(t, 2, total)
		require.Len(t, list, 1)
	})
}

func TestTouchOrganizerAtMostEveryInterval(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		o := organizer(t, s, "bob")

		require.NoError(t, s.TouchOrganizer(ctx, o.ID, t0.Add(30*time.Minute), time.Hour))
		got, err := s.Organizer(ctx, o.ID)
		require.NoError(t, err)
		require.WithinDuration(t, t0, got.LastActivityAt, time.Second, "within the hour nothing is written")

		require.NoError(t, s.TouchOrganizer(ctx, o.ID, t0.Add(61*time.Minute), time.Hour))
		got, err = s.Organizer(ctx, o.ID)
		require.NoError(t, err)
		require.WithinDuration(t, t0.Add(61*time.Minute), got.LastActivityAt, time.Second)
	})
}

func TestSessions(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		o := organizer(t, s, "carol")
		sess := store.Session{ID: "hash1", OrganizerID: o.ID, CSRFToken: "csrf", IsAdmin: true, CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}
		require.NoError(t, s.CreateSession(ctx, sess))
		require.ErrorIs(t, s.CreateSession(ctx, sess), store.ErrConflict)

		got, err := s.Session(ctx, "hash1")
		require.NoError(t, err)
		require.True(t, got.IsAdmin)
		require.Equal(t, o.Email, got.Organizer.Email, "the organizer comes with the session")

		require.NoError(t, s.TouchSession(ctx, "hash1", t0.Add(time.Minute)))
		got, err = s.Session(ctx, "hash1")
		require.NoError(t, err)
		require.WithinDuration(t, t0.Add(time.Minute), got.LastSeenAt, time.Second)

		require.NoError(t, s.DeleteSession(ctx, "hash1"))
		_, err = s.Session(ctx, "hash1")
		require.ErrorIs(t, err, store.ErrNotFound)
		require.NoError(t, s.DeleteSession(ctx, "hash1"), "deleting twice is fine")
	})
}

func TestLoginFlowIsTakenOnce(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		limits := store.LoginFlowLimits{PerClient: 10, Total: 10}
		require.NoError(t, s.CreateLoginFlow(ctx, store.LoginFlow{ID: "f1", Nonce: "n", Verifier: "v", ExpiresAt: t0.Add(10 * time.Minute)}, t0, limits))
		require.NoError(t, s.CreateLoginFlow(ctx, store.LoginFlow{ID: "f2", Nonce: "n", Verifier: "v", ExpiresAt: t0.Add(10 * time.Minute)}, t0, limits))

		f, err := s.TakeLoginFlow(ctx, "f1", t0)
		require.NoError(t, err)
		require.Equal(t, "v", f.Verifier)
		_, err = s.TakeLoginFlow(ctx, "f1", t0)
		require.ErrorIs(t, err, store.ErrNotFound, "a replayed state finds nothing")

		_, err = s.TakeLoginFlow(ctx, "f2", t0.Add(11*time.Minute))
		require.ErrorIs(t, err, store.ErrNotFound, "an expired flow is refused")
		_, err = s.TakeLoginFlow(ctx, "f2", t0)
		require.ErrorIs(t, err, store.ErrNotFound, "and it is gone")
	})
}

// Pending logins are bounded per client and in all; expired ones do not count, and a
// refused one writes nothing.
func TestLoginFlowsAreBounded(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		limits := store.LoginFlowLimits{PerClient: 2, Total: 3}
		n := 0
		create := func(client string, now time.Time) error {
			n++
			return s.CreateLoginFlow(ctx, store.LoginFlow{
				ID: fmt.Sprintf("f%d", n), Nonce: "n", Verifier: "v", ClientKey: client, ExpiresAt: now.Add(10 * time.Minute),
			}, now, limits)
		}
		require.NoError(t, create("a", t0))
		require.NoError(t, create("a", t0))
		require.ErrorIs(t, create("a", t0), store.ErrTooMany, "a third pending login of the same client")
		require.NoError(t, create("b", t0))
		require.ErrorIs(t, create("c", t0), store.ErrTooMany, "a fourth pending login in all")

		_, err := s.TakeLoginFlow(ctx, "f1", t0)
		require.NoError(t, err)
		require.NoError(t, create("a", t0), "a login taken leaves room for another")

		later := t0.Add(10 * time.Minute)
		require.NoError(t, create("a", later), "expired logins do not count")
		require.NoError(t, create("c", later))
		require.NoError(t, create("d", later))
		require.ErrorIs(t, create("e", later), store.ErrTooMany)

		rows, err := s.CountExpiredLoginFlows(ctx, t0.Add(time.Hour))
		require.NoError(t, err)
		require.EqualValues(t, 6, rows, "refused logins wrote nothing")
	})
}

func TestWebinarsBelongToTheirOrganizer(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		alice, bob := organizer(t, s, "alice"), organizer(t, s, "bob")

		var ids []string
		for i := range 3 {
			w := &store.Webinar{OrganizerID: alice.ID, Title: "W", Kind: store.KindWebinar, StartsAt: t0.Add(time.Duration(2-i) * time.Hour), DurationMinutes: 60}
			require.NoError(t, s.CreateWebinar(ctx, w, t0))
			require.Len(t, w.RoomID, 32)
			ids = append(ids, w.ID)
		}
		list, total, err := s.ListWebinars(ctx, alice.ID, 2, 0)
		require.NoError(t, err)
		require.EqualValues(t, 3, total)
		require.Len(t, list, 2)
		require.Equal(t, ids[2], list[0].ID, "earliest start first")
		require.NotEqual(t, list[0].RoomID, list[1].RoomID)

		_, total, err = s.ListWebinars(ctx, bob.ID, 10, 0)
		require.NoError(t, err)
		require.EqualValues(t, 0, total)

		_, err = s.WebinarOf(ctx, bob.ID, ids[0])
		require.ErrorIs(t, err, store.ErrNotFound, "another organizer does not see it")
		_, err = s.WebinarOf(ctx, alice.ID, "not-a-uuid")
		require.ErrorIs(t, err, store.ErrNotFound)

		w, err := s.WebinarOf(ctx, alice.ID, ids[0])
		require.NoError(t, err)
		w.Title, w.LobbyEnabled = "Renamed", true
		require.NoError(t, s.UpdateWebinar(ctx, &w, t0.Add(time.Hour)))
		stolen := w
		stolen.OrganizerID = bob.ID
		require.ErrorIs(t, s.UpdateWebinar(ctx, &stolen, t0), store.ErrNotFound)
		got, err := s.WebinarOf(ctx, alice.ID, ids[0])
		require.NoError(t, err)
		require.Equal(t, "Renamed", got.Title)
		require.True(t, got.LobbyEnabled)
		require.Equal(t, w.RoomID, got.RoomID, "the room id never changes")

		require.ErrorIs(t, s.DeleteWebinar(ctx, bob.ID, ids[0]), store.ErrNotFound)
		require.NoError(t, s.DeleteWebinar(ctx, alice.ID, ids[0]))
		require.ErrorIs(t, s.DeleteWebinar(ctx, alice.ID, ids[0]), store.ErrNotFound)
	})
}

func TestForeignKeysAreEnforced(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		w := &store.Webinar{OrganizerID: "7b0a6a4e-4f55-4d1c-9d4e-2f8f3c1b9a10", Title: "W", Kind: store.KindMeeting, StartsAt: t0, DurationMinutes: 30}
		require.Error(t, s.CreateWebinar(context.Background(), w, t0))
	})
}

func TestInvitations(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		o := organizer(t, s, "dan")
		w := &store.Webinar{OrganizerID: o.ID, Title: "W", Kind: store.KindWebinar, StartsAt: t0, DurationMinutes: 60}
		require.NoError(t, s.CreateWebinar(ctx, w, t0))

		inv := &store.Invitation{WebinarID: w.ID, Role: store.RoleAttendee}
		require.NoError(t, s.CreateInvitation(ctx, inv, t0))
		mod := &store.Invitation{WebinarID: w.ID, Role: store.RoleModerator}
		require.NoError(t, s.CreateInvitation(ctx, mod, t0.Add(time.Second)))
		require.NotEqual(t, inv.Token, mod.Token)
		require.Error(t, s.CreateInvitation(ctx, &store.Invitation{WebinarID: w.ID, Role: "owner"}, t0), "the database refuses an unknown role")

		gotInv, gotW, err := s.InvitationByToken(ctx, inv.Token)
		require.NoError(t, err)
		require.Equal(t, inv.ID, gotInv.ID)
		require.Equal(t, w.Title, gotW.Title)

		revoked, err := s.RevokeInvitation(ctx, w.ID, inv.ID, t0.Add(time.Minute))
		require.NoError(t, err)
		require.NotNil(t, revoked.RevokedAt)
		again, err := s.RevokeInvitation(ctx, w.ID, inv.ID, t0.Add(time.Hour))
		require.NoError(t, err)
		require.WithinDuration(t, *revoked.RevokedAt, *again.RevokedAt, time.Second, "the first revocation time stays")
		_, _, err = s.InvitationByToken(ctx, inv.Token)
		require.ErrorIs(t, err, store.ErrNotFound, "a revoked link no longer works")

		list, err := s.ListInvitations(ctx, w.ID)
		require.NoError(t, err)
		require.Len(t, list, 2)

		require.NoError(t, s.DeleteWebinar(ctx, o.ID, w.ID))
		list, err = s.ListInvitations(ctx, w.ID)
		require.NoError(t, err)
		require.Empty(t, list, "deleting the webinar deletes its invitations")
	})
}

func TestInTxRollsBackOnError(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		boom := errors.New("boom")
		err := s.InTx(ctx, func(tx *store.Store) error {
			if _, err := tx.UpsertOrganizer(ctx, store.Organizer{Issuer: "i", Subject: "ghost"}, t0); err != nil {
				return err
			}
			return boom
		})
		require.ErrorIs(t, err, boom)
		_, total, err := s.ListOrganizers(ctx, 10, 0)
		require.NoError(t, err)
		require.EqualValues(t, 0, total, "nothing of a failed transaction remains")
	})
}

func TestAuditEvents(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		o := organizer(t, s, "eve")
		require.NoError(t, s.RecordAudit(ctx, store.AuditEvent{At: t0, ActorID: &o.ID, Action: "webinar.create", ObjectType: "webinar", ObjectID: "x"}))
		require.NoError(t, s.RecordAudit(ctx, store.AuditEvent{At: t0, Action: "login.failed"}))
		list, err := s.AuditEvents(ctx, 10)
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, "login.failed", list[0].Action, "newest first")
		require.Equal(t, o.ID, *list[1].ActorID)
	})
}

func TestNewSecretIsUnguessable(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		s := store.NewSecret()
		require.Len(t, s, 32)
		require.False(t, seen[s])
		seen[s] = true
	}
}

func TestSQLiteFileIsPrivate(t *testing.T) {
	path := t.TempDir() + "/sub/webinaire.db"
	s, err := store.Open(store.Config{Driver: store.DriverSQLite, URL: path, MaxOpenConns: 1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Migrate(context.Background())
	require.NoError(t, err)
	for _, f := range []string{path, path + "-wal"} {
		info, err := os.Stat(f)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "%s holds personal data", f)
	}
}
