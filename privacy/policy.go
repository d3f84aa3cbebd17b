// Package privacy enforces Webinaire's retention policy: the policy itself, the purge sweeps,
// the connection log, the deletion ledger, and the rights of the person.
package privacy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Period is a retention period in calendar months and days: 12 months after 15 March is
// 15 March of the next year, whatever the length of February.
type Period struct {
	Months int
	Days   int
}

// ParsePeriod reads "12 months", "1 year", "30 days", "6 months 15 days" (French words too:
// "12 mois", "1 an", "30 jours").
func ParsePeriod(s string) (Period, error) {
	var p Period
	fields := strings.Fields(strings.ToLower(s))
	if len(fields) == 0 || len(fields)%2 != 0 {
		return p, fmt.Errorf("want a number and a unit, e.g. \"12 months\", got %q", s)
	}
	for i := 0; i < len(fields); i += 2 {
		n, err := strconv.Atoi(fields[i])
		if err != nil || n < 0 || n > 1200 {
			return p, fmt.Errorf("want a whole number from 0 to 1200 before %q, got %q", fields[i+1], fields[i])
		}
		switch fields[i+1] {
		case "year", "years", "an", "ans":
			p.Months += 12 * n
		case "month", "months", "mois":
			p.Months += n
		case "day", "days", "jour", "jours":
			p.Days += n
		default:
			return p, fmt.Errorf("unknown unit %q (years, months or days)", fields[i+1])
		}
	}
	return p, nil
}

// Cutoff is the instant before which something whose clock started then is past the period,
// seen at now.
func (p Period) Cutoff(now time.Time) time.Time { return now.AddDate(0, -p.Months, -p.Days) }

// Until is when something whose clock starts at start leaves the period.
func (p Period) Until(start time.Time) time.Time { return start.AddDate(0, p.Months, p.Days) }

// IsZero tells an empty period.
func (p Period) IsZero() bool { return p.Months == 0 && p.Days == 0 }

// String writes the period as it is configured ("12 months").
func (p Period) String() string { return p.Text("en") }

// Text writes the period for people, in French ("fr") or English.
func (p Period) Text(lang string) string {
	unit := func(n int, fr1, frN, en1, enN string) string {
		if lang == "fr" {
			if n == 1 {
				return "1 " + fr1
			}
			return strconv.Itoa(n) + " " + frN
		}
		if n == 1 {
			return "1 " + en1
		}
		return strconv.Itoa(n) + " " + enN
	}
	var parts []string
	if p.Months > 0 {
		parts = append(parts, unit(p.Months, "mois", "mois", "month", "months"))
	}
	if p.Days > 0 {
		parts = append(parts, unit(p.Days, "jour", "jours", "day", "days"))
	}
	if len(parts) == 0 {
		return unit(0, "jour", "jours", "day", "days")
	}
	sep := " and "
	if lang == "fr" {
		sep = " et "
	}
	return strings.Join(parts, sep)
}

// Category names, as used in the ledger, the metrics and the sweeps.
const (
	CategoryAccounts      = "accounts"
	CategoryRecordings    = "recordings"
	CategoryChatVotes     = "chat_votes"
	CategoryConnectionLog = "connection_log"
	CategorySessions      = "sessions"
	CategoryAuditTrail    = "audit_trail"
	CategorySlides        = "slides"
	CategoryBroadcasts    = "broadcasts"
)

// Policy is the retention policy: one declaration that drives the sweeps, the privacy notice
// and the processing register, so that they cannot drift apart.
type Policy struct {
	// AccountInactivity: an organizer account is purged this long after its last activity.
	AccountInactivity Period
	// Recordings are deleted this long after the webinar's date.
	Recordings Period
	// Slides attached to a webinar beforehand are deleted this long after its date.
	Slides Period
	// ConnectionLog entries are deleted this long after the event.
	ConnectionLog Period
	// AuditTrail events (who did what: ids, never content) are deleted this long after the
	// event.
	AuditTrail Period
	// SessionAbsolute is the longest an organizer session lasts.
	SessionAbsolute time.Duration
	// Controller, Contact and DPO are shown on the privacy notice.
	Controller string
	Contact    string
	DPO        string
}

// DefaultPolicy is the policy of the reference notice.
func DefaultPolicy() Policy {
	return Policy{
		AccountInactivity: Period{Months: 12},
		Recordings:        Period{Months: 12},
		Slides:            Period{Months: 1},
		ConnectionLog:     Period{Months: 12},
		AuditTrail:        Period{Months: 12},
		SessionAbsolute:   12 * time.Hour,
	}
}

// Validate checks that every period can be enforced.
func (p Policy) Validate() error {
	var errs []error
	if p.AccountInactivity.IsZero() {
		errs = append(errs, errors.New("accounts: the inactivity period must be longer than 0 days"))
	}
	if p.Recordings.IsZero() {
		errs = append(errs, errors.New("recordings: the period must be longer than 0 days"))
	}
	if p.Slides.IsZero() {
		errs = append(errs, errors.New("slides: the period must be longer than 0 days"))
	}
	if p.ConnectionLog.Months < 12 && p.ConnectionLog.Months*31+p.ConnectionLog.Days < 365 {
		errs = append(errs, errors.New("connection_log: décret n° 2021-1362 requires keeping connection data for one year (at least 12 months)"))
	}
	if p.AuditTrail.IsZero() {
		errs = append(errs, errors.New("audit_trail: the period must be longer than 0 days"))
	}
	if p.SessionAbsolute <= 0 {
		errs = append(errs, errors.New("sessions: the absolute timeout must be positive"))
	}
	return errors.Join(errs...)
}

// Text is a string in French and English.
type Text struct{ FR, EN string }

// In picks the language ("fr" or anything else for English).
func (t Text) In(lang string) string {
	if lang == "fr" {
		return t.FR
	}
	return t.EN
}

// Category is one line of the processing register and of the privacy notice.
type Category struct {
	Key        string
	Name       Text
	Data       Text
	Purpose    Text
	ClockStart Text
	// Kept is the retention in words, from the policy's period where there is one.
	Kept       Text
	LegalBasis Text
	EnforcedBy Text
	// Period is the enforced period; zero for categories whose end is an event.
	Period Period
}

// Categories lists what Webinaire processes, with how long and why, from the policy.
func (p Policy) Categories() []Category {
	period := func(x Period) Text { return Text{FR: x.Text("fr"), EN: x.Text("en")} }
	hours := func(d time.Duration) Text {
		h := int(d.Hours())
		return Text{FR: fmt.Sprintf("la session, au plus %d h", h), EN: fmt.Sprintf("the session, at most %d h", h)}
	}
	return []Category{
		{
			Key:        CategoryAccounts,
			Name:       Text{"Comptes des organisateurs", "Organizer accounts"},
			Data:       Text{"Émetteur et identifiant OpenID Connect, nom, prénom, adresse électronique, date de dernière activité", "OpenID Connect issuer and subject, last name, first name, email address, date of last activity"},
			Purpose:    Text{"Permettre aux agents d'organiser des webinaires et des réunions", "Let agents organise webinars and meetings"},
			ClockStart: Text{"dernière activité", "last activity"},
			Kept:       Text{FR: period(p.AccountInactivity).FR + " d'inactivité ; aussitôt en cas de suppression du compte", EN: period(p.AccountInactivity).EN + " of inactivity; at once when the account is deleted"},
			LegalBasis: Text{"RGPD art. 6-1-e (mission d'intérêt public)", "GDPR art. 6(1)(e) (public interest task)"},
			EnforcedBy: Text{"purge des comptes inactifs", "inactive account sweep"},
			Period:     p.AccountInactivity,
		},
		{
			Key:        CategoryRecordings,
			Name:       Text{"Enregistrements", "Recordings"},
			Data:       Text{"Fichiers audio et vidéo, métadonnées, liens de partage", "Audio and video files, metadata, share links"},
			Purpose:    Text{"Permettre de revoir un webinaire", "Let people watch a webinar again"},
			ClockStart: Text{"date du webinaire", "webinar date"},
			Kept:       Text{FR: period(p.Recordings).FR + " ; l'organisateur peut les supprimer à tout moment", EN: period(p.Recordings).EN + "; the organizer may delete them at any time"},
			LegalBasis: Text{"RGPD art. 6-1-e", "GDPR art. 6(1)(e)"},
			EnforcedBy: Text{"purge des enregistrements ; purge des fichiers orphelins", "recording sweep; orphan files sweep"},
			Period:     p.Recordings,
		},
		{
			Key:        CategoryChatVotes,
			Name:       Text{"Messagerie instantanée et votes", "Chat and votes"},
			Data:       Text{"Messages, réponses aux sondages, de la salle et de ses sous-groupes ; noms des sous-groupes, messages des animateurs à tous les sous-groupes", "Messages, poll answers, of the room and of its breakout rooms; names of the breakout rooms, moderators' messages to every breakout room"},
			Purpose:    Text{"Échanger pendant la session", "Exchange during the session"},
			ClockStart: Text{"fin de la session", "end of the session"},
			Kept:       Text{"jusqu'à la fin de la session ; jamais écrits sur disque", "until the session ends; never written to disk"},
			LegalBasis: Text{"RGPD art. 6-1-e", "GDPR art. 6(1)(e)"},
			EnforcedBy: Text{"effacés à la fermeture de la salle", "dropped when the room closes"},
		},
		{
			Key:        CategoryConnectionLog,
			Name:       Text{"Journal des connexions", "Connection log"},
			Data:       Text{"Identifiant de l'utilisateur ou de l'invité, adresse IP et port source, date et heure, nature de l'opération, webinaire", "User or guest identifier, source IP address and port, date and time, kind of operation, webinar"},
			Purpose:    Text{"Obligation légale de conservation des données de connexion", "Legal obligation to keep connection data"},
			ClockStart: Text{"l'événement", "the event"},
			Kept:       period(p.ConnectionLog),
			LegalBasis: Text{"Décret n° 2021-1362 (LCEN) ; RGPD art. 6-1-c", "Décret n° 2021-1362 (LCEN); GDPR art. 6(1)(c)"},
			EnforcedBy: Text{"purge du journal des connexions", "connection log sweep"},
			Period:     p.ConnectionLog,
		},
		{
			Key:        CategoryAuditTrail,
			Name:       Text{"Journal d'audit", "Audit trail"},
			Data:       Text{"Qui a fait quoi et quand, par identifiants, jamais de contenu : actions des organisateurs et des administrateurs (limitations, recherches dans le journal des connexions, avec une empreinte à clé de l'adresse cherchée), fins de session avec leurs nombres de messages et de votes ; l'identifiant d'une personne effacée y est remplacé par une empreinte à clé", "Who did what and when, by identifiers, never content: organizer and administrator actions (restrictions, connection log searches, with a keyed hash of the address searched), session ends with their counts of messages and votes; the identifier of an erased person is replaced there by a keyed hash"},
			Purpose:    Text{"Rendre compte des traitements et des actions des administrateurs (RGPD art. 5-2 et 30)", "Account for the processing and for administrators' actions (GDPR art. 5(2) and 30)"},
			ClockStart: Text{"l'événement", "the event"},
			Kept:       period(p.AuditTrail),
			LegalBasis: Text{"RGPD art. 6-1-e et 6-1-c (responsabilité, art. 5-2 et 30)", "GDPR art. 6(1)(e) and 6(1)(c) (accountability, art. 5(2) and 30)"},
			EnforcedBy: Text{"purge du journal d'audit", "audit trail sweep"},
			Period:     p.AuditTrail,
		},
		{
			Key:        CategorySessions,
			Name:       Text{"Cookie d'authentification", "Authentication cookie"},
			Data:       Text{"Identifiant de session", "Session identifier"},
			Purpose:    Text{"Garder l'organisateur connecté", "Keep the organizer logged in"},
			ClockStart: Text{"connexion", "login"},
			Kept:       hours(p.SessionAbsolute),
			LegalBasis: Text{"Exempté de consentement (cookie strictement nécessaire)", "Exempt from consent (strictly necessary cookie)"},
			EnforcedBy: Text{"expiration et purge des sessions", "expiry and session sweep"},
		},
		{
			Key:        CategorySlides,
			Name:       Text{"Diapositives jointes aux webinaires", "Slides attached to webinars"},
			Data:       Text{"Fichier PDF joint par l'organisateur avant le webinaire, nombre de pages, date ; un PDF présenté pendant la session sans avoir été joint n'est gardé qu'en mémoire, jusqu'à la fin de la session", "PDF file the organizer attaches before the webinar, page count, date; a PDF presented during the session without being attached is only kept in memory, until the session ends"},
			Purpose:    Text{"Présenter des diapositives pendant le webinaire", "Present slides during the webinar"},
			ClockStart: Text{"date du webinaire", "webinar date"},
			Kept:       Text{FR: period(p.Slides).FR + " ; l'organisateur peut les supprimer à tout moment", EN: period(p.Slides).EN + "; the organizer may delete them at any time"},
			LegalBasis: Text{"RGPD art. 6-1-e", "GDPR art. 6(1)(e)"},
			EnforcedBy: Text{"purge des diapositives", "slides sweep"},
			Period:     p.Slides,
		},
		{
			Key:  CategoryBroadcasts,
			Name: Text{"Diffusions en direct", "Live broadcasts"},
			Data: Text{
				"Image et son de la session pendant la diffusion (le partage d'écran avec en incrustation la caméra de l'orateur actif, ou cette caméra seule, avec son nom affiché ; le son mêlé des participants), envoyés au serveur RTMP que l'organisateur a configuré pour le webinaire (PeerTube, Owncast…) ; l'adresse de ce serveur et la clé de flux, conservées avec le webinaire",
				"Picture and sound of the session while it is broadcast (the screen share with the active speaker's camera inset, or that camera alone, with their name shown; the mixed sound of the participants), sent to the RTMP server the organizer configured for the webinar (PeerTube, Owncast...); that server's address and the stream key, kept with the webinar",
			},
			Purpose:    Text{"Diffuser un webinaire à un public plus large, sur le serveur de diffusion choisi par l'organisation", "Broadcast a webinar to a wider audience, on the streaming server the organisation chose"},
			ClockStart: Text{"début de la diffusion", "start of the broadcast"},
			Kept: Text{
				"rien n'est conservé par Webinaire : le flux part au serveur configuré pendant la diffusion, qui le garde selon ses propres règles ; l'adresse et la clé sont effacées avec le webinaire ou par l'organisateur",
				"nothing is kept by Webinaire: the stream goes to the configured server while it lasts, which keeps it under its own rules; the address and key are deleted with the webinar or by the organizer",
			},
			LegalBasis: Text{"RGPD art. 6-1-e", "GDPR art. 6(1)(e)"},
			EnforcedBy: Text{
				"annonce à tous, dans la salle et la salle d'attente, avant la première image ; arrêt à la fin de la session ; journal des connexions et journal d'audit au début et à la fin",
				"everyone in the room and the lobby is told before the first frame; stops when the session ends; connection log and audit trail entries at start and stop",
			},
		},
	}
}
