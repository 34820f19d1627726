ALTER TABLE orders DROP COLUMN tax_lines, DROP COLUMN discount_code, DROP COLUMN shipping_method;
ALTER TABLE carts
    DROP COLUMN discount_code_id,
    DROP COLUMN shipping_method_id,
    DROP COLUMN ship_to_region,
    DROP COLUMN ship_to_country;
DROP TABLE discount_redemptions;
DROP TABLE discount_codes;
DROP TYPE discount_kind;
DROP TABLE tax_rates;
DROP TABLE shipping_methods;
DROP TYPE shipping_rate_kind;
DROP TABLE shipping_zones;
ALTER TABLE product_variants DROP COLUMN weight_grams;
