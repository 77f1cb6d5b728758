package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm/driver"
)

// Forward passes a request body through to the provider that model routes
// to, for the HTTP API's gateway mode, without decoding it into sextant
// values. A target that renames the model gets the body's top-level "model"
// field rewritten (the only time the body is parsed).
//
// Retries and fallback happen only on answers that carry nothing yet for
// the client: a retryable status (429, 5xx...) or no response at all; the
// retried response's body is discarded. Any other response, success or
// error, is returned unread for the caller to relay and close.
//
// The returned body is read after Forward returns, so the upstream request
// runs under its own context: derived from ctx (a client disconnect still
// reaches the upstream), bounded by the call timeout, and ended when the
// body is closed.
func (m *Model) Forward(ctx context.Context, model string, req *driver.ForwardRequest) (*http.Response, error) {
	c := Call{Kind: "forward", Model: model}
	start := m.opts.Now()
	var res *http.Response
	bodyCtx, cancelBody := context.WithTimeout(ctx, m.opts.Timeout)
	c.Err = m.run(ctx, &c, model, func(_ context.Context, t Target) (bool, error) {
		ctx := bodyCtx
		f, ok := m.opts.Providers[t.Provider].(driver.Forwarder)
		if !ok {
			f, ok = m.opts.Embedders[t.Provider].(driver.Forwarder)
		}
		if !ok {
			return false, sextant.Errorf(sextant.EINVALID, "provider %q cannot forward requests (gateway mode needs an OpenAI-compatible provider)", t.Provider)
		}
		r := *req
		if t.Model != "" && t.Model != model && len(r.Body) > 0 {
			body, err := renameModel(r.Body, t.Model)
			if err != nil {
				return false, err
			}
			r.Body = body
		}
		out, err := f.Forward(ctx, &r)
		if err != nil {
			return false, err
		}
		if ue := retryableStatus(t.Provider, out, m.opts.Now); ue != nil {
			io.Copy(io.Discard, io.LimitReader(out.Body, 64<<10))
			out.Body.Close()
			return false, driver.Classify(ue)
		}
		res = out
		return false, nil
	})
	c.Duration = m.opts.Now().Sub(start)
	if m.opts.Hooks.Done != nil {
		m.opts.Hooks.Done(c)
	}
	if c.Err != nil {
		cancelBody()
		return nil, c.Err
	}
	res.Body = &cancelOnClose{ReadCloser: res.Body, cancel: cancelBody}
	return res, nil
}

// cancelOnClose ends a forwarded request's context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// retryableStatus returns an UpstreamError for a response worth retrying:
// 408, 429 and 5xx. The body is not parsed, so a 429 for a spent quota is
// retried like any other before its error is returned.
func retryableStatus(provider string, res *http.Response, now func() time.Time) *driver.UpstreamError {
	s := res.StatusCode
	if s != http.StatusTooManyRequests && s != http.StatusRequestTimeout && s < 500 {
		return nil
	}
	ue := &driver.UpstreamError{Provider: provider, Status: s, Message: fmt.Sprintf("upstream answered %d", s)}
	ue.RetryAfter, _ = driver.ParseRetryAfter(res.Header, now())
	return ue
}

// renameModel rewrites the top-level "model" of a JSON object body.
func renameModel(body []byte, model string) ([]byte, error) {
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil {
		return nil, sextant.Errorf(sextant.EINVALID, "request body is not a JSON object: %v", err)
	}
	name, _ := json.Marshal(model)
	obj["model"] = name
	return json.Marshal(obj)
}
