-- A product's picture: the URLs of the re-encoded image and of its thumbnail,
-- and its size. The files are content-addressed, so a URL never changes what
-- it shows; all four columns are set together or not at all.
ALTER TABLE products
    ADD COLUMN image_url           text,
    ADD COLUMN image_thumbnail_url text,
    ADD COLUMN image_width         integer CHECK (image_width > 0),
    ADD COLUMN image_height        integer CHECK (image_height > 0),
    ADD CONSTRAINT products_image_complete CHECK (
        (image_url IS NULL) = (image_thumbnail_url IS NULL)
        AND (image_url IS NULL) = (image_width IS NULL)
        AND (image_url IS NULL) = (image_height IS NULL)
    );
