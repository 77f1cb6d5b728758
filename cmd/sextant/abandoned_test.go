package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A client that goes away mid-stream does not escape its budget: the
// request is booked from the admission estimate and the bytes already
// sent, marked estimated and unsuccessful, and its reservation is settled
// at that cost instead of $0.
func TestAbandonedStreamIsCharged(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"fake-model","choices":[{"index":0,"delta":{"role":"assistant","content":"Once upon a time"},"finish_reason":null}]}`+"\n\n")
		w.(http.Flusher).Flush()
		select { // the model keeps generating until the call is cancelled
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer up.Close()
	defer close(release)
	config := `
providers:
  - {name: up, type: openai, base_url: ` + up.URL + `/v1}
routes:
  - {match: fake-model, targets: [{provider: up}]}
prices:
  models:
    fake-model: {input: 1, output: 1}
budgets:
  keys:
    k1: {daily_usd: 5}
`
	srv, ops, data, _ := operatedServer(t, config, nil)
	req, _ := http.NewRequest("POST", srv.URL+"/v1/chat/completions",
		strings.NewReader(`{"model": "fake-model", "stream": true, "max_tokens": 100, "messages": [{"role": "user", "content": "tell me a long story"}]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer k1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.Contains(line, "Once upon a time") {
		t.Fatalf("first chunk: %q, %v", line, err)
	}
	resp.Body.Close() // the client goes away mid-stream

	// The record reaches the ledger once the handler has noticed.
	var rep struct {
		Lines []struct {
			Group    string  `json:"group"`
			Requests int64   `json:"requests"`
			OK       int64   `json:"succeeded"`
			CostUSD  float64 `json:"cost_usd"`
			In       int64   `json:"input_tokens"`
			Out      int64   `json:"output_tokens"`
		} `json:"lines"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := ops.ledger.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		out, errs, err := runCLI(t, nil, "usage", "--data", data, "--by", "key", "--json")
		if err != nil {
			t.Fatalf("%v\n%s", err, errs)
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if len(rep.Lines) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(rep.Lines) != 1 {
		t.Fatalf("ledger lines %+v, want the abandoned request", rep.Lines)
	}
	l := rep.Lines[0]
	if l.Group != "k1" || l.Requests != 1 || l.OK != 0 || l.In == 0 || l.Out == 0 || l.CostUSD <= 0 {
		t.Errorf("abandoned request booked as %+v; want one unsuccessful, estimated, priced request", l)
	}
	// The budget holds what the ledger says.
	var spent float64
	for _, b := range ops.budgetStats() {
		if b.Name == "key:k1:daily" {
			spent = b.SpentUSD
		}
	}
	if spent <= 0 || spent < l.CostUSD*0.999 || spent > l.CostUSD*1.001 {
		t.Errorf("budget spent %v, ledger cost %v: a disconnect must not settle at $0", spent, l.CostUSD)
	}
}
