package kubernetes

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// schemaFile is every JSON field of the Kubernetes API types the recipe
// creates, generated from k8s.io/api by the apitypes tests
// (`make k8s-test-full`, which also keeps it current). Checking against it
// costs none of the compile time of those types, which is over a minute
// cold on 2 CPUs: too much for `make test`.
const schemaFile = "testdata/apischema.json"

// apiSchema describes the API types as their JSON: a type expression is
// "string", "int", "number", "bool", "quantity", "int-or-string", "any",
// "[]EXPR", "map[]EXPR" or the name of an object type in Types.
type apiSchema struct {
	// Roots names the type of each "apiVersion kind".
	Roots map[string]string `json:"roots"`
	// Types holds each object type's JSON fields and their expressions.
	Types map[string]map[string]string `json:"types"`
}

func loadSchema(t *testing.T) apiSchema {
	t.Helper()
	var s apiSchema
	if err := json.Unmarshal([]byte(readFile(t, schemaFile)), &s); err != nil || len(s.Roots) == 0 {
		t.Fatalf("%s: %v (%d roots)", schemaFile, err, len(s.Roots))
	}
	return s
}

// quantityRE is resource.Quantity's text form: a decimal number and an
// optional suffix (binary Ki..Ei, decimal n..E, or an exponent).
var quantityRE = regexp.MustCompile(`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$`)

// check returns what in v (JSON decoded with UseNumber) the API server
// would refuse or drop for the type expression typ: unknown fields, and
// values of the wrong kind. A null is always accepted: it means unset.
func (s apiSchema) check(path, typ string, v any) []string {
	if v == nil || typ == "any" {
		return nil
	}
	bad := []string{fmt.Sprintf("%s: %v is not %s", path, v, typ)}
	if elem, ok := strings.CutPrefix(typ, "[]"); ok {
		list, ok := v.([]any)
		if !ok {
			return bad
		}
		var errs []string
		for i, e := range list {
			errs = append(errs, s.check(fmt.Sprintf("%s[%d]", path, i), elem, e)...)
		}
		return errs
	}
	if elem, ok := strings.CutPrefix(typ, "map[]"); ok {
		m, ok := v.(map[string]any)
		if !ok {
			return bad
		}
		var errs []string
		for _, k := range slices.Sorted(maps.Keys(m)) {
			errs = append(errs, s.check(path+"."+k, elem, m[k])...)
		}
		return errs
	}
	if fields, ok := s.Types[typ]; ok {
		return s.checkObject(path, fields, v)
	}
	if !scalarOK(typ, v) {
		return bad
	}
	return nil
}

func (s apiSchema) checkObject(path string, fields map[string]string, v any) []string {
	m, ok := v.(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("%s: %v is not an object", path, v)}
	}
	var errs []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		ft, ok := fields[k]
		if !ok {
			errs = append(errs, fmt.Sprintf("%s.%s: unknown field", path, k))
			continue
		}
		errs = append(errs, s.check(path+"."+k, ft, m[k])...)
	}
	return errs
}

func scalarOK(typ string, v any) bool {
	n, isNum := v.(json.Number)
	str, isStr := v.(string)
	_, isBool := v.(bool)
	_, intErr := n.Int64()
	switch typ {
	case "string":
		return isStr
	case "bool":
		return isBool
	case "int":
		return isNum && intErr == nil
	case "number":
		return isNum
	case "int-or-string":
		return isStr || isNum && intErr == nil
	case "quantity":
		return isNum || isStr && quantityRE.MatchString(str)
	}
	return false
}
