// Package access authenticates API keys and provides what the HTTP layer
// needs to authorise requests: key generation and format checks, an
// Authenticator that turns a bearer token into a sextant.Principal (cached,
// so the hot path is not a database query), and the route → permission
// table format every route declares its permission in.
//
// Keys are random 256-bit secrets shown once, when created, and stored
// only as their SHA-256: for a secret with that much entropy a fast hash
// is the right choice (a slow password hash protects guessable secrets and
// would cost every request). Who may do what is the role table in the root
// package (sextant.Allowed).
package access

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sextant-ai/sextant"
)

// KeyPrefix starts every Sextant API key, so secret scanners recognise
// leaked keys.
const KeyPrefix = "sk-sextant-"

const (
	base62    = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	bodyLen   = 43 // 43 base62 digits carry 256 bits
	checkLen  = 6  // CRC-32 of the body in base62 (62^6 > 2^32)
	keyLength = len(KeyPrefix) + bodyLen + checkLen
)

// NewSecret returns a new API key: KeyPrefix, 43 base62 characters drawn
// uniformly from rnd (256 bits), and a 6-character checksum that lets a
// mistyped or made-up key be refused without a database lookup. Pass
// crypto/rand.Reader; tests pass a seeded reader.
func NewSecret(rnd io.Reader) (string, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	b := make([]byte, 0, keyLength)
	b = append(b, KeyPrefix...)
	var buf [64]byte
	for len(b) < len(KeyPrefix)+bodyLen {
		if _, err := io.ReadFull(rnd, buf[:]); err != nil {
			return "", fmt.Errorf("access: read random bytes: %w", err)
		}
		for _, c := range buf {
			// Rejection sampling: 248 = 4*62, so every digit is equally likely.
			if c < 248 && len(b) < len(KeyPrefix)+bodyLen {
				b = append(b, base62[c%62])
			}
		}
	}
	return string(appendChecksum(b, b[len(KeyPrefix):])), nil
}

func appendChecksum(b, body []byte) []byte {
	sum := crc32.ChecksumIEEE(body)
	var d [checkLen]byte
	for i := checkLen - 1; i >= 0; i-- {
		d[i] = base62[sum%62]
		sum /= 62
	}
	return append(b, d[:]...)
}

// CheckFormat reports whether secret is shaped like a Sextant key with a
// valid checksum, as an EUNAUTHORIZED error that does not echo the secret.
func CheckFormat(secret string) error {
	if len(secret) != keyLength || !strings.HasPrefix(secret, KeyPrefix) {
		return sextant.Errorf(sextant.EUNAUTHORIZED, "malformed API key: Sextant keys are %d characters starting %q", keyLength, KeyPrefix)
	}
	body := secret[len(KeyPrefix):]
	for i := 0; i < len(body); i++ {
		if strings.IndexByte(base62, body[i]) < 0 {
			return sextant.Errorf(sextant.EUNAUTHORIZED, "malformed API key: unexpected character after %q", KeyPrefix)
		}
	}
	var want [checkLen]byte
	appendChecksum(want[:0], []byte(body[:bodyLen]))
	if string(want[:]) != body[bodyLen:] {
		return sextant.Errorf(sextant.EUNAUTHORIZED, "malformed API key: checksum mismatch (mistyped or truncated)")
	}
	return nil
}

// Hash is how a key is stored and looked up: its SHA-256.
func Hash(secret string) [32]byte { return sha256.Sum256([]byte(secret)) }

// Fingerprint is a short, non-secret name for a presented token, for audit
// records of failed authentications: the first 6 bytes of its SHA-256 in
// hex. It lets repeated attempts with one token be correlated without
// storing the token.
func Fingerprint(token string) string {
	h := Hash(token)
	return fmt.Sprintf("%x", h[:6])
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewKeyID returns a random public key id, "key_" and 16 base32 letters
// (80 bits).
func NewKeyID(rnd io.Reader) (string, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	var b [10]byte
	if _, err := io.ReadFull(rnd, b[:]); err != nil {
		return "", fmt.Errorf("access: read random bytes: %w", err)
	}
	return "key_" + idEncoding.EncodeToString(b[:]), nil
}

// KeySpec describes a key to create.
type KeySpec struct {
	Name    string   // what the key is for; "" is allowed
	Tenant  string   // "" = the default tenant
	Project string   // "" = none
	Roles   []string // at least one; each a sextant.Role
	// Groups are the key's document access groups: nil = every document
	// of the tenant, empty = unlabelled documents only.
	Groups []string
}

// Validate reports the first thing wrong with s, as an EINVALID error.
func (s *KeySpec) Validate() error {
	if len(s.Roles) == 0 {
		return sextant.Errorf(sextant.EINVALID, "a key needs at least one role")
	}
	for _, r := range s.Roles {
		if _, err := sextant.ParseRole(r); err != nil {
			return err
		}
	}
	for _, f := range [...]struct{ name, v string }{{"name", s.Name}, {"tenant", s.Tenant}, {"project", s.Project}} {
		if len(f.v) > 200 || !utf8.ValidString(f.v) || strings.ContainsFunc(f.v, isControl) {
			return sextant.Errorf(sextant.EINVALID, "key %s %q: want at most 200 bytes of text without control characters", f.name, f.v)
		}
	}
	for _, g := range s.Groups {
		if g == "" || len(g) > 200 || strings.ContainsAny(g, ",") || strings.ContainsFunc(g, isControl) {
			return sextant.Errorf(sextant.EINVALID, "group %q: want a non-empty label of at most 200 bytes without commas or control characters", g)
		}
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// Creator stores new keys.
type Creator interface {
	// CreateAPIKey stores k; ECONFLICT when its id or hash exists.
	CreateAPIKey(ctx context.Context, k *sextant.APIKey) error
}

// Create makes a key described by spec, stores it, and returns the secret
// (to show once) and the stored key. rnd nil means crypto/rand.
func Create(ctx context.Context, st Creator, spec KeySpec, rnd io.Reader, now time.Time) (string, *sextant.APIKey, error) {
	secret, err := NewSecret(rnd)
	if err != nil {
		return "", nil, err
	}
	k, err := Import(ctx, st, spec, secret, rnd, now)
	return secret, k, err
}

// Import stores an existing secret (well-formed, e.g. SEXTANT_ADMIN_KEY
// generated elsewhere) as a key described by spec.
func Import(ctx context.Context, st Creator, spec KeySpec, secret string, rnd io.Reader, now time.Time) (*sextant.APIKey, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if err := CheckFormat(secret); err != nil {
		return nil, sextant.Errorf(sextant.EINVALID, "%s", sextant.ErrorMessage(err))
	}
	id, err := NewKeyID(rnd)
	if err != nil {
		return nil, err
	}
	k := &sextant.APIKey{ID: id, Name: spec.Name, Hash: Hash(secret), Tenant: spec.Tenant, Project: spec.Project,
		Roles: slices.Clone(spec.Roles), CreatedAt: now.UTC()}
	if spec.Groups != nil {
		k.Groups = append([]string{}, spec.Groups...)
	}
	if err := st.CreateAPIKey(ctx, k); err != nil {
		return nil, err
	}
	return k, nil
}
