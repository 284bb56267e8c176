package serve

import (
	_ "embed"
	"net/http"
)

//go:embed playground.html
var playgroundHTML []byte

// playground serves the page that tries the models in a browser.
func (s *Server) playground(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
	w.Write(playgroundHTML)
}
