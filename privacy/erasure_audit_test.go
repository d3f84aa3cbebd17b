package privacy

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/store"
)

// auditAbout fills the audit trail with what happens to an account that is then erased or
// purged: what it did, what an administrator did to it, a search of its connections, an
// event whose detail names it, and what others did. All inside the audit trail's window.
func (f *fixture) auditAbout(subject, admin string) {
	f.t.Helper()
	id, adminID := f.ids[subject], f.ids[admin]
	at := testNow.Add(-10 * day)
	for _, e := range []store.AuditEvent{
		{At: at, ActorID: &id, Action: "organizer.login", ObjectType: "organizer", ObjectID: id},
		{At: at, ActorID: &id, Action: "webinar.create", ObjectType: "webinar", ObjectID: "3c6b1f52-1f0e-4c8e-9a57-2b9a1c4d7e10"},
		{At: at, ActorID: &adminID, Action: "organizer.restricted", ObjectType: "organizer", ObjectID: id},
		{At: at, ActorID: &adminID, Action: "connection_log.search", ObjectType: "connection_log",
			Detail: `{"actor_hash":"` + f.ledger.ObjectHash(id) + `","results":"2"}`},
		{At: at, ActorID: &adminID, Action: "organizer.note", ObjectType: "organizer", ObjectID: adminID, Detail: `{"about":"` + id + `"}`},
		{At: at, Action: "session.end", ObjectType: "webinar", ObjectID: "3c6b1f52-1f0e-4c8e-9a57-2b9a1c4d7e10", Detail: `{"votes":3}`},
	} {
		require.NoError(f.t, f.st.RecordAudit(f.ctx, e))
	}
}

// auditRows is every audit event, each as the text of all its columns.
func (f *fixture) auditRows() []string {
	f.t.Helper()
	var list []store.AuditEvent
	require.NoError(f.t, f.st.QueryForTest(f.ctx, &list, `SELECT id, at, actor_id, action, object_type, object_id, detail FROM audit_events ORDER BY id`))
	var rows []string
	for _, e := range list {
		actor := "<nil>"
		if e.ActorID != nil {
			actor = *e.ActorID
		}
		rows = append(rows, strings.Join([]string{fmt.Sprint(e.ID), e.At.UTC().Format(time.RFC3339), actor, e.Action, e.ObjectType, e.ObjectID, e.Detail}, "|"))
	}
	return rows
}

// requireNoTrace checks that no column of any audit event holds id, that the events are
// still there, and that they name the account by the ledger's keyed hash of its id.
func (f *fixture) requireNoTrace(id, adminID string) {
	f.t.Helper()
	rows := f.auditRows()
	require.Len(f.t, rows, 6, "the events stay")
	for _, r := range rows {
		require.NotContains(f.t, r, id, "no audit event names the erased account")
	}
	hash := f.ledger.ObjectHash(id)
	want := []string{
		"<nil>|organizer.login|organizer|" + hash + "|",
		"<nil>|webinar.create|webinar|3c6b1f52-1f0e-4c8e-9a57-2b9a1c4d7e10|",
		adminID + "|organizer.restricted|organizer|" + hash + "|",
		adminID + `|connection_log.search|connection_log||{"actor_hash":"` + hash + `","results":"2"}`,
		adminID + `|organizer.note|organizer|` + adminID + `|{"about":"` + hash + `"}`,
		`<nil>|session.end|webinar|3c6b1f52-1f0e-4c8e-9a57-2b9a1c4d7e10|{"votes":3}`,
	}
	for i, r := range rows {
		_, rest, _ := strings.Cut(r, "|")   // id
		_, rest, _ = strings.Cut(rest, "|") // at
		require.Equal(f.t, want[i], rest, "event %d", i)
	}
}

func TestErasureLeavesNoTraceOfTheIDInTheAuditTrail(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		f := setup(t, driver)
		id := f.organizer("erased", time.Hour)
		adminID := f.organizer("admin", time.Hour)
		f.auditAbout("erased", "admin")
		rights := NewRights(f.st, f.ledger, DefaultPolicy(), nil)

		x, err := rights.Export(f.ctx, id, testNow)
		require.NoError(t, err)
		var actions []string
		for _, e := range x.AuditTrail {
			actions = append(actions, e.Action+" "+e.ObjectID)
		}
		require.Equal(t, []string{"organizer.login " + id, "webinar.create 3c6b1f52-1f0e-4c8e-9a57-2b9a1c4d7e10", "organizer.restricted " + id},
			actions, "the export holds what the person did and what was done to their account")
		require.Contains(t, x.Retention, CategoryAuditTrail)
		require.Equal(t, "12 months", x.Retention[CategoryAuditTrail].Kept)

		_, err = rights.Erase(f.ctx, id, testNow)
		require.NoError(t, err)
		f.requireNoTrace(id, adminID)

		x, err = rights.Export(f.ctx, adminID, testNow)
		require.NoError(t, err)
		require.Len(t, x.AuditTrail, 3, "another account's trail is untouched")
	})
}

func TestAccountPurgeLeavesNoTraceOfTheIDInTheAuditTrail(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		f := setup(t, driver)
		id := f.organizer("inactive", 400*day)
		adminID := f.organizer("admin", time.Hour)
		f.auditAbout("inactive", "admin")

		plan, err := f.eng.Plan(f.ctx)
		require.NoError(t, err)
		require.Equal(t, map[string]int64{CategoryAccounts: 1, CategoryConnectionLog: 0, CategoryAuditTrail: 0, CategorySessions: 0, CategorySlides: 0}, plan.Counts())
		require.Contains(t, strings.Join(f.auditRows(), "\n"), id, "a plan changes nothing")

		_, err = f.eng.Run(f.ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"admin"}, f.state().Organizers)
		f.requireNoTrace(id, adminID)
	})
}
