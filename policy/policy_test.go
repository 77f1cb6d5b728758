package policy

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	sextant "github.com/sextant-ai/sextant"
)

func mustParse(t *testing.T, src string) *Policy {
	t.Helper()
	p, err := Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExamplePolicyCases(t *testing.T) {
	p, err := ParseFile("testdata/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("testdata/cases.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases, err := ParseCases("testdata/cases.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range p.Test(context.Background(), cases) {
		if !r.OK {
			t.Errorf("case %q: %s", r.Case.Name, r.Problem)
		}
	}
}

func TestModes(t *testing.T) {
	const rules = `
rules:
  - {id: low, when: "true", action: flag, priority: 1}
  - {id: high, when: "injection_score > 0.5", action: block, priority: 10, reason: nope}
  - {id: never, when: "false", action: allow, priority: 99}
`
	first := mustParse(t, "version: 1\n"+rules)
	prio := mustParse(t, "version: 1\nmode: priority\n"+rules)
	req := &Request{InjectionScore: 0.9}
	ctx := context.Background()
	if d := first.Decide(ctx, req); d.Rule != "low" || d.Action != Flag || !cmp.Equal(d.Matched, []string{"low"}) {
		t.Errorf("first_match: %+v", d)
	}
	want := Decision{Action: Block, Rule: "high", Reason: "nope", Matched: []string{"low", "high"}}
	if d := prio.Decide(ctx, req); !cmp.Equal(d, want) {
		t.Errorf("priority: %s", cmp.Diff(want, d))
	}
	if d := prio.Decide(ctx, &Request{}); d.Rule != "low" {
		t.Errorf("priority without injection: %+v", d)
	}
	def := mustParse(t, "version: 1\ndefault: {action: block, reason: closed}\nrules: []\n")
	if d := def.Decide(ctx, &Request{}); d.Action != Block || d.Rule != "" || d.Reason != "closed" {
		t.Errorf("default: %+v", d)
	}
}

func TestRuntimeErrorFailsClosed(t *testing.T) {
	src := `version: 1
rules:
  - {id: lookup, when: 'labels["team"] == "x"', action: allow}
`
	p := mustParse(t, src)
	if d := p.Decide(context.Background(), &Request{}); d.Action != Block || d.Rule != "lookup" {
		t.Errorf("missing key should fail closed: %+v", d)
	}
	p = mustParse(t, strings.Replace(src, "version: 1", "version: 1\non_error: skip", 1))
	if d := p.Decide(context.Background(), &Request{}); d.Action != Allow || d.Rule != "" {
		t.Errorf("on_error: skip: %+v", d)
	}
	if d := p.Decide(context.Background(), &Request{Labels: map[string]string{"team": "x"}}); d.Rule != "lookup" {
		t.Errorf("label present: %+v", d)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string // substrings of the error
	}{
		{"syntax", "version: 1\nrules:\n  - id: a\n    when: [unclosed\n", []string{"f.yaml"}},
		{"bad cel", "version: 1\nrules:\n  - id: bad-rule\n    when: injection_score >= \n    action: block\n", []string{"f.yaml:4:", `rule "bad-rule"`, "when:"}},
		{"unknown variable", "version: 1\nrules:\n  - id: typo\n    when: injection_scor > 0.5\n    action: block\n", []string{"f.yaml:4:11", `rule "typo"`, "undeclared reference"}},
		{"unknown field of finding", "version: 1\nrules:\n  - id: f\n    when: findings.exists(x, x.kind == \"EMAIL\")\n    action: redact\n", []string{`rule "f"`, "kind"}},
		{"not bool", "version: 1\nrules:\n  - id: n\n    when: injection_score\n    action: block\n", []string{"f.yaml:4:11", "boolean"}},
		{"bad action", "version: 1\nrules:\n  - id: a\n    when: 'true'\n    action: explode\n", []string{"f.yaml:5:13", `"explode"`}},
		{"duplicate id", "version: 1\nrules:\n  - {id: a, when: 'true', action: allow}\n  - {id: a, when: 'true', action: allow}\n", []string{"duplicate id", "f.yaml:4:"}},
		{"missing when", "version: 1\nrules:\n  - {id: a, action: allow}\n", []string{"missing when"}},
		{"unknown key", "version: 1\nrules:\n  - {id: a, when: 'true', action: allow, colour: red}\n", []string{"f.yaml", "colour"}},
		{"bad mode", "version: 1\nmode: random\n", []string{"f.yaml:2:7", "first_match or priority"}},
		{"version", "version: 2\n", []string{"version must be 1"}},
		{"block scalar", "version: 1\nrules:\n  - id: blk\n    when: |\n      injection_score > 0.5 &&\n      bogus\n    action: block\n", []string{"f.yaml:6:7", "bogus"}},
	}
	for _, tt := range tests {
		_, err := Parse("f.yaml", []byte(tt.src))
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		if sextant.ErrorCode(err) != sextant.EINVALID {
			t.Errorf("%s: code %q", tt.name, sextant.ErrorCode(err))
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tt.name, err, w)
			}
		}
	}
}

func TestWatcherHotReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.yaml")
	write := func(src string, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	write("version: 1\nrules:\n  - {id: v1, when: 'true', action: flag}\n", t0)
	now := t0
	tick := make(chan time.Time)
	type change struct {
		rule string // first rule of the new policy; "" when rejected
		sum  [32]byte
		err  error
	}
	var changes []change
	var w *Watcher
	onChange := func(p *Policy, sum [32]byte, err error) {
		c := change{sum: sum, err: err}
		if p != nil {
			c.rule = p.Rules[0].ID
		}
		_ = w.Err() // the watcher's lock is not held
		changes = append(changes, c)
	}
	w, err := NewWatcher(path, WatchOptions{Now: func() time.Time { return now }, After: func(time.Duration) <-chan time.Time { return tick },
		OnChange: onChange})
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 0 {
		t.Fatalf("the first load was reported as a change: %+v", changes)
	}
	if got := w.Policy().Rules[0].ID; got != "v1" {
		t.Fatalf("initial rule %q", got)
	}
	// Unchanged file: no reload.
	if changed, err := w.Check(); changed || err != nil {
		t.Fatalf("unchanged: %v %v", changed, err)
	}
	// A touch without a content change: no reload.
	write("version: 1\nrules:\n  - {id: v1, when: 'true', action: flag}\n", t0.Add(time.Second))
	if changed, err := w.Check(); changed || err != nil {
		t.Fatalf("touched: %v %v", changed, err)
	}
	// A bad file is rejected with file, rule and position; v1 stays.
	write("version: 1\nrules:\n  - id: v2\n    when: tools.size( > 1\n    action: block\n", t0.Add(2*time.Second))
	changed, err := w.Check()
	if changed || err == nil || !strings.Contains(err.Error(), path+":4:") || !strings.Contains(err.Error(), `rule "v2"`) {
		t.Fatalf("bad file: changed=%v err=%v", changed, err)
	}
	if w.Policy().Rules[0].ID != "v1" || w.Err() == nil {
		t.Fatal("previous policy should stay in force after a bad file")
	}
	if len(changes) != 1 || changes[0].rule != "" || changes[0].err == nil || changes[0].sum == ([32]byte{}) {
		t.Fatalf("rejection reported as %+v", changes)
	}
	if w.Check(); len(changes) != 1 {
		t.Fatalf("the same bad file reported again: %+v", changes)
	}
	// A good change takes effect through Run.
	now = t0.Add(time.Hour)
	write("version: 1\nrules:\n  - {id: v3, when: 'true', action: block}\n", t0.Add(3*time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	tick <- now
	tick <- now // the second send returns once the first check has finished
	cancel()
	<-done
	if got := w.Policy().Rules[0].ID; got != "v3" || w.Err() != nil || !w.LoadedAt().Equal(now) {
		t.Fatalf("after reload: rule %q err %v loaded %v", got, w.Err(), w.LoadedAt())
	}
	v3 := sha256.Sum256([]byte("version: 1\nrules:\n  - {id: v3, when: 'true', action: block}\n"))
	if len(changes) != 2 || changes[1].rule != "v3" || changes[1].err != nil || changes[1].sum != v3 {
		t.Fatalf("reload reported as %+v", changes)
	}
	// The first load must succeed.
	write("version: 9\n", t0)
	if _, err := NewWatcher(path, WatchOptions{}); err == nil {
		t.Error("NewWatcher accepted a bad file")
	}
}

func TestCasesErrors(t *testing.T) {
	if _, err := ParseCases("c.yaml", []byte("cases: []\n")); err == nil {
		t.Error("empty cases accepted")
	}
	if _, err := ParseCases("c.yaml", []byte("cases:\n  - {name: x, expect: {action: maybe}}\n")); err == nil || !strings.Contains(err.Error(), "maybe") {
		t.Errorf("bad action: %v", err)
	}
	p := mustParse(t, "version: 1\nrules:\n  - {id: r, when: 'true', action: flag}\n")
	cs, err := ParseCases("c.yaml", []byte("cases:\n  - {name: x, expect: {action: block}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if res := p.Test(context.Background(), cs); res[0].OK || !strings.Contains(res[0].Problem, "action flag, want block") {
		t.Errorf("mismatch not reported: %+v", res[0])
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"version: 1\n", "version: 1\nrules:\n  - {id: a, when: 'true', action: allow}\n", "rules: [", "\x00", "version: 1\nrules:\n  - {id: a, when: 'findings.exists(f, f.score > 1.0)', action: flag}\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Parse("fuzz.yaml", []byte(src))
		if err != nil {
			if sextant.ErrorCode(err) != sextant.EINVALID {
				t.Fatalf("error code %q: %v", sextant.ErrorCode(err), err)
			}
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		p.Decide(ctx, &Request{InjectionScore: 0.5, Roles: []string{"a"}, Findings: []Finding{{Type: "EMAIL", Score: 0.9}}})
	})
}
