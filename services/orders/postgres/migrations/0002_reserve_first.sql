-- Orders are recorded once the catalog has reserved their stock, confirmed
-- from the start: new code writes no pending, rejected or failed orders,
-- and the columns reject_reason and settle_attempts. Both stay while the
-- previous release may still run (see docs/runbook.md, "expand, then
-- contract"); reads keep to confirmed, cancelling and cancelled orders.

-- settle_after now matters only for cancelling orders.
ALTER TABLE orders ALTER COLUMN settle_after DROP NOT NULL;

-- The order id up to which the Reconciler has checked the catalog's
-- reservations for orders that were never recorded. One row. It starts
-- below every id, so the first sweeps also release what pending orders of
-- the previous release left reserved.
CREATE TABLE reservation_sweep (
    one     boolean PRIMARY KEY DEFAULT true CHECK (one),
    through uuid NOT NULL
);
INSERT INTO reservation_sweep (through) VALUES ('00000000-0000-0000-0000-000000000000');
