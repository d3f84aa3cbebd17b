// Package frontend holds the browser app, embedded in the binary.
package frontend

import "embed"

// Files holds the pages (*.html at the root) and the static folder.
//
//go:embed *.html static
var Files embed.FS
