package privacy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/store"
)

// slidesOf gives subject's account a webinar of at with attached slides expiring the
// policy's period after it.
func (f *fixture) slidesOf(subject string, at time.Time) string {
	f.t.Helper()
	w := &store.Webinar{OrganizerID: f.ids[subject], Title: "With slides", Kind: store.KindWebinar, StartsAt: at, DurationMinutes: 60}
	require.NoError(f.t, f.st.CreateWebinar(f.ctx, w, at))
	p := DefaultPolicy().Slides
	require.NoError(f.t, f.st.AttachSlides(f.ctx, store.WebinarSlides{
		WebinarID: w.ID, PDF: []byte("%PDF-1.7 deck"), Pages: 3, SizeBytes: 13, AttachedAt: at.Add(-day), ExpiresAt: p.Until(at),
	}))
	f.names[f.ledger.ObjectHash(w.ID)] = "slides of " + subject
	return w.ID
}

// TestAttachedSlidesAreDeletedAfterTheirWebinar: slides attached to a webinar go the
// policy's period after its date, with a ledger entry each; a plan deletes nothing; the
// slides of a recent webinar stay; the sweep is idempotent.
func TestAttachedSlidesAreDeletedAfterTheirWebinar(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		f := setup(t, driver)
		f.organizer("active", time.Hour)
		old := f.slidesOf("active", testNow.Add(-40*day))
		recent := f.slidesOf("active", testNow.Add(-10*day))

		plan, err := f.eng.Plan(f.ctx)
		require.NoError(t, err)
		require.EqualValues(t, 1, plan.Counts()[CategorySlides])
		_, err = f.st.SlidesOf(f.ctx, old, false)
		require.NoError(t, err, "a plan deletes nothing")

		rep, err := f.eng.Run(f.ctx)
		require.NoError(t, err)
		require.Equal(t, plan.Categories, rep.Categories)
		_, err = f.st.SlidesOf(f.ctx, old, true)
		require.ErrorIs(t, err, store.ErrNotFound)
		kept, err := f.st.SlidesOf(f.ctx, recent, true)
		require.NoError(t, err)
		require.Equal(t, "%PDF-1.7 deck", string(kept.PDF))

		var recorded []string
		for _, e := range f.entries() {
			if e.Category == CategorySlides {
				recorded = append(recorded, f.names[e.ObjectHash]+": "+e.Rule)
				require.Equal(t, "database", e.Stores)
			}
		}
		require.Equal(t, []string{"slides of active: slides 1 month after the webinar"}, recorded)

		again, err := f.eng.Run(f.ctx)
		require.NoError(t, err)
		require.EqualValues(t, 0, again.Counts()[CategorySlides], "nothing twice")
	})
}
