//go:build apitypes

// The half of the recipe's checks that compiles the Kubernetes API types
// (k8s.io/api): about 100 CPU-seconds cold, over a minute on 2 CPUs, so it
// is not part of `make test` but of `make k8s-test-full`:
//
//	go test -tags apitypes .              # strict decode; schema current?
//	go test -tags apitypes -run Schema -update .   # rewrite the schema
package kubernetes

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite "+schemaFile+" from the API types")

// apiRoots are the API types the manifests create, by "apiVersion kind".
var apiRoots = map[string]reflect.Type{
	"v1 Pod":       reflect.TypeFor[corev1.Pod](),
	"v1 Service":   reflect.TypeFor[corev1.Service](),
	"batch/v1 Job": reflect.TypeFor[batchv1.Job](),
}

// The rendered manifests decode into the API types with no unknown and no
// duplicate field: the check the schema stands in for in `make test`.
func TestStrictDecodeIntoAPITypes(t *testing.T) {
	t.Parallel()
	for _, name := range manifestFiles {
		for i, doc := range docSeparator.Split(render(t, name), -1) {
			var tm struct{ APIVersion, Kind string }
			if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
				t.Fatalf("%s document %d: %v", name, i, err)
			}
			typ, ok := apiRoots[tm.APIVersion+" "+tm.Kind]
			if !ok {
				t.Fatalf("%s document %d: unexpected %s %s", name, i, tm.APIVersion, tm.Kind)
			}
			if err := yaml.UnmarshalStrict([]byte(doc), reflect.New(typ).Interface()); err != nil {
				t.Errorf("%s document %d (%s): %v", name, i, tm.Kind, err)
			}
		}
	}
}

// The schema make test checks against is the one these API types give.
func TestSchemaCurrent(t *testing.T) {
	g := schemaGen{s: apiSchema{Roots: map[string]string{}, Types: map[string]map[string]string{}}}
	for kind, typ := range apiRoots {
		root := g.typeExpr(typ)
		g.s.Roots[kind] = root
		delete(g.s.Types[root], "status") // written by the cluster, never by the recipe
	}
	for _, name := range g.opaque {
		t.Logf("%s has its own JSON form: any value is accepted for it", name)
	}
	got, err := json.MarshalIndent(g.s, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile(schemaFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if want, _ := os.ReadFile(schemaFile); !bytes.Equal(got, want) {
		t.Errorf("%s is not what k8s.io/api gives: run go test -tags apitypes -run Schema -update . in deploy/kubernetes", schemaFile)
	}
}

// schemaGen builds an apiSchema from Go types by their JSON encoding.
type schemaGen struct {
	s      apiSchema
	opaque []string // types with a JSON form of their own, taken as "any"
}

// specialTypes are the API's types that encode as a scalar of their own.
var specialTypes = map[string]string{
	"apimachinery/pkg/api/resource.Quantity":   "quantity",
	"apimachinery/pkg/util/intstr.IntOrString": "int-or-string",
	"apimachinery/pkg/apis/meta/v1.Time":       "string",
	"apimachinery/pkg/apis/meta/v1.MicroTime":  "string",
	"apimachinery/pkg/apis/meta/v1.Duration":   "string",
	"apimachinery/pkg/runtime.RawExtension":    "any",
	"apimachinery/pkg/apis/meta/v1.FieldsV1":   "any",
}

var jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()

func typeName(t reflect.Type) string {
	return strings.TrimPrefix(t.PkgPath(), "k8s.io/") + "." + t.Name()
}

// typeExpr is t's type expression, adding the object types it reaches.
func (g *schemaGen) typeExpr(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	name := typeName(t)
	if e, ok := specialTypes[name]; ok {
		return e
	}
	if t.Name() != "" && reflect.PointerTo(t).Implements(jsonUnmarshaler) {
		g.opaque = append(g.opaque, name)
		return "any"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "int"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Interface:
		return "any"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "string" // base64
		}
		return "[]" + g.typeExpr(t.Elem())
	case reflect.Map:
		return "map[]" + g.typeExpr(t.Elem())
	case reflect.Struct:
		if _, done := g.s.Types[name]; !done {
			fields := map[string]string{}
			g.s.Types[name] = fields // before the fields: a type may reach itself
			g.addFields(fields, t)
		}
		return name
	}
	panic("no JSON form for " + t.String())
}

// addFields adds t's JSON fields, inlined embedded structs included.
func (g *schemaGen) addFields(fields map[string]string, t reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" && opts == "":
			continue
		case name == "" && (f.Anonymous || strings.Contains(","+opts+",", ",inline,")):
			embedded := f.Type
			for embedded.Kind() == reflect.Pointer {
				embedded = embedded.Elem()
			}
			g.addFields(fields, embedded)
			continue
		case !f.IsExported():
			continue
		case name == "":
			name = f.Name
		}
		fields[name] = g.typeExpr(f.Type)
	}
}
