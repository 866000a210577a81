-- Categories are created on first use by a product.
CREATE TABLE categories (
    slug       text PRIMARY KEY CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 64),
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Products are soft-deleted (deleted_at) so that reservations and orders that
-- name them keep a valid reference. Listing order is id: ids are UUIDv7, so
-- id order is creation order and keyset pagination never repeats or skips.
CREATE TABLE products (
    id          uuid PRIMARY KEY,
    sku         text NOT NULL,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    price_cents bigint NOT NULL CHECK (price_cents >= 0),
    currency    text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    stock       integer NOT NULL CHECK (stock >= 0),
    category    text NOT NULL REFERENCES categories (slug),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz,
    search      tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', name), 'A') || setweight(to_tsvector('english', description), 'B')
    ) STORED
);

CREATE UNIQUE INDEX products_sku_key ON products (sku) WHERE deleted_at IS NULL;
CREATE INDEX products_search_idx ON products USING gin (search) WHERE deleted_at IS NULL;
CREATE INDEX products_category_idx ON products (category, id) WHERE deleted_at IS NULL;
