package sextant_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const modulePath = "github.com/sextant-ai/sextant"

// allowedImports lists, for every package of the module (by path relative to
// the module root; "." is the root package), the module packages it may
// import. It encodes DESIGN.md §2: imports point toward the root and the leaf
// algorithms, never back up, never adapter to adapter, and nothing imports
// cmd. A new package must be added here, with the narrowest list that works.
var allowedImports = map[string][]string{
	".": {},

	// Leaf algorithms: standard library only (checked separately below).
	"bm25": {},
	"hnsw": {},
	"gbdt": {},

	// Services: domain logic over the root vocabulary and the leaves.
	"ingest": {"."},
	"search": {".", "bm25", "hnsw"},
	"guard":  {"."},
	"policy": {"."},
	"cost":   {"."},
	"audit":  {"."},
	"access": {"."},
	"churn":  {".", "gbdt"},
	"eval":   {".", "search"},

	// LLM: the portable model over the driver contract, and one package per
	// provider; providers never import each other.
	"llm/driver":     {"."},
	"llm":            {".", "llm/driver"},
	"llm/openai":     {".", "llm/driver"},
	"llm/anthropic":  {".", "llm/driver"},
	"llm/extractive": {".", "llm/driver", "search"},
	"llm/llmtest":    {".", "llm", "llm/driver"},

	// The answer pipeline declares the interfaces it consumes.
	"rag": {".", "llm", "llm/driver", "search", "guard", "policy"},

	// Adapters to external systems.
	"sqlite":    {"."},
	"telemetry": {"."},
	"web":       {".", "rag", "search", "llm", "llm/driver", "ingest", "guard", "policy", "cost", "audit", "access", "eval", "churn", "telemetry"},

	// Test support: runs a real Prometheus for integration tests.
	"telemetry/promtest": {},

	// cmd wires everything; nothing imports it.
	"cmd/sextant": nil,
}

// leafPackages may import nothing outside the standard library.
var leafPackages = []string{".", "bm25", "hnsw", "gbdt"}

// externalOwners names, for an external module, the only packages that may
// import it directly: each package owns one external dependency.
var externalOwners = map[string][]string{
	"modernc.org/sqlite":                        {"sqlite"},
	"github.com/jackc/pgx/v5":                   {"postgres"},
	"github.com/openai/openai-go/v3":            {"llm/openai"},
	"github.com/anthropics/anthropic-sdk-go/v2": {"llm/anthropic"},
	"github.com/prometheus/client_golang":       {"telemetry"},
	// The OpenTelemetry SDK and exporters are telemetry's; the trace API
	// (go.opentelemetry.io/otel/trace) is open to all, like log/slog.
	"go.opentelemetry.io/otel/sdk":       {"telemetry"},
	"go.opentelemetry.io/otel/exporters": {"telemetry"},
}

func TestImportRules(t *testing.T) {
	imports := moduleImports(t)
	var pkgs []string
	for p := range imports {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	for _, pkg := range pkgs {
		allowed, known := allowedImports[pkg]
		if !known {
			t.Errorf("package %q is not in allowedImports (deps_test.go): add it with the module packages it may import", pkg)
			continue
		}
		for _, imp := range imports[pkg] {
			if rel, ok := moduleRel(imp); ok {
				switch {
				case strings.HasPrefix(rel, "cmd/") || rel == "cmd":
					t.Errorf("%s imports %s: nothing may import cmd", pkg, rel)
				case pkg != "cmd/sextant" && !slices.Contains(allowed, rel):
					t.Errorf("%s imports %s: not allowed by DESIGN.md §2 (allowed: %v)", pkg, rel, allowed)
				}
				continue
			}
			if isStdlib(imp) {
				continue
			}
			if slices.Contains(leafPackages, pkg) {
				t.Errorf("%s imports %s: leaf and root packages use the standard library only", pkg, imp)
			}
			for mod, owners := range externalOwners {
				if (imp == mod || strings.HasPrefix(imp, mod+"/")) && pkg != "cmd/sextant" && !slices.Contains(owners, pkg) {
					t.Errorf("%s imports %s: only %v may import %s", pkg, imp, owners, mod)
				}
			}
		}
	}
}

// moduleImports returns, for each package directory of the module, the
// sorted distinct import paths of its non-test Go files.
func moduleImports(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != "." && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(filepath.Dir(path))
		for _, is := range f.Imports {
			p, _ := strconv.Unquote(is.Path.Value)
			if !slices.Contains(out[dir], p) {
				out[dir] = append(out[dir], p)
			}
		}
		if _, ok := out[dir]; !ok {
			out[dir] = nil
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range out {
		sort.Strings(v)
	}
	if _, err := os.Stat("go.mod"); err != nil {
		t.Fatal("run from the module root:", err)
	}
	return out
}

func moduleRel(imp string) (string, bool) {
	if imp == modulePath {
		return ".", true
	}
	if rest, ok := strings.CutPrefix(imp, modulePath+"/"); ok {
		return rest, true
	}
	return "", false
}

func isStdlib(imp string) bool {
	first, _, _ := strings.Cut(imp, "/")
	return !strings.Contains(first, ".")
}
