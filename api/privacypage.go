package api

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/text/language"

	"webinaire/privacy"
)

// The privacy notice is written once per language (templates/privacy.fr.html and
// privacy.en.html) inside a shared layout (templates/privacy.html). Every duration on it
// comes from the policy, as does every line of the processing register, so the notice, the
// register and the sweeps cannot say different things.
//
//go:embed templates/privacy.html templates/privacy.fr.html templates/privacy.en.html
var privacyFiles embed.FS

// privacyTemplates holds the notice in each language; parsed once, read only.
var privacyTemplates = map[string]*template.Template{
	"fr": template.Must(template.ParseFS(privacyFiles, "templates/privacy.html", "templates/privacy.fr.html")),
	"en": template.Must(template.ParseFS(privacyFiles, "templates/privacy.html", "templates/privacy.en.html")),
}

// privacyPath is the notice's address; the footer of every page links to it.
const privacyPath = "/privacy"

// privacyRoutes serves the privacy notice and the processing register (GDPR art. 30). Both
// are public and read nothing but the policy; the register, like all of /api/v1, still
// waits for the database to be ready.
func (s *Server) privacyRoutes(r *gin.Engine) {
	policy := s.p.Policy
	if policy == (privacy.Policy{}) {
		policy = privacy.DefaultPolicy()
	}
	page := func(c *gin.Context) { s.privacyPage(c, policy) }
	r.GET(privacyPath, page)
	r.HEAD(privacyPath, page)
	register := func(c *gin.Context) {
		c.Header("Cache-Control", "no-cache")
		c.JSON(http.StatusOK, registerOf(policy))
	}
	r.GET("/api/v1/privacy/register", s.needReady, register)
	r.GET("/api/v1/privacy/ledger/checkpoint", s.getLedgerCheckpoint)
}

// errNoCheckpoint: the ledger has not made or read its first checkpoint yet.
var errNoCheckpoint = problem(http.StatusServiceUnavailable, "no_checkpoint", "the deletion ledger has no checkpoint yet; try again shortly")

// ledgerCheckpoint is the latest checkpoint of the deletion ledger as published: the signed
// note, with what it says, and the public key that checks it. No personal data.
type ledgerCheckpoint struct {
	Checkpoint string    `json:"checkpoint"`
	PublicKey  string    `json:"public_key"`
	TreeSize   int64     `json:"tree_size"`
	RootHash   string    `json:"root_hash"`
	Time       time.Time `json:"time"`
}

// getLedgerCheckpoint answers the latest checkpoint, from memory: anyone may ask, for
// nothing but a copy of a few hundred bytes; no database, no file is read.
func (s *Server) getLedgerCheckpoint(c *gin.Context) {
	cp, ok := s.p.Ledger.LatestCheckpoint()
	if !ok {
		c.Header("Retry-After", "60")
		writeProblem(c, errNoCheckpoint)
		return
	}
	c.Header("Cache-Control", "no-cache")
	c.JSON(http.StatusOK, ledgerCheckpoint{
		Checkpoint: string(cp.Note), PublicKey: s.p.Ledger.PublicKey(),
		TreeSize: cp.Size, RootHash: cp.Root.String(), Time: cp.Time,
	})
}

// privacyView is what the notice templates read.
type privacyView struct {
	Lang string
	// Other is the other language, and OtherURL the notice in it.
	Other    string
	OtherURL string
	// Controller, Contact and DPO are as configured; empty ones are not shown. ContactMail
	// and DPOMail tell an email address, shown as a mailto: link.
	Controller  string
	Contact     string
	ContactMail bool
	DPO         string
	DPOMail     bool
	Categories  []categoryView
	// Periods of the policy, in words of the language.
	AccountInactivity string
	Recordings        string
	ConnectionLog     string
	AuditTrail        string
	// SessionHours is the longest an organizer session lasts; LoginFlowMinutes the longest
	// the login cookie lives.
	SessionHours     int
	LoginFlowMinutes int
}

// categoryView is one processing category in one language.
type categoryView struct {
	Key, Name, Data, Purpose, ClockStart, Kept, LegalBasis, EnforcedBy string
}

func (s *Server) privacyPage(c *gin.Context, policy privacy.Policy) {
	lang := noticeLanguage(c.Query("lang"), c.GetHeader("Accept-Language"))
	other := "en"
	if lang == "en" {
		other = "fr"
	}
	v := privacyView{
		Lang:              lang,
		Other:             other,
		OtherURL:          privacyPath + "?lang=" + other,
		Controller:        policy.Controller,
		Contact:           policy.Contact,
		ContactMail:       isEmail(policy.Contact),
		DPO:               policy.DPO,
		DPOMail:           isEmail(policy.DPO),
		AccountInactivity: policy.AccountInactivity.Text(lang),
		Recordings:        policy.Recordings.Text(lang),
		ConnectionLog:     policy.ConnectionLog.Text(lang),
		AuditTrail:        policy.AuditTrail.Text(lang),
		SessionHours:      int(policy.SessionAbsolute.Hours()),
		LoginFlowMinutes:  int(loginFlowTTL.Minutes()),
	}
	for _, cat := range policy.Categories() {
		v.Categories = append(v.Categories, categoryView{
			Key:        cat.Key,
			Name:       cat.Name.In(lang),
			Data:       cat.Data.In(lang),
			Purpose:    cat.Purpose.In(lang),
			ClockStart: cat.ClockStart.In(lang),
			Kept:       cat.Kept.In(lang),
			LegalBasis: cat.LegalBasis.In(lang),
			EnforcedBy: cat.EnforcedBy.In(lang),
		})
	}
	var body bytes.Buffer
	if err := privacyTemplates[lang].ExecuteTemplate(&body, "privacy.html", v); err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-cache")
	c.Header("Content-Language", lang)
	c.Header("Vary", "Accept-Language")
	c.Data(http.StatusOK, "text/html; charset=utf-8", body.Bytes())
}

// noticeLanguage picks the notice's language: the lang parameter when it is fr or en, else
// French when the browser's first preferred language is French, else English.
func noticeLanguage(param, acceptLanguage string) string {
	if param == "fr" || param == "en" {
		return param
	}
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage) // sorted by preference
	if err == nil && len(tags) > 0 {
		if base, _ := tags[0].Base(); base.String() == "fr" {
			return "fr"
		}
		return "en"
	}
	if strings.TrimSpace(acceptLanguage) == "" {
		return "fr" // no preference at all: the service's own language
	}
	return "en"
}

// isEmail tells a contact that is an email address rather than a postal address or a URL.
func isEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	return at > 0 && at < len(s)-1 && !strings.ContainsAny(s, " \t\n/:<>\"")
}

// registerJSON is the processing register (GDPR art. 30) as the API serves it.
type registerJSON struct {
	Controller string                 `json:"controller,omitempty"`
	Contact    string                 `json:"contact,omitempty"`
	DPO        string                 `json:"dpo,omitempty"`
	Categories []registerCategoryJSON `json:"categories"`
}

// registerCategoryJSON is one line of the register. Period is null for a category whose
// end is an event (the end of a session) rather than a delay.
type registerCategoryJSON struct {
	Key        string      `json:"key"`
	Name       textJSON    `json:"name"`
	Data       textJSON    `json:"data"`
	Purpose    textJSON    `json:"purpose"`
	LegalBasis textJSON    `json:"legal_basis"`
	ClockStart textJSON    `json:"clock_start"`
	Kept       textJSON    `json:"kept"`
	EnforcedBy textJSON    `json:"enforced_by"`
	Period     *periodJSON `json:"period"`
}

type textJSON struct {
	FR string `json:"fr"`
	EN string `json:"en"`
}

type periodJSON struct {
	Months int `json:"months"`
	Days   int `json:"days"`
}

func registerOf(policy privacy.Policy) registerJSON {
	text := func(t privacy.Text) textJSON { return textJSON{FR: t.FR, EN: t.EN} }
	reg := registerJSON{Controller: policy.Controller, Contact: policy.Contact, DPO: policy.DPO}
	for _, cat := range policy.Categories() {
		line := registerCategoryJSON{
			Key:        cat.Key,
			Name:       text(cat.Name),
			Data:       text(cat.Data),
			Purpose:    text(cat.Purpose),
			LegalBasis: text(cat.LegalBasis),
			ClockStart: text(cat.ClockStart),
			Kept:       text(cat.Kept),
			EnforcedBy: text(cat.EnforcedBy),
		}
		if !cat.Period.IsZero() {
			line.Period = &periodJSON{Months: cat.Period.Months, Days: cat.Period.Days}
		}
		reg.Categories = append(reg.Categories, line)
	}
	return reg
}
