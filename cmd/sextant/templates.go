package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/web"
)

const templatesUsage = `Usage:
  sextant templates [list] [--json]
  sextant templates show NAME [--json]
  sextant templates set NAME FILE
  sextant templates activate NAME HASH

Prompt templates are Go text/template files defining "system" (and
optionally "user"); docs/answers.md describes what they render. The
built-in ones and DATA/templates/*.tmpl are the base; set stores a new
version in the data directory's store and makes it active, activate makes
any kept version active again (a rollback; HASH may be a unique prefix of
at least 8 hex digits). Every version is kept, so an answer made with an
older one replays exactly (sextant replay).

A template is checked before it is stored: parsed and rendered with
sample data; an error names the line. Changes are admin records in the
audit log. A running sextant serve on the same data directory applies
them within a second, as it does changes through PUT /v1/templates/NAME.

Flags:
`

func runTemplates(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("templates", e.stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), templatesUsage)
		fs.PrintDefaults()
	}
	dataDir := dataFlag(fs, e)
	configPath := fs.String("config", "", "configuration file (default DATA/sextant.yaml when present; env SEXTANT_CONFIG)")
	asJSON := fs.Bool("json", false, "list, show: print JSON")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	sub, pos, err := subcommand("templates", pos, "list",
		map[string]int{"list": 0, "show": 1, "set": 2, "activate": 2}, "list, show, set or activate")
	if err != nil {
		return err
	}
	c, closeFn, err := openPromptCatalog(ctx, e, *dataDir, *configPath)
	if err != nil {
		return err
	}
	defer closeFn()
	by := localActor(e)
	switch sub {
	case "list":
		_, ts, err := c.current(ctx)
		if err != nil {
			return err
		}
		var out []web.Template
		for _, name := range ts.Names() {
			tp, _ := ts.Template(name)
			out = append(out, web.Template{Object: "template", Name: name, Hash: tp.Hash})
		}
		if *asJSON {
			return writeJSON(e.stdout, web.List[web.Template]{Object: "list", Data: out})
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tACTIVE\tSOURCE\tVERSIONS")
		for _, t := range out {
			vs, err := c.TemplateVersions(ctx, t.Name)
			if err != nil {
				return err
			}
			src := ""
			for _, v := range vs {
				if v.Active {
					src = v.Source
				}
			}
			fmt.Fprintf(tw, "%s\t%.12s\t%s\t%d\n", t.Name, t.Hash, src, len(vs))
		}
		return tw.Flush()
	case "show":
		name := pos[0]
		_, ts, err := c.current(ctx)
		if err != nil {
			return err
		}
		tp, err := ts.Template(name)
		if err != nil {
			return fmt.Errorf("templates show: %w", err)
		}
		vs, err := c.TemplateVersions(ctx, name)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(e.stdout, web.Template{Object: "template", Name: name, Hash: tp.Hash, Body: tp.Text, Versions: vs})
		}
		fmt.Fprintf(e.stdout, "# %s @ %s\n", name, tp.Hash)
		fmt.Fprint(e.stdout, tp.Text)
		if !strings.HasSuffix(tp.Text, "\n") {
			fmt.Fprintln(e.stdout)
		}
		fmt.Fprintln(e.stdout, "\n# Versions, newest first:")
		for _, v := range vs {
			mark := " "
			if v.Active {
				mark = "*"
			}
			when := ""
			if !v.CreatedAt.IsZero() {
				when = v.CreatedAt.Format("2006-01-02 15:04:05Z")
			}
			fmt.Fprintf(e.stdout, "# %s %s  %-7s %s %s\n", mark, v.Hash, v.Source, when, v.CreatedBy)
		}
		return nil
	case "set":
		name, file := pos[0], pos[1]
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("templates set: %w", err)
		}
		before, after, err := c.SetTemplate(ctx, name, string(b), by)
		if err != nil {
			return fmt.Errorf("templates set %s (%s): %s", name, file, sextant.ErrorMessage(err))
		}
		if err := recordPrompt(ctx, e, *dataDir, c, web.PromptEvent("template.set", name, before, after)); err != nil {
			return err
		}
		if before == after {
			fmt.Fprintf(e.stdout, "Template %s already is %.12s; nothing changed.\n", name, after)
			return nil
		}
		fmt.Fprintf(e.stdout, "Template %s is now %.12s (was %.12s). Roll back with: sextant templates activate %s %.12s\n", name, after, before, name, before)
		return nil
	default: // activate
		name, hash := pos[0], strings.ToLower(pos[1])
		full, err := resolveVersion(ctx, c, name, hash)
		if err != nil {
			return err
		}
		before, err := c.ActivateTemplate(ctx, name, full, by)
		if err != nil {
			return fmt.Errorf("templates activate: %w", err)
		}
		if err := recordPrompt(ctx, e, *dataDir, c, web.PromptEvent("template.activate", name, before, full)); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Template %s is now %.12s (was %.12s).\n", name, full, before)
		return nil
	}
}

// resolveVersion expands a unique hash prefix (8+ hex digits) among the
// template's versions.
func resolveVersion(ctx context.Context, c *promptCatalog, name, prefix string) (string, error) {
	if len(prefix) < 8 || strings.Trim(prefix, "0123456789abcdef") != "" {
		return "", usageErrorf("templates activate: HASH %q: want at least 8 hex digits of a version's hash (sextant templates show %s lists them)", prefix, name)
	}
	vs, err := c.TemplateVersions(ctx, name)
	if err != nil {
		return "", fmt.Errorf("templates activate: %w", err)
	}
	var match []string
	for _, v := range vs {
		if strings.HasPrefix(v.Hash, prefix) {
			match = append(match, v.Hash)
		}
	}
	switch len(match) {
	case 0:
		return "", fmt.Errorf("templates activate: template %s has no version %s (sextant templates show %s lists them)", name, prefix, name)
	case 1:
		return match[0], nil
	}
	return "", usageErrorf("templates activate: %s names %d versions of %s; give more digits", prefix, len(match), name)
}

// openPromptCatalog opens what the command line checks template and
// assistant changes against: the configuration, the data directory's
// templates and the store.
func openPromptCatalog(ctx context.Context, e *env, dataDir, configPath string) (*promptCatalog, func(), error) {
	cfg, err := loadConfig(configPath, dataDir, e.getenv)
	if err != nil {
		return nil, nil, err
	}
	assistants, def, err := cfg.assistants()
	if err != nil {
		return nil, nil, err
	}
	templates, err := loadTemplates(dataDir)
	if err != nil {
		return nil, nil, err
	}
	model, err := cfg.models(e.getenv)
	if err != nil {
		model = nil // routes are not checked when the providers cannot be built here
	}
	db, err := openStore(ctx, dataDir)
	if err != nil {
		return nil, nil, err
	}
	c, err := newPromptCatalog(ctx, db, assistants, def, templates, model)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return c, func() { db.Close() }, nil
}

// recordPrompt appends a change to the audit log, as the server does for
// the same change over HTTP.
func recordPrompt(ctx context.Context, e *env, dataDir string, c *promptCatalog, ev sextant.AuditEvent) error {
	l, err := openAuditLog(dataDir, c.store)
	if err != nil {
		return err
	}
	ev.Actor = localActor(e)
	_, aerr := l.Append(ctx, ev)
	if err := l.Close(ctx); aerr == nil {
		aerr = err
	}
	if aerr != nil {
		return fmt.Errorf("the change was applied, but the audit record failed: %w", aerr)
	}
	return nil
}
