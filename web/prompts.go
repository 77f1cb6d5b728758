package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/rag"
)

// Prompt templates and assistants managed at runtime: /v1/templates and
// PUT/DELETE /v1/assistants/{name}. A change is stored, takes effect for
// the next request (the pipeline swaps its set of assistants and
// templates; requests under way finish with the set they started with),
// and is appended to the audit log with the hashes before and after.
//
// Tenant scope: templates and assistants are installation-wide, like the
// configuration they apply over (one pipeline answers every tenant, and
// assistants are named in every tenant's requests), so only keys of the
// default tenant change them; a key of a named tenant is refused (403)
// even with the permission. Reading them needs settings.read, as GET
// /v1/settings does.

// Prompts stores and applies runtime templates and assistants; cmd's
// implementation keeps them in the store and reconfigures the pipeline.
// by is who changes (the caller's principal id).
type Prompts interface {
	// TemplateVersions returns every known version of template name,
	// newest first, the active one marked: stored versions and the
	// built-in or file one. ENOTFOUND for a name with none.
	TemplateVersions(ctx context.Context, name string) ([]TemplateVersion, error)
	// SetTemplate checks text (parsed and rendered with sample data; an
	// EINVALID error names the line), stores it as a version of name and
	// makes it active. It returns the hashes active before ("" for a new
	// name) and after.
	SetTemplate(ctx context.Context, name, text, by string) (before, after string, err error)
	// ActivateTemplate makes a known version of name active (rolls back
	// or forward) and returns the hash active before. ENOTFOUND when name
	// has no such version.
	ActivateTemplate(ctx context.Context, name, hash, by string) (before string, err error)
	// SetAssistant creates or replaces a runtime assistant, applied over
	// a configured one of the same name. An error from InvalidField names
	// the field at fault. It returns AssistantHash of the effective
	// definition before ("" when there was none) and after.
	SetAssistant(ctx context.Context, spec AssistantSpec, by string) (before, after string, err error)
	// DeleteAssistant deletes a runtime assistant: the configured one of
	// that name, if any, applies again (after is its hash; "" when the
	// assistant is gone). ENOTFOUND when name is not defined at runtime.
	DeleteAssistant(ctx context.Context, name, by string) (before, after string, err error)
}

// TemplateVersion is one version of a prompt template.
type TemplateVersion struct {
	Hash      string    `json:"hash"`
	Active    bool      `json:"active"`
	Source    string    `json:"source"` // "builtin", "file" (DATA/templates) or "stored" (set through the API or the command line)
	CreatedAt time.Time `json:"created_at,omitzero"`
	CreatedBy string    `json:"created_by,omitempty"`
}

// Template is a prompt template as /v1/templates shows it.
type Template struct {
	Object       string            `json:"object"` // "template"
	Name         string            `json:"name"`
	Hash         string            `json:"hash"` // the active version
	PreviousHash *string           `json:"previous_hash,omitempty"`
	Body         string            `json:"body,omitempty"`
	Versions     []TemplateVersion `json:"versions,omitempty"`
}

// AssistantSpec is the body of PUT /v1/assistants/{name}: an assistant's
// definition, with the fields and defaults of an entry of sextant.yaml's
// assistants (docs/configuration.md). It is also what the store keeps.
type AssistantSpec struct {
	Name          string            `json:"name,omitempty" yaml:"name"` // the path's; may be omitted in the body
	Description   string            `json:"description,omitempty" yaml:"description"`
	Collections   []string          `json:"collections,omitempty" yaml:"collections"`
	Filters       map[string]string `json:"filters,omitempty" yaml:"filters"` // key: value, or "v1|v2" for any of
	Stale         string            `json:"stale,omitempty" yaml:"stale"`     // exclude, only, any
	Template      string            `json:"template,omitempty" yaml:"template"`
	Model         string            `json:"model,omitempty" yaml:"model"`
	Temperature   *float64          `json:"temperature,omitempty" yaml:"temperature"`
	Seed          *int64            `json:"seed,omitempty" yaml:"seed"`
	MaxTokens     int               `json:"max_tokens,omitempty" yaml:"max_tokens"`
	TopK          int               `json:"top_k,omitempty" yaml:"top_k"`
	System        string            `json:"system,omitempty" yaml:"system"`
	ContextWindow int               `json:"context_window,omitempty" yaml:"context_window"`
	RewriteModel  string            `json:"rewrite_model,omitempty" yaml:"rewrite_model"`
	NoCache       bool              `json:"no_cache,omitempty" yaml:"no_cache"`
}

// Check checks what a spec can be checked for alone (names, ranges,
// enumerations); the template, model and collections it names are
// checked against the server by Prompts.SetAssistant. Errors name the
// field.
func (a *AssistantSpec) Check() error {
	switch {
	case !validAssistantName(a.Name):
		return invalidParam("name", "%q: want 1-64 characters of letters, digits, '_', '-' and '.', starting with a letter or digit", a.Name)
	case a.Template != "" && !rag.ValidTemplateName(a.Template):
		return invalidParam("template", "%q is not a template name", a.Template)
	case a.TopK < 0 || a.TopK > 1000:
		return invalidParam("top_k", "%d is outside 0..1000", a.TopK)
	case a.MaxTokens < 0:
		return invalidParam("max_tokens", "%d is negative", a.MaxTokens)
	case a.Temperature != nil && (*a.Temperature < 0 || *a.Temperature > 2):
		return invalidParam("temperature", "%v is outside [0, 2]", *a.Temperature)
	case a.Stale != "" && a.Stale != "exclude" && a.Stale != "only" && a.Stale != "any":
		return invalidParam("stale", "%q: want exclude, only or any", a.Stale)
	case len(a.Description) > 1000:
		return invalidParam("description", "longer than 1000 bytes")
	case len(a.System) > 64<<10:
		return invalidParam("system", "longer than 64 KiB")
	}
	for i, c := range a.Collections {
		if c == "" {
			return invalidParam("collections["+strconv.Itoa(i)+"]", "empty collection name")
		}
	}
	return nil
}

// InvalidField returns an EINVALID error naming the request field at
// fault, answered 400 with the field as the error's param; Prompts
// implementations use it.
func InvalidField(field, format string, args ...any) error {
	return invalidParam(field, format, args...)
}

// AssistantHash is the hash audit records give an assistant's effective
// definition: the hex SHA-256 of its JSON.
func AssistantHash(a *rag.Assistant) string {
	b, _ := json.Marshal(a)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func validAssistantName(n string) bool {
	if len(n) == 0 || len(n) > 64 || n[0] == '-' || n[0] == '_' || n[0] == '.' {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// promptAudit is the audit payload of a template or assistant change.
type promptAudit struct {
	Action string `json:"action"` // template.set, template.activate, assistant.set, assistant.delete
	Name   string `json:"name"`
	Before string `json:"before"` // hash before ("" = none)
	After  string `json:"after"`  // hash after ("" = none)
}

// PromptEvent is the audit event of a template or assistant change; the
// command line records the same.
func PromptEvent(action, name, before, after string) sextant.AuditEvent {
	return sextant.AuditEvent{Kind: sextant.AuditAdmin, Payload: promptAudit{Action: action, Name: name, Before: before, After: after}}
}

// promptWriter checks that the caller may change installation-wide
// templates and assistants, and that the server can.
func (s *Server) promptWriter(w http.ResponseWriter, r *http.Request) bool {
	if s.opts.Pipeline == nil || s.opts.Prompts == nil {
		unavailable(w, "runtime templates and assistants")
		return false
	}
	if p := principal(r); !operator(&p) {
		writeError(w, sextant.Errorf(sextant.EFORBIDDEN,
			"prompt templates and assistants are installation-wide; a key of tenant %q cannot change them (use a key of the default tenant)", p.Tenant))
		return false
	}
	return true
}

// listTemplates serves GET /v1/templates: every template's name and
// active hash.
func (s *Server) listTemplates(w http.ResponseWriter, r *http.Request) {
	pl, ok := s.pipelineRead(w, r)
	if !ok {
		return
	}
	ts := pl.Templates()
	out := List[Template]{Object: "list", Data: []Template{}}
	for _, n := range ts.Names() {
		if t, err := ts.Template(n); err == nil {
			out.Data = append(out.Data, Template{Object: "template", Name: n, Hash: t.Hash})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// getTemplate serves GET /v1/templates/{name}: the active body and every
// known version.
func (s *Server) getTemplate(w http.ResponseWriter, r *http.Request) {
	pl, ok := s.pipelineRead(w, r)
	if !ok {
		return
	}
	name := r.PathValue("name")
	t, err := pl.Templates().Template(name)
	if err != nil {
		writeError(w, err)
		return
	}
	out := Template{Object: "template", Name: name, Hash: t.Hash, Body: t.Text}
	if s.opts.Prompts != nil {
		if out.Versions, err = s.opts.Prompts.TemplateVersions(r.Context(), name); err != nil {
			writeError(w, err)
			return
		}
	}
	if len(out.Versions) == 0 {
		out.Versions = []TemplateVersion{{Hash: t.Hash, Active: true, Source: "builtin"}}
	}
	writeJSON(w, http.StatusOK, out)
}

// TemplateRequest is the JSON body of PUT /v1/templates/{name}; a
// text/plain body is the template itself.
type TemplateRequest struct {
	Body string `json:"body"`
}

// setTemplate serves PUT /v1/templates/{name}: a new version, active at
// once.
func (s *Server) setTemplate(w http.ResponseWriter, r *http.Request) {
	if !s.promptWriter(w, r) {
		return
	}
	name := r.PathValue("name")
	if !rag.ValidTemplateName(name) {
		writeError(w, invalidParam("name", "%q: want 1-64 characters of a-z, 0-9, '_' and '-', starting with a letter or digit", name))
		return
	}
	var in TemplateRequest
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "text/plain" {
		buf, err := readBody(w, r, s.opts.MaxBodyBytes)
		if err != nil {
			writeError(w, err)
			return
		}
		in.Body = buf.String()
		putBuf(buf)
	} else if err := s.readJSON(w, r, &in); err != nil {
		writeError(w, err)
		return
	}
	if strings.TrimSpace(in.Body) == "" {
		writeError(w, invalidParam("body", "the template is empty"))
		return
	}
	before, after, err := s.opts.Prompts.SetTemplate(r.Context(), name, in.Body, principal(r).ID)
	if err != nil {
		if sextant.ErrorCode(err) == sextant.EINVALID {
			err = &apiError{err: err, param: "body"}
		}
		writeError(w, err)
		return
	}
	if err := s.record(r, PromptEvent("template.set", name, before, after)); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, Template{Object: "template", Name: name, Hash: after, PreviousHash: &before, Body: in.Body})
}

// ActivateRequest is the body of POST /v1/templates/{name}/activate.
type ActivateRequest struct {
	Hash string `json:"hash"`
}

// activateTemplate serves POST /v1/templates/{name}/activate: makes a
// known version active (a rollback).
func (s *Server) activateTemplate(w http.ResponseWriter, r *http.Request) {
	if !s.promptWriter(w, r) {
		return
	}
	name := r.PathValue("name")
	var in ActivateRequest
	if err := s.readJSON(w, r, &in); err != nil {
		writeError(w, err)
		return
	}
	if len(in.Hash) != 64 || strings.Trim(in.Hash, "0123456789abcdef") != "" {
		writeError(w, invalidParam("hash", "%q: want the 64 hex digits of a version's hash (GET /v1/templates/%s lists them)", in.Hash, name))
		return
	}
	before, err := s.opts.Prompts.ActivateTemplate(r.Context(), name, in.Hash, principal(r).ID)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := s.record(r, PromptEvent("template.activate", name, before, in.Hash)); err != nil {
		writeError(w, err)
		return
	}
	out := Template{Object: "template", Name: name, Hash: in.Hash, PreviousHash: &before}
	if t, err := s.opts.Pipeline.Templates().Template(name); err == nil && t.Hash == in.Hash {
		out.Body = t.Text
	}
	writeJSON(w, http.StatusOK, out)
}

// setAssistant serves PUT /v1/assistants/{name}: creates or replaces a
// runtime assistant and answers it as GET /v1/assistants shows it.
func (s *Server) setAssistant(w http.ResponseWriter, r *http.Request) {
	if !s.promptWriter(w, r) {
		return
	}
	name := r.PathValue("name")
	var in AssistantSpec
	if err := s.readJSON(w, r, &in); err != nil {
		writeError(w, err)
		return
	}
	if in.Name != "" && in.Name != name {
		writeError(w, invalidParam("name", "%q differs from the path's %q", in.Name, name))
		return
	}
	in.Name = name
	if err := in.Check(); err != nil {
		writeError(w, err)
		return
	}
	before, after, err := s.opts.Prompts.SetAssistant(r.Context(), in, principal(r).ID)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := s.record(r, PromptEvent("assistant.set", name, before, after)); err != nil {
		writeError(w, err)
		return
	}
	for _, info := range s.assistantInfos() {
		if info.Name == name {
			writeJSON(w, http.StatusOK, info)
			return
		}
	}
	writeError(w, sextant.Errorf(sextant.EINTERNAL, "assistant %q was stored but the pipeline does not have it", name))
}

// deleteAssistant serves DELETE /v1/assistants/{name}: the runtime
// definition goes; a configured assistant of that name applies again.
func (s *Server) deleteAssistant(w http.ResponseWriter, r *http.Request) {
	if !s.promptWriter(w, r) {
		return
	}
	if err := checkQuery(r); err != nil {
		writeError(w, err)
		return
	}
	name := r.PathValue("name")
	before, after, err := s.opts.Prompts.DeleteAssistant(r.Context(), name, principal(r).ID)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := s.record(r, PromptEvent("assistant.delete", name, before, after)); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Object     string `json:"object"`
		Name       string `json:"name"`
		Deleted    bool   `json:"deleted"`
		Configured bool   `json:"configured"` // the configured assistant of that name applies again
	}{"assistant.deleted", name, true, after != ""})
}
