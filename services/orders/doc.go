// Package orders is the orders service's domain: orders and their status
// machine, the rules a placement must follow, and the Service and Reconciler
// that carry an order through the catalog's stock reservation. It knows
// nothing of HTTP or PostgreSQL; the http, postgres, catalogclient and
// metrics packages adapt it to those.
//
// # Status machine
//
//	   recorded once reserved     cancel (conditional UPDATE)      release answered 200
//	──────────────────────────▶ confirmed ──────────────────────▶ cancelling ───────────────────▶ cancelled
//
// Placing an order first asks the catalog to reserve its lines under an
// order id, a UUIDv7 made for the purpose (see below for requests with an
// Idempotency-Key); the call is idempotent per order
// id, which is what makes retrying it on timeouts safe. Only then is the
// order recorded, confirmed with the catalog's prices, in one statement.
// An order the catalog refuses (stock or products missing) is answered 409
// or 422 and never recorded; a metric counts it.
//
// When the order cannot stand (its lines are priced in several
// currencies), or, for a request without an Idempotency-Key, when the
// reservation's outcome stays unknown (catalog unreachable after every
// retry), the Service releases the order id at once. A release leaves a
// tombstone, so a reserve that arrives late can no longer succeed. When
// recording the order fails, its stock stays held, since the order might
// have been recorded after all. Whenever the outcome is unknown like
// this, the client gets a 503.
//
// With an Idempotency-Key, the order id is chosen when the key is first
// claimed and kept with the key, and every attempt with the key reserves
// under it. A 503 unlocks the key, keeping its id and any stock held under
// it: the retry takes the key over and answers the order if it was
// recorded, or else reserves under the same id again, which the catalog
// answers with the stock it already holds, and records the order. So one
// key never holds stock twice. Once the catalog refuses the id (made more
// than MaxReservationAge ago, or released), the retry releases it, so that
// nothing stays held under it, and moves the key to a new id before
// reserving.
//
// Stock held for an order id that no order was recorded under (the request
// failed as above, or its process died between the two steps) is released
// by the Reconciler's sweep: the catalog refuses to reserve for an order id
// older than MaxReservationAge, so once an id is older than that, with a
// margin, its order is recorded or never will be. The sweep walks the
// catalog's reservations in id order, which is the time order of UUIDv7,
// and releases those with no order.
//
// Cancelling marks a confirmed order cancelling before asking the catalog to
// release it, and cancelled after: a crash in between leaves a cancelling
// order that the Reconciler finishes. The release is idempotent at the
// catalog, so the stock comes back exactly once however often it is sent.
//
// # Limits
//
// Each user's open orders (confirmed or cancelling: the catalog holds
// their stock) are bounded in number and in units (Limits), so that a few
// accounts cannot hold the whole inventory. Orders have no state after
// confirmed but cancelled, so in effect the limits bound the orders a user
// has placed and not cancelled. What each user's open orders hold is kept
// in a row of its own (Totals), counted by the very statement that records
// an order, which records it only if the limits allow: concurrent
// placements of one user queue on that row for one statement each, not for
// the whole placement, and no round trip is added. The statement that
// makes an order cancelled takes it out again. An order the limits refuse
// has reserved its stock already, and gives it back; only an order larger
// than the limit of units by itself is refused before it reserves.
package orders
