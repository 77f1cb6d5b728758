package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/goccy/go-yaml"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/rag"
	"github.com/sextant-ai/sextant/web"
)

const assistantsUsage = `Usage:
  sextant assistants [list] [--json]
  sextant assistants set FILE.yaml
  sextant assistants delete NAME

Assistants are configured in sextant.yaml (assistants:); set defines one
at runtime, from a YAML file with the fields of a configured assistant
(name, description, collections, filters, stale, template, model,
temperature, seed, max_tokens, top_k, system, context_window,
rewrite_model, no_cache). A runtime assistant replaces a configured one
of the same name; delete removes the runtime definition, and the
configured one (if any) applies again. The definition is checked first:
its template must exist, its model must be routed, its collections must
hold documents. Changes are admin records in the audit log; a running
sextant serve on the same data directory applies them within a second.

Flags:
`

func runAssistants(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("assistants", e.stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), assistantsUsage)
		fs.PrintDefaults()
	}
	dataDir := dataFlag(fs, e)
	configPath := fs.String("config", "", "configuration file (default DATA/sextant.yaml when present; env SEXTANT_CONFIG)")
	asJSON := fs.Bool("json", false, "list: print JSON")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	sub, pos, err := subcommand("assistants", pos, "list",
		map[string]int{"list": 0, "set": 1, "delete": 1}, "list, set or delete")
	if err != nil {
		return err
	}
	c, closeFn, err := openPromptCatalog(ctx, e, *dataDir, *configPath)
	if err != nil {
		return err
	}
	defer closeFn()
	switch sub {
	case "list":
		return listAssistants(ctx, e.stdout, c, *asJSON)
	case "set":
		b, err := os.ReadFile(pos[0])
		if err != nil {
			return fmt.Errorf("assistants set: %w", err)
		}
		var s web.AssistantSpec
		if err := yaml.UnmarshalWithOptions(b, &s, yaml.Strict()); err != nil {
			return fmt.Errorf("assistants set %s: %s", pos[0], yamlError(err))
		}
		before, after, err := c.SetAssistant(ctx, s, localActor(e))
		if err != nil {
			return fmt.Errorf("assistants set %s: %s", pos[0], sextant.ErrorMessage(err))
		}
		if err := recordPrompt(ctx, e, *dataDir, c, web.PromptEvent("assistant.set", s.Name, before, after)); err != nil {
			return err
		}
		verb := "defined"
		if before != "" {
			verb = "replaced"
		}
		fmt.Fprintf(e.stdout, "Assistant %s %s.\n", s.Name, verb)
		return nil
	default: // delete
		name := pos[0]
		before, after, err := c.DeleteAssistant(ctx, name, localActor(e))
		if err != nil {
			return fmt.Errorf("assistants delete: %s", sextant.ErrorMessage(err))
		}
		if err := recordPrompt(ctx, e, *dataDir, c, web.PromptEvent("assistant.delete", name, before, after)); err != nil {
			return err
		}
		if after != "" {
			fmt.Fprintf(e.stdout, "Assistant %s: the runtime definition is deleted; the configured one applies again.\n", name)
		} else {
			fmt.Fprintf(e.stdout, "Assistant %s deleted.\n", name)
		}
		return nil
	}
}

// assistantRow is one line of sextant assistants list.
type assistantRow struct {
	Name     string `json:"name"`
	Source   string `json:"source"` // "config" (or built in) or "runtime"
	Model    string `json:"model"`
	Template string `json:"template"`
	Default  bool   `json:"default"`
}

func listAssistants(ctx context.Context, w io.Writer, c *promptCatalog, asJSON bool) error {
	as, _, err := c.current(ctx)
	if err != nil {
		return err
	}
	specs, err := c.store.AssistantSpecs(ctx)
	if err != nil {
		return err
	}
	runtime := map[string]bool{}
	for _, s := range specs {
		runtime[s.Name] = true
	}
	rows := []assistantRow{}
	for _, a := range as {
		src := "config"
		if runtime[a.Name] {
			src = "runtime"
		}
		rows = append(rows, assistantRow{Name: a.Name, Source: src, Model: a.Model, Template: cmpOr(a.Template, rag.TemplateAnswer), Default: a.Name == c.def})
	}
	if asJSON {
		return writeJSON(w, rows)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSOURCE\tMODEL\tTEMPLATE\tDEFAULT")
	for _, r := range rows {
		def := ""
		if r.Default {
			def = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, r.Source, r.Model, r.Template, def)
	}
	return tw.Flush()
}
