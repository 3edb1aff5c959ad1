// Package listq builds the WHERE clauses of the stores' list queries (docs/lists.md), whose
// conditions depend on which filters a caller gave. Both stores share it so that a list means
// the same on each; only the placeholders differ (SQLite's ?, PostgreSQL's $n).
package listq

import (
	"strconv"
	"strings"
)

// Where collects conditions joined by AND, with their arguments in order.
type Where struct {
	numbered bool // $1, $2, ... instead of ?
	conds    []string
	args     []any
}

// New returns an empty Where; numbered selects PostgreSQL's $n placeholders.
func New(numbered bool) *Where { return &Where{numbered: numbered} }

// Add appends a condition written with ? placeholders, one per argument.
func (w *Where) Add(cond string, args ...any) {
	if w.numbered {
		var b strings.Builder
		n := len(w.args)
		for _, r := range cond {
			if r == '?' {
				n++
				b.WriteString("$" + strconv.Itoa(n))
				continue
			}
			b.WriteRune(r)
		}
		cond = b.String()
	}
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// SQL returns " WHERE c1 AND c2 ..." (empty without conditions).
func (w *Where) SQL() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// Limit appends " LIMIT <placeholder>" for n to the arguments and returns it.
func (w *Where) Limit(n int) string {
	w.args = append(w.args, n)
	if w.numbered {
		return " LIMIT $" + strconv.Itoa(len(w.args))
	}
	return " LIMIT ?"
}

// Args returns the arguments of every condition (and the limit) in order.
func (w *Where) Args() []any { return w.args }

// PrefixEnd returns the least string above every string that starts with prefix followed by
// characters below U+10FFFF: a prefix match is the range [prefix, PrefixEnd(prefix)), which a
// bytewise-ordered index answers without reading past the matches.
func PrefixEnd(prefix string) string { return prefix + "\U0010FFFF" }

// LowerASCII lowers ASCII letters only, as SQLite's lower() and PostgreSQL's lower() under
// the "C" collation do, so a case-insensitive prefix means the same on both stores.
func LowerASCII(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, s)
}
