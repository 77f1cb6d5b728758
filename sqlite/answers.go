package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sextant-ai/sextant"
	sqlitedrv "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// timing is the stored form of a stage timing.
type timing struct {
	Stage string `json:"stage"`
	NS    int64  `json:"ns"`
}

// storedSource and storedSentence fix the JSON names of what an answer
// stores, independent of Go field names.
type storedSource struct {
	N          int     `json:"n"`
	ChunkID    string  `json:"chunk_id"`
	DocumentID string  `json:"document_id"`
	Title      string  `json:"title,omitempty"`
	URI        string  `json:"uri,omitempty"`
	Section    string  `json:"section,omitempty"`
	Start      int     `json:"start"`
	End        int     `json:"end"`
	Text       string  `json:"text"`
	Quote      string  `json:"quote,omitempty"`
	Score      float64 `json:"score"`
}

type storedSentence struct {
	Start     int              `json:"start"`
	End       int              `json:"end"`
	Text      string           `json:"text"`
	Citations []int            `json:"citations,omitempty"`
	Supported bool             `json:"supported"`
	Support   float64          `json:"support"`
	Evidence  []storedEvidence `json:"evidence,omitempty"`
}

type storedEvidence struct {
	N     int     `json:"n"`
	Score float64 `json:"score"`
	Start int     `json:"start"`
	End   int     `json:"end"`
	Quote string  `json:"quote"`
}

// storedConversation is the stored form of an answer's chat request
// (column conversation, migration 0009).
type storedConversation struct {
	Messages   []storedMessage  `json:"messages,omitempty"`
	Tools      []storedTool     `json:"tools,omitempty"`
	ToolChoice string           `json:"tool_choice,omitempty"`
	ToolCalls  []storedToolCall `json:"tool_calls,omitempty"`
}

type storedMessage struct {
	Role       string           `json:"role"`
	Content    string           `json:"content"`
	Name       string           `json:"name,omitempty"`
	ToolCalls  []storedToolCall `json:"tool_calls,omitempty"`
	ToolCallID string           `json:"tool_call_id,omitempty"`
}

type storedTool struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Parameters  string `json:"parameters,omitempty"` // the JSON Schema's bytes, exactly as given
}

type storedToolCall struct {
	ID        string `json:"id,omitempty"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

func storedCalls(calls []sextant.ToolCall) []storedToolCall {
	if len(calls) == 0 {
		return nil
	}
	out := make([]storedToolCall, len(calls))
	for i, c := range calls {
		out[i] = storedToolCall(c)
	}
	return out
}

func toolCalls(calls []storedToolCall) []sextant.ToolCall {
	if len(calls) == 0 {
		return nil
	}
	out := make([]sextant.ToolCall, len(calls))
	for i, c := range calls {
		out[i] = sextant.ToolCall(c)
	}
	return out
}

// conversationJSON is the column value of c: NULL when there is none.
func conversationJSON(c *sextant.Conversation) (any, error) {
	if c == nil {
		return nil, nil
	}
	sc := storedConversation{ToolChoice: c.ToolChoice, ToolCalls: storedCalls(c.ToolCalls)}
	for _, m := range c.Messages {
		sc.Messages = append(sc.Messages, storedMessage{m.Role, m.Content, m.Name, storedCalls(m.ToolCalls), m.ToolCallID})
	}
	for _, t := range c.Tools {
		sc.Tools = append(sc.Tools, storedTool{t.Name, t.Description, string(t.Parameters)})
	}
	b, err := json.Marshal(sc)
	if err != nil {
		return nil, fmt.Errorf("encode conversation: %w", err)
	}
	return string(b), nil
}

func decodeConversation(s string) (*sextant.Conversation, error) {
	var sc storedConversation
	if err := json.Unmarshal([]byte(s), &sc); err != nil {
		return nil, err
	}
	c := &sextant.Conversation{ToolChoice: sc.ToolChoice, ToolCalls: toolCalls(sc.ToolCalls)}
	for _, m := range sc.Messages {
		c.Messages = append(c.Messages, sextant.Message{Role: m.Role, Content: m.Content, Name: m.Name,
			ToolCalls: toolCalls(m.ToolCalls), ToolCallID: m.ToolCallID})
	}
	for _, t := range sc.Tools {
		var params json.RawMessage
		if t.Parameters != "" {
			params = json.RawMessage(t.Parameters)
		}
		c.Tools = append(c.Tools, sextant.Tool{Name: t.Name, Description: t.Description, Parameters: params})
	}
	return c, nil
}

// PutAnswer stores a new answer and creates or advances its session, in
// one transaction. The answer must have an id, a session id and a turn;
// a second answer for the same (session, turn) or with the same id is
// refused with ECONFLICT.
func (db *DB) PutAnswer(ctx context.Context, a *sextant.Answer) error {
	switch {
	case a.ID == "":
		return sextant.Errorf(sextant.EINVALID, "sqlite: answer has no id")
	case a.SessionID == "":
		return sextant.Errorf(sextant.EINVALID, "sqlite: answer %s has no session id", a.ID)
	case a.Turn < 1:
		return sextant.Errorf(sextant.EINVALID, "sqlite: answer %s has turn %d; turns count from 1", a.ID, a.Turn)
	}
	chunkIDs := make([]string, len(a.Sources))
	srcs := make([]storedSource, len(a.Sources))
	for i, s := range a.Sources {
		chunkIDs[i] = s.ChunkID
		srcs[i] = storedSource{s.N, s.ChunkID, s.DocumentID, s.Title, s.URI, s.Section, s.Start, s.End, s.Text, s.Quote, s.Score}
	}
	sents := make([]storedSentence, len(a.Sentences))
	for i, s := range a.Sentences {
		ss := storedSentence{Start: s.Start, End: s.End, Text: s.Text, Citations: s.Citations, Supported: s.Supported, Support: s.Support}
		for _, e := range s.Evidence {
			ss.Evidence = append(ss.Evidence, storedEvidence(e))
		}
		sents[i] = ss
	}
	tims := make([]timing, len(a.Timings))
	for i, t := range a.Timings {
		tims[i] = timing{t.Stage, t.Duration.Nanoseconds()}
	}
	js := func(v any) string {
		b, _ := json.Marshal(v) // plain structs of strings and numbers: cannot fail
		return string(b)
	}
	created := a.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	var temp, seed any
	if a.Temperature != nil {
		temp = *a.Temperature
	}
	if a.Seed != nil {
		seed = *a.Seed
	}
	conv, err := conversationJSON(a.Conversation)
	if err != nil {
		return fmt.Errorf("sqlite: answer %s: %w", a.ID, err)
	}
	err = db.putAnswer(ctx, a, temp, seed, created, js(chunkIDs), js(srcs), js(sents), js(tims), conv)
	var de *sqlitedrv.Error
	if errors.As(err, &de) && de.Code()&0xff == sqlite3.SQLITE_CONSTRAINT {
		return &sextant.Error{Code: sextant.ECONFLICT, Op: "sqlite put answer",
			Message: fmt.Sprintf("answer %s or turn %d of session %s is already stored", a.ID, a.Turn, a.SessionID), Err: err}
	}
	return err
}

// putAnswer writes the session and answer rows in one transaction,
// with statements prepared once on the write connection: parsing the two
// INSERTs anew was a third of storing an answer.
func (db *DB) putAnswer(ctx context.Context, a *sextant.Answer, temp, seed any, created time.Time, chunkIDs, srcs, sents, tims string, conv any) error {
	const op = "put answer"
	st, err := db.answerStatements(ctx)
	if err != nil {
		return db.errorf(op, err)
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return db.errorf(op, err)
	}
	defer tx.Rollback()
	if _, err := tx.StmtContext(ctx, st.session).ExecContext(ctx,
		a.SessionID, a.Tenant, a.Principal, a.Assistant, a.Turn, created.UnixNano(), created.UnixNano()); err != nil {
		return db.errorf(op, err)
	}
	if _, err := tx.StmtContext(ctx, st.answer).ExecContext(ctx,
		a.ID, a.SessionID, a.Turn, a.Tenant, a.Principal, a.Assistant,
		a.Question, a.Query, a.Text, a.FinishReason, a.Refusal, a.Model, a.Served, a.Template, a.TemplateHash,
		temp, seed, a.MaxTokens, a.Usage.InputTokens, a.Usage.CachedInputTokens, a.Usage.OutputTokens, boolInt(a.Usage.Estimated),
		a.Cache, chunkIDs, srcs, sents, tims, conv, created.UnixNano()); err != nil {
		return db.errorf(op, err)
	}
	if err := tx.Commit(); err != nil {
		return db.errorf(op, err)
	}
	return nil
}

// answerStmts are PutAnswer's statements, prepared once.
type answerStmts struct {
	mu              sync.Mutex
	session, answer *sql.Stmt
}

func (db *DB) answerStatements(ctx context.Context) (*answerStmts, error) {
	st := &db.answers
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.answer != nil {
		return st, nil
	}
	session, err := db.write.PrepareContext(ctx, `INSERT INTO sessions (id, tenant, principal, assistant, turns, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET turns = max(turns, excluded.turns), updated_at = excluded.updated_at`)
	if err != nil {
		return nil, err
	}
	answer, err := db.write.PrepareContext(ctx, `INSERT INTO answers (id, session_id, turn, tenant, principal, assistant,
			question, query, text, finish_reason, refusal, model, served, template, template_hash,
			temperature, seed, max_tokens, input_tokens, cached_input_tokens, output_tokens, tokens_estimated,
			cache, chunk_ids, sources, sentences, timings, conversation, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		session.Close()
		return nil, err
	}
	st.session, st.answer = session, answer
	return st, nil
}

func (st *answerStmts) close() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	var errs []error
	for _, s := range []*sql.Stmt{st.session, st.answer} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	st.session, st.answer = nil, nil
	return errors.Join(errs...)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

const answerColumns = `id, session_id, turn, tenant, principal, assistant, question, query, text, finish_reason, refusal,
	model, served, template, template_hash, temperature, seed, max_tokens, input_tokens, cached_input_tokens,
	output_tokens, tokens_estimated, cache, sources, sentences, timings, conversation, created_at`

func scanAnswer(row interface{ Scan(...any) error }) (*sextant.Answer, error) {
	a := &sextant.Answer{}
	var temp sql.NullFloat64
	var seed sql.NullInt64
	var est int
	var srcs, sents, tims string
	var conv sql.NullString
	var created int64
	if err := row.Scan(&a.ID, &a.SessionID, &a.Turn, &a.Tenant, &a.Principal, &a.Assistant, &a.Question, &a.Query,
		&a.Text, &a.FinishReason, &a.Refusal, &a.Model, &a.Served, &a.Template, &a.TemplateHash, &temp, &seed,
		&a.MaxTokens, &a.Usage.InputTokens, &a.Usage.CachedInputTokens, &a.Usage.OutputTokens, &est, &a.Cache,
		&srcs, &sents, &tims, &conv, &created); err != nil {
		return nil, err
	}
	if temp.Valid {
		a.Temperature = &temp.Float64
	}
	if seed.Valid {
		a.Seed = &seed.Int64
	}
	a.Usage.Estimated = est != 0
	a.CreatedAt = time.Unix(0, created).UTC()
	var ss []storedSource
	var st []storedSentence
	var tt []timing
	if err := errors.Join(json.Unmarshal([]byte(srcs), &ss), json.Unmarshal([]byte(sents), &st), json.Unmarshal([]byte(tims), &tt)); err != nil {
		return nil, fmt.Errorf("answer %s: decode: %w", a.ID, err)
	}
	for _, s := range ss {
		a.Sources = append(a.Sources, sextant.Source{N: s.N, ChunkID: s.ChunkID, DocumentID: s.DocumentID, Title: s.Title,
			URI: s.URI, Section: s.Section, Start: s.Start, End: s.End, Text: s.Text, Quote: s.Quote, Score: s.Score})
	}
	for _, s := range st {
		as := sextant.AnswerSentence{Start: s.Start, End: s.End, Text: s.Text, Citations: s.Citations, Supported: s.Supported, Support: s.Support}
		for _, e := range s.Evidence {
			as.Evidence = append(as.Evidence, sextant.Evidence(e))
		}
		a.Sentences = append(a.Sentences, as)
	}
	for _, t := range tt {
		a.Timings = append(a.Timings, sextant.StageTiming{Stage: t.Stage, Duration: time.Duration(t.NS)})
	}
	if conv.Valid {
		c, err := decodeConversation(conv.String)
		if err != nil {
			return nil, fmt.Errorf("answer %s: decode conversation: %w", a.ID, err)
		}
		a.Conversation = c
	}
	return a, nil
}

// Answer returns the stored answer with id, or ENOTFOUND.
func (db *DB) Answer(ctx context.Context, id string) (*sextant.Answer, error) {
	a, err := scanAnswer(db.read.QueryRowContext(ctx, `SELECT `+answerColumns+` FROM answers WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, sextant.Errorf(sextant.ENOTFOUND, "answer %q not found", id)
	}
	if err != nil {
		return nil, db.errorf("answer", err)
	}
	return a, nil
}

// SessionAnswers returns the last n answers of a session (n ≤ 0: all),
// oldest first; none for an unknown session.
func (db *DB) SessionAnswers(ctx context.Context, sessionID string, n int) ([]sextant.Answer, error) {
	if n <= 0 {
		n = -1
	}
	rows, err := db.read.QueryContext(ctx, `SELECT * FROM (SELECT `+answerColumns+` FROM answers
		WHERE session_id = ? ORDER BY turn DESC LIMIT ?) ORDER BY turn`, sessionID, n)
	if err != nil {
		return nil, db.errorf("session answers", err)
	}
	defer rows.Close()
	var out []sextant.Answer
	for rows.Next() {
		a, err := scanAnswer(rows)
		if err != nil {
			return nil, db.errorf("session answers", err)
		}
		out = append(out, *a)
	}
	return out, db.errorf("session answers", rows.Err())
}
