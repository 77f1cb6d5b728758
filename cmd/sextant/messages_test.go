package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// POST /v1/messages is a spending route: the key's rate limit refuses it
// with 429 in Anthropic's error shape with Retry-After, and what it
// answered is priced into the usage ledger.
func TestMessagesAdmissionAndLedger(t *testing.T) {
	const config = `
prices:
  models:
    extractive: {input: 1, output: 1}
rate_limits:
  keys:
    k3: {requests_per_minute: 2}
`
	srv, ops, data, _ := operatedServer(t, config, nil)
	send := func(question string) (*http.Response, []byte) {
		t.Helper()
		body := `{"model": "sextant", "max_tokens": 400, "messages": [{"role": "user", "content": "` + question + `"}]}`
		req, _ := http.NewRequest("POST", srv.URL+"/v1/messages", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer k3")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	for i, q := range []string{"how is PDF text extracted?", "which formats can be ingested?"} {
		if resp, b := send(q); resp.StatusCode != 200 || !strings.Contains(string(b), `"type":"message"`) {
			t.Fatalf("request %d: %s %s", i, resp.Status, b)
		}
	}
	resp, b := send("how is PDF text extracted?")
	var e struct {
		Type  string `json:"type"`
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &e); err != nil || resp.StatusCode != 429 || e.Type != "error" || e.Error.Type != "rate_limit_error" ||
		e.Error.Message == "" || resp.Header.Get("Retry-After") == "" {
		t.Errorf("over the limit: %s, Retry-After %q: %s", resp.Status, resp.Header.Get("Retry-After"), b)
	}

	if err := ops.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	out, errs, err := runCLI(t, nil, "usage", "--data", data, "--by", "key", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, errs)
	}
	var rep struct {
		Lines []struct {
			Group    string  `json:"group"`
			Requests int64   `json:"requests"`
			CostUSD  float64 `json:"cost_usd"`
			In       int64   `json:"input_tokens"`
			Out      int64   `json:"output_tokens"`
		} `json:"lines"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	found := false
	for _, l := range rep.Lines {
		if l.Group == "k3" {
			found = true
			if l.Requests != 2 || l.In == 0 || l.Out == 0 || !near(l.CostUSD, float64(l.In+l.Out)/1e6) {
				t.Errorf("k3 ledger line %+v: want 2 requests with their tokens priced at $1 per million", l)
			}
		}
	}
	if !found {
		t.Errorf("no ledger line for k3: %s", out)
	}
}
