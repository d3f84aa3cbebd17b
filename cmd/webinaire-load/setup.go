package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// apiClient calls the HTTP API of a server as a browser does: a cookie jar, and the
// session's CSRF token on every request that is not a GET.
type apiClient struct {
	base string
	hc   *http.Client
	csrf string
}

func newAPIClient(base string) (*apiClient, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	return &apiClient{base: strings.TrimRight(base, "/"), hc: &http.Client{Jar: jar, Timeout: 30 * time.Second}}, nil
}

// call sends a JSON request (in may be nil) and decodes a JSON answer into out (may be
// nil); a status other than want is an error carrying the body.
func (a *apiClient) call(ctx context.Context, method, path string, in, out any, want int) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if method != http.MethodGet && a.csrf != "" {
		req.Header.Set("X-CSRF-Token", a.csrf)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(data))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

var (
	// authRequestRE and formActionRE read the development provider's login page.
	authRequestRE = regexp.MustCompile(`name="authRequestID" value="([^"]+)"`)
	formActionRE  = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
)

// devLogin logs in as user through the development identity provider of a server in
// development mode, and keeps the session's CSRF token.
func (a *apiClient) devLogin(ctx context.Context, user string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/auth/login?return_to=/dashboard", nil)
	if err != nil {
		return err
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	page, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("login page: %w", err)
	}
	id, action := authRequestRE.FindSubmatch(page), formActionRE.FindSubmatch(page)
	if id == nil || action == nil || !strings.HasPrefix(resp.Request.URL.Path, "/dev-idp/") {
		return fmt.Errorf("login: no development identity provider at %s (status %d at %s)", a.base, resp.StatusCode, resp.Request.URL.Path)
	}
	target, err := resp.Request.URL.Parse(strings.ReplaceAll(string(action[1]), "&amp;", "&"))
	if err != nil {
		return fmt.Errorf("login form: %w", err)
	}
	form := url.Values{"authRequestID": {string(id[1])}, "userID": {user}}
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, target.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = a.hc.Do(req)
	if err != nil {
		return fmt.Errorf("login as %s: %w", user, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/dashboard" {
		return fmt.Errorf("login as %s: ended with status %d at %s", user, resp.StatusCode, resp.Request.URL.Path)
	}
	var me struct {
		CSRF string `json:"csrf_token"`
	}
	if err := a.call(ctx, http.MethodGet, "/api/v1/me", nil, &me, http.StatusOK); err != nil {
		return err
	}
	a.csrf = me.CSRF
	return nil
}

// invitations are the links of a room made for a load run.
type invitations struct {
	WebinarID string `json:"webinar_id"`
	Kind      string `json:"kind"`
	// Publisher is a presenter's link; Subscriber an attendee's.
	Publisher  string `json:"publisher_invitation"`
	Subscriber string `json:"subscriber_invitation"`
}

// setupRoom logs in as user through the development identity provider, creates a webinar
// or meeting (kind) and a presenter's and an attendee's invitation links.
func setupRoom(ctx context.Context, base, user, kind string) (invitations, error) {
	a, err := newAPIClient(base)
	if err != nil {
		return invitations{}, err
	}
	if err := a.devLogin(ctx, user); err != nil {
		return invitations{}, err
	}
	var w struct {
		ID string `json:"id"`
	}
	in := map[string]any{
		"title": "Load test", "kind": kind, "duration_minutes": 120,
		"starts_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
	}
	if err := a.call(ctx, http.MethodPost, "/api/v1/webinars", in, &w, http.StatusCreated); err != nil {
		return invitations{}, fmt.Errorf("create the %s: %w", kind, err)
	}
	out := invitations{WebinarID: w.ID, Kind: kind}
	for _, inv := range []struct {
		role string
		url  *string
	}{{"presenter", &out.Publisher}, {"attendee", &out.Subscriber}} {
		var got struct {
			URL string `json:"url"`
		}
		path := "/api/v1/webinars/" + w.ID + "/invitations"
		if err := a.call(ctx, http.MethodPost, path, map[string]string{"role": inv.role}, &got, http.StatusCreated); err != nil {
			return invitations{}, fmt.Errorf("create a %s invitation: %w", inv.role, err)
		}
		*inv.url = got.URL
	}
	return out, nil
}

// invitationToken is the token of an invitation link, or the token itself.
func invitationToken(link string) string { return link[strings.LastIndex(link, "/")+1:] }
