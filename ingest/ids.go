package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sextant-ai/sextant"
)

// maxRecordID bounds a record id's length in bytes.
const maxRecordID = 512

// Scope is the id prefix of a tenant's collection: "collection", or
// "tenant/collection" for a named tenant. Document ids are scope + ":" + ...
func Scope(tenant, collection string) string {
	if collection == "" {
		collection = sextant.DefaultCollection
	}
	if tenant == "" {
		return collection
	}
	return tenant + "/" + collection
}

// validName checks a tenant or collection name: 1-64 letters, digits, '.',
// '_' or '-'.
func validName(kind, s string) error {
	if s == "" || len(s) > 64 {
		return sextant.Errorf(sextant.EINVALID, "%s name %q must be 1-64 characters", kind, s)
	}
	for _, r := range s {
		if !(r < utf8.RuneSelf && (isASCIILetter(byte(r)) || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')) {
			return sextant.Errorf(sextant.EINVALID, "%s name %q may hold only letters, digits, '.', '_' and '-'", kind, s)
		}
	}
	return nil
}

// FileID is the stable id of the document made from the file at absolute
// path abs in scope: the scope, the file's base name (for people) and 12
// hex digits of the SHA-256 of the path (for uniqueness), e.g.
// "default:install.md-3f2a9c01b4de". The same path always gets the same id.
func FileID(scope, abs string) string {
	sum := sha256.Sum256([]byte(abs))
	base := filepath.Base(abs)
	base = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '#' || r == '@' || r == ':' {
			return '_'
		}
		return r
	}, truncateUTF8(base, 48))
	return scope + ":" + base + "-" + hex.EncodeToString(sum[:6])
}

// RecordID is the stable id of the document made from a record with id
// recordID in scope: "scope:recordID". A record id names the same document
// in whichever file of the collection it appears.
func RecordID(scope, recordID string) string {
	return scope + ":" + recordID
}

// positionalID is the id of a record without an id field: the file's id
// and the record's position in it.
func positionalID(scope, abs string, n int) string {
	return FileID(scope, abs) + "@" + strconv.Itoa(n)
}

// checkRecordID rejects record ids that cannot name a document.
func checkRecordID(id string) error {
	switch {
	case len(id) > maxRecordID:
		return sextant.Errorf(sextant.EINVALID, "record id is longer than %d bytes", maxRecordID)
	case strings.IndexFunc(id, unicode.IsControl) >= 0:
		return sextant.Errorf(sextant.EINVALID, "record id %q holds control characters", id)
	}
	return nil
}

// FileURI is the file:// URI of an absolute path.
func FileURI(abs string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
}

// recordURI is the source URI of a record: the file's URI with the record
// key (its id, or "@N" for a record without one) as the fragment.
func recordURI(abs, key string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs), Fragment: key}).String()
}

// parseSource splits a file source URI into its path and fragment; ok is
// false for anything that is not a file URI.
func parseSource(src string) (path, fragment string, ok bool) {
	u, err := url.Parse(src)
	if err != nil || u.Scheme != "file" {
		return "", "", false
	}
	return filepath.FromSlash(u.Path), u.Fragment, true
}
