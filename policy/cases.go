package policy

import (
	"context"
	"fmt"

	sextant "github.com/sextant-ai/sextant"
)

// Case is an example request and the decision a policy must reach for it,
// as written in a cases file for `sextant policy test`:
//
//	cases:
//	  - name: injection is blocked
//	    request: {principal: bob, roles: [user], injection_score: 0.97}
//	    expect: {action: block, rule: block-injection}
type Case struct {
	Name    string      `yaml:"name"`
	Request CaseRequest `yaml:"request"`
	Expect  struct {
		Action Action  `yaml:"action"`
		Rule   *string `yaml:"rule"` // nil: any rule; "": the default decided
	} `yaml:"expect"`
}

// CaseRequest is Request in YAML form (snake-case keys).
type CaseRequest struct {
	Principal      string            `yaml:"principal"`
	Roles          []string          `yaml:"roles"`
	Tenant         string            `yaml:"tenant"`
	Assistant      string            `yaml:"assistant"`
	Model          string            `yaml:"model"`
	Stage          string            `yaml:"stage"`
	InjectionScore float64           `yaml:"injection_score"`
	Findings       []CaseFinding     `yaml:"findings"`
	InputTokens    int64             `yaml:"input_tokens"`
	OutputTokens   int64             `yaml:"output_tokens"`
	Cost           float64           `yaml:"cost"`
	Tools          []string          `yaml:"tools"`
	Labels         map[string]string `yaml:"labels"`
}

// CaseFinding is Finding in YAML form.
type CaseFinding struct {
	Type     string  `yaml:"type"`
	Score    float64 `yaml:"score"`
	Detector string  `yaml:"detector"`
}

// Request converts the YAML form.
func (c *CaseRequest) Request() *Request {
	r := &Request{Principal: c.Principal, Roles: c.Roles, Tenant: c.Tenant, Assistant: c.Assistant, Model: c.Model,
		Stage: c.Stage, InjectionScore: c.InjectionScore, InputTokens: c.InputTokens, OutputTokens: c.OutputTokens,
		Cost: c.Cost, Tools: c.Tools, Labels: c.Labels}
	for _, f := range c.Findings {
		r.Findings = append(r.Findings, Finding(f))
	}
	return r
}

// ParseCases reads a cases file. name labels errors.
func ParseCases(name string, data []byte) ([]Case, error) {
	var f struct {
		Cases []Case `yaml:"cases"`
	}
	if err := decodeYAML(data, &f); err != nil {
		return nil, sextant.Errorf(sextant.EINVALID, "cases %s", yamlError(name, err))
	}
	if len(f.Cases) == 0 {
		return nil, sextant.Errorf(sextant.EINVALID, "cases %s: no cases (want a top-level list under \"cases:\")", name)
	}
	for i, c := range f.Cases {
		if !c.Expect.Action.valid() {
			return nil, sextant.Errorf(sextant.EINVALID, "cases %s: case %d (%q): expect.action %q is not one of allow, block, redact, flag, require_approval", name, i+1, c.Name, c.Expect.Action)
		}
	}
	return f.Cases, nil
}

// CaseResult is the outcome of one case.
type CaseResult struct {
	Case     Case
	Decision Decision
	OK       bool
	Problem  string // what differed, when not OK
}

// Test evaluates every case against the policy.
func (p *Policy) Test(ctx context.Context, cases []Case) []CaseResult {
	out := make([]CaseResult, len(cases))
	for i, c := range cases {
		d := p.Decide(ctx, c.Request.Request())
		res := CaseResult{Case: c, Decision: d, OK: true}
		if d.Action != c.Expect.Action {
			res.OK = false
			res.Problem = fmt.Sprintf("action %s, want %s", d.Action, c.Expect.Action)
		}
		if c.Expect.Rule != nil && d.Rule != *c.Expect.Rule {
			res.OK = false
			if res.Problem != "" {
				res.Problem += "; "
			}
			res.Problem += fmt.Sprintf("rule %q, want %q", d.Rule, *c.Expect.Rule)
		}
		out[i] = res
	}
	return out
}
