DROP TRIGGER categories_changed ON categories;
DROP TRIGGER products_changed ON products;
DROP FUNCTION notify_catalog_changed();
DROP TABLE inventory_movements;
DROP TABLE products;
DROP TABLE categories;
