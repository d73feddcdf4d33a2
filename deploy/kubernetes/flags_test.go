package kubernetes

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"echobench/loadgen"
	"echobench/servers"
)

// cmdDir is the echobench command's package, whose subcommands' own flags
// (--json, --allow-remote, merge's and report's) are read from its source.
const cmdDir = "../../cmd/echobench"

// invocation is one echobench command line of the recipe.
type invocation struct {
	where, sub string
	flags      []string
}

// Every flag the recipe passes to echobench is one echobench defines: in
// loadgen.Flags (load), servers.Flags (serve) or the subcommand's own flag
// set in cmd/echobench. A renamed flag fails here, not on a cluster.
func TestRecipeFlagsExist(t *testing.T) {
	t.Parallel()
	known := knownFlags(t)
	var missing []string
	for _, inv := range recipeInvocations(t) {
		flags, ok := known[inv.sub]
		if !ok {
			missing = append(missing, "echobench "+inv.sub+": no such subcommand (no flag.NewFlagSet(\""+inv.sub+"\") in cmd/echobench) ("+inv.where+")")
			continue
		}
		for _, f := range inv.flags {
			if !flags[f] {
				missing = append(missing, "echobench "+inv.sub+" --"+f+" ("+inv.where+")")
			}
		}
	}
	if len(missing) > 0 {
		t.Errorf("the recipe uses flags that echobench does not define (in loadgen.Flags, servers.Flags or the subcommand's own flag set):\n  %s",
			strings.Join(missing, "\n  "))
	}
}

// recipeInvocations is every echobench command line of the manifests'
// containers and of run.sh.
func recipeInvocations(t *testing.T) []invocation {
	t.Helper()
	r := decodeRecipe(t)
	entry := dockerEntrypoint(t)
	var out []invocation
	for _, c := range []struct {
		where   string
		command []string
		args    []string
	}{
		{"server.yaml", r.server.Spec.Containers[0].Command, r.server.Spec.Containers[0].Args},
		{"load-job.yaml", r.job.Spec.Template.Spec.Containers[0].Command, r.job.Spec.Template.Spec.Containers[0].Args},
	} {
		argv := c.command
		if len(argv) == 0 {
			argv = entry
		}
		inv, ok := parseInvocation(c.where, slices.Concat(argv, c.args))
		if !ok {
			t.Fatalf("%s: no echobench command in %q", c.where, slices.Concat(argv, c.args))
		}
		out = append(out, inv)
	}
	// run.sh calls the local binary as "$echobench" SUB ...
	script := strings.ReplaceAll(readFile(t, "run.sh"), "\\\n", " ")
	calls := regexp.MustCompile(`(?m)^\s*"\$echobench" (.*)$`).FindAllStringSubmatch(script, -1)
	if len(calls) == 0 {
		t.Fatal(`run.sh calls no "$echobench"`)
	}
	for _, m := range calls {
		inv, _ := parseInvocation("run.sh", append([]string{"echobench"}, strings.Fields(m[1])...))
		out = append(out, inv)
	}
	return out
}

var flagToken = regexp.MustCompile(`^--([a-z][a-z0-9-]*)`)

// parseInvocation finds "echobench SUB" in argv, whose elements may be
// shell scripts (sh -c), and the --flags after it.
func parseInvocation(where string, argv []string) (invocation, bool) {
	var words []string
	for _, a := range argv {
		words = append(words, strings.Fields(a)...)
	}
	for i, w := range words {
		if path.Base(w) == "echobench" && i+1 < len(words) {
			inv := invocation{where: where, sub: words[i+1]}
			for _, f := range words[i+2:] {
				if m := flagToken.FindStringSubmatch(f); m != nil {
					inv.flags = append(inv.flags, m[1])
				}
			}
			return inv, true
		}
	}
	return invocation{}, false
}

// dockerEntrypoint is the image's ENTRYPOINT: the command of a container
// that gives args only.
func dockerEntrypoint(t *testing.T) []string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^ENTRYPOINT (.*)$`).FindStringSubmatch(readFile(t, "Dockerfile"))
	var entry []string
	if m == nil || json.Unmarshal([]byte(m[1]), &entry) != nil || len(entry) == 0 {
		t.Fatal("the Dockerfile has no ENTRYPOINT in exec form")
	}
	return entry
}

// knownFlags is every flag of every subcommand: the two tables by import,
// the subcommands' own flags from cmd/echobench's source.
func knownFlags(t *testing.T) map[string]map[string]bool {
	t.Helper()
	known := map[string]map[string]bool{}
	for sub, names := range commandFlags(t, cmdDir) {
		known[sub] = map[string]bool{}
		for _, n := range names {
			known[sub][n] = true
		}
	}
	if known["load"] == nil || known["serve"] == nil {
		t.Fatalf("found no flag set of load or serve in %s: %v", cmdDir, known)
	}
	for _, f := range loadgen.Flags {
		known["load"][f.Name] = true
	}
	for _, f := range servers.Flags {
		known["serve"][f.Name] = true
	}
	return known
}

// flagNameArg is the argument that names the flag, for each flag.FlagSet
// method that defines one.
var flagNameArg = map[string]int{
	"Bool": 0, "String": 0, "Int": 0, "Int64": 0, "Uint": 0, "Uint64": 0, "Float64": 0, "Duration": 0, "Func": 0, "BoolFunc": 0,
	"BoolVar": 1, "StringVar": 1, "IntVar": 1, "Int64Var": 1, "UintVar": 1, "Uint64Var": 1, "Float64Var": 1, "DurationVar": 1, "Var": 1, "TextVar": 1,
}

// cmdSource is the parsed package main: its functions and string constants.
type cmdSource struct {
	funcs  map[string]*ast.FuncDecl
	consts map[string]string
}

// commandFlags reads, from the Go source of package main in dir, the flags
// each subcommand defines on its own: for every fs := flag.NewFlagSet(SUB,
// ...), the fs.Bool/String/Var/... calls in that function and in the
// package's functions fs is passed to. The command's -h would say the
// same, but only from a built binary, which costs a cold build of
// everything echobench links.
func commandFlags(t *testing.T, dir string) map[string][]string {
	t.Helper()
	src := parseCmd(t, dir)
	out := map[string][]string{}
	for _, fn := range src.funcs {
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			as, ok := n.(*ast.AssignStmt)
			if !ok || len(as.Lhs) != 1 || len(as.Rhs) != 1 {
				return true
			}
			call, ok := as.Rhs[0].(*ast.CallExpr)
			v, isIdent := as.Lhs[0].(*ast.Ident)
			if ok && isIdent && isSelector(call.Fun, "flag", "NewFlagSet") && len(call.Args) > 0 {
				if sub, ok := src.str(call.Args[0]); ok {
					out[sub] = append(out[sub], src.flagsOn(fn, v.Name, map[*ast.FuncDecl]bool{})...)
				}
			}
			return true
		})
	}
	return out
}

func parseCmd(t *testing.T, dir string) cmdSource {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files in %s: %v", dir, err)
	}
	src := cmdSource{funcs: map[string]*ast.FuncDecl{}, consts: map[string]string{}}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			src.addDecl(d)
		}
	}
	return src
}

func (src cmdSource) addDecl(d ast.Decl) {
	switch d := d.(type) {
	case *ast.FuncDecl:
		if d.Recv == nil && d.Body != nil {
			src.funcs[d.Name.Name] = d
		}
	case *ast.GenDecl:
		for _, spec := range d.Specs {
			vs, ok := spec.(*ast.ValueSpec)
			if !ok || d.Tok != token.CONST {
				continue
			}
			for i, name := range vs.Names {
				if i < len(vs.Values) {
					if s, ok := src.str(vs.Values[i]); ok {
						src.consts[name.Name] = s
					}
				}
			}
		}
	}
}

// flagsOn is the flags defined on the flag set fsVar in fn, and in the
// package's functions fn passes it to.
func (src cmdSource) flagsOn(fn *ast.FuncDecl, fsVar string, seen map[*ast.FuncDecl]bool) []string {
	if seen[fn] {
		return nil
	}
	seen[fn] = true
	var names []string
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		if sel, ok := call.Fun.(*ast.SelectorExpr); ok && isIdent(sel.X, fsVar) {
			if i, ok := flagNameArg[sel.Sel.Name]; ok && i < len(call.Args) {
				if name, ok := src.str(call.Args[i]); ok {
					names = append(names, name)
				}
			}
		}
		if id, ok := call.Fun.(*ast.Ident); ok && src.funcs[id.Name] != nil {
			callee := src.funcs[id.Name]
			for i, a := range call.Args {
				if p := paramName(callee, i); p != "" && isIdent(a, fsVar) {
					names = append(names, src.flagsOn(callee, p, seen)...)
				}
			}
		}
		return true
	})
	return names
}

// str is the value of a string literal or of a string constant of the
// package.
func (src cmdSource) str(e ast.Expr) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind == token.STRING {
			s, err := strconv.Unquote(e.Value)
			return s, err == nil
		}
	case *ast.Ident:
		s, ok := src.consts[e.Name]
		return s, ok
	}
	return "", false
}

func paramName(fn *ast.FuncDecl, i int) string {
	for _, field := range fn.Type.Params.List {
		if i < len(field.Names) {
			return field.Names[i].Name
		}
		i -= max(len(field.Names), 1)
	}
	return ""
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

func isSelector(e ast.Expr, pkg, name string) bool {
	sel, ok := e.(*ast.SelectorExpr)
	return ok && isIdent(sel.X, pkg) && sel.Sel.Name == name
}
