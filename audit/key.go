package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sextant-ai/sextant"
)

// KeyFile is the signing key's path relative to the data directory; the
// public key is beside it with a ".pub" suffix.
const KeyFile = "keys/audit_ed25519"

// LoadOrCreateKey returns the ed25519 checkpoint key in the PEM (PKCS #8)
// file at path, creating it — mode 0600, in a 0700 directory, with the
// public key beside it as path+".pub" — when it does not exist. A key file
// others may read is refused, as ssh refuses one: fix it with chmod 600.
func LoadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	key, err := loadKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("audit: create key directory: %w", err)
	}
	_, key, err = ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("audit: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("audit: encode key: %w", err)
	}
	// O_EXCL: when two processes start at once, one creates the key and
	// the other loads it.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return loadKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("audit: create key file: %w", err)
	}
	err = pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("audit: write key file %s: %w", path, err)
	}
	if err := WritePublicKey(path+".pub", key.Public().(ed25519.PublicKey)); err != nil {
		return nil, err
	}
	return key, nil
}

func loadKey(path string) (ed25519.PrivateKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, sextant.Errorf(sextant.EINVALID,
			"audit: key file %s can be read by others (mode %v): run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit: read key file: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, sextant.Errorf(sextant.EINVALID, "audit: key file %s is not a PEM \"PRIVATE KEY\"", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, sextant.Errorf(sextant.EINVALID, "audit: key file %s: %v", path, err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, sextant.Errorf(sextant.EINVALID, "audit: key file %s holds a %T, not an ed25519 key", path, k)
	}
	return key, nil
}

// WritePublicKey writes pub to path as a PEM "PUBLIC KEY" (PKIX), the form
// ReadPublicKey and openssl read.
func WritePublicKey(path string, pub ed25519.PublicKey) error {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return fmt.Errorf("audit: encode public key: %w", err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		return fmt.Errorf("audit: write public key: %w", err)
	}
	return nil
}

// ReadPublicKey reads an ed25519 public key from a PEM "PUBLIC KEY" file
// (as written next to the signing key, or by openssl pkey -pubout).
func ReadPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit: read public key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, sextant.Errorf(sextant.EINVALID, "audit: %s is not a PEM \"PUBLIC KEY\"", path)
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, sextant.Errorf(sextant.EINVALID, "audit: public key %s: %v", path, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, sextant.Errorf(sextant.EINVALID, "audit: %s holds a %T, not an ed25519 public key", path, k)
	}
	return pub, nil
}
