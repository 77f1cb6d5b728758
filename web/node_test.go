package web_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sextant-ai/sextant/web"
)

// needTool returns the path of an external tool, skipping the test when it
// is absent — unless SEXTANT_INTEGRATION=1, when its absence fails.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("SEXTANT_INTEGRATION") == "1" {
			t.Fatalf("%s is required with SEXTANT_INTEGRATION=1: %v", name, err)
		}
		t.Skipf("%s not installed: %v", name, err)
	}
	return p
}

// TestOpenAINodeClient drives the API with the official openai npm
// package (testdata/npm, version pinned in package-lock.json): an
// assistant's answer plain and streamed with citations and the sources
// extension, the gateway plain and streamed, errors as the SDK's APIError
// classes, and the model list. npm ci runs when node_modules is missing.
func TestOpenAINodeClient(t *testing.T) {
	node := needTool(t, "node")
	npm := needTool(t, "npm")
	dir, err := filepath.Abs("testdata/npm")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "openai", "package.json")); err != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			if os.Getenv("SEXTANT_INTEGRATION") != "1" {
				t.Skipf("npm ci failed (registry unreachable?): %v\n%s", err, out)
			}
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}
	s := newStack(t, stackOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "client.mjs", s.URL+"/v1", rotationQuestion, "gpt-4o-mini")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OPENAI_API_KEY=", "OPENAI_BASE_URL=")
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("node client.mjs: %v\n%s\n%s", err, out, stderr)
	}
	type streamed struct {
		Content      string         `json:"content"`
		Roles        []string       `json:"roles"`
		Chunks       int            `json:"chunks"`
		FinishReason string         `json:"finish_reason"`
		Sources      []web.Source   `json:"sources"`
		Usage        map[string]any `json:"usage"`
	}
	type apiError struct {
		Status int    `json:"status"`
		Type   string `json:"type"`
		Code   string `json:"code"`
		Param  string `json:"param"`
		Name   string `json:"name"`
	}
	var got struct {
		Assistant struct {
			Content      string         `json:"content"`
			FinishReason string         `json:"finish_reason"`
			Sources      []web.Source   `json:"sources"`
			Usage        map[string]any `json:"usage"`
			Object       string         `json:"object"`
		} `json:"assistant"`
		RequestID       string   `json:"request_id"`
		AssistantStream streamed `json:"assistant_stream"`
		Gateway         struct {
			Content string         `json:"content"`
			Model   string         `json:"model"`
			Usage   map[string]any `json:"usage"`
		} `json:"gateway"`
		GatewayStream streamed `json:"gateway_stream"`
		UnknownModel  apiError `json:"unknown_model"`
		BadField      apiError `json:"bad_field"`
		Models        []string `json:"models"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("client output: %v\n%s", err, out)
	}
	a := got.Assistant
	if a.Object != "chat.completion" || a.FinishReason != "stop" || a.Usage["total_tokens"] == nil {
		t.Errorf("assistant answer: %+v", a)
	}
	checkSources(t, a.Content, a.Sources)
	if !strings.HasPrefix(got.RequestID, "req_") {
		t.Errorf("x-request-id %q", got.RequestID)
	}
	as := got.AssistantStream
	if as.Content != a.Content || strings.Join(as.Roles, ",") != "assistant" || as.FinishReason != "stop" || as.Usage == nil || as.Chunks < 4 {
		t.Errorf("assistant stream: %+v", as)
	}
	checkSources(t, as.Content, as.Sources)
	if got.Gateway.Content != "echo: hello gateway" || got.Gateway.Model != "gpt-4o-mini" || got.Gateway.Usage == nil {
		t.Errorf("gateway: %+v", got.Gateway)
	}
	gs := got.GatewayStream
	if gs.Content != "echo: hello gateway" || gs.FinishReason != "stop" || gs.Usage == nil {
		t.Errorf("gateway stream: %+v", gs)
	}
	if u := got.UnknownModel; u.Status != 404 || u.Code != "model_not_found" || u.Param != "model" || u.Name != "NotFoundError" {
		t.Errorf("unknown model error: %+v", u)
	}
	if b := got.BadField; b.Status != 400 || b.Param != "messages[1].bogus" || b.Name != "BadRequestError" {
		t.Errorf("unknown field error: %+v", b)
	}
	if strings.Join(got.Models, ",") != "sextant,remote,gpt-4o-mini,house-model" {
		t.Errorf("models %v", got.Models)
	}
}
