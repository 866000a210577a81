-- What each user's open orders hold, for the limits on them: an order is
-- open from when it is recorded until it is cancelled (confirmed or
-- cancelling: the catalog holds its stock). The statement that records an
-- order counts it here, and the one that makes it cancelled takes it out.
CREATE TABLE user_order_totals (
    user_id        text PRIMARY KEY,
    open_orders    integer NOT NULL CHECK (open_orders >= 0),
    reserved_units bigint NOT NULL CHECK (reserved_units >= 0)
);

-- counted says an order is in its user's totals while it is open. Orders
-- that exist now are (the backfill below counts the open ones); the
-- previous release, which may still run during the deploy or after a
-- rollback, records orders without counting them, and they get the column's
-- default, false, so that cancelling them takes nothing out. (A counted
-- order that the previous release cancels stays in the totals: only
-- cancellations in those minutes, and each holds one order's place.)
-- Adding the column with a constant default rewrites no row.
ALTER TABLE orders ADD COLUMN counted boolean NOT NULL DEFAULT true;
ALTER TABLE orders ALTER COLUMN counted SET DEFAULT false;

INSERT INTO user_order_totals (user_id, open_orders, reserved_units)
SELECT o.user_id, count(*), coalesce(sum(i.units), 0)
FROM orders o
LEFT JOIN LATERAL (SELECT sum(quantity) AS units FROM order_items WHERE order_id = o.id) i ON true
WHERE o.status IN ('confirmed', 'cancelling')
GROUP BY o.user_id;
