package orders_test

import (
	"testing"

	"bazaar/orders"
)

func TestVisibility(t *testing.T) {
	t.Parallel()
	tests := []struct {
		owner  string
		viewer orders.Viewer
		want   bool
	}{
		{"alice", orders.Viewer{UserID: "alice"}, true},
		{"alice", orders.Viewer{UserID: "bob"}, false},
		{"alice", orders.Viewer{UserID: "root", Admin: true}, true},
		{"alice", orders.Viewer{UserID: ""}, false},
	}
	for _, tt := range tests {
		t.Run(tt.viewer.UserID, func(t *testing.T) {
			t.Parallel()
			o := orders.Order{UserID: tt.owner, Status: orders.StatusConfirmed}
			if got := tt.viewer.CanSee(o); got != tt.want {
				t.Errorf("CanSee = %v, want %v", got, tt.want)
			}
		})
	}
}
