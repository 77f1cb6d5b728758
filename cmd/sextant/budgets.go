package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/cost"
	"github.com/sextant-ai/sextant/web"
)

const budgetsUsage = `Usage:
  sextant budgets [list] [--json]
  sextant budgets set (--key ID | --project [TENANT/]NAME) [--daily USD] [--monthly USD] [--thresholds 0.5,0.8,1]
  sextant budgets delete (--key ID | --project [TENANT/]NAME) --period daily|monthly

Budgets cap what an API key or a project may spend per UTC day or month.
A request that could take a budget past its limit is refused (HTTP 429,
code insufficient_quota) until the window resets; alerts go out at the
thresholds (fractions of the limit), once per window. Budgets in the
configuration file (budgets:) are listed as "config"; set and delete
manage budgets in the store, which override configured ones of the same
key or project and period. A running server picks changes up within
budgets.reload (30 s).

list shows each budget's spend in its current window, from the usage
ledger (requests in flight on a server are not included).

Flags:
`

func runBudgets(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("budgets", e.stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), budgetsUsage)
		fs.PrintDefaults()
	}
	dataDir := dataFlag(fs, e)
	configPath := fs.String("config", "", "configuration file (default DATA/sextant.yaml when present; env SEXTANT_CONFIG)")
	asJSON := fs.Bool("json", false, "list: print JSON")
	key := fs.String("key", "", "set/delete: the API key id")
	project := fs.String("project", "", "set/delete: the project, as NAME or TENANT/NAME")
	daily := fs.String("daily", "", "set: daily limit in USD")
	monthly := fs.String("monthly", "", "set: monthly limit in USD")
	thresholds := fs.String("thresholds", "", "set: alert thresholds as fractions of the limit (default 0.5,0.8,1)")
	period := fs.String("period", "", "delete: the budget's period, daily or monthly (or daily,monthly)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	sub := "list"
	if len(pos) > 0 {
		sub, pos = pos[0], pos[1:]
	}
	if len(pos) > 0 {
		return usageErrorf("budgets %s: unexpected argument %q", sub, pos[0])
	}
	cfg, err := loadConfig(*configPath, *dataDir, e.getenv)
	if err != nil {
		return err
	}
	configured, err := cfg.budgetList()
	if err != nil {
		return err
	}
	db, err := openStore(ctx, *dataDir)
	if err != nil {
		return err
	}
	defer db.Close()
	b, err := cost.NewBudgets(ctx, cost.BudgetOptions{Budgets: configured, Store: db})
	if err != nil {
		return err
	}
	defer b.Close(ctx)
	// Changes are admin records in the audit log, like the server's
	// PUT/DELETE /v1/budgets.
	record := func(action string, bud *sextant.Budget) error {
		l, err := openAuditLog(*dataDir, db)
		if err != nil {
			return err
		}
		ev := web.BudgetEvent(action, bud)
		ev.Actor = localActor(e)
		_, aerr := l.Append(ctx, ev)
		if err := l.Close(ctx); aerr == nil {
			aerr = err
		}
		if aerr != nil {
			return fmt.Errorf("budgets: %s applied, but the audit record failed: %w", bud.Name(), aerr)
		}
		return nil
	}

	scope := func() (sextant.Budget, error) {
		switch {
		case (*key == "") == (*project == ""):
			return sextant.Budget{}, usageErrorf("budgets %s: give exactly one of --key and --project", sub)
		case *key != "":
			return sextant.Budget{Scope: sextant.BudgetKey, ID: *key}, nil
		}
		t, p := splitProject(*project)
		return sextant.Budget{Scope: sextant.BudgetProject, Tenant: t, ID: p}, nil
	}
	switch sub {
	case "list":
		return listBudgets(e.stdout, b.Status(), *asJSON)
	case "set":
		base, err := scope()
		if err != nil {
			return err
		}
		if *daily == "" && *monthly == "" {
			return usageErrorf("budgets set: give --daily USD, --monthly USD or both")
		}
		var th []float64
		if *thresholds != "" {
			for _, f := range strings.Split(*thresholds, ",") {
				v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
				if err != nil {
					return usageErrorf("--thresholds %q: %q is not a number", *thresholds, f)
				}
				th = append(th, v)
			}
		}
		for _, p := range []struct{ period, v string }{{sextant.BudgetDaily, *daily}, {sextant.BudgetMonthly, *monthly}} {
			if p.v == "" {
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimPrefix(p.v, "$"), 64)
			if err != nil {
				return usageErrorf("--%s %q: want an amount in USD", p.period, p.v)
			}
			bud := base
			bud.Period, bud.LimitUSD, bud.Thresholds = p.period, v, th
			if err := bud.Validate(); err != nil {
				return usageErrorf("%s", sextant.ErrorMessage(err))
			}
			if err := b.Set(ctx, bud); err != nil {
				return err
			}
			if err := record("budget.set", &bud); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "set %s to %s\n", bud.Name(), formatUSD(v))
		}
		return nil
	case "delete":
		base, err := scope()
		if err != nil {
			return err
		}
		if *period == "" {
			return usageErrorf("budgets delete: give --period daily or --period monthly")
		}
		for _, p := range strings.Split(*period, ",") {
			p = strings.TrimSpace(p)
			if p != sextant.BudgetDaily && p != sextant.BudgetMonthly {
				return usageErrorf("--period %q: want daily, monthly or daily,monthly", *period)
			}
			bud := base
			bud.Period = p
			if err := b.Delete(ctx, bud); err != nil {
				return err
			}
			if err := record("budget.delete", &bud); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "deleted %s\n", bud.Name())
		}
		return nil
	}
	return usageErrorf("budgets: unknown subcommand %q (want list, set or delete)", sub)
}

func listBudgets(w io.Writer, st []cost.BudgetStatus, asJSON bool) error {
	if asJSON { // the body of GET /v1/budgets's data
		out := []web.Budget{}
		for i := range st {
			out = append(out, web.BudgetJSON(&st[i]))
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if len(st) == 0 {
		fmt.Fprintln(w, "No budgets. Set one with: sextant budgets set --key ID --daily 5")
		return nil
	}
	tw := tabwriter.NewWriter(w, 2, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BUDGET\tSOURCE\tLIMIT\tSPENT\tUSED\tRESETS (UTC)\tTHRESHOLDS")
	for _, s := range st {
		th := "0.5,0.8,1"
		if s.Budget.Thresholds != nil {
			var parts []string
			for _, t := range s.Budget.Thresholds {
				parts = append(parts, strconv.FormatFloat(t, 'g', -1, 64))
			}
			th = strings.Join(parts, ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.1f%%\t%s\t%s\n", s.Name, s.Source, formatUSD(s.Budget.LimitUSD), formatUSD(s.SpentUSD),
			100*s.Utilization, s.WindowEnd.UTC().Format("2006-01-02 15:04"), th)
	}
	return tw.Flush()
}
