package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/sextant-ai/sextant"
)

// The web console (GET /console/): static HTML, CSS and JavaScript modules
// compiled into the binary. The page holds no data: it asks the API with the
// API key the user types in, so serving it needs no key and grants nothing.
//
//go:embed console
var consoleFiles embed.FS

// ConsoleCSP is the Content-Security-Policy every console asset is served
// with: the page may load its own scripts, styles and images and talk to
// its own origin, and nothing else — no inline script or style, no other
// host, no frames, no plugins. Trusted Types with no policy make Chromium
// refuse any string assigned to innerHTML and its kin, so document and
// answer text can only ever reach the page as text.
const ConsoleCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; " +
	"frame-ancestors 'none'; require-trusted-types-for 'script'; trusted-types 'none'"

// consoleTypes are the media types of the console's files, by extension;
// an embedded file of another kind is not served.
var consoleTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

// consoleAsset is one file of the console, ready to serve.
type consoleAsset struct {
	body  []byte
	ctype string
	etag  string
}

// consoleAssets reads the embedded console into a map from the path below
// /console/ to the asset.
func consoleAssets() (map[string]consoleAsset, error) {
	root, err := fs.Sub(consoleFiles, "console")
	if err != nil {
		return nil, err
	}
	assets := map[string]consoleAsset{}
	err = fs.WalkDir(root, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ctype, ok := consoleTypes[path.Ext(name)]
		if !ok {
			return nil
		}
		body, err := fs.ReadFile(root, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		assets[name] = consoleAsset{body: body, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if _, ok := assets["index.html"]; !ok {
		return nil, sextant.Errorf(sextant.EINTERNAL, "web: the console has no index.html")
	}
	return assets, nil
}

// console serves GET /console/ and the files below it. Every response
// carries ConsoleCSP; assets are revalidated by ETag (a new binary may
// bring new files under the same names).
func (s *Server) console(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/console/")
	if name == "" {
		name = "index.html"
	}
	a, ok := s.assets[name]
	if !ok {
		writeError(w, &apiError{err: sextant.Errorf(sextant.ENOTFOUND, "the console has no file %q", name), code: "unknown_url"})
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("Content-Security-Policy", ConsoleCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
}
