-- Trigram matching backs "contains" searches (admin user search by email, catalog fallbacks).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
