package main

import (
	"context"
	"slices"
	"time"

	"github.com/sextant-ai/sextant/eval"
	"github.com/sextant-ai/sextant/rag"
)

// onlineArm is the "online evaluation on" side of bench answer: a pipeline
// whose Done hook hands every answer to an eval.Online, as a server
// configured with eval.online does, and the latencies measured through it.
type onlineArm struct {
	sample float64
	online *eval.Online
	p      *rag.Pipeline
	total  []time.Duration // whole answer, hook included
	hook   []time.Duration // the Done hook alone
}

func newOnlineArm(sample float64) *onlineArm {
	return &onlineArm{sample: sample, online: eval.NewOnline(eval.OnlineOptions{Sample: sample})}
}

// pipeline builds a fresh pipeline (fresh cache) for the next pass.
func (a *onlineArm) pipeline(s *askSetup) error {
	o := pipelineOptions(s, nil)
	o.Hooks.Done = append(append([]func(context.Context, *rag.Result){}, o.Hooks.Done...), func(_ context.Context, r *rag.Result) {
		t0 := time.Now()
		ans := r.Answer
		a.online.Offer(&ans)
		a.hook = append(a.hook, time.Since(t0))
	})
	p, err := rag.New(o)
	a.p = p
	return err
}

func (a *onlineArm) ask(ctx context.Context, assistant, question string) error {
	t0 := time.Now()
	_, err := a.p.Ask(ctx, &rag.Request{Assistant: assistant, Question: question})
	a.total = append(a.total, time.Since(t0))
	return err
}

// report drains the evaluator and compares with off, the whole-answer
// latencies of the plain pipeline over the same questions.
func (a *onlineArm) report(ctx context.Context, off []time.Duration) (*onlineBench, error) {
	if err := a.online.Close(ctx); err != nil {
		return nil, err
	}
	st := a.online.Stats()
	hook := slices.Clone(a.hook)
	slices.Sort(hook)
	r := &onlineBench{Sample: a.sample, OffP50: percentileMS(off, 50), OffP95: percentileMS(off, 95),
		OnP50: percentileMS(a.total, 50), OnP95: percentileMS(a.total, 95),
		Sampled: st.Sampled, Scored: st.Scored, Dropped: st.Dropped}
	if len(hook) > 0 {
		r.HookP50 = float64(hook[len(hook)/2].Nanoseconds()) / 1000
		r.HookMax = float64(hook[len(hook)-1].Nanoseconds()) / 1000
	}
	return r, nil
}
