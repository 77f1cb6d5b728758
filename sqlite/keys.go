package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sextant-ai/sextant"
	sqlitedrv "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// API keys: only the SHA-256 of each secret is stored (package access
// makes and checks the secrets).

const keyColumns = `id, name, hash, tenant, project, roles, groups, created_at, last_used_at, revoked_at`

func scanKey(row interface{ Scan(...any) error }) (*sextant.APIKey, error) {
	var (
		k                  sextant.APIKey
		hash               []byte
		roles              string
		groups             sql.NullString
		created            int64
		lastUsed, revokedA sql.NullInt64
	)
	if err := row.Scan(&k.ID, &k.Name, &hash, &k.Tenant, &k.Project, &roles, &groups, &created, &lastUsed, &revokedA); err != nil {
		return nil, err
	}
	if len(hash) != 32 {
		return nil, sextant.Errorf(sextant.EINTERNAL, "api key %s: stored hash is %d bytes, want 32", k.ID, len(hash))
	}
	copy(k.Hash[:], hash)
	if err := json.Unmarshal([]byte(roles), &k.Roles); err != nil {
		return nil, sextant.Errorf(sextant.EINTERNAL, "api key %s: roles: %v", k.ID, err)
	}
	if groups.Valid {
		k.Groups = []string{}
		if err := json.Unmarshal([]byte(groups.String), &k.Groups); err != nil {
			return nil, sextant.Errorf(sextant.EINTERNAL, "api key %s: groups: %v", k.ID, err)
		}
	}
	k.CreatedAt = time.Unix(0, created).UTC()
	k.LastUsedAt, k.RevokedAt = timeOf(lastUsed), timeOf(revokedA)
	return &k, nil
}

// CreateAPIKey stores a new key. A key whose id or hash already exists is
// refused with ECONFLICT.
func (db *DB) CreateAPIKey(ctx context.Context, k *sextant.APIKey) error {
	if k.ID == "" || len(k.Roles) == 0 {
		return sextant.Errorf(sextant.EINVALID, "sqlite: an API key needs an id and at least one role")
	}
	roles, err := json.Marshal(k.Roles)
	if err != nil {
		return fmt.Errorf("sqlite: encode roles: %w", err)
	}
	var groups any
	if k.Groups != nil {
		b, err := json.Marshal(k.Groups)
		if err != nil {
			return fmt.Errorf("sqlite: encode groups: %w", err)
		}
		groups = string(b)
	}
	_, err = db.write.ExecContext(ctx, `INSERT INTO api_keys (`+keyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Name, k.Hash[:], k.Tenant, k.Project, string(roles), groups, k.CreatedAt.UnixNano(),
		timeValue(k.LastUsedAt), timeValue(k.RevokedAt))
	var de *sqlitedrv.Error
	if errors.As(err, &de) && de.Code()&0xff == sqlite3.SQLITE_CONSTRAINT {
		return sextant.Errorf(sextant.ECONFLICT, "an API key with id %s or the same secret exists", k.ID)
	}
	return db.errorf("create api key", err)
}

// APIKeyByHash returns the key whose secret hashes to hash, revoked or
// not; ENOTFOUND when there is none.
func (db *DB) APIKeyByHash(ctx context.Context, hash [32]byte) (*sextant.APIKey, error) {
	k, err := scanKey(db.read.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE hash = ?`, hash[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, sextant.Errorf(sextant.ENOTFOUND, "no such API key")
	}
	return k, db.errorf("api key", err)
}

// APIKey returns the key with id; ENOTFOUND when there is none.
func (db *DB) APIKey(ctx context.Context, id string) (*sextant.APIKey, error) {
	k, err := scanKey(db.read.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, sextant.Errorf(sextant.ENOTFOUND, "no API key has id %q", id)
	}
	return k, db.errorf("api key", err)
}

// APIKeys returns every key, revoked ones included, oldest first.
func (db *DB) APIKeys(ctx context.Context) ([]sextant.APIKey, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+keyColumns+` FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, db.errorf("api keys", err)
	}
	defer rows.Close()
	var out []sextant.APIKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, db.errorf("api keys", err)
		}
		out = append(out, *k)
	}
	return out, db.errorf("api keys", rows.Err())
}

// RevokeAPIKey marks key id revoked at at and returns it. Revoking a
// revoked key keeps its first revocation time. ENOTFOUND when there is no
// such key.
func (db *DB) RevokeAPIKey(ctx context.Context, id string, at time.Time) (*sextant.APIKey, error) {
	if _, err := db.write.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`,
		at.UnixNano(), id); err != nil {
		return nil, db.errorf("revoke api key", err)
	}
	return db.APIKey(ctx, id)
}

// TouchAPIKeys records the last use of keys (id → time), never moving a
// last-used time backwards.
func (db *DB) TouchAPIKeys(ctx context.Context, used map[string]time.Time) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return db.errorf("touch api keys", err)
	}
	defer tx.Rollback()
	for id, t := range used {
		if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?`,
			t.UnixNano(), id); err != nil {
			return db.errorf("touch api keys", err)
		}
	}
	return db.errorf("touch api keys", tx.Commit())
}

// CountAPIKeys returns how many keys exist, revoked ones included.
func (db *DB) CountAPIKeys(ctx context.Context) (int, error) {
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM api_keys`).Scan(&n)
	return n, db.errorf("count api keys", err)
}
