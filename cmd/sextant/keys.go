package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/access"
	"github.com/sextant-ai/sextant/audit"
	"github.com/sextant-ai/sextant/sqlite"
	"github.com/sextant-ai/sextant/web"
)

const keysUsage = `Usage: sextant keys create --role R [--role R]... [--tenant T] [--project P] [--groups a,b] [--name N] [--json]
       sextant keys list [--json]
       sextant keys revoke ID
       sextant keys generate

API keys authenticate requests (Authorization: Bearer KEY). Each key is
bound to a tenant, a project and roles; its groups decide which labelled
documents it may read.

create    makes a key and prints it ONCE: only its hash is stored.
          --groups a,b: documents labelled a or b, and unlabelled ones;
          --groups '*': every document of the tenant. Without --groups a
          key reads unlabelled documents only (admin keys: every document).
list      lists keys (never their secrets) with last use and revocation.
revoke    revokes a key; a running server stops accepting it within 10 s.
generate  prints a fresh well-formed key without storing it, e.g. for
          SEXTANT_ADMIN_KEY.

Roles: admin, ai_engineer, data_engineer, llmops, security, product, qa,
viewer, app (see docs/access-control.md).

Flags:
`

func runKeys(ctx context.Context, e *env, args []string) error {
	if wantsHelp(args) {
		fmt.Fprint(e.stdout, keysUsage)
		if len(args) == 0 {
			return usageErrorf("keys: name a subcommand (create, list, revoke or generate)")
		}
		return nil
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("keys "+sub, e.stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), keysUsage)
		fs.PrintDefaults()
	}
	dataDir := dataFlag(fs, e)
	switch sub {
	case "create":
		var roles multiFlag
		fs.Var(&roles, "role", "role granted to the key (repeatable, or comma-separated)")
		tenant := fs.String("tenant", "", "tenant the key acts in (default: the default tenant)")
		project := fs.String("project", "", "project usage is booked to")
		groups := fs.String("groups", "", "comma-separated document access groups, or * for every document")
		name := fs.String("name", "", "what the key is for")
		asJSON := fs.Bool("json", false, "print the key and its details as JSON")
		if err := noArgs(fs, args, "keys create"); err != nil {
			return err
		}
		spec := access.KeySpec{Name: *name, Tenant: *tenant, Project: *project}
		for _, r := range roles {
			spec.Roles = append(spec.Roles, splitList(r)...)
		}
		switch {
		case len(spec.Roles) == 0:
			return usageErrorf("keys create: give at least one --role (%s)", roleNames())
		case strings.TrimSpace(*groups) == "*":
			// nil: every document of the tenant
		case *groups == "" && hasAdmin(spec.Roles):
		default:
			spec.Groups = append([]string{}, splitList(*groups)...)
		}
		if err := spec.Validate(); err != nil {
			return usageErrorf("keys create: %v", err)
		}
		return keysCreate(ctx, e, *dataDir, spec, *asJSON)
	case "list":
		asJSON := fs.Bool("json", false, "print JSON")
		if err := noArgs(fs, args, "keys list"); err != nil {
			return err
		}
		return keysList(ctx, e, *dataDir, *asJSON)
	case "revoke":
		ids, err := parseArgs(fs, args)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return usageErrorf("keys revoke: name the key id(s) to revoke (see sextant keys list)")
		}
		return keysRevoke(ctx, e, *dataDir, ids)
	case "generate":
		if err := noArgs(fs, args, "keys generate"); err != nil {
			return err
		}
		s, err := access.NewSecret(nil)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, s)
		return nil
	}
	fmt.Fprint(e.stderr, keysUsage)
	return usageErrorf("keys: unknown subcommand %q (want create, list, revoke or generate)", sub)
}

func roleNames() string {
	var names []string
	for _, r := range sextant.AllRoles() {
		names = append(names, string(r))
	}
	return strings.Join(names, ", ")
}

func hasAdmin(roles []string) bool {
	for _, r := range roles {
		if r == string(sextant.RoleAdmin) {
			return true
		}
	}
	return false
}

// withAuditedStore opens the store and its audit log, runs fn, and closes
// both, so a command's admin change is recorded before it returns.
func withAuditedStore(ctx context.Context, dir string, fn func(st *sqlite.DB, l *audit.Log) error) error {
	st, err := openStore(ctx, dir)
	if err != nil {
		return err
	}
	defer st.Close()
	l, err := openAuditLog(dir, st)
	if err != nil {
		return err
	}
	ferr := fn(st, l)
	if err := l.Close(ctx); err != nil && ferr == nil {
		ferr = err
	}
	return ferr
}

// keyEvent is the audit payload of a key change; never the secret.
type keyEvent struct {
	Action  string   `json:"action"`
	KeyID   string   `json:"key_id"`
	Name    string   `json:"name,omitempty"`
	Tenant  string   `json:"tenant"`
	Project string   `json:"project,omitempty"`
	Roles   []string `json:"roles,omitempty"`
	Groups  []string `json:"groups"`
}

func keyAuditEvent(action, actor string, k *sextant.APIKey) sextant.AuditEvent {
	return sextant.AuditEvent{Kind: sextant.AuditAdmin, Actor: actor, Tenant: k.Tenant, Payload: keyEvent{
		Action: action, KeyID: k.ID, Name: k.Name, Tenant: k.Tenant, Project: k.Project, Roles: k.Roles, Groups: k.Groups}}
}

func keysCreate(ctx context.Context, e *env, dir string, spec access.KeySpec, asJSON bool) error {
	return withAuditedStore(ctx, dir, func(st *sqlite.DB, l *audit.Log) error {
		secret, k, err := access.Create(ctx, st, spec, nil, time.Now())
		if err != nil {
			return err
		}
		if _, err := l.Append(ctx, keyAuditEvent("key.create", localActor(e), k)); err != nil {
			return err
		}
		if asJSON {
			j := web.NewKey(k)
			j.Key = secret
			return writeJSON(e.stdout, j)
		}
		fmt.Fprintf(e.stdout, "created %s (%s)\n\n    %s\n\nThis is the only time the key is shown: store it now (only its hash is kept).\n",
			k.ID, describeKey(k), secret)
		return nil
	})
}

func describeKey(k *sextant.APIKey) string {
	tenant := k.Tenant
	if tenant == "" {
		tenant = "default"
	}
	s := fmt.Sprintf("roles %s; tenant %s", strings.Join(k.Roles, ","), tenant)
	if k.Project != "" {
		s += "; project " + k.Project
	}
	return s + "; documents " + groupsText(k.Groups)
}

func groupsText(g []string) string {
	switch {
	case g == nil:
		return "all"
	case len(g) == 0:
		return "unlabelled only"
	}
	return "labelled " + strings.Join(g, ",") + " or unlabelled"
}

func keysList(ctx context.Context, e *env, dir string, asJSON bool) error {
	st, err := openStore(ctx, dir)
	if err != nil {
		return err
	}
	defer st.Close()
	keys, err := st.APIKeys(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		out := make([]web.Key, len(keys))
		for i := range keys {
			out[i] = web.NewKey(&keys[i])
		}
		return writeJSON(e.stdout, out)
	}
	if len(keys) == 0 {
		fmt.Fprintln(e.stdout, "no API keys (the server creates an admin key on first start)")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tROLES\tTENANT\tPROJECT\tDOCUMENTS\tCREATED\tLAST USED\tSTATUS")
	day := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Local().Format("2006-01-02 15:04")
	}
	for i := range keys {
		k := &keys[i]
		status := "active"
		if k.Revoked() {
			status = "revoked " + day(k.RevokedAt)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, dash(k.Name), strings.Join(k.Roles, ","),
			dash(k.Tenant), dash(k.Project), groupsText(k.Groups), day(k.CreatedAt), day(k.LastUsedAt), status)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func keysRevoke(ctx context.Context, e *env, dir string, ids []string) error {
	return withAuditedStore(ctx, dir, func(st *sqlite.DB, l *audit.Log) error {
		for _, id := range ids {
			before, err := st.APIKey(ctx, id)
			if err != nil {
				return err
			}
			if before.Revoked() {
				fmt.Fprintf(e.stdout, "%s was already revoked at %s\n", id, before.RevokedAt.Local().Format(time.RFC3339))
				continue
			}
			k, err := st.RevokeAPIKey(ctx, id, time.Now())
			if err != nil {
				return err
			}
			if _, err := l.Append(ctx, keyAuditEvent("key.revoke", localActor(e), k)); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "revoked %s (%s)\n", id, describeKey(k))
		}
		return nil
	})
}

// ensureAdminKey runs when the server starts. With SEXTANT_ADMIN_KEY set
// it makes sure that key exists as an admin key (importing it on first
// start; refusing to start when it was revoked). Otherwise, when the store
// has no key at all, it creates an admin key and prints it to w, once, as
// a line to paste (export SEXTANT_API_KEY=...), and returns it.
func ensureAdminKey(ctx context.Context, e *env, st *sqlite.DB, l *audit.Log, w io.Writer) (string, error) {
	actor := "system"
	if secret := strings.TrimSpace(e.getenv("SEXTANT_ADMIN_KEY")); secret != "" {
		if err := access.CheckFormat(secret); err != nil {
			return "", fmt.Errorf("SEXTANT_ADMIN_KEY: %s; generate one with `sextant keys generate`", sextant.ErrorMessage(err))
		}
		k, err := st.APIKeyByHash(ctx, access.Hash(secret))
		switch {
		case err == nil && k.Revoked():
			return "", sextant.Errorf(sextant.EFORBIDDEN, "SEXTANT_ADMIN_KEY is key %s, which was revoked at %s: set a new key or unset the variable",
				k.ID, k.RevokedAt.Format(time.RFC3339))
		case err == nil:
			return "", nil
		case sextant.ErrorCode(err) != sextant.ENOTFOUND:
			return "", err
		}
		k, err = access.Import(ctx, st, access.KeySpec{Name: "admin (SEXTANT_ADMIN_KEY)", Roles: []string{string(sextant.RoleAdmin)}},
			secret, nil, time.Now())
		if err != nil {
			return "", err
		}
		if _, err := l.Append(ctx, keyAuditEvent("key.import", actor, k)); err != nil {
			return "", err
		}
		fmt.Fprintf(w, "admin key %s imported from SEXTANT_ADMIN_KEY\n", k.ID)
		return "", nil
	}
	n, err := st.CountAPIKeys(ctx)
	if err != nil || n > 0 {
		return "", err
	}
	secret, k, err := access.Create(ctx, st, access.KeySpec{Name: "admin (first start)", Roles: []string{string(sextant.RoleAdmin)}},
		nil, time.Now())
	if err != nil {
		return "", err
	}
	if _, err := l.Append(ctx, keyAuditEvent("key.create", actor, k)); err != nil {
		return "", err
	}
	fmt.Fprintf(w, "\nFirst start: created admin key %s. This is the only time it is shown; store it now:\n\n    export SEXTANT_API_KEY=%s\n\nRequests send it as Authorization: Bearer $SEXTANT_API_KEY. Make keys for applications and people with\n`sextant keys create --role ROLE` (docs/access-control.md).\n\n",
		k.ID, secret)
	return secret, nil
}
