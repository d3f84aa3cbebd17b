package api_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/api"
	"webinaire/privacy"
)

// getPage fetches a page with the given request headers and returns the response and body.
func getPage(t *testing.T, e *env, method, path string, headers map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.base+path, nil)
	require.NoError(t, err)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	return resp, readBody(t, resp)
}

// section returns the element of the page with the given id, up to its closing </section>.
func section(t *testing.T, page, id string) string {
	t.Helper()
	start := strings.Index(page, `id="`+id+`"`)
	require.GreaterOrEqual(t, start, 0, "the page has a section %q", id)
	end := strings.Index(page[start:], "</section>")
	require.Greater(t, end, 0, "section %q is closed", id)
	return page[start : start+end]
}

// kept is the text of a category's retention on the page.
func kept(t *testing.T, page, key string) string {
	t.Helper()
	m := regexp.MustCompile(`<dd class="privacy-kept">([^<]*)</dd>`).FindStringSubmatch(section(t, page, "category-"+key))
	require.NotNil(t, m, "category %s states how long it is kept", key)
	return m[1]
}

var categoryKeys = []string{
	privacy.CategoryAccounts, privacy.CategoryRecordings, privacy.CategoryChatVotes,
	privacy.CategoryConnectionLog, privacy.CategoryAuditTrail, privacy.CategorySessions, privacy.CategorySlides,
	privacy.CategoryBroadcasts,
}

func TestPrivacyPageStatesTheDefaultPolicy(t *testing.T) {
	e := setup(t, "sqlite", options{})
	tests := []struct {
		lang, twelve, chat string
	}{
		{"fr", "12 mois", "jusqu&#39;à la fin de la session"},
		{"en", "12 months", "until the session ends"},
	}
	for _, tc := range tests {
		t.Run(tc.lang, func(t *testing.T) {
			resp, page := getPage(t, e, "GET", "/privacy?lang="+tc.lang, nil)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
			require.Contains(t, page, `<html lang="`+tc.lang+`">`)
			for _, key := range []string{privacy.CategoryAccounts, privacy.CategoryRecordings, privacy.CategoryConnectionLog, privacy.CategoryAuditTrail} {
				require.Contains(t, kept(t, page, key), tc.twelve, "category %s", key)
			}
			require.Contains(t, kept(t, page, privacy.CategoryChatVotes), tc.chat)
			require.Contains(t, kept(t, page, privacy.CategorySessions), "12 h")
			require.Contains(t, section(t, page, "recordings"), tc.twelve)
			require.Contains(t, section(t, page, "erasure"), tc.twelve)
		})
	}
}

func TestPrivacyPageFollowsAConfiguredPolicy(t *testing.T) {
	policy := privacy.DefaultPolicy()
	policy.Recordings = privacy.Period{Months: 18}
	policy.ConnectionLog = privacy.Period{Days: 400}
	policy.AuditTrail = privacy.Period{Months: 24}
	policy.SessionAbsolute = 8 * time.Hour
	policy.Controller = "Ministère de l'Exemple"
	policy.Contact = "donnees@exemple.gouv.fr"
	e := setup(t, "sqlite", options{policy: &policy})

	_, page := getPage(t, e, "GET", "/privacy", nil)
	got := kept(t, page, privacy.CategoryRecordings)
	require.Contains(t, got, "18 mois")
	require.NotContains(t, got, "12 mois")
	got = kept(t, page, privacy.CategoryConnectionLog)
	require.Equal(t, "400 jours", got)
	require.Contains(t, kept(t, page, privacy.CategoryAccounts), "12 mois", "the accounts keep the default")
	require.Contains(t, kept(t, page, privacy.CategorySessions), "8 h")

	recordings := section(t, page, "recordings")
	require.Contains(t, recordings, "18 mois")
	require.NotContains(t, recordings, "12 mois")
	erasure := section(t, page, "erasure")
	require.Contains(t, erasure, "400 jours")
	require.Contains(t, erasure, "garde ses actions 24 mois", "the audit trail's period")
	require.Contains(t, erasure, "empreinte à clé", "the audit trail keeps no erased id")
	require.Equal(t, "24 mois", kept(t, page, privacy.CategoryAuditTrail))
	require.Contains(t, erasure, "12 mois d’inactivité", "the account period is the default")
	require.Contains(t, section(t, page, "cookies"), "8&nbsp;h")

	controller := section(t, page, "controller")
	require.Contains(t, controller, "Ministère de l&#39;Exemple")
	require.Contains(t, controller, `<a href="mailto:donnees@exemple.gouv.fr">`)
	require.NotContains(t, controller, "DPD", "an empty DPO is not shown")

	_, page = getPage(t, e, "GET", "/privacy?lang=en", nil)
	require.Equal(t, "18 months; the organizer may delete them at any time", kept(t, page, privacy.CategoryRecordings))
	require.Equal(t, "400 days", kept(t, page, privacy.CategoryConnectionLog))
	require.Equal(t, "24 months", kept(t, page, privacy.CategoryAuditTrail))
	require.Contains(t, section(t, page, "erasure"), "keeps its actions for 24 months")
}

func TestPrivacyPageLanguage(t *testing.T) {
	e := setup(t, "sqlite", options{})
	tests := []struct {
		query, accept, want string
	}{
		{"", "", "fr"},
		{"", "fr-FR,fr;q=0.9,en;q=0.8", "fr"},
		{"", "en-GB,en;q=0.9,fr;q=0.8", "en"},
		{"", "de-DE,fr;q=0.9", "en"},
		{"", "en;q=0.5,fr", "fr"},
		{"?lang=en", "fr-FR", "en"},
		{"?lang=fr", "en-US", "fr"},
		{"?lang=de", "en-US", "en"},
	}
	for _, tc := range tests {
		resp, page := getPage(t, e, "GET", "/privacy"+tc.query, map[string]string{"Accept-Language": tc.accept})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Contains(t, page, `<html lang="`+tc.want+`">`, "query %q, Accept-Language %q", tc.query, tc.accept)
		require.Equal(t, tc.want, resp.Header.Get("Content-Language"))
		require.Contains(t, resp.Header.Values("Vary"), "Accept-Language")
		other := map[string]string{"fr": "en", "en": "fr"}[tc.want]
		require.Contains(t, page, `href="/privacy?lang=`+other+`"`, "the page links to the other language")
	}
	_, fr := getPage(t, e, "GET", "/privacy?lang=fr", nil)
	require.Contains(t, fr, "<h1>Données personnelles</h1>")
	_, en := getPage(t, e, "GET", "/privacy?lang=en", nil)
	require.Contains(t, en, "<h1>Personal data</h1>")
}

func TestPrivacyPageIsSelfContained(t *testing.T) {
	e := setup(t, "sqlite", options{})
	for _, lang := range []string{"fr", "en"} {
		resp, page := getPage(t, e, "GET", "/privacy?lang="+lang, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Empty(t, resp.Header.Values("Set-Cookie"), "the notice sets no cookie")
		require.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'self'")
		require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
		lower := strings.ToLower(page)
		for _, bad := range []string{"<script", "<style", "style=", "javascript:"} {
			require.NotContains(t, lower, bad, "%s: no inline script or style", lang)
		}
		require.NotRegexp(t, `(?i)\son[a-z]+\s*=`, page, "no inline event handler")
		require.NotRegexp(t, `(?i)(src|href|action)\s*=\s*["']?(https?:)?//`, page, "nothing from another origin")
		require.Contains(t, page, `<link rel="stylesheet" href="/static/app.css">`)
		require.Contains(t, page, "CNIL")
		require.Contains(t, page, "www.cnil.fr")
		article := map[string]string{"fr": "article&nbsp;17, paragraphe&nbsp;3, point&nbsp;b", "en": "article 17(3)(b)"}[lang]
		require.Contains(t, section(t, page, "erasure"), article, "the connection log outlives the account, and says why")
		for _, key := range categoryKeys {
			section(t, page, "category-"+key)
		}
		for _, id := range []string{"controller", "processing", "chat-votes", "recordings", "erasure", "ledger", "recipients", "cookies", "rights"} {
			section(t, page, id)
		}
	}

	resp, body := getPage(t, e, "HEAD", "/privacy", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "HEAD works")
	require.Empty(t, body)
	require.Contains(t, resp.Header.Get("Content-Type"), "text/html")
}

func TestPrivacyPageHidesEmptyContacts(t *testing.T) {
	policy := privacy.DefaultPolicy()
	policy.DPO = "dpd@exemple.gouv.fr"
	e := setup(t, "sqlite", options{policy: &policy})
	_, page := getPage(t, e, "GET", "/privacy?lang=en", nil)
	controller := section(t, page, "controller")
	require.Contains(t, controller, "Data protection officer")
	require.NotContains(t, controller, "<dt>Contact</dt>", "an empty contact is not shown")
	require.Contains(t, section(t, page, "rights"), `<a href="mailto:dpd@exemple.gouv.fr">`)
}

// registerLine is one line of the processing register as a client reads it.
type registerLine struct {
	Key        string            `json:"key"`
	Name       map[string]string `json:"name"`
	Data       map[string]string `json:"data"`
	Purpose    map[string]string `json:"purpose"`
	LegalBasis map[string]string `json:"legal_basis"`
	ClockStart map[string]string `json:"clock_start"`
	Kept       map[string]string `json:"kept"`
	EnforcedBy map[string]string `json:"enforced_by"`
	Period     *struct {
		Months int `json:"months"`
		Days   int `json:"days"`
	} `json:"period"`
}

func TestProcessingRegisterMatchesThePage(t *testing.T) {
	policy := privacy.DefaultPolicy()
	policy.Recordings = privacy.Period{Months: 18}
	policy.ConnectionLog = privacy.Period{Days: 400}
	policy.AuditTrail = privacy.Period{Months: 6}
	policy.Controller = "Ministère de l'Exemple"
	e := setup(t, "sqlite", options{policy: &policy, noReady: true})

	// Like all of /api/v1, it waits for the database; then it is public, with no login.
	resp, err := http.Get(e.base + "/api/v1/privacy/register")
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "not_ready", problemOf(t, resp).Code)
	e.api.SetReady()
	resp, err = http.Get(e.base + "/api/v1/privacy/register")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Empty(t, resp.Header.Values("Set-Cookie"))
	require.Contains(t, resp.Header.Get("Content-Type"), "application/json")
	var reg struct {
		Controller string         `json:"controller"`
		Contact    *string        `json:"contact"`
		Categories []registerLine `json:"categories"`
	}
	decode(t, resp, &reg)
	require.Equal(t, "Ministère de l'Exemple", reg.Controller)
	require.Nil(t, reg.Contact, "an empty contact is left out")

	var keys []string
	for _, line := range reg.Categories {
		keys = append(keys, line.Key)
		for _, lang := range []string{"fr", "en"} {
			for field, text := range map[string]map[string]string{
				"name": line.Name, "data": line.Data, "purpose": line.Purpose, "legal_basis": line.LegalBasis,
				"clock_start": line.ClockStart, "kept": line.Kept, "enforced_by": line.EnforcedBy,
			} {
				require.NotEmpty(t, text[lang], "%s: %s in %s", line.Key, field, lang)
			}
		}
	}
	require.Equal(t, categoryKeys, keys, "every category, in order")

	want := map[string]*privacy.Period{
		privacy.CategoryAccounts:      {Months: 12},
		privacy.CategoryRecordings:    {Months: 18},
		privacy.CategoryChatVotes:     nil,
		privacy.CategoryConnectionLog: {Days: 400},
		privacy.CategoryAuditTrail:    {Months: 6},
		privacy.CategorySessions:      nil,
		privacy.CategorySlides:        {Months: 1},
		privacy.CategoryBroadcasts:    nil,
	}
	for _, line := range reg.Categories {
		if want[line.Key] == nil {
			require.Nil(t, line.Period, "%s ends with an event, not a period", line.Key)
		} else {
			require.NotNil(t, line.Period, line.Key)
			require.Equal(t, *want[line.Key], privacy.Period{Months: line.Period.Months, Days: line.Period.Days}, line.Key)
		}
	}
	require.Contains(t, reg.Categories[3].LegalBasis["fr"], "2021-1362")
	require.Equal(t, "GDPR art. 6(1)(e) and 6(1)(c) (accountability, art. 5(2) and 30)", reg.Categories[4].LegalBasis["en"])
	require.Equal(t, "RGPD art. 6-1-e et 6-1-c (responsabilité, art. 5-2 et 30)", reg.Categories[4].LegalBasis["fr"])

	// The page says what the register says, line by line, in both languages.
	for _, lang := range []string{"fr", "en"} {
		_, page := getPage(t, e, "GET", "/privacy?lang="+lang, nil)
		for _, line := range reg.Categories {
			sec := section(t, page, "category-"+line.Key)
			require.Equal(t, escapeText(line.Kept[lang]), kept(t, page, line.Key), "%s in %s", line.Key, lang)
			require.Contains(t, sec, escapeText(line.LegalBasis[lang]), "%s in %s", line.Key, lang)
			require.Contains(t, sec, escapeText(line.Name[lang]), "%s in %s", line.Key, lang)
		}
	}
}

// escapeText escapes text as html/template does in an element's content.
func escapeText(s string) string {
	return strings.NewReplacer("&", "&amp;", "'", "&#39;", "<", "&lt;", ">", "&gt;", `"`, "&#34;").Replace(s)
}

func TestLedgerCheckpointIsPublishedWithItsPublicKey(t *testing.T) {
	e := setup(t, "sqlite", options{})
	ctx := t.Context()
	ledger := api.LedgerOf(e.api)

	resp, err := http.Get(e.base + "/api/v1/privacy/ledger/checkpoint")
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "no_checkpoint", problemOf(t, resp).Code)

	require.NoError(t, ledger.Record(ctx, e.store, privacy.Entry{Rule: "deleted by the organizer", Category: privacy.CategoryRecordings,
		ObjectID: "recording-1", Count: 1, Stores: []string{privacy.StoreDatabase}, At: time.Now()}))
	made, err := ledger.Checkpoint(ctx)
	require.NoError(t, err)

	resp, err = http.Get(e.base + "/api/v1/privacy/ledger/checkpoint")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Empty(t, resp.Header.Values("Set-Cookie"), "no login, no cookie")
	var doc struct {
		Checkpoint string    `json:"checkpoint"`
		PublicKey  string    `json:"public_key"`
		TreeSize   int64     `json:"tree_size"`
		RootHash   string    `json:"root_hash"`
		Time       time.Time `json:"time"`
	}
	decode(t, resp, &doc)
	require.Equal(t, string(made.Note), doc.Checkpoint)
	require.EqualValues(t, 1, doc.TreeSize)
	require.Equal(t, made.Root.String(), doc.RootHash)
	require.True(t, made.Time.Equal(doc.Time))
	require.NotContains(t, doc.Checkpoint, "recording-1")
	require.NotContains(t, doc.Checkpoint, ledger.ObjectHash("recording-1"), "a checkpoint names no entry")

	// What the data protection officer does with it: check the ledger with it and the
	// public key alone.
	rep, err := privacy.VerifyLedger(ctx, e.store, privacy.VerifyParams{PublicKey: doc.PublicKey, Saved: []byte(doc.Checkpoint),
		Log: []byte(doc.Checkpoint)})
	require.NoError(t, err)
	require.EqualValues(t, 1, rep.Saved.Size)
}
