//! The methods each path accepts, read from the OpenAPI document, for `Allow` on a 405.

use std::sync::Arc;

/// Whether a concrete path, split at `/`, fits a template's segments (`{id}` takes any
/// non-empty segment). One definition for every table read from the OpenAPI document.
pub fn fits(template: &[String], parts: &[&str]) -> bool {
    template.len() == parts.len()
        && template
            .iter()
            .zip(parts)
            .all(|(t, p)| t == p || (t.starts_with('{') && !p.is_empty()))
}

/// Path templates (`/api/v1/products/{id}`) with their methods, e.g. `GET, PATCH`.
#[derive(Debug, Clone, Default)]
pub struct AllowedMethods(Arc<Vec<(Vec<String>, String)>>);

impl AllowedMethods {
    /// Builds the table from the generated OpenAPI JSON.
    pub fn from_spec(spec_json: &str) -> Self {
        let spec: serde_json::Value = serde_json::from_str(spec_json).unwrap_or_default();
        let mut table = Vec::new();
        if let Some(paths) = spec.get("paths").and_then(|p| p.as_object()) {
            for (path, item) in paths {
                let methods: Vec<String> = item
                    .as_object()
                    .map(|ops| ops.keys().map(|m| m.to_uppercase()).collect())
                    .unwrap_or_default();
                let segments = path.split('/').map(str::to_owned).collect();
                table.push((segments, methods.join(", ")));
            }
        }
        Self(Arc::new(table))
    }

    /// The `Allow` value for a concrete request path, when a template matches it.
    pub fn for_path(&self, path: &str) -> Option<String> {
        self.template(path).map(|(_, methods)| methods.clone())
    }

    /// The name of the `index`-th parameter in the template `path` fits: poem-openapi calls
    /// path parameters `param0`, `param1`… in its errors, which a client cannot map to a field.
    pub fn path_parameter(&self, path: &str, index: usize) -> Option<&str> {
        let (template, _) = self.template(path)?;
        template
            .iter()
            .filter_map(|t| t.strip_prefix('{')?.strip_suffix('}'))
            .nth(index)
    }

    fn template(&self, path: &str) -> Option<&(Vec<String>, String)> {
        let parts: Vec<&str> = path.split('/').collect();
        self.0.iter().find(|(template, _)| fits(template, &parts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_concrete_paths() {
        let spec = r#"{"paths":{"/a/{id}":{"get":{},"delete":{}},"/a":{"post":{}}}}"#;
        let allowed = AllowedMethods::from_spec(spec);
        assert_eq!(allowed.for_path("/a/42").as_deref(), Some("DELETE, GET"));
        assert_eq!(allowed.for_path("/a").as_deref(), Some("POST"));
        assert_eq!(allowed.for_path("/b"), None);
        assert_eq!(allowed.path_parameter("/a/42", 0), Some("id"));
        assert_eq!(allowed.path_parameter("/a/42", 1), None);
        assert_eq!(allowed.path_parameter("/a", 0), None);
    }
}
