package api

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/internal/catalogimport"
)

// MaxImportBody bounds the body of POST /v1/catalog/import: some 12,000 CSV variants, which
// import well within cartd's 30 s write timeout even on PostgreSQL (about 1.7 ms a variant
// there, the round trips of its statements). The node's own body cap (--max-body, 1 MiB by
// default) applies before it. Larger catalogs go through `cartd import`.
const MaxImportBody = 2 << 20

// handleCatalogImport loads NDJSON (application/x-ndjson) or CSV (text/csv) rows, as `cartd
// import` does, and answers 200 with the summary whenever the import ran, even if every row
// was refused: the rows are the data, each refusal is in errors with its line. The whole body
// is read before the first write, so a body over the limit changes nothing. The import is
// idempotent by itself (rows already as given are unchanged), so a retry needs no
// Idempotency-Key.
func (s *Server) handleCatalogImport(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if _, err := s.eng.ImportCatalog(r.Context(), p, nil); err != nil {
		s.writeError(w, r, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxImportBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		s.writeError(w, r, cart.Errorf(cart.TooLarge, "body_too_large", "the import is over %d bytes; import larger files with cartd import", MaxImportBody))
		return
	case err != nil:
		s.writeError(w, r, cart.Errorf(cart.Malformed, "malformed_body", "the request body could not be read"))
		return
	}
	var format catalogimport.Format
	switch mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt {
	case "application/x-ndjson":
		format = catalogimport.NDJSON
	case "text/csv":
		format = catalogimport.CSV
	default:
		s.writeError(w, r, cart.Errorf(cart.MediaType, "unsupported_media_type", "send the rows as application/x-ndjson or text/csv"))
		return
	}
	sum, err := catalogimport.Import(r.Context(), s.eng, p, bytes.NewReader(body), catalogimport.Options{Format: format})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if sum.Errors == nil {
		sum.Errors = []catalogimport.LineError{}
	}
	s.writeJSON(w, http.StatusOK, sum)
}
