-- A product's searched texts (its variants' SKUs and option values) list the variants in
-- their order, as swift-core's catalog::repository::refresh_summary now writes them. Before,
-- the order followed whatever plan read the variants, so a product's next edit rewrote
-- the same words in another order and every cached search was dropped for it.
UPDATE products p SET variant_skus = v.skus, option_terms = v.terms
  FROM (SELECT product_id,
               coalesce(string_agg(sku, ' ' ORDER BY position, id), '') AS skus,
               coalesce(string_agg(array_to_string(option_values, ' '), ' ' ORDER BY position, id), '') AS terms
          FROM product_variants WHERE is_active GROUP BY product_id) v
 WHERE v.product_id = p.id AND (p.variant_skus, p.option_terms) IS DISTINCT FROM (v.skus, v.terms);
