package access

import (
	"fmt"
	"strings"

	"github.com/sextant-ai/sextant"
)

// Route declares the permission one HTTP route needs. The web package
// keeps one table of them — every route it registers appears there once —
// and its middleware looks the permission up by the ServeMux pattern that
// matched (http.Request.Pattern):
//
//	var routes = []access.Route{
//		{Pattern: "POST /v1/chat/completions", Permission: sextant.PermChat},
//		{Pattern: "GET /v1/documents/{id}", Permission: sextant.PermDocumentsRead},
//		{Pattern: "POST /v1/keys", Permission: sextant.PermKeysAdmin},
//		{Pattern: "GET /healthz", Public: true},
//	}
//
// A route × role matrix test then checks, for every route and role, that a
// request is answered 403 exactly when !sextant.Allowed for that role
// (RoleMatrix lists the expectations).
type Route struct {
	Pattern    string             // http.ServeMux pattern, "METHOD /path"
	Permission sextant.Permission // what the caller needs; "" only when Public
	Public     bool               // served without a key (health checks)
}

// CheckRoutes reports the first problem of a route table: a pattern
// without a method, a duplicate pattern, an unknown permission, or a route
// that is neither public nor guarded.
func CheckRoutes(routes []Route) error {
	seen := map[string]bool{}
	for _, r := range routes {
		method, path, ok := strings.Cut(r.Pattern, " ")
		if !ok || method == "" || method != strings.ToUpper(method) || !strings.HasPrefix(path, "/") {
			return sextant.Errorf(sextant.EINVALID, "route %q: want \"METHOD /path\"", r.Pattern)
		}
		if seen[r.Pattern] {
			return sextant.Errorf(sextant.EINVALID, "route %q is listed twice", r.Pattern)
		}
		seen[r.Pattern] = true
		switch {
		case r.Public && r.Permission != "":
			return sextant.Errorf(sextant.EINVALID, "route %q is public but names permission %q", r.Pattern, r.Permission)
		case !r.Public && r.Permission == "":
			return sextant.Errorf(sextant.EINVALID, "route %q names no permission and is not public", r.Pattern)
		case !r.Public:
			if _, err := sextant.ParsePermission(string(r.Permission)); err != nil {
				return fmt.Errorf("route %q: %w", r.Pattern, err)
			}
		}
	}
	return nil
}

// Permissions returns the table as a map from pattern to route, for the
// middleware's lookup.
func Permissions(routes []Route) map[string]Route {
	m := make(map[string]Route, len(routes))
	for _, r := range routes {
		m[r.Pattern] = r
	}
	return m
}

// Expectation is one cell of the route × role matrix.
type Expectation struct {
	Route   Route
	Role    sextant.Role
	Allowed bool
}

// RoleMatrix returns, for every non-public route and every role, whether a
// key holding only that role may call it: the table a web test walks,
// sending one request per cell and expecting 403 exactly where Allowed is
// false.
func RoleMatrix(routes []Route) []Expectation {
	var out []Expectation
	for _, r := range routes {
		if r.Public {
			continue
		}
		for _, role := range sextant.AllRoles() {
			out = append(out, Expectation{r, role, role.Grants(r.Permission)})
		}
	}
	return out
}
