package sextant

// Principal is who makes a request: the owner of an API key, or the local
// user of the command line. It scopes what the request may read (Tenant,
// Groups) and is recorded with what it did.
type Principal struct {
	ID      string   // stable caller id (API key id, user name); "" = anonymous local use
	Tenant  string   // the caller's tenant; "" is the single-tenant default
	Project string   // the project usage and budgets are booked to; "" = none
	User    string   // the end user the caller acts for (OpenAI "user"), when it says
	Roles   []string // granted roles (Role values, e.g. "admin", "app"); see Allowed
	// Groups are the caller's access groups, matched against document
	// labels (see Filter.Groups): nil means unrestricted (trusted local
	// use), an empty non-nil slice a caller who may read unlabelled
	// documents only.
	Groups []string
}

// Scope returns f restricted to what p may read: p's tenant and, when p
// has groups, p's groups. Conditions f already has are kept.
func (p *Principal) Scope(f Filter) Filter {
	f.Tenant = p.Tenant
	if p.Groups != nil {
		f.Groups = append([]string{}, p.Groups...)
	}
	return f
}
