// Package orderstest says how pgtest sets up the PostgreSQL that the orders
// tests run against.
package orderstest

import (
	"bazaar/orders/postgres"
	"bazaar/platform/pg/pgtest"
)

// Postgres is the orders schema, migrated; Reset empties every table and
// rewinds the reservation sweep.
var Postgres = pgtest.Options{
	Schema:     "orders",
	Migrations: postgres.Migrations,
	Tables:     []string{"order_items", "orders", "idempotency_keys", "user_order_totals"},
	AfterReset: `UPDATE reservation_sweep SET through = '00000000-0000-0000-0000-000000000000'`,
}
