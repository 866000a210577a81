package orders_test

import (
	"testing"

	"bazaar/orders"
)

func TestStatusTransitions(t *testing.T) {
	t.Parallel()
	all := []orders.Status{orders.StatusPending, orders.StatusConfirmed, orders.StatusRejected, orders.StatusFailed, orders.StatusCancelling, orders.StatusCancelled}
	allowed := map[[2]orders.Status]bool{
		{orders.StatusPending, orders.StatusConfirmed}:    true,
		{orders.StatusPending, orders.StatusRejected}:     true,
		{orders.StatusPending, orders.StatusFailed}:       true,
		{orders.StatusConfirmed, orders.StatusCancelling}: true,
		{orders.StatusCancelling, orders.StatusCancelled}: true,
	}
	for _, from := range all {
		for _, to := range all {
			t.Run(string(from)+"->"+string(to), func(t *testing.T) {
				t.Parallel()
				if got, want := from.CanBecome(to), allowed[[2]orders.Status{from, to}]; got != want {
					t.Errorf("CanBecome = %v, want %v", got, want)
				}
			})
		}
	}
}

func TestVisibility(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status orders.Status
		owner  string
		viewer orders.Viewer
		want   bool
	}{
		{orders.StatusConfirmed, "alice", orders.Viewer{UserID: "alice"}, true},
		{orders.StatusCancelling, "alice", orders.Viewer{UserID: "alice"}, true},
		{orders.StatusCancelled, "alice", orders.Viewer{UserID: "alice"}, true},
		{orders.StatusConfirmed, "alice", orders.Viewer{UserID: "bob"}, false},
		{orders.StatusConfirmed, "alice", orders.Viewer{UserID: "root", Admin: true}, true},
		{orders.StatusPending, "alice", orders.Viewer{UserID: "alice"}, false},
		{orders.StatusRejected, "alice", orders.Viewer{UserID: "alice"}, false},
		{orders.StatusFailed, "alice", orders.Viewer{UserID: "root", Admin: true}, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.status)+"/"+tt.viewer.UserID, func(t *testing.T) {
			t.Parallel()
			o := orders.Order{UserID: tt.owner, Status: tt.status}
			if got := tt.viewer.CanSee(o); got != tt.want {
				t.Errorf("CanSee = %v, want %v", got, tt.want)
			}
		})
	}
}
