package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sextant-ai/sextant"
)

// Filter is the filter object of /v1/ask, /v1/search and the chat
// extension "filters":
//
//	{"collections": ["docs"], "document_ids": ["..."],
//	 "metadata": {"team": "infra", "lang": ["en", "de"]},
//	 "updated_after": "2025-01-01", "updated_before": "2025-06-01T00:00:00Z",
//	 "stale": "exclude"}
//
// A metadata value that is a string must match exactly; an array matches
// any of its strings. Tenant and access groups come from the caller's key,
// never from the request.
type Filter struct {
	Collections   []string                   `json:"collections,omitempty"`
	DocumentIDs   []string                   `json:"document_ids,omitempty"`
	Metadata      map[string]json.RawMessage `json:"metadata,omitempty"`
	UpdatedAfter  string                     `json:"updated_after,omitempty"`
	UpdatedBefore string                     `json:"updated_before,omitempty"`
	Stale         string                     `json:"stale,omitempty"`
}

func (fj *Filter) filter(path string) (sextant.Filter, error) {
	var f sextant.Filter
	if fj == nil {
		return f, nil
	}
	for i, c := range fj.Collections {
		if c == "" {
			return f, invalidParam(fmt.Sprintf("%s.collections[%d]", path, i), "empty collection name")
		}
	}
	f.Collections = fj.Collections
	f.DocumentIDs = fj.DocumentIDs
	for k, raw := range fj.Metadata {
		p := path + ".metadata." + k
		if k == "" {
			return f, invalidParam(path+".metadata", "empty key")
		}
		raw = bytes.TrimSpace(raw)
		switch {
		case len(raw) > 0 && raw[0] == '"':
			var v string
			if err := json.Unmarshal(raw, &v); err != nil {
				return f, invalidParam(p, "not a valid string")
			}
			if f.Equals == nil {
				f.Equals = map[string]string{}
			}
			f.Equals[k] = v
		case len(raw) > 0 && raw[0] == '[':
			var vs []string
			if err := json.Unmarshal(raw, &vs); err != nil {
				return f, invalidParam(p, "want a string or an array of strings")
			}
			if len(vs) == 0 {
				return f, invalidParam(p, "an empty array matches nothing")
			}
			if f.In == nil {
				f.In = map[string][]string{}
			}
			f.In[k] = vs
		default:
			return f, invalidParam(p, "want a string or an array of strings")
		}
	}
	var err error
	if f.UpdatedAfter, err = parseTime(fj.UpdatedAfter, path+".updated_after"); err != nil {
		return f, err
	}
	if f.UpdatedBefore, err = parseTime(fj.UpdatedBefore, path+".updated_before"); err != nil {
		return f, err
	}
	if f.Stale, err = parseStale(fj.Stale, path+".stale"); err != nil {
		return f, err
	}
	return f, nil
}

// parseTime reads an RFC 3339 time or a date (2006-01-02, UTC).
func parseTime(s, param string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, invalidParam(param, "%q is not a date (2006-01-02) or an RFC 3339 time", s)
}

func parseStale(s, param string) (sextant.StaleFilter, error) {
	switch s {
	case "", "any":
		return sextant.StaleAny, nil
	case "exclude":
		return sextant.StaleExclude, nil
	case "only":
		return sextant.StaleOnly, nil
	}
	return 0, invalidParam(param, "want exclude, only or any, got %q", s)
}

// NewFilter returns the API form of f, for clients (sextant ask --server).
// Tenant and groups are not carried: the server takes them from the key.
func NewFilter(f sextant.Filter) *Filter {
	out := &Filter{Collections: f.Collections, DocumentIDs: f.DocumentIDs}
	for k, v := range f.Equals {
		if out.Metadata == nil {
			out.Metadata = map[string]json.RawMessage{}
		}
		out.Metadata[k], _ = json.Marshal(v)
	}
	for k, vs := range f.In {
		if out.Metadata == nil {
			out.Metadata = map[string]json.RawMessage{}
		}
		out.Metadata[k], _ = json.Marshal(vs)
	}
	if !f.UpdatedAfter.IsZero() {
		out.UpdatedAfter = f.UpdatedAfter.Format(time.RFC3339Nano)
	}
	if !f.UpdatedBefore.IsZero() {
		out.UpdatedBefore = f.UpdatedBefore.Format(time.RFC3339Nano)
	}
	switch f.Stale {
	case sextant.StaleExclude:
		out.Stale = "exclude"
	case sextant.StaleOnly:
		out.Stale = "only"
	}
	return out
}
