package driver_test

import (
	"context"
	"testing"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/llm/driver"
)

func TestStartUsage(t *testing.T) {
	driver.ReportStartUsage(context.Background(), sextant.Usage{InputTokens: 1}) // no hook: nothing happens
	var got []sextant.Usage
	ctx := driver.WithStartUsage(context.Background(), func(u sextant.Usage) { got = append(got, u) })
	ctx, cancel := context.WithCancel(ctx) // survives derived contexts
	defer cancel()
	driver.ReportStartUsage(ctx, sextant.Usage{InputTokens: 9, CachedInputTokens: 4})
	if len(got) != 1 || got[0] != (sextant.Usage{InputTokens: 9, CachedInputTokens: 4}) {
		t.Errorf("reported %+v", got)
	}
}
