package sextant

import "time"

// ApprovalStatus is where an approval request stands.
type ApprovalStatus string

// Approval statuses. A pending approval becomes approved or rejected once,
// by a person holding PermApprovalsDecide; the decision is final.
const (
	ApprovalPending  ApprovalStatus = "pending"
	ApprovalApproved ApprovalStatus = "approved"
	ApprovalRejected ApprovalStatus = "rejected"
)

// Approval kinds: what waits for a decision.
const (
	// ApprovalToolCall is a tool call the model asked for that needs a
	// person's approval before it is handed to the caller (a tool marked
	// critical, or a policy rule's require_approval at the tool stage).
	ApprovalToolCall = "tool_call"
	// ApprovalRequest is a whole request a policy rule held for approval
	// at the input stage; once approved, the same request sent again by
	// the same caller is answered (once).
	ApprovalRequest = "request"
)

// Approval is a request or tool call held for a human decision: what was
// asked, by whom, why it needs approval, and — once decided — who decided
// and when. Text fields hold de-identified text only (personal data
// replaced by placeholders such as [EMAIL_1]), like everything Sextant
// stores.
type Approval struct {
	ID        string // "apr_" + a time-ordered random id
	Kind      string // ApprovalToolCall or ApprovalRequest
	Tenant    string // the requester's tenant; only this tenant sees it
	Principal string // Principal.ID of who asked
	Assistant string
	Model     string
	SessionID string // the conversation, when there is one
	AnswerID  string // the answer that produced it

	// Tool calls: the call as the model asked for it (arguments are the
	// model's JSON, de-identified).
	Tool      string
	CallID    string
	Arguments string

	// Requests: the question (de-identified) and the key that recognises
	// the same request sent again.
	Question string
	Key      string

	Reason string // why approval is needed, as shown to the caller
	Rule   string // the policy rule id, or the guard's reason ("tool.critical")

	Status    ApprovalStatus
	CreatedAt time.Time
	DecidedAt time.Time // zero while pending
	DecidedBy string    // Principal.ID of who decided
	Note      string    // the decider's comment
	UsedAt    time.Time // request approvals: when the approved request was answered; zero = not yet
}

// Pending reports whether a is still waiting for a decision.
func (a *Approval) Pending() bool { return a.Status == ApprovalPending }

// ApprovalFilter selects approvals to list. The zero value lists every
// approval of the default tenant, newest first.
type ApprovalFilter struct {
	Tenant    string         // the tenant (required scope: "" is the default tenant)
	Status    ApprovalStatus // "" = any status
	Principal string         // "" = anyone's
	Before    string         // ids lower than this (pagination, newest first); "" = from the newest
	Limit     int            // at most this many; 0 means 100, at most 1000
}
