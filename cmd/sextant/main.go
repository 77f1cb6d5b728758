// Command sextant is the Sextant binary: ingestion, search, the answer API,
// guardrails, evaluation, churn scoring and their benchmarks, in one file.
//
// main only builds the process environment and calls run, so the whole
// program can run inside a test against a temporary data directory.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sextant:", err)
		os.Exit(exitCode(err))
	}
}

// env is what a subcommand may touch of the process: its environment
// variables and standard streams. Tests pass their own.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// command is one subcommand. run receives the arguments after the
// subcommand's name.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

// commands lists every top-level subcommand, in the order help shows them.
func commands() []command {
	return []command{
		{"version", "print the version", runVersion},
		{"ingest", "ingest files and folders into the store", runIngest},
		{"docs", "list, show, delete documents in the store; store stats", runDocs},
		{"search", "search the indexed documents", runSearch},
		{"reembed", "embed every chunk with the configured (or a new) embedding model; resumable", runReembed},
		{"ask", "answer a question from the documents, with cited sources", runAsk},
		{"serve", "start the HTTP API (OpenAI-compatible chat, answers with citations, gateway)", runServe},
		{"bench", "run a benchmark (sextant bench -h lists them)", runBench},
		{"eval", "evaluation: run suites with gates and reports, history, draft a golden set", runEval},
		{"churn", "churn prediction: train, score, models, promote, rollback, drift, uplift", runChurn},
		{"guard", "guardrails: scan prompts for PII, secrets and injection; train the injection model", runGuard},
		{"usage", "usage and cost report: tokens and cost per task, cache savings, month forecast", runUsage},
		{"budgets", "spending budgets per key and project: list, set, delete", runBudgets},
		{"templates", "prompt templates: list, show, set a new version, activate (roll back) a kept one", runTemplates},
		{"assistants", "assistants defined at runtime over the configured ones: list, set, delete", runAssistants},
		{"audit", "audit log: verify the hash chain and signatures, export JSONL, purge by retention", runAudit},
		{"replay", "re-run a recorded answer (by request or answer id) and show what differs", runReplay},
		{"keys", "API keys: create (shown once), list, revoke, generate", runKeys},
		{"policy", "policy files: check a file, test rules against example requests", runPolicy},
		{"redteam", "run the red-team attack suite against an assistant: share stopped per category, false positives on benign prompts", runRedteam},
	}
}

// run executes one sextant invocation.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := &env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if wantsHelp(args) {
		printUsage(e.stdout)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, e, args[1:])
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return err
		}
	}
	printUsage(e.stderr)
	return usageErrorf("unknown command %q", args[0])
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: sextant COMMAND [ARGS...]   (sextant COMMAND -h for a command's flags)")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func runVersion(_ context.Context, e *env, _ []string) error {
	fmt.Fprintln(e.stdout, "sextant", version)
	return nil
}

// exitStatus is an error that asks for a specific process exit code.
type exitStatus struct {
	code int
	err  error
}

func (e *exitStatus) Error() string { return e.err.Error() }
func (e *exitStatus) Unwrap() error { return e.err }

var errUsage = &exitStatus{code: 2, err: errors.New("no command given")}

// usageErrorf reports a command-line mistake; the process exits with 2.
func usageErrorf(format string, args ...any) error {
	return &exitStatus{code: 2, err: fmt.Errorf(format, args...)}
}

// exitCode maps an error returned by run to a process exit code: 2 for
// usage errors, the requested code for *exitStatus, 1 otherwise.
func exitCode(err error) int {
	var s *exitStatus
	if errors.As(err, &s) {
		return s.code
	}
	return 1
}
