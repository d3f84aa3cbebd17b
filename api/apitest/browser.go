// Package apitest drives Webinaire over HTTP as a browser does, and looks for what it
// left in its database and files, for tests.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Browser is a client with a cookie jar that follows redirects, as a person's browser does.
type Browser struct {
	T      testing.TB
	Base   string
	Client *http.Client
	// CSRF is the session's token, sent on every request that is not a GET.
	CSRF string
}

// requestTimeout bounds a request that hangs; it is no measure of speed: the PDF checks of
// a slides upload take tens of seconds with the race detector on a busy machine.
const requestTimeout = 90 * time.Second

// NewBrowser returns a browser for the server at base; transport may be nil.
func NewBrowser(t testing.TB, base string, transport http.RoundTripper) *Browser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &Browser{T: t, Base: base, Client: &http.Client{Jar: jar, Timeout: requestTimeout, Transport: transport}}
}

var (
	// AuthRequestRE finds the pending request on the development provider's login page.
	AuthRequestRE = regexp.MustCompile(`name="authRequestID" value="([^"]+)"`)
	// FormActionRE finds where that page's form posts to.
	FormActionRE = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
)

// ChooseUser submits the development provider's login page (resp) for user and returns the
// response at the end of the redirects.
func (b *Browser) ChooseUser(resp *http.Response, user string) *http.Response {
	b.T.Helper()
	page := ReadBody(b.T, resp)
	require.Equal(b.T, http.StatusOK, resp.StatusCode, page)
	require.True(b.T, strings.HasPrefix(resp.Request.URL.Path, "/dev-idp/"), "at the provider's login page, got %s", resp.Request.URL)
	id := AuthRequestRE.FindStringSubmatch(page)
	action := FormActionRE.FindStringSubmatch(page)
	require.NotNil(b.T, id, "login page has the auth request id")
	require.NotNil(b.T, action, "login page has a form")
	target, err := resp.Request.URL.Parse(strings.ReplaceAll(action[1], "&amp;", "&"))
	require.NoError(b.T, err)
	resp, err = b.Client.PostForm(target.String(), url.Values{"authRequestID": {id[1]}, "userID": {user}})
	require.NoError(b.T, err)
	return resp
}

// Login walks the whole flow through the development provider: the app's login, the
// provider's page, the choice of user, the callback; it ends on the dashboard and reads the
// CSRF token.
func (b *Browser) Login(user string) {
	b.T.Helper()
	resp := b.ChooseUser(b.Do("GET", "/auth/login?return_to=/dashboard", nil, nil), user)
	body := ReadBody(b.T, resp)
	require.Equal(b.T, http.StatusOK, resp.StatusCode, body)
	require.Equal(b.T, "/dashboard", resp.Request.URL.Path, "the login ends on the dashboard")
	b.RefreshCSRF()
}

// RefreshCSRF reads the session's CSRF token from /api/v1/me.
func (b *Browser) RefreshCSRF() {
	b.T.Helper()
	var me struct {
		CSRF string `json:"csrf_token"`
	}
	resp := b.Do("GET", "/api/v1/me", nil, nil)
	require.Equal(b.T, http.StatusOK, resp.StatusCode)
	Decode(b.T, resp, &me)
	require.NotEmpty(b.T, me.CSRF)
	b.CSRF = me.CSRF
}

// Do sends a request. A string or []byte body goes as it is, anything else as JSON; a body
// comes with Content-Type application/json, a non-GET with the CSRF token. headers override,
// and an empty value removes a header.
func (b *Browser) Do(method, path string, body any, headers map[string]string) *http.Response {
	b.T.Helper()
	var r io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(v)
	case []byte:
		r = bytes.NewReader(v)
	default:
		data, err := json.Marshal(v)
		require.NoError(b.T, err)
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, b.Base+path, r)
	require.NoError(b.T, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if method != "GET" && b.CSRF != "" {
		req.Header.Set("X-CSRF-Token", b.CSRF)
	}
	for k, v := range headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := b.Client.Do(req)
	require.NoError(b.T, err)
	return resp
}

// Cookie returns the value of the named cookie the browser holds for the server.
func (b *Browser) Cookie(name string) string {
	u, _ := url.Parse(b.Base)
	for _, c := range b.Client.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// ReadBody reads and closes a response body.
func ReadBody(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(data)
}

// Decode reads a JSON response body into v and closes it.
func Decode(t testing.TB, resp *http.Response, v any) {
	t.Helper()
	defer resp.Body.Close()
	require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
}
