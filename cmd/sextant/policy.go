package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/sextant-ai/sextant/policy"
)

// runPolicy dispatches `sextant policy check|test`.
func runPolicy(ctx context.Context, e *env, args []string) error {
	usage := func() {
		fmt.Fprintln(e.stderr, "Usage:\n  sextant policy check FILE            validate a policy file\n  sextant policy test FILE CASES.yaml  check rules against example requests")
	}
	if wantsHelp(args) {
		usage()
		if len(args) == 0 {
			return usageErrorf("policy: name a command (check or test)")
		}
		return nil
	}
	fs := newFlagSet("policy "+args[0], e.stderr)
	fs.Usage = usage
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	switch args[0] {
	case "check":
		if len(pos) != 1 {
			usage()
			return usageErrorf("policy check: want FILE")
		}
		p, err := policy.ParseFile(pos[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s: ok, %d rules, mode %s, on_error %s, default %s\n", pos[0], len(p.Rules), p.Mode, p.OnError, p.Default.Action)
		return nil
	case "test":
		if len(pos) != 2 {
			usage()
			return usageErrorf("policy test: want FILE CASES.yaml")
		}
		p, err := policy.ParseFile(pos[0])
		if err != nil {
			return err
		}
		data, err := os.ReadFile(pos[1])
		if err != nil {
			return fmt.Errorf("policy test: %w", err)
		}
		cases, err := policy.ParseCases(pos[1], data)
		if err != nil {
			return err
		}
		failed := 0
		for _, r := range p.Test(ctx, cases) {
			rule := r.Decision.Rule
			if rule == "" {
				rule = "default"
			}
			if r.OK {
				fmt.Fprintf(e.stdout, "ok    %s → %s (%s)\n", r.Case.Name, r.Decision.Action, rule)
				continue
			}
			failed++
			fmt.Fprintf(e.stdout, "FAIL  %s: %s\n", r.Case.Name, r.Problem)
		}
		fmt.Fprintf(e.stdout, "%d passed, %d failed\n", len(cases)-failed, failed)
		if failed > 0 {
			return &exitStatus{code: 1, err: errors.New("policy test: some cases do not match")}
		}
		return nil
	}
	usage()
	return usageErrorf("policy: unknown command %q (want check or test)", args[0])
}
