package web

import (
	"errors"
	"net/http"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/churn"
)

// maxChurnRows bounds one real-time scoring request; batches belong to
// sextant churn score.
const maxChurnRows = 10000

// churnScore serves POST /v1/churn/score (docs/churn.md): rows in, one
// calibrated probability (and top reasons) per row out. Invalid fields are
// all listed in error.details, nothing scored.
func (s *Server) churnScore(w http.ResponseWriter, r *http.Request) {
	if s.opts.Scorer == nil {
		writeError(w, sextant.Errorf(sextant.EUNAVAILABLE, "churn scoring is not configured on this server"))
		return
	}
	var in churn.ScoreRequest
	if err := s.readJSON(w, r, &in); err != nil {
		writeError(w, err)
		return
	}
	if len(in.Rows) == 0 {
		writeError(w, invalidParam("rows", "at least one row is required"))
		return
	}
	if len(in.Rows) > maxChurnRows {
		writeError(w, invalidParam("rows", "%d rows; at most %d per request (use sextant churn score for batches)", len(in.Rows), maxChurnRows))
		return
	}
	sc, id, err := s.opts.Scorer(r.Context(), in.Model)
	if err != nil {
		writeError(w, &apiError{err: err, param: "model"})
		return
	}
	results, err := sc.ScoreRecords(r.Context(), in.Rows)
	if err != nil {
		var fe churn.FieldErrors
		if errors.As(err, &fe) {
			param := ""
			if len(fe) > 0 {
				param = "rows[" + itoa(fe[0].Row) + "]." + fe[0].Field
			}
			writeError(w, &apiError{err: err, param: param, details: []churn.FieldError(fe)})
			return
		}
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, churn.ScoreResponse{Model: id, Results: results})
}
