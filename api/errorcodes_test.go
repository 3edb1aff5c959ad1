package api

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cartd/cartd/cart"
)

// problemCodes finds, in the source of every package the native API is built from (the
// dialects and commands excluded), each problem code the code can produce, with the statuses
// it answers. A code is produced where an error is built: cart.Errorf(code, "reason", ...),
// cart.InvalidField("reason", ...), cart.Error{Code: ..., Reason: ...}, and api's own
// problem{Code: ...}. A reason given as a constant is resolved; one given as a parameter of
// the enclosing function is followed to every call of that function; one held in a local
// variable stands for every string literal assigned to it.
func problemCodes(t *testing.T) map[string]map[int]bool {
	t.Helper()
	fset := token.NewFileSet()
	type file struct {
		pkg string
		f   *ast.File
	}
	var files []file
	err := filepath.WalkDir("..", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "dialect", "cmd", "clients", "testdata", "node_modules", ".git", ".ci", "storetest", "postgrestest", "testserver":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return err
		}
		files = append(files, file{f.Name.Name, f})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{} // "pkg.Name" -> value
	for _, fl := range files {
		for _, decl := range fl.f.Decls {
			if g, ok := decl.(*ast.GenDecl); ok && g.Tok == token.CONST {
				for _, sp := range g.Specs {
					vs := sp.(*ast.ValueSpec)
					for i, n := range vs.Names {
						if i < len(vs.Values) {
							if bl, ok := vs.Values[i].(*ast.BasicLit); ok && bl.Kind == token.STRING {
								consts[fl.pkg+"."+n.Name], _ = strconv.Unquote(bl.Value)
							}
						}
					}
				}
			}
		}
	}
	statusOfName := func(pkg string, e ast.Expr) int {
		var key string
		switch x := e.(type) {
		case *ast.SelectorExpr:
			if id, ok := x.X.(*ast.Ident); ok {
				key = id.Name + "." + x.Sel.Name
			}
		case *ast.Ident:
			key = pkg + "." + x.Name
		}
		if v, ok := consts[key]; ok {
			return statusOf[cart.Code(v)]
		}
		return 0 // decided at run time, or api's own problem: checked against the table only
	}

	codes := map[string]map[int]bool{}
	add := func(code string, status int) {
		if codes[code] == nil {
			codes[code] = map[int]bool{}
		}
		if status != 0 {
			codes[code][status] = true
		}
	}
	type param struct {
		pkg, fn string
		index   int
		status  int
	}
	followed := map[param]bool{}
	var unresolved []string
	// funcs holds, innermost last, the functions enclosing the node being inspected.
	type scope struct {
		pkg, name string
		params    []string
		body      ast.Node
	}
	var resolve func(fl file, stack []scope, e ast.Expr, status int) bool
	resolve = func(fl file, stack []scope, e ast.Expr, status int) bool {
		switch x := e.(type) {
		case *ast.BasicLit:
			v, _ := strconv.Unquote(x.Value)
			add(v, status)
			return true
		case *ast.SelectorExpr:
			if id, ok := x.X.(*ast.Ident); ok {
				if v, ok := consts[id.Name+"."+x.Sel.Name]; ok {
					add(v, status)
					return true
				}
			}
		case *ast.Ident:
			if v, ok := consts[fl.pkg+"."+x.Name]; ok {
				add(v, status)
				return true
			}
			for i := len(stack) - 1; i >= 0; i-- {
				if j := slices.Index(stack[i].params, x.Name); j >= 0 {
					followed[param{stack[i].pkg, stack[i].name, j, status}] = true
					return true
				}
				found := false
				ast.Inspect(stack[i].body, func(n ast.Node) bool {
					as, ok := n.(*ast.AssignStmt)
					if !ok || len(as.Lhs) != len(as.Rhs) {
						return true
					}
					for k, l := range as.Lhs {
						if id, ok := l.(*ast.Ident); ok && id.Name == x.Name {
							ast.Inspect(as.Rhs[k], func(n ast.Node) bool {
								if kv, ok := n.(*ast.KeyValueExpr); ok {
									ast.Inspect(kv.Value, func(n ast.Node) bool {
										if bl, ok := n.(*ast.BasicLit); ok && bl.Kind == token.STRING {
											found = resolve(fl, stack, bl, status)
										}
										return true
									})
									return false
								}
								if bl, ok := n.(*ast.BasicLit); ok && bl.Kind == token.STRING {
									found = resolve(fl, stack, bl, status)
								}
								return true
							})
						}
					}
					return true
				})
				if found {
					return true
				}
			}
		}
		unresolved = append(unresolved, fset.Position(e.Pos()).String())
		return false
	}
	calleeName := func(call *ast.CallExpr) string {
		switch f := call.Fun.(type) {
		case *ast.Ident:
			return f.Name
		case *ast.SelectorExpr:
			return f.Sel.Name
		}
		return ""
	}
	var walk func(fl file, stack []scope, n ast.Node)
	visit := func(fl file, stack []scope) func(ast.Node) bool {
		return func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.FuncDecl:
				// cart's own builders are where codes are given, not produced.
				builder := fl.pkg == "cart" && (x.Name.Name == "Errorf" || x.Name.Name == "InvalidField" || x.Name.Name == "AsError")
				if x.Body != nil && !builder {
					walk(fl, append(stack, scope{fl.pkg, x.Name.Name, paramNames(x.Type), x.Body}), x.Body)
				}
				return false
			case *ast.AssignStmt:
				// name := func(...) {...}: calls of name reach the closure's parameters.
				if len(x.Lhs) == 1 && len(x.Rhs) == 1 {
					if id, ok := x.Lhs[0].(*ast.Ident); ok {
						if fn, ok := x.Rhs[0].(*ast.FuncLit); ok {
							walk(fl, append(stack, scope{fl.pkg, id.Name, paramNames(fn.Type), fn.Body}), fn.Body)
							return false
						}
					}
				}
			case *ast.FuncLit:
				walk(fl, append(stack, scope{fl.pkg, "", paramNames(x.Type), x.Body}), x.Body)
				return false
			case *ast.CallExpr:
				switch name := calleeName(x); {
				case name == "Errorf" && len(x.Args) >= 3 && (fl.pkg == "cart" || isCartSelector(x.Fun)):
					resolve(fl, stack, x.Args[1], statusOfName(fl.pkg, x.Args[0]))
				case name == "InvalidField" && len(x.Args) >= 1:
					resolve(fl, stack, x.Args[0], statusOf[cart.Invalid])
				}
			case *ast.CompositeLit:
				typ := ""
				switch tt := x.Type.(type) {
				case *ast.SelectorExpr:
					typ = tt.Sel.Name
				case *ast.Ident:
					typ = tt.Name
				}
				field := map[string]string{"Error": "Reason", "problem": "Code"}[typ]
				if field == "" {
					return true
				}
				status := 0
				var value ast.Expr
				for _, el := range x.Elts {
					if kv, ok := el.(*ast.KeyValueExpr); ok {
						if k, ok := kv.Key.(*ast.Ident); ok {
							switch {
							case k.Name == field:
								value = kv.Value
							case k.Name == "Code" && typ == "Error":
								status = statusOfName(fl.pkg, kv.Value)
							}
						}
					}
				}
				if sel, ok := value.(*ast.SelectorExpr); ok && typ == "problem" && sel.Sel.Name == "Reason" {
					value = nil // writeError passes the engine's reason on: produced where the error was built
				}
				if value != nil {
					resolve(fl, stack, value, status)
				}
			}
			return true
		}
	}
	walk = func(fl file, stack []scope, n ast.Node) { ast.Inspect(n, visit(fl, stack)) }
	for _, fl := range files {
		walk(fl, nil, fl.f)
	}
	// Follow reasons passed as arguments until no new parameter turns up.
	done := map[param]bool{}
	for len(done) < len(followed) {
		for p := range maps.Clone(followed) {
			if done[p] {
				continue
			}
			done[p] = true
			for _, fl := range files {
				var stackWalk func(stack []scope, n ast.Node)
				stackWalk = func(stack []scope, n ast.Node) {
					ast.Inspect(n, func(n ast.Node) bool {
						switch x := n.(type) {
						case *ast.FuncDecl:
							if x.Body != nil {
								stackWalk(append(stack, scope{fl.pkg, x.Name.Name, paramNames(x.Type), x.Body}), x.Body)
							}
							return false
						case *ast.FuncLit:
							stackWalk(append(stack, scope{fl.pkg, "", paramNames(x.Type), x.Body}), x.Body)
							return false
						case *ast.CallExpr:
							if calls(x, fl.pkg, p.pkg, p.fn) && p.index < len(x.Args) {
								resolve(fl, stack, x.Args[p.index], p.status)
							}
						}
						return true
					})
				}
				stackWalk(nil, fl.f)
			}
		}
	}
	if len(unresolved) > 0 {
		t.Errorf("problem codes this test cannot work out (give them as literals, constants, or parameters): %v", unresolved)
	}
	return codes
}

// calls reports whether call, in package from, calls function fn of package pkg.
func calls(call *ast.CallExpr, from, pkg, fn string) bool {
	switch f := call.Fun.(type) {
	case *ast.Ident:
		return from == pkg && f.Name == fn
	case *ast.SelectorExpr:
		id, ok := f.X.(*ast.Ident)
		return ok && id.Name == pkg && f.Sel.Name == fn
	}
	return false
}

func paramNames(ft *ast.FuncType) []string {
	var names []string
	for _, f := range ft.Params.List {
		if len(f.Names) == 0 {
			names = append(names, "")
		}
		for _, n := range f.Names {
			names = append(names, n.Name)
		}
	}
	return names
}

func isCartSelector(e ast.Expr) bool {
	s, ok := e.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	id, ok := s.X.(*ast.Ident)
	return ok && id.Name == "cart"
}

// TestEveryProblemCodeIsListed holds the OpenAPI enum of Problem.code and the table of
// docs/errors.md to the codes the code can produce: each listed once, none missing, none
// stale, and the table's statuses those the code answers with.
func TestEveryProblemCodeIsListed(t *testing.T) {
	produced := problemCodes(t)
	if len(produced) < 50 {
		t.Fatalf("found only %d problem codes in the source: the scan is broken", len(produced))
	}

	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Enum []string `json:"enum"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	enum := doc.Components.Schemas["Problem"].Properties["code"].Enum
	compare(t, "the OpenAPI enum of Problem.code", enum, produced)

	table, err := os.ReadFile("../docs/errors.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| ([0-9, ]+) \\| (.+) \\|$")
	var listed []string
	for _, m := range row.FindAllStringSubmatch(string(table), -1) {
		code := m[1]
		listed = append(listed, code)
		if strings.TrimSpace(m[3]) == "" {
			t.Errorf("docs/errors.md: %s has no meaning", code)
		}
		var statuses []int
		for s := range strings.SplitSeq(m[2], ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil {
				t.Errorf("docs/errors.md: %s: status %q", code, s)
			}
			statuses = append(statuses, n)
		}
		want := slices.Sorted(maps.Keys(produced[code]))
		if len(want) > 0 && !slices.Equal(slices.Sorted(slices.Values(statuses)), want) {
			t.Errorf("docs/errors.md: %s answers %v, the code %v", code, statuses, want)
		}
	}
	compare(t, "the table of docs/errors.md", listed, produced)
}

func compare(t *testing.T, where string, listed []string, produced map[string]map[int]bool) {
	t.Helper()
	seen := map[string]bool{}
	for _, c := range listed {
		if seen[c] {
			t.Errorf("%s lists %s twice", where, c)
		}
		seen[c] = true
		if produced[c] == nil {
			t.Errorf("%s lists %s, which no code produces", where, c)
		}
	}
	for _, c := range slices.Sorted(maps.Keys(produced)) {
		if !seen[c] {
			t.Errorf("%s lacks %s", where, c)
		}
	}
}
