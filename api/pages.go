package api

import (
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
		r.GET(route, s.page(file))
		r.HEAD(route, s.page(file))
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

func (s *Server) page(file string) gin.HandlerFunc {
	return func(c *gin.Context) {
		body, err := fs.ReadFile(s.p.Pages, file)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.Header("Cache-Control", "no-cache")
		c.Data(http.StatusOK, "text/html; charset=utf-8", body)
	}
}
