package rag

import (
	"maps"
	"slices"

	"github.com/sextant-ai/sextant"
)

// narrow returns the filter under which both a and b hold, or an EINVALID
// error when no document could meet both (disjoint collections or document
// ids, one metadata key required to equal two values, conflicting
// staleness). Tenant and Groups are left to the caller's principal.
func narrow(a, b sextant.Filter) (sextant.Filter, error) {
	out := sextant.Filter{Stale: a.Stale}
	var err error
	if out.Collections, err = intersect("collection", a.Collections, b.Collections); err != nil {
		return out, err
	}
	if out.DocumentIDs, err = intersect("document", a.DocumentIDs, b.DocumentIDs); err != nil {
		return out, err
	}
	if len(a.Equals)+len(b.Equals) > 0 {
		out.Equals = maps.Clone(a.Equals)
		if out.Equals == nil {
			out.Equals = map[string]string{}
		}
		for k, v := range b.Equals {
			if old, ok := out.Equals[k]; ok && old != v {
				return out, sextant.Errorf(sextant.EINVALID, "filter %s=%q conflicts with the assistant's %s=%q", k, v, k, old)
			}
			out.Equals[k] = v
		}
	}
	if len(a.In)+len(b.In) > 0 {
		out.In = map[string][]string{}
		for k, v := range a.In {
			out.In[k] = slices.Clone(v)
		}
		for k, v := range b.In {
			old, ok := out.In[k]
			if !ok {
				out.In[k] = slices.Clone(v)
				continue
			}
			var both []string
			for _, x := range v {
				if slices.Contains(old, x) {
					both = append(both, x)
				}
			}
			if len(both) == 0 {
				return out, sextant.Errorf(sextant.EINVALID, "filter %s in %q shares no value with the assistant's %q", k, v, old)
			}
			out.In[k] = both
		}
	}
	out.UpdatedAfter = a.UpdatedAfter
	if b.UpdatedAfter.After(out.UpdatedAfter) {
		out.UpdatedAfter = b.UpdatedAfter
	}
	out.UpdatedBefore = a.UpdatedBefore
	if !b.UpdatedBefore.IsZero() && (out.UpdatedBefore.IsZero() || b.UpdatedBefore.Before(out.UpdatedBefore)) {
		out.UpdatedBefore = b.UpdatedBefore
	}
	switch {
	case b.Stale == sextant.StaleAny:
	case a.Stale == sextant.StaleAny || a.Stale == b.Stale:
		out.Stale = b.Stale
	default:
		return out, sextant.Errorf(sextant.EINVALID, "filter: staleness conflicts with the assistant's")
	}
	return out, nil
}

func intersect(what string, a, b []string) ([]string, error) {
	switch {
	case len(a) == 0:
		return slices.Clone(b), nil
	case len(b) == 0:
		return slices.Clone(a), nil
	}
	var out []string
	for _, x := range b {
		if slices.Contains(a, x) && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	if len(out) == 0 {
		return nil, sextant.Errorf(sextant.EINVALID, "filter: %s %q is outside the assistant's %q", what, b, a)
	}
	return out, nil
}
