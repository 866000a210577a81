package catalogtest

import (
	"time"

	"github.com/google/uuid"
)

// OrderID returns a new order id as the orders service makes them: a UUIDv7
// made now.
func OrderID() string {
	return uuid.Must(uuid.NewV7()).String()
}

// OrderIDAt returns a new UUIDv7 order id that says it was made at t.
func OrderIDAt(t time.Time) string {
	u := uuid.Must(uuid.NewV7())
	ms := t.UnixMilli()
	for i := range 6 {
		u[i] = byte(ms >> (40 - 8*i))
	}
	return u.String()
}
