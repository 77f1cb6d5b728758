package web

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/sextant-ai/sextant"
)

// ApprovalQueue is the human-approval queue: requests and tool calls the
// guardrails held for a person's decision. *rag.Guardrails satisfies it;
// it enforces who may see and decide what (tenant scope; the requester
// sees their own; deciding needs sextant.PermApprovalsDecide).
type ApprovalQueue interface {
	// Approvals lists p's tenant's approvals (only p's own without the
	// approvals permission), newest first.
	Approvals(ctx context.Context, p *sextant.Principal, f sextant.ApprovalFilter) ([]sextant.Approval, error)
	// Approval returns one approval as p may see it, or ENOTFOUND.
	Approval(ctx context.Context, p *sextant.Principal, id string) (*sextant.Approval, error)
	// Decide approves or rejects a pending approval as p, recording who
	// and when (ECONFLICT when it was decided already).
	Decide(ctx context.Context, p *sextant.Principal, id string, approve bool, note string) (*sextant.Approval, error)
}

// Approval is the JSON form of an approval: GET /v1/approvals/{id}, the
// items of GET /v1/approvals, and the "approval" extension of a chat
// completion or answer that is waiting for one.
type Approval struct {
	ID        string     `json:"id"`
	Object    string     `json:"object"` // "approval"
	Kind      string     `json:"kind"`   // "tool_call" or "request"
	Status    string     `json:"status"` // "pending", "approved" or "rejected"
	Principal string     `json:"principal"`
	Assistant string     `json:"assistant"`
	Model     string     `json:"model,omitempty"`
	SessionID string     `json:"session_id,omitempty"`
	AnswerID  string     `json:"answer_id,omitempty"`
	Tool      string     `json:"tool,omitempty"`
	CallID    string     `json:"call_id,omitempty"`
	Arguments string     `json:"arguments,omitempty"`
	Question  string     `json:"question,omitempty"`
	Reason    string     `json:"reason"`
	Rule      string     `json:"rule,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	DecidedAt *time.Time `json:"decided_at,omitempty"`
	DecidedBy string     `json:"decided_by,omitempty"`
	Note      string     `json:"note,omitempty"`
	UsedAt    *time.Time `json:"used_at,omitempty"`
}

// ApprovalList is the body of GET /v1/approvals.
type ApprovalList struct {
	Object  string     `json:"object"` // "list"
	Data    []Approval `json:"data"`
	HasMore bool       `json:"has_more"`
}

// ApprovalDecision is the (optional) body of POST
// /v1/approvals/{id}/approve and /reject.
type ApprovalDecision struct {
	Note string `json:"note,omitempty"`
}

// ApprovalStatus is the "approval" extension of a chat completion (and of
// POST /v1/ask's answer) whose request or tool calls wait for a person:
// status "pending" while any does, "rejected" when the request was
// rejected. The message content says the same in words, so a client
// that knows nothing of the extension still shows it.
type ApprovalStatus struct {
	Status string     `json:"status"`
	Items  []Approval `json:"items"`
}

func approvalJSON(a *sextant.Approval) Approval {
	out := Approval{ID: a.ID, Object: "approval", Kind: a.Kind, Status: string(a.Status), Principal: a.Principal,
		Assistant: a.Assistant, Model: a.Model, SessionID: a.SessionID, AnswerID: a.AnswerID, Tool: a.Tool,
		CallID: a.CallID, Arguments: a.Arguments, Question: a.Question, Reason: a.Reason, Rule: a.Rule,
		CreatedAt: a.CreatedAt, DecidedBy: a.DecidedBy, Note: a.Note}
	if !a.DecidedAt.IsZero() {
		t := a.DecidedAt
		out.DecidedAt = &t
	}
	if !a.UsedAt.IsZero() {
		t := a.UsedAt
		out.UsedAt = &t
	}
	return out
}

// approvalStatus is the extension for a result's approvals; nil when
// there are none.
func approvalStatus(as []sextant.Approval) *ApprovalStatus {
	if len(as) == 0 {
		return nil
	}
	st := &ApprovalStatus{Status: string(sextant.ApprovalApproved)}
	for i := range as {
		st.Items = append(st.Items, approvalJSON(&as[i]))
		switch as[i].Status {
		case sextant.ApprovalPending:
			st.Status = string(sextant.ApprovalPending)
		case sextant.ApprovalRejected:
			if st.Status != string(sextant.ApprovalPending) {
				st.Status = string(sextant.ApprovalRejected)
			}
		}
	}
	return st
}

func (s *Server) approvalQueue(w http.ResponseWriter) (ApprovalQueue, bool) {
	if s.opts.Approvals == nil {
		writeError(w, sextant.Errorf(sextant.EUNAVAILABLE, "no approval queue is configured on this server"))
		return nil, false
	}
	return s.opts.Approvals, true
}

// listApprovals serves GET /v1/approvals?status=pending&limit=N&before=ID.
func (s *Server) listApprovals(w http.ResponseWriter, r *http.Request) {
	q, ok := s.approvalQueue(w)
	if !ok {
		return
	}
	p := principal(r)
	params := r.URL.Query()
	for k := range params {
		switch k {
		case "status", "limit", "before":
		default:
			writeError(w, invalidParam(k, "unknown query parameter (want status, limit or before)"))
			return
		}
	}
	f := sextant.ApprovalFilter{Status: sextant.ApprovalStatus(params.Get("status")), Before: params.Get("before"), Limit: 100}
	switch f.Status {
	case "", sextant.ApprovalPending, sextant.ApprovalApproved, sextant.ApprovalRejected:
	default:
		writeError(w, invalidParam("status", "want pending, approved or rejected, got %q", f.Status))
		return
	}
	if v := params.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, invalidParam("limit", "want 1..1000, got %q", v))
			return
		}
		f.Limit = n
	}
	want := f.Limit
	f.Limit++ // one more tells whether there is a next page
	as, err := q.Approvals(r.Context(), &p, f)
	if err != nil {
		writeError(w, err)
		return
	}
	out := ApprovalList{Object: "list", Data: []Approval{}}
	if len(as) > want {
		as, out.HasMore = as[:want], true
	}
	for i := range as {
		out.Data = append(out.Data, approvalJSON(&as[i]))
	}
	writeJSON(w, http.StatusOK, out)
}

// getApproval serves GET /v1/approvals/{id}: the requester polls it.
func (s *Server) getApproval(w http.ResponseWriter, r *http.Request) {
	q, ok := s.approvalQueue(w)
	if !ok {
		return
	}
	p := principal(r)
	a, err := q.Approval(r.Context(), &p, r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, approvalJSON(a))
}

func (s *Server) approve(w http.ResponseWriter, r *http.Request) { s.decide(w, r, true) }
func (s *Server) reject(w http.ResponseWriter, r *http.Request)  { s.decide(w, r, false) }

// decide serves POST /v1/approvals/{id}/approve and /reject. The body,
// {"note": "..."}, is optional.
func (s *Server) decide(w http.ResponseWriter, r *http.Request, approve bool) {
	q, ok := s.approvalQueue(w)
	if !ok {
		return
	}
	var in ApprovalDecision
	if err := s.readOptionalJSON(w, r, &in); err != nil {
		writeError(w, err)
		return
	}
	p := principal(r)
	a, err := q.Decide(r.Context(), &p, r.PathValue("id"), approve, in.Note)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, approvalJSON(a))
}
