package cache

import (
	"strings"
	"testing"
	"time"
)

// Any change to a cached type's shape gives new keys; the same shape, the
// same keys.
func TestEntryFormatFollowsTheTypes(t *testing.T) {
	type item struct {
		ID   string    `json:"id"`
		At   time.Time `json:"at"`
		Tags []string  `json:"tags"`
	}
	type renamed struct {
		Key  string    `json:"id"`
		At   time.Time `json:"at"`
		Tags []string  `json:"tags"`
	}
	type retagged struct {
		ID   string    `json:"identifier"`
		At   time.Time `json:"at"`
		Tags []string  `json:"tags"`
	}
	type retyped struct {
		ID   int64     `json:"id"`
		At   time.Time `json:"at"`
		Tags []string  `json:"tags"`
	}
	type grown struct {
		ID    string    `json:"id"`
		At    time.Time `json:"at"`
		Tags  []string  `json:"tags"`
		Image *struct {
			URL string `json:"url"`
		} `json:"image"`
	}
	type nested struct {
		ID   string    `json:"id"`
		At   time.Time `json:"at"`
		Tags []int     `json:"tags"`
	}
	base := formatOf(item{})
	if again := formatOf(item{}); again != base {
		t.Fatalf("the same type gives %s, then %s", base, again)
	}
	for name, v := range map[string]any{
		"a field renamed": renamed{}, "a JSON name changed": retagged{}, "a field's type changed": retyped{},
		"a field added": grown{}, "an element type changed": nested{},
	} {
		if got := formatOf(v); got == base {
			t.Errorf("%s: the format stays %s", name, got)
		}
	}
	if !strings.Contains(genKey, ":"+entryFormat+":") || !strings.HasPrefix(productKey("p", "v"), keyPrefix) {
		t.Errorf("keys %q, %q do not carry the format %s", genKey, productKey("p", "v"), entryFormat)
	}
}
