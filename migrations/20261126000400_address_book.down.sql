ALTER TABLE orders
    DROP COLUMN tax_total,
    DROP COLUMN shipping_total,
    DROP COLUMN discount_total,
    DROP COLUMN billing_address;
DROP TABLE addresses;
