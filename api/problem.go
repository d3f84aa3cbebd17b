package api

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"webinaire/privacy"
	"webinaire/store"
)

// Problem is an RFC 9457 problem document. Code is stable and documented in docs/api.md;
// Title and Detail are for people and may change.
type Problem struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail,omitempty"`
	Code   string       `json:"code"`
	Errors []FieldError `json:"errors,omitempty"`
}

// FieldError names one invalid field of a request body or query.
type FieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// Error lets a Problem travel as an error.
func (p *Problem) Error() string { return p.Code + ": " + p.Detail }

func problem(status int, code, detail string) *Problem {
	return &Problem{
		Type:   "urn:webinaire:problem:" + code,
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
		Code:   code,
	}
}

func validationProblem(errs []FieldError) *Problem {
	p := problem(http.StatusUnprocessableEntity, "validation", "the request has invalid fields")
	p.Errors = errs
	return p
}

var (
	errUnauthenticated = problem(http.StatusUnauthorized, "unauthenticated", "log in first")
	errForbidden       = problem(http.StatusForbidden, "forbidden", "your role does not allow this")
	errNotFound        = problem(http.StatusNotFound, "not_found", "no such resource")
	errCSRF            = problem(http.StatusForbidden, "csrf", "missing or wrong X-CSRF-Token header")
	errCrossOrigin     = problem(http.StatusForbidden, "cross_origin", "a request from another site may not change anything here")
	errNotReady        = problem(http.StatusServiceUnavailable, "not_ready", "the database is not ready yet; try again shortly")
	errInternal        = problem(http.StatusInternalServerError, "internal", "something went wrong on our side; nothing was changed")
)

// writeProblem answers with p.
func writeProblem(c *gin.Context, p *Problem) {
	c.Header("Content-Type", "application/problem+json")
	c.Header("Cache-Control", "no-store")
	c.AbortWithStatusJSON(p.Status, p)
}

// fail maps an error from below to a problem; only this package turns errors into HTTP,
// and no database text reaches the client.
func (s *Server) fail(c *gin.Context, err error) {
	var p *Problem
	switch {
	case errors.As(err, &p):
	case errors.Is(err, privacy.ErrFilesUnreachable):
		s.log.WarnContext(c.Request.Context(), "recording files not deleted: their node does not answer", "method", c.Request.Method, "route", c.FullPath(), "err", err)
		c.Header("Retry-After", "5")
		p = errRecordingNodeDown
	case errors.Is(err, store.ErrNotFound):
		p = errNotFound
	case errors.Is(err, store.ErrConflict):
		p = problem(http.StatusConflict, "conflict", "a resource with the same key exists")
	case errors.Is(err, store.ErrNotReady):
		c.Header("Retry-After", "5")
		p = errNotReady
	case errors.Is(err, store.ErrUnavailable):
		s.log.WarnContext(c.Request.Context(), "database unavailable", "method", c.Request.Method, "route", c.FullPath())
		c.Header("Retry-After", "5")
		p = problem(http.StatusServiceUnavailable, "database_unavailable", "the database cannot be reached; try again shortly")
	default:
		s.log.ErrorContext(c.Request.Context(), "request failed", "method", c.Request.Method, "route", c.FullPath(), "err", err)
		p = errInternal
	}
	writeProblem(c, p)
}
