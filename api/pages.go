package api

import (
	"bytes"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/gin-gonic/gin"
)

// pageRoutes serves the browser app: a few HTML pages and their static files. No page sets a
// cookie: the session cookie is set at login (with, during the round trip to the identity
// provider, a short-lived cookie that binds the login to the browser).
func (s *Server) pageRoutes(r *gin.Engine) {
	pages := map[string]string{
		"/":              "index.html",
		"/login":         "login.html",
		"/dashboard":     "dashboard.html",
		"/account":       "account.html",
		"/admin":         "admin.html",
		"/join/:token":   "join.html",
		"/room/:id":      "room.html",
		"/replay/:token": "replay.html",
	}
	static, err := fs.Sub(s.p.Pages, "static")
	if err != nil {
		panic("frontend has no static folder: " + err.Error()) // a build mistake, caught by every test
	}
	files := http.FileServerFS(static)
	for route, file := range pages {
		body, err := renderPage(s.p.Pages, file)
		if err != nil {
			panic("frontend page " + file + ": " + err.Error()) // a build mistake, caught by every test
		}
		r.GET(route, servePage(body))
		r.HEAD(route, servePage(body))
	}
	// Browsers ask for /favicon.ico on pages that do not name an icon (the provider's pages).
	r.GET("/favicon.ico", func(c *gin.Context) {
		c.Request.URL.Path = "/favicon.svg"
		c.Header("Cache-Control", "max-age=86400")
		c.Header("Content-Type", "image/svg+xml")
		files.ServeHTTP(c.Writer, c.Request)
	})
	r.GET("/static/*path", func(c *gin.Context) {
		p := c.Param("path")
		if strings.HasSuffix(p, "/") || path.Base(p) == "." {
			writeProblem(c, errNotFound)
			return
		}
		c.Header("Cache-Control", "no-cache")
		c.Request.URL.Path = p
		files.ServeHTTP(c.Writer, c.Request)
	})
}

// renderPage renders a page of pages with the header and footer it shares with the
// others (partials/*.html).
func renderPage(pages fs.FS, file string) ([]byte, error) {
	t, err := template.ParseFS(pages, "partials/*.html", file)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, file, nil); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func servePage(body []byte) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", "no-cache")
		c.Data(http.StatusOK, "text/html; charset=utf-8", body)
	}
}
