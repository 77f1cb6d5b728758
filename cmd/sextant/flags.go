package main

import (
	"errors"
	"flag"
	"io"
	"strings"
)

// newFlagSet returns a FlagSet for subcommand name whose errors are
// returned, not printed and exited on. Usage text goes to w.
func newFlagSet(name string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("sextant "+name, flag.ContinueOnError)
	fs.SetOutput(w)
	return fs
}

// parseArgs parses flags anywhere among args (GNU style: flags may follow
// positional arguments; "--" ends flag parsing) and returns the positional
// arguments in order. -h prints the flags and yields flag.ErrHelp, which
// callers return as is: run treats it as success.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageErrorf("%v", err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// fs.Parse stops at the first non-flag or after "--".
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// multiFlag collects a repeatable string flag (--meta a=1 --meta b=2).
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// keyValues parses "key=value" pairs, naming the flag in errors.
func keyValues(flagName string, pairs []string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, usageErrorf("--%s %q: want key=value", flagName, p)
		}
		m[strings.TrimSpace(k)] = v
	}
	return m, nil
}

// wantsHelp reports whether a command with subcommands was given none, or
// asked for help instead of naming one.
func wantsHelp(args []string) bool {
	return len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help"
}

// subcommand takes the subcommand from the positional arguments of cmd
// (def when there are none) and checks it is one of arity's, with exactly
// its number of arguments. want lists the subcommands for the error.
func subcommand(cmd string, pos []string, def string, arity map[string]int, want string) (sub string, rest []string, err error) {
	sub, rest = def, pos
	if len(pos) > 0 {
		sub, rest = pos[0], pos[1:]
	}
	n, ok := arity[sub]
	if !ok {
		return "", nil, usageErrorf("%s: unknown subcommand %q (want %s)", cmd, sub, want)
	}
	if len(rest) != n {
		return "", nil, usageErrorf("%s %s: want %d argument(s), got %d (sextant %s -h)", cmd, sub, n, len(rest), cmd)
	}
	return sub, rest, nil
}
