package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/access"
	"github.com/sextant-ai/sextant/audit"
	"github.com/sextant-ai/sextant/cost"
	"github.com/sextant-ai/sextant/sqlite"
	"github.com/sextant-ai/sextant/web"
)

// adminOptions wires the administration endpoints to the stack's store, as
// sextant serve does: admin changes appended to log before responding,
// revoked keys dropped from the authenticator, answers found by request id
// through the audit log's index.
func adminOptions(t testing.TB, st *sqlite.DB, auth *access.Authenticator, log *audit.Log) web.Admin {
	ctx := context.Background()
	b, err := cost.NewBudgets(ctx, cost.BudgetOptions{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(context.Background()) })
	return web.Admin{
		Keys: st, KeyRevoked: auth.Invalidate, Usage: st.UsageTotals, Budgets: b, Audit: st,
		Record: func(ctx context.Context, ev sextant.AuditEvent) error { _, err := log.Append(ctx, ev); return err },
		Quarantines: func(ctx context.Context, tenant string, all bool) ([]sextant.Quarantine, error) {
			return st.Quarantines(ctx, sqlite.QuarantineFilter{Tenant: tenant, All: all})
		},
		Release: st.ReleaseQuarantine,
		Answers: st,
		AnswerByRequest: func(ctx context.Context, id string) (string, error) {
			if err := log.Sync(ctx); err != nil {
				return "", err
			}
			recs, err := st.AuditByRequest(ctx, id)
			if err != nil {
				return "", err
			}
			if aid, ok := audit.AnswerOf(recs); ok {
				return aid, nil
			}
			return "", sextant.Errorf(sextant.ENOTFOUND, "no answer for request %q", id)
		},
	}
}

// key makes a key with roles in tenant.
func (s *authed) key(t *testing.T, tenant string, roles ...sextant.Role) (string, *sextant.APIKey) {
	t.Helper()
	spec := access.KeySpec{Name: "test", Tenant: tenant}
	for _, r := range roles {
		spec.Roles = append(spec.Roles, string(r))
	}
	secret, k, err := access.Create(context.Background(), s.store, spec, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return secret, k
}

// call sends a request and decodes a JSON response into out (when not nil).
func (s *authed) call(t *testing.T, key, method, path, body string, out any) int {
	t.Helper()
	status, b := send(t, s.URL, key, method, path, body)
	if out != nil && status < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, b)
		}
	}
	if status >= 300 && out != nil {
		t.Logf("%s %s: %d %s", method, path, status, b)
	}
	return status
}

// auditLog returns the audit log's records as exported, after a sync.
func (s *authed) auditLog(t *testing.T) []sextant.AuditRecord {
	t.Helper()
	ctx := context.Background()
	if err := s.log.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	var out []sextant.AuditRecord
	for r, err := range s.store.AuditRecords(ctx, 1) {
		if err != nil {
			t.Fatal(err)
		}
		r.Payload = bytes.Clone(r.Payload)
		out = append(out, r)
	}
	return out
}

// findAudit returns the records whose payload contains every fragment.
func findAudit(recs []sextant.AuditRecord, fragments ...string) []sextant.AuditRecord {
	var out []sextant.AuditRecord
next:
	for _, r := range recs {
		for _, f := range fragments {
			if !strings.Contains(string(r.Payload), f) {
				continue next
			}
		}
		out = append(out, r)
	}
	return out
}

func TestAdminKeys(t *testing.T) {
	s := authStack(t)
	admin := s.keys[sextant.RoleAdmin]
	var created web.Key
	status, b := send(t, s.URL, admin, "POST", "/v1/keys", `{"name":"widget","tenant":"acme","project":"web","roles":["app"],"groups":["eng"]}`)
	if status != 201 || json.Unmarshal(b, &created) != nil || access.CheckFormat(created.Key) != nil || created.Tenant != "acme" ||
		created.Object != "api_key" || len(created.Groups) != 1 {
		t.Fatalf("create: %d %s", status, b)
	}
	// The new key works at once, for what its role allows.
	if st := s.call(t, created.Key, "GET", "/v1/models", "", nil); st != 200 {
		t.Fatalf("new app key on /v1/models: %d", st)
	}
	if st := s.call(t, created.Key, "GET", "/v1/keys", "", nil); st != 403 {
		t.Fatalf("app key on /v1/keys: %d", st)
	}
	// Lists never carry secrets.
	var list web.List[web.Key]
	if st := s.call(t, admin, "GET", "/v1/keys", "", &list); st != 200 || len(list.Data) != len(sextant.AllRoles())+1 {
		t.Fatalf("list: %d, %d keys", st, len(list.Data))
	}
	for _, k := range list.Data {
		if k.Key != "" {
			t.Fatalf("list shows a secret: %+v", k)
		}
	}
	// An admin of tenant acme manages acme's keys only.
	acmeAdmin, _ := s.key(t, "acme", sextant.RoleAdmin)
	if st := s.call(t, acmeAdmin, "GET", "/v1/keys", "", &list); st != 200 || len(list.Data) != 2 {
		t.Fatalf("acme admin list: %d, %+v", st, list.Data)
	}
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/v1/keys", `{"tenant":"globex","roles":["app"]}`},
		{"GET", "/v1/keys?tenant=globex", ""},
	} {
		status, b := send(t, s.URL, acmeAdmin, c.method, c.path, c.body)
		if status != 403 || !strings.Contains(string(b), "own tenant") {
			t.Errorf("acme admin %s %s: %d %s", c.method, c.path, status, b)
		}
	}
	_, other := s.key(t, "", sextant.RoleViewer)
	if st := s.call(t, acmeAdmin, "DELETE", "/v1/keys/"+other.ID, "", nil); st != 404 {
		t.Errorf("acme admin revoking a default-tenant key: %d; want 404", st)
	}
	// Bad requests name the field.
	for body, param := range map[string]string{`{"roles":[]}`: "roles", `{"roles":["root"]}`: "roles",
		`{"roles":["app"],"groups":["a,b"]}`: "groups", `{"roles":["app"],"colour":"red"}`: "colour"} {
		status, b := send(t, s.URL, admin, "POST", "/v1/keys", body)
		if e := apiErr(t, b); status != 400 || e.Param != param {
			t.Errorf("create %s: %d %+v; want 400 naming %s", body, status, e, param)
		}
	}
	// Revocation takes effect at once on this server, and is idempotent.
	var revoked web.Key
	if st := s.call(t, acmeAdmin, "DELETE", "/v1/keys/"+created.ID, "", &revoked); st != 200 || revoked.RevokedAt == nil {
		t.Fatalf("revoke: %d %+v", st, revoked)
	}
	if st := s.call(t, created.Key, "GET", "/v1/models", "", nil); st != 401 {
		t.Errorf("revoked key: %d; want 401", st)
	}
	if st := s.call(t, admin, "DELETE", "/v1/keys/"+created.ID, "", &revoked); st != 200 {
		t.Errorf("second revocation: %d", st)
	}
	// Every change is in the audit log with who made it; no secret is.
	recs := s.auditLog(t)
	cr := findAudit(recs, `"action":"key.create"`, created.ID)
	rv := findAudit(recs, `"action":"key.revoke"`, created.ID)
	if len(cr) != 1 || len(rv) != 1 || cr[0].Actor != s.keyIDs[sextant.RoleAdmin] || cr[0].Tenant != "acme" || cr[0].RequestID == "" {
		t.Fatalf("key records: create %+v revoke %+v", cr, rv)
	}
	for _, r := range recs {
		if strings.Contains(string(r.Payload), created.Key) {
			t.Fatalf("a secret reached the audit log: %s", r.Payload)
		}
	}
	if rep, err := audit.Verify(context.Background(), s.store, audit.VerifyOptions{}); err != nil || !rep.OK() {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

func TestAdminUsageAndBudgets(t *testing.T) {
	s := authStack(t)
	ctx := context.Background()
	now := time.Now().UTC()
	var recs []sextant.UsageRecord
	for i, tenant := range []string{"acme", "acme", "globex"} {
		recs = append(recs, sextant.UsageRecord{RequestID: "r" + string(rune('0'+i)), Time: now, Tenant: tenant, Project: "web",
			Model: "gpt-4o-mini", Usage: sextant.Usage{InputTokens: 100, OutputTokens: 10}, CostUSD: 0.5, Success: true, Priced: true})
	}
	if err := s.store.AppendUsage(ctx, recs); err != nil {
		t.Fatal(err)
	}
	product := s.keys[sextant.RoleProduct]
	var rep web.UsageReport
	if st := s.call(t, product, "GET", "/v1/usage?by=tenant", "", &rep); st != 200 || rep.Total.Requests != 3 || len(rep.Lines) != 2 ||
		rep.Total.CostUSD != 1.5 || rep.Forecast.Month == "" {
		t.Fatalf("operator usage: %d %+v", st, rep)
	}
	acmeProduct, _ := s.key(t, "acme", sextant.RoleProduct)
	if st := s.call(t, acmeProduct, "GET", "/v1/usage?by=tenant", "", &rep); st != 200 || rep.Total.Requests != 2 || len(rep.Lines) != 1 || rep.Lines[0].Group != "acme" {
		t.Fatalf("acme usage: %d %+v", st, rep)
	}
	for path, want := range map[string]int{"/v1/usage?tenant=globex": 403, "/v1/usage?by=colour": 400, "/v1/usage?since=yesterday": 400,
		"/v1/usage?limit=3": 400, "/v1/usage?since=7d&until=2001-01-01": 400} {
		if st := s.call(t, acmeProduct, "GET", path, "", nil); st != want {
			t.Errorf("%s: %d; want %d", path, st, want)
		}
	}

	// Budgets: set by llmops, read by product, scoped by tenant.
	llmops := s.keys[sextant.RoleLLMOps]
	var set web.List[web.Budget]
	if st := s.call(t, llmops, "PUT", "/v1/budgets", `{"project":"acme/web","daily_usd":5,"monthly_usd":100,"thresholds":[0.5,0.9]}`, &set); st != 200 ||
		len(set.Data) != 2 || set.Data[0].Budget != "project:acme/web:daily" || set.Data[0].SpentUSD != 1 || set.Data[0].Source != "store" {
		t.Fatalf("set: %d %+v", st, set)
	}
	if st := s.call(t, llmops, "PUT", "/v1/budgets", `{"project":"globex/web","daily_usd":5}`, nil); st != 200 {
		t.Fatalf("set globex: %d", st)
	}
	acmeOps, _ := s.key(t, "acme", sextant.RoleLLMOps)
	for _, c := range []struct {
		method, path, body string
		want               int
	}{
		{"PUT", "/v1/budgets", `{"project":"globex/web","daily_usd":1}`, 403},
		{"PUT", "/v1/budgets", `{"key":"` + s.keyIDs[sextant.RoleApp] + `","daily_usd":1}`, 404}, // a default-tenant key
		{"PUT", "/v1/budgets", `{"project":"web"}`, 400},
		{"PUT", "/v1/budgets", `{"project":"web","daily_usd":-1}`, 400},
		{"PUT", "/v1/budgets", `{"project":"web","key":"k","daily_usd":1}`, 400},
		{"DELETE", "/v1/budgets?project=web&period=weekly", "", 400},
	} {
		if st := s.call(t, acmeOps, c.method, c.path, c.body, nil); st != c.want {
			t.Errorf("acme llmops %s %s %s: %d; want %d", c.method, c.path, c.body, st, c.want)
		}
	}
	var list web.List[web.Budget]
	if st := s.call(t, acmeProduct, "GET", "/v1/budgets", "", &list); st != 200 || len(list.Data) != 2 {
		t.Fatalf("acme budgets: %d %+v", st, list.Data)
	}
	if st := s.call(t, product, "GET", "/v1/budgets", "", &list); st != 200 || len(list.Data) != 3 {
		t.Fatalf("operator budgets: %d %+v", st, list.Data)
	}
	// A project named without a tenant is the caller's tenant's.
	if st := s.call(t, acmeOps, "DELETE", "/v1/budgets?project=web&period=daily,monthly", "", nil); st != 200 {
		t.Fatalf("delete: %d", st)
	}
	if st := s.call(t, acmeProduct, "GET", "/v1/budgets", "", &list); st != 200 || len(list.Data) != 0 {
		t.Fatalf("after delete: %+v", list.Data)
	}
	recsA := s.auditLog(t)
	if n := len(findAudit(recsA, `"action":"budget.set"`)); n != 3 {
		t.Errorf("%d budget.set records; want 3", n)
	}
	if del := findAudit(recsA, `"action":"budget.delete"`, "project:acme/web"); len(del) != 2 || del[0].Tenant != "acme" {
		t.Errorf("budget.delete records: %+v", del)
	}
}

func TestAdminAuditEndpoints(t *testing.T) {
	s := authStack(t)
	ctx := context.Background()
	for _, tenant := range []string{"", "acme", "globex"} {
		if _, err := s.log.Append(ctx, sextant.AuditEvent{Kind: sextant.AuditAdmin, Tenant: tenant, Payload: map[string]string{"note": "t=" + tenant}}); err != nil {
			t.Fatal(err)
		}
	}
	sec := s.keys[sextant.RoleSecurity]
	status, body := send(t, s.URL, sec, "GET", "/v1/audit", "")
	rep, err := audit.VerifyExport(ctx, bytes.NewReader(body), audit.VerifyOptions{})
	if status != 200 || err != nil || !rep.OK() || rep.Records != 3 {
		t.Fatalf("operator export: %d %+v %v\n%s", status, rep, err, body)
	}
	acmeSec, _ := s.key(t, "acme", sextant.RoleSecurity)
	status, body = send(t, s.URL, acmeSec, "GET", "/v1/audit?kind=admin", "")
	if status != 200 || strings.Count(string(body), `"type":"record"`) != 1 || !strings.Contains(string(body), `"t=acme"`) {
		t.Fatalf("acme export: %d\n%s", status, body)
	}
	for _, path := range []string{"/v1/audit?kind=Bad!", "/v1/audit?since=soon", "/v1/audit?tenant=x"} {
		if st := s.call(t, sec, "GET", path, "", nil); st != 400 {
			t.Errorf("%s: %d; want 400", path, st)
		}
	}
	var v web.AuditVerification
	if st := s.call(t, acmeSec, "POST", "/v1/audit/verify", "", &v); st != 200 || !v.OK || v.Records != 3 || v.Problem != nil {
		t.Fatalf("verify: %d %+v", st, v)
	}
}

func TestAdminQuarantine(t *testing.T) {
	s := authStack(t)
	ctx := context.Background()
	for _, q := range []sextant.Quarantine{{DocumentID: "doc-a", Tenant: "acme", ChunkID: "doc-a#0", Score: 0.9, Reason: "indirect injection"},
		{DocumentID: "doc-g", Tenant: "globex", ChunkID: "doc-g#0", Score: 0.8, Reason: "indirect injection"}} {
		if err := s.store.Quarantine(ctx, &q); err != nil {
			t.Fatal(err)
		}
	}
	acmeSec, acmeKey := s.key(t, "acme", sextant.RoleSecurity)
	var list web.List[web.Quarantined]
	if st := s.call(t, acmeSec, "GET", "/v1/quarantine", "", &list); st != 200 || len(list.Data) != 1 || list.Data[0].Document != "doc-a" {
		t.Fatalf("acme quarantine: %d %+v", st, list.Data)
	}
	if st := s.call(t, s.keys[sextant.RoleSecurity], "GET", "/v1/quarantine", "", &list); st != 200 || len(list.Data) != 2 {
		t.Fatalf("operator quarantine: %d %+v", st, list.Data)
	}
	if st := s.call(t, acmeSec, "POST", "/v1/quarantine/doc-g/release", "", nil); st != 404 {
		t.Errorf("acme releasing globex's document: %d; want 404", st)
	}
	var q web.Quarantined
	if st := s.call(t, acmeSec, "POST", "/v1/quarantine/doc-a/release", `{"note":"reviewed: a quoted example"}`, &q); st != 200 ||
		q.ReleasedAt == nil || q.ReleasedBy != acmeKey.ID {
		t.Fatalf("release: %d %+v", st, q)
	}
	if st := s.call(t, acmeSec, "GET", "/v1/quarantine", "", &list); st != 200 || len(list.Data) != 0 {
		t.Fatalf("after release: %+v", list.Data)
	}
	if st := s.call(t, acmeSec, "GET", "/v1/quarantine?all=true", "", &list); st != 200 || len(list.Data) != 1 || list.Data[0].Note == "" {
		t.Fatalf("history: %+v", list.Data)
	}
	rel := findAudit(s.auditLog(t), `"action":"release"`, `"document":"doc-a"`)
	if len(rel) != 1 || rel[0].Actor != acmeKey.ID || rel[0].Kind != sextant.AuditPolicy || rel[0].Tenant != "acme" {
		t.Fatalf("release record: %+v", rel)
	}
}

func TestAdminAssistantsAndCache(t *testing.T) {
	s := authStack(t)
	var list web.List[web.AssistantInfo]
	if st := s.call(t, s.keys[sextant.RoleAIEngineer], "GET", "/v1/assistants", "", &list); st != 200 || len(list.Data) != 2 ||
		list.Data[0].Name != "sextant" || !list.Data[0].Default || list.Data[0].Template != "answer" || len(list.Data[0].TemplateHash) != 64 {
		t.Fatalf("assistants: %d %+v", st, list.Data)
	}
	var purge struct {
		Enabled bool
		Purged  int
	}
	if st := s.call(t, s.keys[sextant.RoleLLMOps], "POST", "/v1/cache/purge", "", &purge); st != 200 || purge.Enabled {
		t.Fatalf("purge without a cache: %d %+v", st, purge)
	}
	if r := findAudit(s.auditLog(t), `"action":"cache.purge"`); len(r) != 1 || r[0].Actor != s.keyIDs[sextant.RoleLLMOps] {
		t.Fatalf("purge record: %+v", r)
	}
}

// Answers are read and replayed by their asker, and by an auditor of
// their tenant; nobody else learns they exist.
func TestAdminAnswers(t *testing.T) {
	s := authStack(t)
	askerKey, asker := s.key(t, "", sextant.RoleApp) // the fixtures are the default tenant's
	otherKey, _ := s.key(t, "", sextant.RoleApp)
	auditorKey := s.keys[sextant.RoleSecurity]
	acmeAuditor, _ := s.key(t, "acme", sextant.RoleSecurity)
	var a web.Answer
	if st := s.call(t, askerKey, "POST", "/v1/ask", `{"question":"`+rotationQuestion+`"}`, &a); st != 200 || a.ID == "" {
		t.Fatalf("ask: %d %+v", st, a)
	}
	var got web.StoredAnswer
	if st := s.call(t, askerKey, "GET", "/v1/answers/"+a.ID, "", &got); st != 200 || got.Answer.Answer != a.Answer ||
		got.Principal != asker.ID || got.Tenant != "" || len(got.Sources) != len(a.Sources) || len(a.Sources) == 0 {
		t.Fatalf("get own answer: %d %+v", st, got)
	}
	for _, c := range []struct {
		key, method, path string
		want              int
	}{
		{otherKey, "GET", "/v1/answers/" + a.ID, 404},
		{otherKey, "POST", "/v1/answers/" + a.ID + "/replay", 404},
		{acmeAuditor, "GET", "/v1/audit/answers/" + a.ID, 404},
		{acmeAuditor, "POST", "/v1/audit/answers/" + a.ID + "/replay", 404},
		{auditorKey, "GET", "/v1/audit/answers/" + a.ID, 200},
		{askerKey, "GET", "/v1/answers/ans_nope", 404},
	} {
		if st := s.call(t, c.key, c.method, c.path, "", nil); st != c.want {
			t.Errorf("%s %s: %d; want %d", c.method, c.path, st, c.want)
		}
	}
	// Unchanged: the replay is identical and every source still reads the same.
	var rp web.Replay
	if st := s.call(t, askerKey, "POST", "/v1/answers/"+a.ID+"/replay", "", &rp); st != 200 || !rp.Identical ||
		rp.Replayed != a.Answer || len(rp.Diff) != 0 || len(rp.Changed) != 0 || rp.TemplateHash != a.TemplateHash {
		t.Fatalf("replay: %d %+v", st, rp)
	}
	// The cited document is deleted: the replay still uses the recorded
	// text, and says the source is gone.
	if st := s.call(t, s.keys[sextant.RoleAdmin], "DELETE", "/v1/documents/"+a.Sources[0].DocumentID, "", nil); st != 200 {
		t.Fatalf("delete document: %d", st)
	}
	if st := s.call(t, auditorKey, "POST", "/v1/audit/answers/"+a.ID+"/replay", "", &rp); st != 200 || !rp.Identical ||
		len(rp.Changed) == 0 || !rp.Changed[0].Gone || rp.Changed[0].DocumentID != a.Sources[0].DocumentID {
		t.Fatalf("replay after the document was deleted: %d %+v", st, rp)
	}
	if del := findAudit(s.auditLog(t), `"action":"document.delete"`, a.Sources[0].DocumentID); len(del) != 1 || del[0].Actor != s.keyIDs[sextant.RoleAdmin] {
		t.Errorf("delete record: %+v", del)
	}
}
