-- Placing an order counts the user's open orders (confirmed or cancelling:
-- their stock is still reserved) and the units they hold, against the
-- user's limits. units keeps the sum of an order's quantities with the
-- order, so that the count reads one index entry and one row per order.
-- Open orders get theirs here; orders the previous release records while
-- a deploy runs have none and count as orders without units.
ALTER TABLE orders ADD COLUMN units integer CHECK (units > 0);

UPDATE orders o SET units = (SELECT sum(quantity) FROM order_items WHERE order_id = o.id)
WHERE status IN ('confirmed', 'cancelling');

CREATE INDEX orders_open_idx ON orders (user_id) WHERE status IN ('confirmed', 'cancelling');
