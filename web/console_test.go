package web_test

import (
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sextant-ai/sextant/web"
)

// get fetches path from the server without a key and without following
// redirects.
func get(t *testing.T, url, path string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

// consoleFiles lists the console's source files (web/console).
func consoleFiles(t *testing.T) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir("console", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, filepath.ToSlash(strings.TrimPrefix(p, "console"+string(filepath.Separator))))
		}
		return err
	})
	if err != nil || len(names) == 0 {
		t.Fatalf("console files: %v %v", names, err)
	}
	return names
}

// TestConsoleServed: every console file is served without a key, with its
// media type, the Content-Security-Policy and the other security headers,
// behind the key-checking server (an API request without a key is 401).
func TestConsoleServed(t *testing.T) {
	s := authStack(t)
	if status, _ := send(t, s.URL, "", "GET", "/v1/documents", ""); status != http.StatusUnauthorized {
		t.Fatalf("the API without a key: %d; want 401 (the stack must check keys)", status)
	}
	types := map[string]string{".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
		".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
	for _, name := range append(consoleFiles(t), "") {
		path := "/console/" + name
		res, body := get(t, s.URL, path, nil)
		want := types[filepath.Ext(name)]
		if name == "" {
			want = types[".html"]
		}
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d %.200s", path, res.StatusCode, body)
			continue
		}
		h := res.Header
		if got := h.Get("Content-Type"); got != want {
			t.Errorf("GET %s: Content-Type %q, want %q", path, got, want)
		}
		for k, v := range map[string]string{"Content-Security-Policy": web.ConsoleCSP, "X-Content-Type-Options": "nosniff",
			"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"} {
			if got := h.Get(k); got != v {
				t.Errorf("GET %s: %s %q, want %q", path, k, got, v)
			}
		}
		if h.Get("ETag") == "" {
			t.Errorf("GET %s: no ETag", path)
		}
		if name == "" {
			src, err := os.ReadFile(filepath.Join("console", "index.html"))
			if err != nil || body != string(src) {
				t.Errorf("GET /console/ is not index.html (%v)", err)
			}
		}
	}
}

// TestConsoleCSP: the policy lets the page load only its own files and
// talk only to its own origin, with no inline script or style.
func TestConsoleCSP(t *testing.T) {
	directives := map[string]string{}
	for _, d := range strings.Split(web.ConsoleCSP, ";") {
		name, val, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = val
	}
	for name, want := range map[string]string{"default-src": "'self'", "script-src": "'self'", "style-src": "'self'",
		"connect-src": "'self'", "img-src": "'self'", "object-src": "'none'", "base-uri": "'none'",
		"frame-ancestors": "'none'", "require-trusted-types-for": "'script'", "trusted-types": "'none'"} {
		if got := directives[name]; got != want {
			t.Errorf("%s %q, want %q", name, got, want)
		}
	}
	if strings.Contains(web.ConsoleCSP, "unsafe") || strings.Contains(web.ConsoleCSP, "http") || strings.Contains(web.ConsoleCSP, "*") {
		t.Errorf("the policy allows more than the page's own origin: %s", web.ConsoleCSP)
	}
}

func TestConsoleNotFoundAndMethods(t *testing.T) {
	s := authStack(t)
	for _, path := range []string{"/console/nope.js", "/console/index.htm", "/console/sub/app.js", "/console/.hidden"} {
		res, body := get(t, s.URL, path, nil)
		var e struct{ Error web.ErrorDetail }
		if res.StatusCode != http.StatusNotFound || json.Unmarshal([]byte(body), &e) != nil || e.Error.Code != "unknown_url" {
			t.Errorf("GET %s: %d %s; want 404 unknown_url", path, res.StatusCode, body)
		}
	}
	// The bare path goes to the console's directory.
	if res, _ := get(t, s.URL, "/console", nil); res.StatusCode/100 != 3 || res.Header.Get("Location") != "/console/" {
		t.Errorf("GET /console: %d to %q; want a redirect to /console/", res.StatusCode, res.Header.Get("Location"))
	}
	if status, body := send(t, s.URL, "", "POST", "/console/", ""); status != http.StatusMethodNotAllowed {
		t.Errorf("POST /console/: %d %s; want 405", status, body)
	}
	// Revalidation: the same ETag is answered 304.
	res, _ := get(t, s.URL, "/console/app.js", nil)
	if again, body := get(t, s.URL, "/console/app.js", map[string]string{"If-None-Match": res.Header.Get("ETag")}); again.StatusCode != http.StatusNotModified || body != "" {
		t.Errorf("revalidation: %d %q; want 304", again.StatusCode, body)
	}
	// HEAD works as GET does.
	req, _ := http.NewRequest("HEAD", s.URL+"/console/", nil)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusOK || res.Header.Get("Content-Security-Policy") != web.ConsoleCSP {
		t.Errorf("HEAD /console/: %v %v", res, err)
	}
}

// TestConsoleRoute: the console is one public route, declared the way the
// health checks are (no permission), so it skips authentication.
func TestConsoleRoute(t *testing.T) {
	s := authStack(t)
	var found []web.Route
	for _, rt := range s.routes {
		if strings.HasPrefix(rt.Path, "/console") {
			found = append(found, rt)
		}
	}
	if len(found) != 1 || found[0].Method != "GET" || found[0].Path != "/console/" || found[0].Perm != "" || found[0].Name != "console" {
		t.Fatalf("console routes: %+v", found)
	}
	if !publicRoutes["GET /console/"] {
		t.Error("the console is not listed among the public routes")
	}
}

// TestConsoleSelfContained reads the console's sources: everything they
// load is one of the console's own files; they name no other host, hold
// no inline script, style or event handler, and never hand a string to
// the browser's HTML parser (the page's policy would refuse it anyway).
func TestConsoleSelfContained(t *testing.T) {
	files := consoleFiles(t)
	refs := regexp.MustCompile(`(?:from|import)\s+"([^"]+)"|(?:src|href)="([^"#][^"]*)"`)
	urls := regexp.MustCompile(`(?i)(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	banned := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setHTMLUnsafe|DOMParser|createContextualFragment|srcdoc`)
	for _, name := range files {
		b, err := os.ReadFile(filepath.Join("console", name))
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		for _, m := range refs.FindAllStringSubmatch(src, -1) {
			ref := strings.TrimPrefix(m[1]+m[2], "./")
			if !slices.Contains(files, ref) {
				t.Errorf("%s refers to %q, which is not a console file", name, m[0])
			}
		}
		for _, u := range urls.FindAllString(src, -1) {
			if u != "http://www.w3.org" { // the SVG namespace, a name, never fetched
				t.Errorf("%s names a host: %s", name, u)
			}
		}
		if strings.HasSuffix(name, ".js") {
			if m := banned.FindString(src); m != "" {
				t.Errorf("%s uses %s: document and answer text must go in as text", name, m)
			}
		}
		if strings.HasSuffix(name, ".html") {
			for _, bad := range []string{"<script>", "<style", " style=", " onclick=", " onload=", " onerror=", "javascript:"} {
				if strings.Contains(src, bad) {
					t.Errorf("%s has inline %q", name, bad)
				}
			}
		}
	}
}
