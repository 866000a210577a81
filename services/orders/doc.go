// Package orders is the orders service's domain: orders and their status
// machine, the rules a placement must follow, and the Service and Reconciler
// that carry an order through the catalog's stock reservation. It knows
// nothing of HTTP or PostgreSQL; the http, postgres, catalogclient and
// metrics packages adapt it to those.
//
// # Status machine
//
//	            reserve answered 200           cancel (conditional UPDATE)      release answered 200
//	pending ─────────────────────────▶ confirmed ──────────────────────▶ cancelling ───────────────────▶ cancelled
//	   │  reserve answered 409 / 422
//	   ├────────────────────────────▶ rejected
//	   │  outcome unknown; the reconciler releases
//	   └────────────────────────────▶ failed
//
// Placing an order first inserts it as pending in its own transaction, so
// that the order exists before any stock is touched. Only then is the
// catalog asked to reserve the lines under the order's id; that call is
// idempotent per order id, which is what makes retrying it on timeouts safe.
// Catalog's answer settles the order: confirmed with catalog's prices, or
// rejected when stock or products are missing.
//
// When the outcome stays unknown (catalog unreachable after every retry, or
// the confirming write failed), the client gets a 503 and the order stays
// pending. The Reconciler later claims pending orders older than the
// settle window, asks the catalog what it holds for them and releases it.
// A release leaves a tombstone at the catalog, so a reserve that arrives
// late can no longer succeed. The order then becomes failed: a pending
// order is never left dangling and never reserved twice. Once the
// reconciler has claimed an order, the request that created it can no
// longer confirm it (its write is conditional on no claim having happened).
//
// Cancelling marks a confirmed order cancelling before asking the catalog to
// release it, and cancelled after: a crash in between leaves a cancelling
// order that the Reconciler finishes. The release is idempotent at the
// catalog, so the stock comes back exactly once however often it is sent.
//
// Users see only confirmed, cancelling and cancelled orders; pending,
// rejected and failed orders are internal.
package orders
