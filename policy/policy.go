// Package policy decides what happens to a request from declarative rules:
// a YAML file whose rules are CEL expressions over the request context
// (who asks, in which tenant, through which assistant and model, what the
// guards found, what it has cost so far, which tools are involved). Each
// rule that matches names an action — allow, block, redact, flag or
// require_approval — with a reason for the caller and an id for the audit
// record.
//
// Semantics. In "first_match" mode (the default) rules are tried in file
// order and the first whose condition holds decides. In "priority" mode
// every rule is evaluated and the matching rule with the highest priority
// decides; equal priorities fall back to file order. When no rule matches,
// the file's default decides (allow when unset). A rule whose condition
// fails at run time (a missing map key, a division by zero, the cost
// limit) makes the request fail closed with action "block", unless the
// file says on_error: skip.
//
// A Policy is immutable and safe for concurrent use. A Watcher reloads a
// file when it changes and keeps the previous policy when the new one is
// invalid.
package policy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"

	sextant "github.com/sextant-ai/sextant"
)

// Action is a policy decision.
type Action string

// Actions.
const (
	Allow           Action = "allow"
	Block           Action = "block"
	Redact          Action = "redact"
	Flag            Action = "flag"
	RequireApproval Action = "require_approval"
)

func (a Action) valid() bool {
	switch a {
	case Allow, Block, Redact, Flag, RequireApproval:
		return true
	}
	return false
}

// Finding is one guard finding as rules see it (guard.Finding without the
// span): findings.exists(f, f.type == "CREDIT_CARD" && f.score > 0.8).
type Finding struct {
	Type     string  `cel:"type"`
	Score    float64 `cel:"score"`
	Detector string  `cel:"detector"`
}

// Request is the context a policy decides on. Every field is a CEL
// variable of the same name in snake case (see Variables).
type Request struct {
	Principal      string            // principal: the caller's id
	Roles          []string          // roles: the caller's roles
	Tenant         string            // tenant
	Assistant      string            // assistant: which assistant is asked
	Model          string            // model: the model that would answer
	Stage          string            // stage: "input", "retrieval", "output" or "tool"
	InjectionScore float64           // injection_score: guard's calibrated score, 0..1
	Findings       []Finding         // findings: guard's PII and secret findings
	InputTokens    int64             // input_tokens so far in this task
	OutputTokens   int64             // output_tokens so far
	Cost           float64           // cost: USD spent so far in this task
	Tools          []string          // tools: tools defined in or called by the request
	Labels         map[string]string // labels: free-form request attributes
}

// Variables documents the CEL variables rules may use, with their types.
func Variables() map[string]string {
	return map[string]string{
		"principal": "string", "roles": "list(string)", "tenant": "string", "assistant": "string",
		"model": "string", "stage": "string", "injection_score": "double",
		"findings":      "list(policy.Finding{type: string, score: double, detector: string})",
		"finding_types": "list(string)", "input_tokens": "int", "output_tokens": "int", "tokens": "int",
		"cost": "double", "tools": "list(string)", "labels": "map(string, string)",
	}
}

func (r *Request) activation() map[string]any {
	types := make([]string, 0, len(r.Findings))
	for _, f := range r.Findings {
		if !slices.Contains(types, f.Type) {
			types = append(types, f.Type)
		}
	}
	findings := r.Findings
	if findings == nil {
		findings = []Finding{}
	}
	nz := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	labels := r.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	return map[string]any{
		"principal": r.Principal, "roles": nz(r.Roles), "tenant": r.Tenant, "assistant": r.Assistant,
		"model": r.Model, "stage": r.Stage, "injection_score": r.InjectionScore, "findings": findings,
		"finding_types": types, "input_tokens": r.InputTokens, "output_tokens": r.OutputTokens,
		"tokens": r.InputTokens + r.OutputTokens, "cost": r.Cost, "tools": nz(r.Tools), "labels": labels,
	}
}

// Decision is the outcome of evaluating a policy.
type Decision struct {
	Action  Action
	Rule    string   // id of the deciding rule; "" when the default decided
	Reason  string   // shown to the caller
	Matched []string // every rule that matched, in evaluation order (for the audit record)
}

// Rule is one compiled rule.
type Rule struct {
	ID          string
	Description string
	When        string // the CEL condition
	Action      Action
	Reason      string
	Priority    int
	prg         cel.Program
}

// Policy is a compiled policy file.
type Policy struct {
	Source  string // the file it came from
	Mode    string // "first_match" or "priority"
	OnError string // "block" or "skip"
	Default Decision
	Rules   []Rule
}

// Limits on rule evaluation: a rule costing more is an error (fail closed).
const costLimit = 100_000

// newEnv builds the CEL environment shared by every rule.
func newEnv() (*cel.Env, error) {
	return cel.NewEnv(
		ext.NativeTypes(reflect.TypeFor[Finding](), ext.ParseStructTags(true)),
		ext.Strings(),
		cel.Variable("principal", cel.StringType),
		cel.Variable("roles", cel.ListType(cel.StringType)),
		cel.Variable("tenant", cel.StringType),
		cel.Variable("assistant", cel.StringType),
		cel.Variable("model", cel.StringType),
		cel.Variable("stage", cel.StringType),
		cel.Variable("injection_score", cel.DoubleType),
		cel.Variable("findings", cel.ListType(cel.ObjectType("policy.Finding"))),
		cel.Variable("finding_types", cel.ListType(cel.StringType)),
		cel.Variable("input_tokens", cel.IntType),
		cel.Variable("output_tokens", cel.IntType),
		cel.Variable("tokens", cel.IntType),
		cel.Variable("cost", cel.DoubleType),
		cel.Variable("tools", cel.ListType(cel.StringType)),
		cel.Variable("labels", cel.MapType(cel.StringType, cel.StringType)),
	)
}

// ---- parsing -----------------------------------------------------------

// posString is a YAML scalar with its position in the file.
type posString struct {
	Value     string
	Line, Col int
	Block     bool // a literal or folded block scalar: text starts on the next line
	Set       bool
}

func (p *posString) UnmarshalYAML(node ast.Node) error {
	tk := node.GetToken()
	if tk != nil {
		p.Line, p.Col = tk.Position.Line, tk.Position.Column
	}
	switch n := node.(type) {
	case *ast.StringNode:
		p.Value = n.Value
	case *ast.LiteralNode:
		p.Value = n.Value.Value
		p.Block = true
	case *ast.NullNode:
		p.Value = ""
	default:
		if s, ok := node.(interface{ GetValue() any }); ok {
			p.Value = fmt.Sprint(s.GetValue())
		} else {
			p.Value = node.String()
		}
	}
	p.Set = true
	return nil
}

type rawRule struct {
	ID          posString `yaml:"id"`
	Description string    `yaml:"description"`
	When        posString `yaml:"when"`
	Action      posString `yaml:"action"`
	Reason      string    `yaml:"reason"`
	Priority    int       `yaml:"priority"`
}

type rawPolicy struct {
	Version int       `yaml:"version"`
	Mode    posString `yaml:"mode"`
	OnError posString `yaml:"on_error"`
	Default struct {
		Action posString `yaml:"action"`
		Reason string    `yaml:"reason"`
	} `yaml:"default"`
	Rules []rawRule `yaml:"rules"`
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]*$`)

// ParseFile reads and compiles a policy file.
func ParseFile(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, sextant.Errorf(sextant.EINVALID, "policy %s: %w", path, err)
	}
	return Parse(path, data)
}

// Parse compiles a policy. name labels errors (usually the file path).
// Errors are *sextant.Error with code EINVALID and say which file, rule and
// line:column is wrong.
func Parse(name string, data []byte) (*Policy, error) {
	var raw rawPolicy
	if err := decodeYAML(data, &raw); err != nil {
		return nil, sextant.Errorf(sextant.EINVALID, "policy %s", yamlError(name, err))
	}
	fail := func(p posString, format string, args ...any) error {
		where := name
		if p.Line > 0 {
			where = fmt.Sprintf("%s:%d:%d", name, p.Line, p.Col)
		}
		return sextant.Errorf(sextant.EINVALID, "policy %s: %s", where, fmt.Sprintf(format, args...))
	}
	if raw.Version != 1 {
		return nil, sextant.Errorf(sextant.EINVALID, "policy %s: version must be 1, got %d", name, raw.Version)
	}
	pol := &Policy{Source: name, Mode: "first_match", OnError: "block", Default: Decision{Action: Allow}}
	switch raw.Mode.Value {
	case "", "first_match":
	case "priority":
		pol.Mode = "priority"
	default:
		return nil, fail(raw.Mode, "mode must be first_match or priority, got %q", raw.Mode.Value)
	}
	switch raw.OnError.Value {
	case "", "block":
	case "skip":
		pol.OnError = "skip"
	default:
		return nil, fail(raw.OnError, "on_error must be block or skip, got %q", raw.OnError.Value)
	}
	if raw.Default.Action.Set {
		a := Action(raw.Default.Action.Value)
		if !a.valid() {
			return nil, fail(raw.Default.Action, "default action %q is not one of allow, block, redact, flag, require_approval", a)
		}
		pol.Default = Decision{Action: a, Reason: raw.Default.Reason}
	}
	env, err := newEnv()
	if err != nil {
		return nil, sextant.Errorf(sextant.EINTERNAL, "policy: CEL environment: %w", err)
	}
	seen := map[string]bool{}
	for i, r := range raw.Rules {
		label := fmt.Sprintf("rule %d", i+1)
		if r.ID.Value != "" {
			label = fmt.Sprintf("rule %q", r.ID.Value)
		}
		switch {
		case !r.ID.Set || r.ID.Value == "":
			return nil, sextant.Errorf(sextant.EINVALID, "policy %s: %s has no id", name, label)
		case !idPattern.MatchString(r.ID.Value):
			return nil, fail(r.ID, "%s: id must be letters, digits and _.:- (starting with a letter or digit)", label)
		case seen[r.ID.Value]:
			return nil, fail(r.ID, "%s: duplicate id", label)
		case !r.When.Set || strings.TrimSpace(r.When.Value) == "":
			return nil, fail(r.ID, "%s: missing when (a CEL condition)", label)
		}
		seen[r.ID.Value] = true
		a := Action(r.Action.Value)
		if !a.valid() {
			p := r.Action
			if !p.Set {
				p = r.ID
			}
			return nil, fail(p, "%s: action %q is not one of allow, block, redact, flag, require_approval", label, r.Action.Value)
		}
		checked, iss := env.Compile(r.When.Value)
		if iss != nil && iss.Err() != nil {
			e := iss.Errors()[0]
			line, col := r.When.Line, r.When.Col
			if l, c := e.Location.Line(), e.Location.Column(); l > 0 {
				if r.When.Block {
					// Block scalar text starts on the next line, its
					// indentation stripped.
					line = r.When.Line + l
					col = indentOf(data, line) + c + 1
				} else {
					line, col = r.When.Line+l-1, r.When.Col+c
				}
			}
			return nil, fail(posString{Line: line, Col: col}, "%s: when: %s", label, e.Message)
		}
		if !checked.OutputType().IsExactType(cel.BoolType) {
			return nil, fail(r.When, "%s: when must be a boolean condition, got %s", label, checked.OutputType())
		}
		prg, err := env.Program(checked, cel.CostLimit(costLimit), cel.InterruptCheckFrequency(64))
		if err != nil {
			return nil, fail(r.When, "%s: when: %v", label, err)
		}
		pol.Rules = append(pol.Rules, Rule{ID: r.ID.Value, Description: r.Description, When: r.When.Value,
			Action: a, Reason: r.Reason, Priority: r.Priority, prg: prg})
	}
	return pol, nil
}

// decodeYAML decodes strictly (unknown keys are errors). The YAML library
// can panic on some malformed documents; that becomes an error here.
func decodeYAML(data []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed YAML (%v)", r)
		}
	}()
	return yaml.UnmarshalWithOptions(data, v, yaml.DisallowUnknownField())
}

// yamlError formats a YAML decoding error as "NAME:LINE:COL: message".
func yamlError(name string, err error) string {
	msg := strings.TrimSpace(yaml.FormatError(err, false, false))
	if strings.HasPrefix(msg, "[") {
		if pos, rest, ok := strings.Cut(msg[1:], "]"); ok {
			return name + ":" + pos + ":" + rest
		}
	}
	return name + ": " + msg
}

// indentOf returns the number of leading blanks of 1-based line n of data.
func indentOf(data []byte, n int) int {
	for i := 1; i < n; i++ {
		k := strings.IndexByte(string(data), '\n')
		if k < 0 {
			return 0
		}
		data = data[k+1:]
	}
	c := 0
	for c < len(data) && (data[c] == ' ' || data[c] == '\t') {
		c++
	}
	return c
}

// ---- evaluation --------------------------------------------------------

// Decide evaluates the policy for req.
func (p *Policy) Decide(ctx context.Context, req *Request) Decision {
	vars := req.activation()
	var best *Rule
	var matched []string
	for i := range p.Rules {
		r := &p.Rules[i]
		ok, err := r.eval(ctx, vars)
		if err != nil {
			if ctx.Err() != nil || p.OnError != "skip" {
				return Decision{Action: Block, Rule: r.ID, Matched: append(matched, r.ID),
					Reason: fmt.Sprintf("policy rule %q could not be evaluated: %v", r.ID, err)}
			}
			continue
		}
		if !ok {
			continue
		}
		matched = append(matched, r.ID)
		if p.Mode == "first_match" {
			best = r
			break
		}
		if best == nil || r.Priority > best.Priority {
			best = r
		}
	}
	if best == nil {
		d := p.Default
		d.Matched = matched
		return d
	}
	return Decision{Action: best.Action, Rule: best.ID, Reason: best.Reason, Matched: matched}
}

func (r *Rule) eval(ctx context.Context, vars map[string]any) (bool, error) {
	out, _, err := r.prg.ContextEval(ctx, vars)
	if err != nil {
		return false, err
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, errors.New("condition did not return a boolean")
	}
	return b, nil
}
