package http

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bazaar/orders"
)

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	want := orders.Cursor{CreatedAt: time.Date(2026, 5, 1, 12, 30, 0, 123456000, time.UTC), ID: orders.NewID()}
	got, ok := decodeCursor(encodeCursor(want))
	if !ok {
		t.Fatal("decodeCursor refused its own cursor")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"", "v1", "djI6MTI6MDE5MGYzYTAtMDAwMC03MDAwLTgwMDAtMDAwMDAwMDAwMDAx", "djE6LTE6MDE5MGYzYTAtMDAwMC03MDAwLTgwMDAtMDAwMDAwMDAwMDAx"} {
		if _, ok := decodeCursor(bad); ok {
			t.Errorf("decodeCursor(%q) accepted a cursor it never made", bad)
		}
	}
}
