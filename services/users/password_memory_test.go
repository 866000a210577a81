package users_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"bazaar/users"
)

// TestPasswordHasherReturnsMemory checks that the 19 MiB a hash leaves
// behind goes back to the OS soon after the last hash, rather than at the
// collector's leisure. It is not parallel: it reads the whole process's
// heap statistics.
func TestPasswordHasherReturnsMemory(t *testing.T) {
	h := users.NewPasswordHasher(1)
	if _, err := h.Hash(context.Background(), "correct horse"); err != nil {
		t.Fatal(err)
	}
	held := func() uint64 { // heap memory taken from the OS and not given back
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapSys - m.HeapReleased
	}
	const most = 12 << 20 // well under one hash's 19 MiB
	deadline := time.Now().Add(5 * time.Second)
	for held() > most {
		if time.Now().After(deadline) {
			t.Fatalf("the heap holds %d MiB 5s after the last hash, want at most %d MiB", held()>>20, most>>20)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
