package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/eval"
	"github.com/sextant-ai/sextant/guard"
	"github.com/sextant-ai/sextant/sqlite"
	"github.com/sextant-ai/sextant/web"
)

// The server's side of the quality endpoints (web/evals.go,
// web/settings.go): evaluation runs over the server's own pipeline,
// stored like `sextant eval run` stores them; red-team runs as `sextant
// redteam` does in process; the effective settings.

// evalsDirName is where a server finds suites it runs by name: DATA/evals.
const evalsDirName = "evals"

// evalService implements web.Evals over s (the server's pipeline) and its
// store.
type evalService struct {
	s       *askSetup
	store   *sqlite.DB
	dataDir string
	log     *slog.Logger
	// spend admits and books the runs' model calls (evalspend.go); the
	// server sets it once its usage chain is wired, before it serves.
	spend *runSpending
}

func (v *evalService) options() web.Evals {
	return web.Evals{Run: v.run, Runs: v.runs, Report: v.report, Suites: v.suiteNames, RedTeam: v.redTeam}
}

// suiteFiles returns the suite files the server knows: DATA/evals/*.yaml
// (and .yml) and the configuration's eval.suites, by suite name. A file
// that does not parse is skipped with a warning; two files naming the
// same suite, the first wins (warned).
func (v *evalService) suiteFiles() (map[string]string, error) {
	var paths []string
	for _, pat := range []string{"*.yaml", "*.yml"} {
		m, err := filepath.Glob(filepath.Join(v.dataDir, evalsDirName, pat))
		if err != nil {
			return nil, err
		}
		paths = append(paths, m...)
	}
	slices.Sort(paths)
	for _, p := range v.s.cfg.Eval.Suites {
		paths = append(paths, resolvePath(v.dataDir, p))
	}
	out := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			v.log.Warn("evaluation suite unreadable", "file", p, "err", err)
			continue
		}
		suite, err := eval.ParseSuite(p, b)
		if err != nil {
			v.log.Warn("evaluation suite does not parse", "file", p, "err", err)
			continue
		}
		if prev, dup := out[suite.Name]; dup {
			v.log.Warn("two evaluation suites have the same name; the first is used", "suite", suite.Name, "used", prev, "ignored", p)
			continue
		}
		out[suite.Name] = p
	}
	return out, nil
}

func (v *evalService) suiteNames() ([]string, error) {
	files, err := v.suiteFiles()
	if err != nil {
		return nil, err
	}
	return sortedKeys(files), nil
}

// run runs a suite over the server's pipeline as p, and stores it in the
// history and DATA/eval-reports/RUN-ID as `sextant eval run` does.
func (v *evalService) run(ctx context.Context, p sextant.Principal, spec web.EvalSpec) (*eval.Report, error) {
	suite, ds, suiteDir := spec.Inline, spec.Dataset, v.dataDir
	if suite == nil {
		files, err := v.suiteFiles()
		if err != nil {
			return nil, err
		}
		path, ok := files[spec.Suite]
		if !ok {
			return nil, sextant.Errorf(sextant.ENOTFOUND, "no suite %q on this server", spec.Suite)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if suite, err = eval.ParseSuite(path, b); err != nil {
			return nil, err
		}
		if len(suite.Corpus) > 0 {
			return nil, sextant.Errorf(sextant.EINVALID, "suite %q answers from its own corpus (corpus: in %s), not the server's documents; run it with sextant eval run", suite.Name, path)
		}
		suiteDir = filepath.Dir(path)
		if ds, err = loadEvalDataset(resolvePath(suiteDir, suite.Dataset), suite.Split); err != nil {
			return nil, sextant.Errorf(sextant.EINVALID, "suite %q: %v", suite.Name, err)
		}
	}
	base, err := loadBaseline(ctx, v.store, suite.Name, spec.Baseline)
	if err != nil {
		return nil, sextant.Errorf(sextant.EINVALID, "baseline: %s", strings.TrimPrefix(sextant.ErrorMessage(err), "eval run: --baseline: "))
	}
	for _, vr := range suite.Variants {
		if _, ok := v.s.pipeline.Assistant(vr.Assistant); !ok {
			return nil, sextant.Errorf(sextant.EINVALID, "suite %q: variant %q: no assistant %q on this server", suite.Name, vr.Name, vr.Assistant)
		}
	}
	ctx, meter, err := v.spend.meter(ctx, p, "eval:"+suite.Name)
	if err != nil {
		return nil, err
	}
	defer meter.done()
	rep, err := scoreSuite(ctx, suiteJob{s: v.s, history: v.store, dataDir: v.dataDir, suite: suite, suiteDir: suiteDir, ds: ds,
		base: base, principal: p, id: spec.ID, meter: meter})
	if err != nil {
		return nil, err
	}
	if err := saveRun(ctx, v.store, rep); err != nil {
		return nil, err
	}
	if _, _, err := writeReports(filepath.Join(v.dataDir, "eval-reports", rep.ID), rep); err != nil {
		v.log.Warn("evaluation report files", "run", rep.ID, "err", err) // the run is stored; the files are a convenience
	}
	return rep, nil
}

func (v *evalService) runs(ctx context.Context, suite string, limit int) ([]web.EvalRunInfo, error) {
	runs, err := v.store.EvalRuns(ctx, suite, limit)
	if err != nil {
		return nil, err
	}
	out := make([]web.EvalRunInfo, 0, len(runs))
	for _, r := range runs {
		x := web.EvalRunInfo{ID: r.ID, Suite: r.Suite, Dataset: r.Dataset, CreatedAt: r.CreatedAt, Questions: r.Questions,
			FailedGates: r.FailedGates, Passed: r.FailedGates == 0}
		if err := json.Unmarshal(r.Summary, &x.Metrics); err != nil {
			return nil, fmt.Errorf("evaluation run %s: %v", r.ID, err)
		}
		out = append(out, x)
	}
	return out, nil
}

func (v *evalService) report(ctx context.Context, id string) (*eval.Report, error) {
	run, err := v.store.EvalRun(ctx, id)
	if err != nil {
		return nil, err
	}
	var r eval.Report
	if err := json.Unmarshal(run.Report, &r); err != nil {
		return nil, fmt.Errorf("evaluation run %s: %v", run.ID, err)
	}
	return &r, nil
}

// redTeam runs the embedded red-team suite against assistant, asking as
// the caller's identity (tenant, project, groups) with the app role, the
// attacker `sextant redteam` plays by default.
func (v *evalService) redTeam(ctx context.Context, p sextant.Principal, assistant string) (*web.RedTeamReport, error) {
	cases, err := guard.RedTeamSuite()
	if err != nil {
		return nil, err
	}
	attacker := sextant.Principal{ID: p.ID, Tenant: p.Tenant, Project: p.Project, Groups: p.Groups, Roles: []string{string(sextant.RoleApp)}}
	ctx, meter, err := v.spend.meter(ctx, p, "redteam:"+assistant)
	if err != nil {
		return nil, err
	}
	defer meter.done()
	rep := &redteamReport{Target: "server", Assistant: assistant, Categories: map[string]*redteamCategory{}}
	scanner := guard.New(guard.Options{})
	for _, c := range cases {
		o, err := redteamLocal(ctx, v.s.pipeline, attacker, assistant, c, meter)
		if err != nil {
			return nil, fmt.Errorf("red team: %s: %w", c.ID, err)
		}
		judge(&o, scanner)
		rep.Cases = append(rep.Cases, o)
	}
	rep.tally()
	return rep.web(), nil
}

// web converts the report to the API's form (the same JSON).
func (r *redteamReport) web() *web.RedTeamReport {
	out := &web.RedTeamReport{Target: r.Target, Assistant: r.Assistant, Categories: map[string]*web.RedTeamCategory{},
		FalsePositiveRate: r.FalsePositiveRate, BlockRate: r.BlockRate}
	for n, c := range r.Categories {
		wc := web.RedTeamCategory(*c)
		out.Categories[n] = &wc
	}
	if r.Benign != nil {
		b := web.RedTeamCategory(*r.Benign)
		out.Benign = &b
	}
	for _, o := range r.Cases {
		out.Cases = append(out.Cases, web.RedTeamOutcome{ID: o.ID, Category: o.Category, Expect: o.Expect, Stopped: o.Stopped,
			Refused: o.Refused, Flagged: o.Flagged, How: o.How, Leaked: o.Leaked, Tools: o.Tools})
	}
	return out
}

// ---- settings ----

// settingsFunc returns the configuration's effective settings for GET
// /v1/settings, never a secret (see web.Settings).
func settingsFunc(cfg *config) web.SettingsFunc {
	return func(context.Context) (*web.Settings, error) {
		st := &web.Settings{Config: cfg.path, Providers: []web.ProviderSettings{}, Routes: []web.RouteSettings{}}
		for _, p := range cfg.Providers {
			ps := web.ProviderSettings{Name: p.Name, Type: p.Type, BaseURL: redactURL(p.BaseURL), APIKeyEnv: p.APIKeyEnv,
				Headers: sortedKeys(p.Headers), Query: sortedKeys(p.Query), RerankURL: redactURL(p.RerankURL)}
			ps.APIKeySet = p.APIKeyEnv != "" && cfg.getenv != nil && cfg.getenv(p.APIKeyEnv) != ""
			st.Providers = append(st.Providers, ps)
		}
		for _, r := range cfg.Routes {
			rs := web.RouteSettings{Match: r.Match, Targets: []web.RouteTarget{}}
			for _, t := range r.Targets {
				rs.Targets = append(rs.Targets, web.RouteTarget{Provider: t.Provider, Model: t.Model})
			}
			st.Routes = append(st.Routes, rs)
		}
		if e := cfg.Embedder; e.Model != "" {
			st.Embedder = &web.EmbedderSettings{Model: e.Model, BaseURL: redactURL(e.BaseURL), APIKeyEnv: e.APIKeyEnv, Dimensions: e.Dimensions}
		}
		var err error
		if st.Guard, err = yamlSection(cfg.Guard); err != nil {
			return nil, err
		}
		st.Guard["enabled"] = cfg.guardEnabled()
		st.Policy = web.PolicySettings{File: cfg.Policy.File}
		if d := cfg.Policy.Reload.D(); d > 0 {
			st.Policy.Reload = d.String()
		}
		if st.Eval, err = yamlSection(cfg.Eval); err != nil {
			return nil, err
		}
		lim := cfg.limiterOptions()
		st.RateLimits = web.RateLimitSettings{Default: web.RateLimit(lim.Default), Keys: map[string]web.RateLimit{}}
		for k, l := range lim.Keys {
			st.RateLimits.Keys[k] = web.RateLimit(l)
		}
		st.Cache = web.CacheSettings{Enabled: cfg.cacheEnabled(), MaxEntries: cfg.Cache.MaxEntries, SemanticThreshold: cfg.Cache.SemanticThreshold}
		if d := cfg.Cache.TTL.D(); d > 0 {
			st.Cache.TTL = d.String()
		}
		st.Extra = map[string]any{}
		for name, sec := range map[string]any{"retry": cfg.Retry, "breaker": cfg.Breaker, "timeouts": cfg.Timeouts, "answers": cfg.Answers} {
			m, err := yamlSection(sec)
			if err != nil {
				return nil, err
			}
			st.Extra[name] = m
		}
		st.Extra["audit"] = map[string]any{"model_calls": cfg.Audit.modelCalls()}
		st.Extra["metrics"] = map[string]any{"require_key": cfg.Metrics.RequireKey}
		return st, nil
	}
}

// yamlSection turns a configuration section into the map its YAML
// describes (durations as "30s"), for JSON.
func yamlSection(v any) (map[string]any, error) {
	b, err := yaml.MarshalWithOptions(v, yaml.OmitEmpty())
	if err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	m := map[string]any{}
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	scrubSecrets(m)
	return m, nil
}

// scrubSecrets replaces the value of every key that names a secret
// (password, secret, token, api key; not the *_env keys naming the
// variable that holds one) with "(set)", at any depth: a section that
// gains such a key later must not leak it through GET /v1/settings.
func scrubSecrets(m map[string]any) {
	for k, v := range m {
		lk := strings.ToLower(k)
		if !strings.HasSuffix(lk, "_env") && (strings.Contains(lk, "secret") || strings.Contains(lk, "password") ||
			strings.Contains(lk, "token") && !strings.Contains(lk, "tokens") || strings.Contains(lk, "api_key") || strings.Contains(lk, "apikey")) {
			m[k] = "(set)"
			continue
		}
		switch x := v.(type) {
		case map[string]any:
			scrubSecrets(x)
		case []any:
			for _, e := range x {
				if em, ok := e.(map[string]any); ok {
					scrubSecrets(em)
				}
			}
		}
	}
}

// MarshalYAML writes a duration the way the configuration takes it.
func (d duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// redactURL drops user information (a password in the URL) from u and
// the values of its query parameters (some services take their key
// there), keeping the names. A URL that does not parse is not shown at
// all: its secret could not be told from the rest.
func redactURL(u string) string {
	if u == "" {
		return ""
	}
	p, err := url.Parse(u)
	if err != nil {
		return "(not a valid URL; hidden)"
	}
	p.User = nil
	if p.RawQuery != "" {
		q := p.Query()
		for k := range q {
			q[k] = []string{"redacted"}
		}
		p.RawQuery = q.Encode()
	}
	return p.String()
}
