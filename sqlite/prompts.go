package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"time"

	"github.com/sextant-ai/sextant"
)

// Prompt templates and assistants set at runtime (migration 0008). They
// are installation-wide, like the configuration they apply over. Every
// change bumps one counter (PromptGeneration), which a running server
// polls to pick up what another process (the command line) changed.

// TemplateVersion is one stored version of a prompt template.
type TemplateVersion struct {
	Name      string
	Hash      string // hex SHA-256 of Body: what answers record
	Body      string
	CreatedAt time.Time // when this text was first stored
	CreatedBy string
	Active    bool // the version in use (TemplateVersions and ActiveTemplates set it)
}

// AssistantSpec is an assistant defined at runtime: its definition as
// JSON (the API's assistant body; the store does not read it).
type AssistantSpec struct {
	Name      string
	Spec      []byte
	UpdatedAt time.Time
	UpdatedBy string
}

func hashText(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// promptTx runs fn in a write transaction and bumps the prompt generation
// when fn reports a change.
func (db *DB) promptTx(ctx context.Context, op string, fn func(tx *sql.Tx) (changed bool, err error)) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return db.errorf(op, err)
	}
	defer tx.Rollback()
	changed, err := fn(tx)
	if err != nil {
		return db.errorf(op, err)
	}
	if changed {
		if _, err := tx.ExecContext(ctx, `UPDATE prompt_state SET generation = generation + 1 WHERE id = 1`); err != nil {
			return db.errorf(op, err)
		}
	}
	return db.errorf(op, tx.Commit())
}

// PutTemplateVersion stores body as a version of template name (a text
// stored before keeps its first time and author) and, with activate,
// makes it the active version. It returns the version's hash and the hash
// that was active before ("" when none was set). The caller checks the
// template parses; the store checks only that name and body are not empty.
func (db *DB) PutTemplateVersion(ctx context.Context, name, body, by string, at time.Time, activate bool) (hash, prev string, err error) {
	if name == "" || body == "" {
		return "", "", sextant.Errorf(sextant.EINVALID, "sqlite: a template version needs a name and a body")
	}
	hash = hashText(body)
	err = db.promptTx(ctx, "put template version", func(tx *sql.Tx) (bool, error) {
		res, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO template_versions (name, hash, body, created_at, created_by) VALUES (?, ?, ?, ?, ?)`,
			name, hash, body, at.UnixNano(), by)
		if err != nil {
			return false, err
		}
		n, _ := res.RowsAffected()
		if !activate {
			return n > 0, nil
		}
		if prev, err = activeHash(ctx, tx, name); err != nil {
			return false, err
		}
		return true, setActive(ctx, tx, name, hash, by, at)
	})
	if err != nil {
		return "", "", err
	}
	return hash, prev, nil
}

// ActivateTemplate makes the stored version hash of template name the
// active one (rolling back or forward) and returns the hash active before
// ("" when none was set). ENOTFOUND when that version is not stored.
func (db *DB) ActivateTemplate(ctx context.Context, name, hash, by string, at time.Time) (prev string, err error) {
	err = db.promptTx(ctx, "activate template", func(tx *sql.Tx) (bool, error) {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM template_versions WHERE name = ? AND hash = ?`, name, hash).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return false, sextant.Errorf(sextant.ENOTFOUND, "template %q has no stored version with hash %q", name, hash)
		}
		if err != nil {
			return false, err
		}
		if prev, err = activeHash(ctx, tx, name); err != nil {
			return false, err
		}
		return true, setActive(ctx, tx, name, hash, by, at)
	})
	return prev, err
}

func activeHash(ctx context.Context, tx *sql.Tx, name string) (string, error) {
	var h string
	err := tx.QueryRowContext(ctx, `SELECT hash FROM template_active WHERE name = ?`, name).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return h, err
}

func setActive(ctx context.Context, tx *sql.Tx, name, hash, by string, at time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO template_active (name, hash, activated_at, activated_by) VALUES (?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET hash = excluded.hash, activated_at = excluded.activated_at, activated_by = excluded.activated_by`,
		name, hash, at.UnixNano(), by)
	return err
}

// TemplateVersionText returns the body of the stored version hash of
// template name, or ENOTFOUND. It is the answer pipeline's
// rag.VersionFunc: replays find old versions here.
func (db *DB) TemplateVersionText(ctx context.Context, name, hash string) (string, error) {
	var body string
	err := db.read.QueryRowContext(ctx, `SELECT body FROM template_versions WHERE name = ? AND hash = ?`, name, hash).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return "", sextant.Errorf(sextant.ENOTFOUND, "template %q has no stored version with hash %.12s", name, hash)
	}
	return body, db.errorf("template version", err)
}

// TemplateVersions returns the stored versions of template name, newest
// first, the active one marked (none for a name never stored).
func (db *DB) TemplateVersions(ctx context.Context, name string) ([]TemplateVersion, error) {
	return db.templateVersions(ctx, `SELECT v.name, v.hash, v.body, v.created_at, v.created_by, a.hash IS NOT NULL
		FROM template_versions v LEFT JOIN template_active a ON a.name = v.name AND a.hash = v.hash
		WHERE v.name = ? ORDER BY v.created_at DESC, v.hash`, name)
}

// ActiveTemplates returns the active version of every template that has
// one set, by name.
func (db *DB) ActiveTemplates(ctx context.Context) ([]TemplateVersion, error) {
	return db.templateVersions(ctx, `SELECT v.name, v.hash, v.body, v.created_at, v.created_by, 1
		FROM template_active a JOIN template_versions v ON v.name = a.name AND v.hash = a.hash ORDER BY a.name`)
}

func (db *DB) templateVersions(ctx context.Context, query string, args ...any) ([]TemplateVersion, error) {
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, db.errorf("template versions", err)
	}
	defer rows.Close()
	var out []TemplateVersion
	for rows.Next() {
		var v TemplateVersion
		var created int64
		if err := rows.Scan(&v.Name, &v.Hash, &v.Body, &created, &v.CreatedBy, &v.Active); err != nil {
			return nil, db.errorf("template versions", err)
		}
		v.CreatedAt = time.Unix(0, created).UTC()
		out = append(out, v)
	}
	return out, db.errorf("template versions", rows.Err())
}

// PutAssistantSpec creates or replaces a runtime assistant and returns
// the definition it replaced (nil when there was none).
func (db *DB) PutAssistantSpec(ctx context.Context, s AssistantSpec) (prev *AssistantSpec, err error) {
	if s.Name == "" || len(s.Spec) == 0 {
		return nil, sextant.Errorf(sextant.EINVALID, "sqlite: an assistant needs a name and a definition")
	}
	err = db.promptTx(ctx, "put assistant", func(tx *sql.Tx) (bool, error) {
		if prev, err = assistantSpec(ctx, tx, s.Name); err != nil {
			return false, err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO assistant_specs (name, spec, updated_at, updated_by) VALUES (?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
			s.Name, string(s.Spec), s.UpdatedAt.UnixNano(), s.UpdatedBy)
		return true, err
	})
	return prev, err
}

// DeleteAssistantSpec deletes a runtime assistant and returns its
// definition; ENOTFOUND when there is none.
func (db *DB) DeleteAssistantSpec(ctx context.Context, name string) (prev *AssistantSpec, err error) {
	err = db.promptTx(ctx, "delete assistant", func(tx *sql.Tx) (bool, error) {
		if prev, err = assistantSpec(ctx, tx, name); err != nil {
			return false, err
		}
		if prev == nil {
			return false, sextant.Errorf(sextant.ENOTFOUND, "assistant %q is not defined at runtime", name)
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM assistant_specs WHERE name = ?`, name)
		return true, err
	})
	return prev, err
}

func assistantSpec(ctx context.Context, tx *sql.Tx, name string) (*AssistantSpec, error) {
	s := AssistantSpec{Name: name}
	var spec string
	var at int64
	err := tx.QueryRowContext(ctx, `SELECT spec, updated_at, updated_by FROM assistant_specs WHERE name = ?`, name).Scan(&spec, &at, &s.UpdatedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s.Spec, s.UpdatedAt = []byte(spec), time.Unix(0, at).UTC()
	return &s, nil
}

// AssistantSpecs returns the runtime assistants, by name.
func (db *DB) AssistantSpecs(ctx context.Context) ([]AssistantSpec, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT name, spec, updated_at, updated_by FROM assistant_specs ORDER BY name`)
	if err != nil {
		return nil, db.errorf("assistants", err)
	}
	defer rows.Close()
	var out []AssistantSpec
	for rows.Next() {
		var s AssistantSpec
		var spec string
		var at int64
		if err := rows.Scan(&s.Name, &spec, &at, &s.UpdatedBy); err != nil {
			return nil, db.errorf("assistants", err)
		}
		s.Spec, s.UpdatedAt = []byte(spec), time.Unix(0, at).UTC()
		out = append(out, s)
	}
	return out, db.errorf("assistants", rows.Err())
}

// PromptGeneration counts the changes of runtime templates and
// assistants; it moves on every change, from any process.
func (db *DB) PromptGeneration(ctx context.Context) (int64, error) {
	var g int64
	err := db.read.QueryRowContext(ctx, `SELECT generation FROM prompt_state WHERE id = 1`).Scan(&g)
	return g, db.errorf("prompt generation", err)
}
