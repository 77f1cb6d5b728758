package sextant

import (
	"context"
	"slices"
	"strings"
)

// Role is a named set of permissions granted to an API key. Roles follow
// who is accountable for what in a team running a RAG assistant; the table
// below is the single definition of what each may do.
type Role string

// Roles.
const (
	RoleAdmin        Role = "admin"         // everything, including keys and tenants
	RoleAIEngineer   Role = "ai_engineer"   // assistants, prompt templates, evaluation suites
	RoleDataEngineer Role = "data_engineer" // collections and ingestion
	RoleLLMOps       Role = "llmops"        // providers, routing, budgets, rate limits, caches
	RoleSecurity     Role = "security"      // guard and policy settings, audit, approvals
	RoleProduct      Role = "product"       // dashboards, evaluation results, usage (read-only)
	RoleQA           Role = "qa"            // run evaluation and red-team suites
	RoleViewer       Role = "viewer"        // search and read documents
	RoleApp          Role = "app"           // chat only: the key an application embeds
)

// Permission is one thing a request may need to be allowed to do. Every
// HTTP route declares exactly one.
type Permission string

// Permissions.
const (
	PermChat            Permission = "chat"             // ask assistants (chat completions, answers); list assistants and models
	PermSearch          Permission = "search"           // search documents
	PermDocumentsRead   Permission = "documents.read"   // list and read documents, chunks and collections
	PermDocumentsWrite  Permission = "documents.write"  // ingest, change and delete documents; manage collections
	PermAssistantsWrite Permission = "assistants.write" // create, change and delete assistants
	PermTemplatesWrite  Permission = "templates.write"  // create, change and delete prompt templates
	PermEvalWrite       Permission = "eval.write"       // create and change evaluation datasets and suites
	PermEvalRun         Permission = "eval.run"         // run evaluation suites
	PermEvalRead        Permission = "eval.read"        // read evaluation results and reports
	PermRedteamRun      Permission = "redteam.run"      // run red-team suites
	PermProvidersWrite  Permission = "providers.write"  // configure model providers and routing
	PermBudgetsWrite    Permission = "budgets.write"    // set budgets and alert thresholds
	PermRateLimitsWrite Permission = "ratelimits.write" // set rate limits
	PermCacheWrite      Permission = "cache.write"      // configure and flush response caches
	PermGuardWrite      Permission = "guard.write"      // configure guardrails (PII, injection, output checks)
	PermPolicyWrite     Permission = "policy.write"     // change policy rules
	PermSettingsRead    Permission = "settings.read"    // read assistants, templates, providers, budgets, limits, guard and policy settings (never secrets)
	PermAuditRead       Permission = "audit.read"       // read, export and verify the audit log
	PermApprovalsDecide Permission = "approvals.decide" // approve or reject requests held for approval
	PermUsageRead       Permission = "usage.read"       // read token and cost usage, budgets' utilisation
	PermMetricsRead     Permission = "metrics.read"     // read metrics and dashboards
	PermKeysAdmin       Permission = "keys.admin"       // create, list and revoke API keys; manage tenants
)

// rolePermissions is the role → permission table. admin is absent: it is
// granted every permission. Read-only after package initialisation.
var rolePermissions = map[Role][]Permission{
	RoleAIEngineer: {PermChat, PermSearch, PermDocumentsRead, PermAssistantsWrite, PermTemplatesWrite,
		PermEvalWrite, PermEvalRun, PermEvalRead, PermSettingsRead},
	RoleDataEngineer: {PermSearch, PermDocumentsRead, PermDocumentsWrite},
	RoleLLMOps: {PermProvidersWrite, PermBudgetsWrite, PermRateLimitsWrite, PermCacheWrite,
		PermUsageRead, PermMetricsRead, PermSettingsRead},
	RoleSecurity: {PermGuardWrite, PermPolicyWrite, PermAuditRead, PermApprovalsDecide, PermSettingsRead},
	RoleProduct:  {PermMetricsRead, PermUsageRead, PermEvalRead},
	RoleQA:       {PermEvalRun, PermEvalRead, PermRedteamRun},
	RoleViewer:   {PermSearch, PermDocumentsRead},
	RoleApp:      {PermChat},
}

// AllRoles returns every role, admin first.
func AllRoles() []Role {
	return []Role{RoleAdmin, RoleAIEngineer, RoleDataEngineer, RoleLLMOps, RoleSecurity,
		RoleProduct, RoleQA, RoleViewer, RoleApp}
}

// AllPermissions returns every permission, in declaration order.
func AllPermissions() []Permission {
	return []Permission{PermChat, PermSearch, PermDocumentsRead, PermDocumentsWrite,
		PermAssistantsWrite, PermTemplatesWrite, PermEvalWrite, PermEvalRun, PermEvalRead,
		PermRedteamRun, PermProvidersWrite, PermBudgetsWrite, PermRateLimitsWrite, PermCacheWrite,
		PermGuardWrite, PermPolicyWrite, PermSettingsRead, PermAuditRead, PermApprovalsDecide,
		PermUsageRead, PermMetricsRead, PermKeysAdmin}
}

// ParseRole returns the role named s, or an EINVALID error listing the
// roles there are.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if r == RoleAdmin || rolePermissions[r] != nil {
		return r, nil
	}
	names := make([]string, 0, 9)
	for _, r := range AllRoles() {
		names = append(names, string(r))
	}
	return "", Errorf(EINVALID, "unknown role %q (want one of %s)", s, strings.Join(names, ", "))
}

// ParsePermission returns the permission named s, or an EINVALID error.
func ParsePermission(s string) (Permission, error) {
	if p := Permission(s); knownPermission(p) {
		return p, nil
	}
	return "", Errorf(EINVALID, "unknown permission %q", s)
}

// Permissions returns the permissions r grants, in declaration order; nil
// for an unknown role.
func (r Role) Permissions() []Permission {
	if r == RoleAdmin {
		return AllPermissions()
	}
	return slices.Clone(rolePermissions[r])
}

// Grants reports whether r grants perm.
func (r Role) Grants(perm Permission) bool {
	return r == RoleAdmin && knownPermission(perm) || slices.Contains(rolePermissions[r], perm)
}

// Allowed reports whether p may do what perm names: whether any of p's
// roles grants it. A nil principal, unknown roles and unknown permissions
// are allowed nothing. It does not allocate.
func Allowed(p *Principal, perm Permission) bool {
	if p == nil {
		return false
	}
	for _, name := range p.Roles {
		r := Role(name)
		if r == RoleAdmin {
			if knownPermission(perm) {
				return true
			}
			continue
		}
		for _, q := range rolePermissions[r] {
			if q == perm {
				return true
			}
		}
	}
	return false
}

// knownPermission reports whether perm is one of the Perm* constants,
// without allocating (a switch, unlike AllPermissions).
func knownPermission(perm Permission) bool {
	switch perm {
	case PermChat, PermSearch, PermDocumentsRead, PermDocumentsWrite, PermAssistantsWrite,
		PermTemplatesWrite, PermEvalWrite, PermEvalRun, PermEvalRead, PermRedteamRun,
		PermProvidersWrite, PermBudgetsWrite, PermRateLimitsWrite, PermCacheWrite, PermGuardWrite,
		PermPolicyWrite, PermSettingsRead, PermAuditRead, PermApprovalsDecide, PermUsageRead,
		PermMetricsRead, PermKeysAdmin:
		return true
	}
	return false
}

// HasRole reports whether p was granted role r.
func (p *Principal) HasRole(r Role) bool {
	return p != nil && slices.Contains(p.Roles, string(r))
}

type principalKey struct{}

// WithPrincipal returns a copy of ctx carrying p, the authenticated caller.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal WithPrincipal stored in ctx, and
// whether there was one.
func PrincipalFrom(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}
