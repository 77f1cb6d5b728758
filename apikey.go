package sextant

import "time"

// APIKey is a stored API key: its public id and binding, never its secret.
// The secret is shown once, when the key is created; the store keeps only
// its SHA-256 (Hash), which is safe for a high-entropy random secret.
type APIKey struct {
	ID      string // public id, e.g. "key_3kq7..."; names the key in lists, logs and audit
	Name    string // what the key is for, as its creator described it
	Hash    [32]byte
	Tenant  string   // the tenant every request with the key acts in
	Project string   // the project usage is booked to
	Roles   []string // Role values
	// Groups are the document access groups of the key's principal (see
	// Principal.Groups): nil = every document of the tenant, empty =
	// unlabelled documents only.
	Groups     []string
	CreatedAt  time.Time
	LastUsedAt time.Time // updated at most once a minute; zero = never used
	RevokedAt  time.Time // zero = active
}

// Principal returns the principal a request authenticated with k acts as.
func (k *APIKey) Principal() *Principal {
	p := &Principal{ID: k.ID, Tenant: k.Tenant, Project: k.Project, Roles: append([]string(nil), k.Roles...)}
	if k.Groups != nil {
		p.Groups = append([]string{}, k.Groups...)
	}
	return p
}

// Revoked reports whether k has been revoked.
func (k *APIKey) Revoked() bool { return !k.RevokedAt.IsZero() }
