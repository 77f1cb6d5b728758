package rag

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"text/template"

	"github.com/sextant-ai/sextant"
)

//go:embed templates/*.tmpl
var embedded embed.FS

// Template names the pipeline uses.
const (
	TemplateAnswer  = "answer"  // the answer prompt; assistants may name another
	TemplateRewrite = "rewrite" // follow-up → standalone question
)

// Templates are the prompt templates: Go text/template files that define a
// "system" template (required) and a "user" template (optional; the
// question by default). Each answer records the template's name and the
// SHA-256 of its text, so it can be replayed. Templates are safe for
// concurrent use and never change: With returns a changed copy.
type Templates struct {
	byName map[string]*Template     // the active version of each name
	known  map[versionKey]*Template // every version the set has held: the embedded and file ones, and those given to With
}

// versionKey names one version of a template.
type versionKey struct{ name, hash string }

// Template is one parsed prompt template.
type Template struct {
	Name string // file name without .tmpl
	Hash string // hex SHA-256 of Text
	Text string // the template source
	tmpl *template.Template
}

// PromptData is what a template renders.
type PromptData struct {
	Assistant string            // the assistant's name
	System    string            // the assistant's extra instructions and the request's system messages
	Question  string            // the user's question
	Sources   []PromptSource    // numbered sources, best first
	History   []sextant.Message // earlier turns (the rewrite template uses them)
}

// PromptSource is one numbered source as a template sees it.
type PromptSource struct {
	N       int
	Title   string
	Section string
	URI     string
	Text    string
}

// LoadTemplates returns the embedded default templates overlaid by the
// *.tmpl files of dir (a file named like a default replaces it; others add
// templates). A nil dir gives the defaults. Errors name the file and what
// is wrong with it.
func LoadTemplates(dir fs.FS) (*Templates, error) {
	t := &Templates{byName: map[string]*Template{}, known: map[versionKey]*Template{}}
	if err := t.load(embedded, "templates"); err != nil {
		return nil, err
	}
	if dir != nil {
		if err := t.load(dir, "."); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func (t *Templates) load(fsys fs.FS, root string) error {
	entries, err := fs.ReadDir(fsys, root)
	if err != nil {
		return sextant.Errorf(sextant.EINVALID, "templates: read %s: %w", root, err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".tmpl") {
			continue
		}
		b, err := fs.ReadFile(fsys, path.Join(root, e.Name()))
		if err != nil {
			return sextant.Errorf(sextant.EINVALID, "templates: read %s: %w", e.Name(), err)
		}
		tp, err := ParseTemplate(strings.TrimSuffix(e.Name(), ".tmpl"), string(b))
		if err != nil {
			return err
		}
		t.byName[tp.Name] = tp
		t.known[versionKey{tp.Name, tp.Hash}] = tp
	}
	return nil
}

// With returns a copy of t in which each of tps is the active version of
// its name (added when t has no template of that name). The versions t
// held stay known to Version, so answers made with them can be replayed.
func (t *Templates) With(tps ...*Template) *Templates {
	out := &Templates{byName: make(map[string]*Template, len(t.byName)+len(tps)), known: make(map[versionKey]*Template, len(t.known)+len(tps))}
	for k, v := range t.byName {
		out.byName[k] = v
	}
	for k, v := range t.known {
		out.known[k] = v
	}
	for _, tp := range tps {
		out.byName[tp.Name] = tp
		out.known[versionKey{tp.Name, tp.Hash}] = tp
	}
	return out
}

// Version returns the version of template name whose hash is hash, if t
// holds or held it (the embedded default, a file that overrode it, a
// version given to With).
func (t *Templates) Version(name, hash string) (*Template, bool) {
	tp, ok := t.known[versionKey{name, hash}]
	return tp, ok
}

// TemplateHash is the hex SHA-256 of a template's text: the hash answers
// record and template versions are stored under.
func TemplateHash(text string) string {
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:])
}

// ParseTemplate parses one template. It must define "system"; a trial
// rendering with sample data must succeed. Errors are EINVALID and name
// the template and, where the text is at fault, its line ("template
// answer, line 3: function "foo" not defined").
func ParseTemplate(name, text string) (*Template, error) {
	tp, err := template.New(name).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, templateError(name, err)
	}
	if tp.Lookup("system") == nil {
		return nil, sextant.Errorf(sextant.EINVALID, `template %s: defines no "system" template ({{define "system"}}...{{end}})`, name)
	}
	out := &Template{Name: name, Hash: TemplateHash(text), Text: text, tmpl: tp}
	sample := &PromptData{Assistant: "a", System: "s", Question: "q?",
		Sources: []PromptSource{{N: 1, Title: "t", Section: "s", URI: "file:///x", Text: "x."}},
		History: []sextant.Message{{Role: sextant.RoleUser, Content: "u"}}}
	if _, _, err := out.Render(sample); err != nil {
		return nil, err
	}
	return out, nil
}

// Template returns the template called name, or an ENOTFOUND error.
func (t *Templates) Template(name string) (*Template, error) {
	if tp, ok := t.byName[name]; ok {
		return tp, nil
	}
	return nil, sextant.Errorf(sextant.ENOTFOUND, "prompt template %q not found (have %s)", name, strings.Join(t.Names(), ", "))
}

// Names returns the template names, sorted.
func (t *Templates) Names() []string {
	out := make([]string, 0, len(t.byName))
	for n := range t.byName {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Render executes the template's "system" and "user" parts for d. user is
// d.Question when the template defines no "user".
func (tp *Template) Render(d *PromptData) (system, user string, err error) {
	var b bytes.Buffer
	if err := tp.tmpl.ExecuteTemplate(&b, "system", d); err != nil {
		return "", "", templateError(tp.Name, err)
	}
	system = strings.TrimSpace(b.String())
	if tp.tmpl.Lookup("user") == nil {
		return system, d.Question, nil
	}
	b.Reset()
	if err := tp.tmpl.ExecuteTemplate(&b, "user", d); err != nil {
		return "", "", templateError(tp.Name, err)
	}
	return system, strings.TrimSpace(b.String()), nil
}

// ValidTemplateName reports whether name may name a template set through
// the API or the command line: 1 to 64 characters of a-z, 0-9, '_' and
// '-', the first a letter or digit (a file name and a URL path segment as
// it is). Template files are not held to it.
func ValidTemplateName(name string) bool {
	if len(name) == 0 || len(name) > 64 || name[0] == '-' || name[0] == '_' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// templateLine matches text/template's error prefix "template: NAME:LINE:"
// (parse errors) or "template: NAME:LINE:COL:" (execution errors).
var templateLine = regexp.MustCompile(`^template: [^:]*:(\d+):(?:(\d+):)? ?(.*)$`)

// templateError rewrites a text/template error so it names the template
// and the line: "template answer, line 3: ...".
func templateError(name string, err error) error {
	msg := err.Error()
	if m := templateLine.FindStringSubmatch(msg); m != nil {
		where := "line " + m[1]
		if m[2] != "" {
			where += ", column " + m[2]
		}
		return sextant.Errorf(sextant.EINVALID, "template %s, %s: %s", name, where, m[3])
	}
	return sextant.Errorf(sextant.EINVALID, "template %s: %s", name, strings.TrimPrefix(msg, "template: "))
}

func (tp *Template) String() string { return fmt.Sprintf("%s@%.12s", tp.Name, tp.Hash) }
