// Package frontend holds the browser app, embedded in the binary.
package frontend

import "embed"

// Files holds the pages (*.html at the root), the header and footer they share
// (partials/, rendered into each page by the server with html/template) and the static
// folder.
//
//go:embed *.html partials static
var Files embed.FS
