package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sextant-ai/sextant"
)

// The lifecycle of evaluation and red-team runs started over HTTP: each
// run has an id from the moment it starts, a status, and a cancel
// function, so DELETE /v1/evals/runs/{id} (and /v1/redteam/runs/{id}) can
// stop it. The table lives in memory: a completed evaluation run is in
// the store's history; a failed or cancelled one, and a red-team run's
// report, are kept here for the last maxEndedRuns runs so a client that
// started a background run can read how it ended.

// Run statuses.
const (
	RunRunning   = "running"
	RunCompleted = "completed"
	RunFailed    = "failed"    // an error stopped it (a budget, a model error, the time limit); Error says which
	RunCancelled = "cancelled" // DELETE stopped it, or the client that waited for it went away
)

// maxEndedRuns is how many ended runs the table remembers.
const maxEndedRuns = 32

// errRunCancelled is the cause a run's context is cancelled with by
// DELETE.
var errRunCancelled = errors.New("run cancelled by DELETE")

// runKind tells the table's two kinds of run apart.
type runKind string

const (
	kindEval    runKind = "eval"
	kindRedTeam runKind = "redteam"
)

// runState is one run the table knows.
type runState struct {
	id      string
	kind    runKind
	tenant  string // the starting key's tenant (red-team runs are per tenant)
	name    string // the suite (evaluation) or assistant (red team)
	started time.Time
	cancel  context.CancelCauseFunc
	stop    context.CancelFunc // releases the time limit's timer
	done    chan struct{}      // closed when the run has ended and released the slot

	// Guarded by runTable.mu.
	status  string
	err     string
	ended   time.Time
	redteam *RedTeamReport // a red-team run's report, once completed
}

// runTable is the server's runs in progress and recently ended.
type runTable struct {
	mu    sync.Mutex
	byID  map[string]*runState
	ended []string // ids of ended runs, oldest first
}

func newRunTable() *runTable { return &runTable{byID: map[string]*runState{}} }

func (t *runTable) add(st *runState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st.status = RunRunning
	t.byID[st.id] = st
}

// finish records how st ended and forgets the oldest ended runs beyond
// maxEndedRuns.
func (t *runTable) finish(st *runState, status string, err error, at time.Time, rt *RedTeamReport) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st.status, st.ended, st.redteam = status, at, rt
	if err != nil {
		st.err = sextant.ErrorMessage(err)
	}
	t.ended = append(t.ended, st.id)
	for len(t.ended) > maxEndedRuns {
		delete(t.byID, t.ended[0])
		t.ended = t.ended[1:]
	}
}

// get returns the run id of kind and a snapshot of its status, error and
// red-team report.
func (t *runTable) get(kind runKind, id string) (st *runState, status, errMsg string, rt *RedTeamReport, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st = t.byID[id]
	if st == nil || st.kind != kind {
		return nil, "", "", nil, false
	}
	return st, st.status, st.err, st.redteam, true
}

// running lists the runs of kind in progress.
func (t *runTable) running(kind runKind) []*runState {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*runState
	for _, st := range t.byID {
		if st.kind == kind && st.status == RunRunning {
			out = append(out, st)
		}
	}
	return out
}

// newEvalRunID returns an evaluation run id in the form the eval package
// gives runs of `sextant eval run` ("20260127-113512-3f9a"), so runs
// started over HTTP sort and read the same in the history.
func newEvalRunID(t time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return t.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

// runOutcome is how a run ended, from its error and its context's cause.
func runOutcome(ctx context.Context, err error) string {
	switch cause := context.Cause(ctx); {
	case err == nil:
		return RunCompleted
	case errors.Is(cause, errRunCancelled), errors.Is(cause, errServerStopping), errors.Is(cause, context.Canceled):
		return RunCancelled // by DELETE, the server stopping, or the waiting client going away
	}
	return RunFailed
}

// startRun takes the server's run slot for a run of kind and registers
// it: the returned context carries the run's time limit and its cancel
// function (DELETE), derived from parent. end must be called once the
// run is over, with its outcome; it frees the slot. ERATELIMIT when
// another run holds the slot.
func (s *Server) startRun(parent context.Context, kind runKind, id, tenant, name string) (context.Context, *runState, error) {
	select {
	case s.runSlot <- struct{}{}:
	default:
		return nil, nil, sextant.Errorf(sextant.ERATELIMIT, "another evaluation or red-team run is in progress on this server; retry when it is done, or cancel it (DELETE /v1/evals/runs/{id}, DELETE /v1/redteam/runs/{id})")
	}
	tctx, stop := context.WithTimeout(parent, s.evalTimeout())
	ctx, cancel := context.WithCancelCause(tctx)
	st := &runState{id: id, kind: kind, tenant: tenant, name: name, started: s.opts.Now(), cancel: cancel, stop: stop, done: make(chan struct{})}
	s.runs.add(st)
	return ctx, st, nil
}

// endRun records the run's outcome, frees the slot and returns the error
// a client waiting for the run is shown: a cancelled run is ECONFLICT
// naming the cancellation; a run over the time limit, EUNAVAILABLE.
func (s *Server) endRun(ctx context.Context, st *runState, err error, rt *RedTeamReport, what string) error {
	status := runOutcome(ctx, err)
	switch cause := context.Cause(ctx); {
	case status == RunCompleted:
	case errors.Is(cause, errRunCancelled):
		status = RunCancelled
		err = sextant.Errorf(sextant.ECONFLICT, "%s %s was cancelled (DELETE); the usage of the model calls it made stays booked", what, st.id)
	case errors.Is(cause, errServerStopping):
		status = RunCancelled
		err = sextant.Errorf(sextant.EUNAVAILABLE, "%s %s was cancelled: the server is shutting down; the usage of the model calls it made stays booked", what, st.id)
	case errors.Is(cause, context.DeadlineExceeded):
		status = RunFailed
		err = sextant.Errorf(sextant.EUNAVAILABLE, "the %s took longer than the server's %s limit; run large suites with the sextant CLI", what, s.evalTimeout())
	}
	s.runs.finish(st, status, err, s.opts.Now(), rt)
	st.cancel(nil)
	st.stop()
	<-s.runSlot
	close(st.done)
	return err
}

// cancelWait bounds how long DELETE waits for a cancelled run to stop; a
// run still going after it (a model call that does not honour its
// context) is answered 202 with status "running".
const cancelWait = 30 * time.Second

// cancelRun cancels the running run id of kind and waits (bounded by ctx
// and cancelWait) until it has ended and freed the slot. ENOTFOUND when
// the table does not know the run; ECONFLICT when it has already ended.
func (s *Server) cancelRun(ctx context.Context, kind runKind, id string) (*runState, error) {
	st, status, _, _, ok := s.runs.get(kind, id)
	if !ok {
		return nil, sextant.Errorf(sextant.ENOTFOUND, "no %s run %q in progress on this server", kind, id)
	}
	if status != RunRunning {
		return nil, sextant.Errorf(sextant.ECONFLICT, "%s run %s has already ended (%s)", kind, id, status)
	}
	st.cancel(errRunCancelled)
	t := time.NewTimer(cancelWait)
	defer t.Stop()
	select {
	case <-st.done:
	case <-t.C:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return st, nil
}

// errServerStopping is the cause StopRuns cancels runs with.
var errServerStopping = errors.New("the server is shutting down")

// StopRuns cancels the evaluation and red-team runs in progress — a
// background run outlives the request that started it — and waits until
// each has ended (status "cancelled", its model calls booked) or ctx is
// done, which it then returns. A server being shut down calls it after
// http.Server.Shutdown and before closing the store the runs write to.
func (s *Server) StopRuns(ctx context.Context) error {
	var runs []*runState
	for _, kind := range []runKind{kindEval, kindRedTeam} {
		runs = append(runs, s.runs.running(kind)...)
	}
	for _, st := range runs {
		st.cancel(errServerStopping)
	}
	for _, st := range runs {
		select {
		case <-st.done:
		case <-ctx.Done():
			return fmt.Errorf("stopping %s run %s: %w", st.kind, st.id, ctx.Err())
		}
	}
	return nil
}
