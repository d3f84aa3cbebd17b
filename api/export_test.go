package api

import (
	"webinaire/privacy"
	"webinaire/recording"
	"webinaire/store"
)

// Routes lists "METHOD path" for every route of s, for the tests that keep docs in step.
func Routes(s *Server) []string {
	var out []string
	for _, r := range s.engine.Routes() {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

// LedgerOf is the ledger s records deletions in.
func LedgerOf(s *Server) *privacy.Ledger { return s.p.Ledger }

// PersonName is personName, for its table test.
var PersonName = personName

// LocalPath is the rule a login's return_to must pass.
func LocalPath(p string) string { return localPath(p) }

// RecordingRows is the recording manager's rows in st, as a server keeps them.
func RecordingRows(st *store.Store) recording.Rows { return recordingRows{st} }
