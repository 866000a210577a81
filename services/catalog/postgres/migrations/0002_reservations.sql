-- One row per order id that the catalog has heard of. Its primary key is what
-- concurrent calls for one order serialise on: the first INSERT wins and the
-- others wait for it, then read what it recorded. A 'released' row without
-- lines is a tombstone: a release that came first, so that a late reserve for
-- the same order is refused.
CREATE TABLE reservations (
    order_id    uuid PRIMARY KEY,
    status      text NOT NULL CHECK (status IN ('reserved', 'released')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    released_at timestamptz,
    CHECK ((status = 'released') = (released_at IS NOT NULL))
);

-- The lines of a reservation, with the product's details at the time, so a
-- repeated reserve answers exactly what the first one did.
CREATE TABLE reservation_lines (
    order_id         uuid NOT NULL REFERENCES reservations (order_id),
    position         smallint NOT NULL CHECK (position >= 0),
    product_id       uuid NOT NULL REFERENCES products (id),
    sku              text NOT NULL,
    name             text NOT NULL,
    quantity         integer NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
    unit_price_cents bigint NOT NULL CHECK (unit_price_cents >= 0),
    currency         text NOT NULL,
    PRIMARY KEY (order_id, position),
    UNIQUE (order_id, product_id)
);
