package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"strings"

	"bazaar/catalog"
)

// entryFormat names the shape of what the cache stores: a hash over the
// cached types' fields, JSON names and field types, followed down to the
// basic kinds. It is part of every key, so a release whose entries differ
// never decodes another release's entries, and no one has to remember to
// change a key when a type changes.
var entryFormat = formatOf(catalog.Product{}, catalog.Category{}, listEntry{})

// formatOf returns a short hash of the shapes of the values' types.
func formatOf(values ...any) string {
	var b strings.Builder
	for _, v := range values {
		describe(&b, reflect.TypeOf(v), map[reflect.Type]bool{})
		b.WriteByte('\n')
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:4])
}

// describe writes t's shape: a struct as its fields with their JSON tags, a
// container with its elements, a type that encodes itself by its name.
func describe(b *strings.Builder, t reflect.Type, seen map[reflect.Type]bool) {
	if t.Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(jsonMarshaler) || seen[t] {
		fmt.Fprintf(b, "%s.%s", t.PkgPath(), t.Name())
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		seen[t] = true
		b.WriteString("{")
		for i := range t.NumField() {
			f := t.Field(i)
			fmt.Fprintf(b, "%s %q ", f.Name, f.Tag.Get("json"))
			describe(b, f.Type, seen)
			b.WriteString(";")
		}
		b.WriteString("}")
		delete(seen, t)
	case reflect.Pointer, reflect.Slice, reflect.Array:
		fmt.Fprintf(b, "%s ", t.Kind())
		describe(b, t.Elem(), seen)
	case reflect.Map:
		b.WriteString("map[")
		describe(b, t.Key(), seen)
		b.WriteString("]")
		describe(b, t.Elem(), seen)
	default:
		b.WriteString(t.Kind().String())
	}
}

var jsonMarshaler = reflect.TypeFor[interface{ MarshalJSON() ([]byte, error) }]()
