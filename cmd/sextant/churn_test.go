package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// writeChurnCSV writes a synthetic customer table: churn depends on plan,
// tenure and autopay; the offer halves churn on the basic plan.
func writeChurnCSV(t *testing.T, path string, n int, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	var b strings.Builder
	b.WriteString("id,plan,tenure,monthly,autopay,offer,churned\n")
	for i := range n {
		plan := []string{"basic", "family", "premium"}[r.IntN(3)]
		tenure := r.IntN(72)
		autopay, offer := r.IntN(2) == 1, r.IntN(2) == 1
		z := -1 - 0.05*float64(tenure)
		if plan == "basic" {
			z += 1.5
		}
		if !autopay {
			z += 0.8
		}
		p := 1 / (1 + mathExp(-z))
		if offer && plan == "basic" {
			p /= 2
		}
		churned := "no"
		if r.Float64() < p {
			churned = "yes"
		}
		fmt.Fprintf(&b, "c%d,%s,%d,%.2f,%t,%t,%s\n", i, plan, tenure, 20+r.Float64()*80, autopay, offer, churned)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mathExp(x float64) float64 {
	// A few terms are plenty for a synthetic label.
	s, term := 1.0, 1.0
	for k := 1; k < 30; k++ {
		term *= x / float64(k)
		s += term
	}
	return s
}

func runChurnCLI(t *testing.T, dir string, stdin io.Reader, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string {
		if k == "SEXTANT_DATA" {
			return dir
		}
		return ""
	}
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	err := run(context.Background(), args, getenv, stdin, &out, &errb)
	return out.String(), errb.String(), err
}

func TestChurnCLI(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "customers.csv")
	writeChurnCSV(t, data, 1500, 1)
	schema := filepath.Join(dir, "schema.yaml")

	out, _, err := runChurnCLI(t, dir, nil, "churn", "train", "--data", data, "--target", "churned", "--id", "id",
		"--drop", "offer", "--folds", "3", "--write-schema", schema, "--promote", "--offer-cost", "10", "--customer-value", "200", "--save-rate", "0.3")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"inferred schema", "plan", "categorical", "boolean", "pooled", "reliability", "feature importance", "registered model v1 (production)"} {
		if !strings.Contains(out, want) {
			t.Fatalf("train output lacks %q:\n%s", want, out)
		}
	}
	out, _, err = runChurnCLI(t, dir, nil, "churn", "train", "--data", data, "--schema", schema, "--folds", "3", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var trained struct {
		Model struct{ ID, Stage string }
		CV    struct{ Pooled struct{ AUC float64 } }
	}
	if err := json.Unmarshal([]byte(out), &trained); err != nil || trained.Model.ID != "v2" || trained.Model.Stage != "candidate" || trained.CV.Pooled.AUC < 0.7 {
		t.Fatalf("train --json: %+v %v\n%s", trained, err, out)
	}

	out, _, err = runChurnCLI(t, dir, nil, "churn", "models", "--json")
	var list []struct{ ID, Stage string }
	if err != nil || json.Unmarshal([]byte(out), &list) != nil || len(list) != 2 || list[0].Stage != "production" {
		t.Fatalf("models: %v %s", err, out)
	}

	// Score from standard input and push risky customers to a fake CRM.
	var pushed atomic.Int64
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Customers []json.RawMessage }
		json.NewDecoder(r.Body).Decode(&body)
		if r.Header.Get("Idempotency-Key") == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		pushed.Add(int64(len(body.Customers)))
	}))
	defer crm.Close()
	in, _ := os.ReadFile(data)
	out, errOut, err := runChurnCLI(t, dir, bytes.NewReader(in), "churn", "score", "-", "--reasons", "2", "--webhook", crm.URL, "--risk", "0.3")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1501 || lines[0] != "id,probability,reasons,error" || !strings.HasPrefix(lines[1], "c0,") {
		t.Fatalf("score output: %d lines, first %q", len(lines), lines[0])
	}
	risky := 0
	for _, l := range lines[1:] {
		var p float64
		fmt.Sscanf(strings.Split(l, ",")[1], "%g", &p)
		if p >= 0.3 {
			risky++
		}
	}
	if int(pushed.Load()) != risky || risky == 0 || !strings.Contains(errOut, fmt.Sprintf("%d customers pushed", risky)) {
		t.Fatalf("pushed %d customers, %d scored at or above 0.3; stderr %q", pushed.Load(), risky, errOut)
	}

	out, _, err = runChurnCLI(t, dir, nil, "churn", "drift")
	if err != nil || !strings.Contains(out, "model v1: 1500 rows compared") || !strings.Contains(out, "0 alert(s)") {
		t.Fatalf("drift: %v\n%s", err, out)
	}
	out, _, err = runChurnCLI(t, dir, nil, "churn", "drift", "--metrics")
	if err != nil || !strings.Contains(out, `sextant_churn_psi{model="v1",feature="score"}`) {
		t.Fatalf("drift --metrics: %v\n%s", err, out)
	}

	if out, _, err = runChurnCLI(t, dir, nil, "churn", "promote", "v2"); err != nil || !strings.Contains(out, "v2 is now in production") {
		t.Fatalf("promote: %v %s", err, out)
	}
	if out, _, err = runChurnCLI(t, dir, nil, "churn", "rollback"); err != nil || !strings.Contains(out, "model v1 is in production again") {
		t.Fatalf("rollback: %v %s", err, out)
	}
	if _, _, err = runChurnCLI(t, dir, nil, "churn", "rollback"); err == nil || exitCode(err) != 1 {
		t.Fatalf("second rollback: %v", err)
	}

	out, _, err = runChurnCLI(t, dir, nil, "churn", "uplift", "--data", data, "--target", "churned", "--treatment", "offer", "--id", "id", "--folds", "3", "--json")
	var up struct {
		Treated, Control int
		AtK              []struct{ Pct float64 } `json:"at_k"`
	}
	if err != nil || json.Unmarshal([]byte(out), &up) != nil || up.Treated+up.Control != 1500 || len(up.AtK) != 5 {
		t.Fatalf("uplift: %v\n%s", err, out)
	}
}

func TestChurnCLIUsageErrors(t *testing.T) {
	dir := t.TempDir()
	cases := [][]string{
		{"churn"},
		{"churn", "fly"},
		{"churn", "train", "--data", "x.csv"},
		{"churn", "score"},
		{"churn", "promote"},
		{"churn", "uplift", "--data", "x.csv", "--target", "y"},
		{"bench", "churn", "--data", "x.csv"},
	}
	for _, args := range cases {
		if _, _, err := runChurnCLI(t, dir, nil, args...); exitCode(err) != 2 {
			t.Errorf("%v: error %v, want a usage error (exit 2)", args, err)
		}
	}
	if _, _, err := runChurnCLI(t, dir, nil, "churn", "score", "in.csv"); err == nil || !strings.Contains(err.Error(), "no production churn model") {
		t.Errorf("score without a model: %v", err)
	}
}

func TestBenchChurnJSON(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "customers.csv")
	writeChurnCSV(t, data, 800, 2)
	out, _, err := runChurnCLI(t, dir, nil, "bench", "churn", "--data", data, "--target", "churned", "--drop", "id,offer",
		"--folds", "3", "--score-seconds", "0.05", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]float64
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"auc", "brier", "ece", "folds", "logloss", "pr_auc", "rows", "score_rows_per_s", "train_seconds"}
	if !slices.Equal(keys, want) {
		t.Fatalf("keys %v, want %v", keys, want)
	}
	if m["rows"] != 800 || m["folds"] != 3 || m["auc"] < 0.6 || m["score_rows_per_s"] <= 0 {
		t.Fatalf("figures %v", m)
	}
}

// TestBenchChurnPeerScript runs bench/churn_peer.py on sextant's JSON line
// and checks the side-by-side table. It needs Debian's python3-xgboost,
// python3-sklearn and python3-numpy; it skips without them unless
// SEXTANT_INTEGRATION=1.
func TestBenchChurnPeerScript(t *testing.T) {
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		python = "python3"
	}
	if err := exec.Command(python, "-c", "import xgboost, sklearn, numpy").Run(); err != nil {
		if os.Getenv("SEXTANT_INTEGRATION") == "1" {
			t.Fatalf("python3-xgboost/python3-sklearn/python3-numpy missing (%v) and SEXTANT_INTEGRATION=1", err)
		}
		t.Skipf("python3-xgboost or python3-sklearn not installed: %v", err)
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "customers.csv")
	writeChurnCSV(t, data, 800, 3)
	args := []string{"--data", data, "--target", "churned", "--drop", "id,offer", "--folds", "3", "--seed", "4"}
	out, _, err := runChurnCLI(t, dir, nil, append([]string{"bench", "churn", "--json", "--score-seconds", "0.05"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	js := filepath.Join(dir, "sextant.json")
	if err := os.WriteFile(js, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, append([]string{"../../bench/churn_peer.py", "--sextant-json", js, "--score-seconds", "0.05"}, args...)...)
	table, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, table)
	}
	text := string(table)
	for _, want := range []string{"sextant      xgboost      sklearn", "auc ", "pr_auc", "logloss", "brier", "ece", "train_seconds", "score_rows_per_s", "sx/xgb"} {
		if !strings.Contains(text, want) {
			t.Fatalf("peer table lacks %q:\n%s", want, text)
		}
	}
	// The peers' AUC on this easy data must be sane, and the sextant
	// column must be the JSON we passed.
	var sx map[string]float64
	json.Unmarshal([]byte(out), &sx)
	for _, l := range strings.Split(text, "\n") {
		if f := strings.Fields(l); len(f) >= 4 && f[0] == "auc" {
			var s, x, k float64
			fmt.Sscan(f[1], &s)
			fmt.Sscan(f[2], &x)
			fmt.Sscan(f[3], &k)
			if math.Abs(s-sx["auc"]) > 1e-4 || x < 0.6 || k < 0.6 {
				t.Fatalf("auc row %q, sextant JSON auc %v", l, sx["auc"])
			}
		}
	}
}

func TestChurnCLIWithSources(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(7, 7))
	var cust, usage, tickets strings.Builder
	cust.WriteString("id,plan,churned\n")
	usage.WriteString("id,day,minutes\n")
	tickets.WriteString("id,opened,body\n")
	for i := range 600 {
		// Customers who stopped using the service and complained leave.
		active := r.IntN(2) == 1
		angry := r.IntN(3) == 0
		churned := "no"
		if (!active && r.Float64() < 0.7) || (angry && r.Float64() < 0.5) {
			churned = "yes"
		}
		fmt.Fprintf(&cust, "u%d,%s,%s\n", i, []string{"a", "b"}[r.IntN(2)], churned)
		days := 5
		if active {
			days = 25
		}
		for d := range days {
			fmt.Fprintf(&usage, "u%d,2024-03-%02d,%d\n", i, 31-d, 10+r.IntN(50))
		}
		if angry {
			fmt.Fprintf(&tickets, "u%d,2024-03-20,terrible outage again and I am furious\n", i)
		} else if r.IntN(2) == 0 {
			fmt.Fprintf(&tickets, "u%d,2024-03-15,thanks for the quick help\n", i)
		}
	}
	files := map[string]string{"c.csv": cust.String(), "usage.csv": usage.String(), "tickets.csv": tickets.String()}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	out, _, err := runChurnCLI(t, dir, nil, "churn", "train", "--data", p("c.csv"), "--target", "churned", "--id", "id", "--folds", "3",
		"--source", "usage="+p("usage.csv"), "--source", "tickets="+p("tickets.csv"), "--text", "tickets=body", "--windows", "14,30", "--promote")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"feature assembly: 2 source(s) joined on id as of 2024-03-31", "usage_count_14d", "tickets_sentiment_30d", "registered model v1"} {
		if !strings.Contains(out, want) {
			t.Fatalf("train output lacks %q:\n%s", want, out)
		}
	}
	if _, _, err := runChurnCLI(t, dir, nil, "churn", "score", p("c.csv")); err == nil || !strings.Contains(err.Error(), "source") {
		t.Fatalf("scoring without the sources: %v", err)
	}
	out, _, err = runChurnCLI(t, dir, nil, "churn", "score", p("c.csv"), "--source", "usage="+p("usage.csv"), "--source", "tickets="+p("tickets.csv"), "--text", "tickets=body")
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 601 {
		t.Fatalf("%d output lines", len(lines))
	}
}
