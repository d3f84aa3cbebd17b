package devidp

import (
	"bytes"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/op"
)

const (
	authRequestParam = "authRequestID"
	userParam        = "userID"
	maxFormBytes     = 64 << 10
)

// pagesTemplate holds the HTML pages of the provider. They load only the
// stylesheet served by this package: no script, no inline style, nothing from
// another origin, so they satisfy Content-Security-Policy: default-src 'self'.
const pagesTemplate = `
{{define "head"}}<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>{{.Title}}</title>
<link rel="stylesheet" href="{{.Stylesheet}}">
</head>
<body>
<p class="banner" role="note"><strong>DEVELOPMENT identity provider</strong> – for local testing only, never use it in production.<br>
<span lang="fr"><strong>Fournisseur d’identité de DÉVELOPPEMENT</strong> – pour les tests en local uniquement, ne jamais l’utiliser en production.</span></p>
<main>
{{end}}

{{define "foot"}}</main>
</body>
</html>
{{end}}

{{define "login"}}{{template "head" .}}
<h1>Sign in with a demo account <span lang="fr">/ Connectez-vous avec un compte de démonstration</span></h1>
<p>Requesting application <span lang="fr">/ Application demandeuse</span>: <code>{{.ClientID}}</code></p>
<form method="post" action="{{.Action}}">
<input type="hidden" name="` + authRequestParam + `" value="{{.AuthRequestID}}">
<ul class="users">
{{range .Users}}<li><button type="submit" name="` + userParam + `" value="{{.ID}}"><span class="name">{{.Name}}</span> <span class="email">{{.Email}}</span>{{if .Groups}} <span class="groups">{{.Groups}}</span>{{end}}</button></li>
{{end}}</ul>
</form>
<p class="hint">No password: choose an account to continue. <span lang="fr">Pas de mot de passe : choisissez un compte pour continuer.</span></p>
{{template "foot" .}}{{end}}

{{define "error"}}{{template "head" .}}
<h1>Sign-in failed <span lang="fr">/ Échec de la connexion</span></h1>
<p>{{.Message}}</p>
<p lang="fr">{{.MessageFR}}</p>
{{template "foot" .}}{{end}}

{{define "loggedout"}}{{template "head" .}}
<h1>You are signed out <span lang="fr">/ Vous êtes déconnecté·e</span></h1>
{{template "foot" .}}{{end}}
`

// stylesheet is served at stylesheetPath.
const stylesheet = `body{font-family:system-ui,sans-serif;margin:0;color:#1b1b1b;background:#f6f6f6}
.banner{margin:0;padding:.75rem 1rem;background:#b00020;color:#fff;text-align:center}
main{max-width:40rem;margin:2rem auto;padding:0 1rem}
h1{font-size:1.4rem}
.users{list-style:none;padding:0}
.users li{margin:.5rem 0}
.users button{width:100%;padding:.75rem 1rem;text-align:left;font:inherit;background:#fff;border:1px solid #999;border-radius:.4rem;cursor:pointer}
.users button:hover,.users button:focus{border-color:#1a56b0;outline:2px solid #1a56b0}
.name{font-weight:600}
.email,.groups{color:#555}
.hint{color:#555}
`

// parsePages parses pagesTemplate.
func parsePages() (*template.Template, error) {
	return template.New("pages").Parse(pagesTemplate)
}

// pageData is what every page template receives.
type pageData struct {
	Title      string
	Stylesheet string

	// login page
	Action        string
	AuthRequestID string
	ClientID      string
	Users         []userView

	// error page
	Message   string
	MessageFR string
}

// userView is a user as shown on the login page.
type userView struct {
	ID, Name, Email, Groups string
}

// loginPage lists the demo users for a pending auth request.
func (p *Provider) loginPage(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get(authRequestParam)
	req, err := p.storage.pendingAuthRequest(id)
	if err != nil {
		p.logger.WarnContext(r.Context(), "devidp: login page refused", slog.String("reason", err.Error()))
		p.renderError(w, http.StatusBadRequest, err)
		return
	}
	users := make([]userView, 0, len(p.storage.users))
	for _, u := range p.storage.users {
		users = append(users, userView{ID: u.ID, Name: u.displayName(), Email: u.Email, Groups: strings.Join(u.Groups, ", ")})
	}
	p.render(w, http.StatusOK, "login", pageData{
		Title:         "Development identity provider – sign in / Fournisseur d’identité de développement – connexion",
		Action:        p.pathPrefix + loginPath,
		AuthRequestID: req.id,
		ClientID:      req.clientID,
		Users:         users,
	})
}

// loginSubmit completes the pending auth request with the chosen user and
// sends the browser back to the provider, which redirects to the client with
// the code. The route is wrapped in http.CrossOriginProtection, and the auth
// request id is an unguessable value only accepted while the request is pending.
func (p *Provider) loginSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		p.renderError(w, http.StatusBadRequest, errors.New("invalid form"))
		return
	}
	id := r.PostForm.Get(authRequestParam)
	userID := r.PostForm.Get(userParam)
	clientID, err := p.storage.completeLogin(id, userID)
	if err != nil {
		p.logger.WarnContext(r.Context(), "devidp: login refused", slog.String("reason", err.Error()))
		p.renderError(w, http.StatusBadRequest, err)
		return
	}
	p.logger.InfoContext(r.Context(), "devidp: user signed in",
		slog.String("user_id", userID),
		slog.String("client_id", clientID))
	http.Redirect(w, r, op.AuthCallbackURL(p.op)(r.Context(), id), http.StatusSeeOther)
}

// loggedOutPage is the default destination of end_session.
func (p *Provider) loggedOutPage(w http.ResponseWriter, _ *http.Request) {
	p.render(w, http.StatusOK, "loggedout", pageData{
		Title: "Signed out / Déconnecté·e – development identity provider",
	})
}

// renderError shows a bilingual error page; err is one of the storage errors.
func (p *Provider) renderError(w http.ResponseWriter, status int, err error) {
	msg, msgFR := "The sign-in request is invalid.", "La demande de connexion est invalide."
	switch {
	case errors.Is(err, errAuthRequestNotFound):
		msg = "This sign-in request is unknown or has expired. Start again from the application."
		msgFR = "Cette demande de connexion est inconnue ou a expiré. Recommencez depuis l’application."
	case errors.Is(err, errAuthRequestDone):
		msg = "This sign-in request has already been used. Start again from the application."
		msgFR = "Cette demande de connexion a déjà été utilisée. Recommencez depuis l’application."
	case errors.Is(err, errUnknownUser):
		msg, msgFR = "Unknown demo account.", "Compte de démonstration inconnu."
	}
	p.render(w, status, "error", pageData{
		Title:     "Sign-in failed / Échec de la connexion – development identity provider",
		Message:   msg,
		MessageFR: msgFR,
	})
}

// render executes the page name into a buffer, then writes it with headers
// that keep the page self-contained and out of frames and caches.
func (p *Provider) render(w http.ResponseWriter, status int, name string, data pageData) {
	data.Stylesheet = p.pathPrefix + stylesheetPath
	var buf bytes.Buffer
	if err := p.pages.ExecuteTemplate(&buf, name, data); err != nil {
		p.logger.Error("devidp: render page", slog.String("page", name), slog.String("error", err.Error()))
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// serveStylesheet serves the stylesheet of the pages.
func serveStylesheet(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-cache")
	_, _ = w.Write([]byte(stylesheet))
}
