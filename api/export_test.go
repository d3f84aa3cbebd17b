package api

// Routes lists "METHOD path" for every route of s, for the tests that keep docs in step.
func Routes(s *Server) []string {
	var out []string
	for _, r := range s.engine.Routes() {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}
