//! Checks JSON request bodies against the operation's schema in the OpenAPI document before
//! the handler runs, so a wrong type or a missing field is a 400 naming the field.
//!
//! poem-openapi alone reports a missing field without its name, and coerces `5` or `true`
//! into a string field; checking the document's own schema here fixes both for every
//! operation at once, with the document as the single source of truth.

use std::collections::HashMap;
use std::sync::Arc;

use poem::http::Method;
use serde_json::Value;

use crate::problem::FieldError;

/// Request-body schemas by (path template, method), with the document's components.
#[derive(Clone, Default)]
pub struct BodySchemas(Arc<Index>);

#[derive(Default)]
struct Index {
    operations: Vec<(Vec<String>, Method, Value)>,
    components: HashMap<String, Value>,
}

impl BodySchemas {
    pub fn from_spec(spec_json: &str) -> Self {
        let spec: Value = serde_json::from_str(spec_json).unwrap_or_default();
        let mut index = Index::default();
        if let Some(schemas) = spec
            .pointer("/components/schemas")
            .and_then(Value::as_object)
        {
            index.components = schemas
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
        }
        if let Some(paths) = spec.get("paths").and_then(Value::as_object) {
            for (path, item) in paths {
                for (method, op) in item.as_object().into_iter().flatten() {
                    let schema = op
                        .pointer("/requestBody/content/application~1json; charset=utf-8/schema")
                        .or_else(|| op.pointer("/requestBody/content/application~1json/schema"));
                    if let (Some(schema), Ok(method)) =
                        (schema, method.to_uppercase().parse::<Method>())
                    {
                        let segments = path.split('/').map(str::to_owned).collect();
                        index.operations.push((segments, method, schema.clone()));
                    }
                }
            }
        }
        Self(Arc::new(index))
    }

    /// The field errors of `body` for the operation at `path`, or none when it conforms
    /// (or the operation has no JSON body, or the body is empty: the extractor decides
    /// whether one is required). Malformed JSON is one error on `body`, in words.
    pub fn check(&self, method: &Method, path: &str, body: &[u8]) -> Vec<FieldError> {
        let parts: Vec<&str> = path.split('/').collect();
        let Some((_, _, schema)) = self
            .0
            .operations
            .iter()
            .find(|(template, m, _)| m == method && super::allow::fits(template, &parts))
        else {
            return Vec::new();
        };
        if body.iter().all(u8::is_ascii_whitespace) {
            return Vec::new();
        }
        let value = match serde_json::from_slice::<Value>(body) {
            Ok(value) => value,
            Err(e) => {
                return vec![FieldError {
                    field: "body".into(),
                    message: format!(
                        "must be valid JSON (line {}, column {})",
                        e.line(),
                        e.column()
                    ),
                }];
            }
        };
        let mut errors = Vec::new();
        self.check_value(schema, &value, "", &mut errors, 0);
        errors
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => r
                .strip_prefix("#/components/schemas/")
                .and_then(|name| self.0.components.get(name))
                .unwrap_or(schema),
            None => match schema.get("allOf").and_then(Value::as_array) {
                Some(all) if all.len() == 1 => self.resolve(&all[0]),
                _ => schema,
            },
        }
    }

    fn check_value(
        &self,
        schema: &Value,
        value: &Value,
        field: &str,
        errors: &mut Vec<FieldError>,
        depth: u8,
    ) {
        if depth > 8 {
            return;
        }
        let schema = self.resolve(schema);
        let name = if field.is_empty() { "body" } else { field };
        if let Some(alternatives) = schema.get("oneOf").and_then(Value::as_array) {
            self.check_one_of(alternatives, value, field, errors, depth);
            return;
        }
        // `allOf` (a discriminated union's alternative: its `kind` and its fields): all fit.
        if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
            for part in parts {
                self.check_value(part, value, field, errors, depth + 1);
            }
            return;
        }
        let mut push = |message: String| {
            errors.push(FieldError {
                field: name.to_owned(),
                message,
            })
        };
        let expected = schema.get("type").and_then(Value::as_str);
        let ok = match (expected, value) {
            (None, _) => true,
            (Some("string"), Value::String(_)) => true,
            (Some("integer"), Value::Number(n)) => n.is_i64() || n.is_u64(),
            (Some("number"), Value::Number(_)) => true,
            (Some("boolean"), Value::Bool(_)) => true,
            (Some("array"), Value::Array(_)) => true,
            (Some("object"), Value::Object(_)) => true,
            _ => false,
        };
        if !ok {
            push(format!("must be {}", article(expected.unwrap_or("value"))));
            return;
        }
        if let Some(message) = bound_violation(schema, value) {
            push(message);
            return;
        }
        if let (Some(allowed), Some(s)) =
            (schema.get("enum").and_then(Value::as_array), value.as_str())
            && !allowed.iter().any(|a| a.as_str() == Some(s))
        {
            let names: Vec<&str> = allowed.iter().filter_map(Value::as_str).collect();
            // A long list (countries) is said by its description, not recited.
            match schema.get("description").and_then(Value::as_str) {
                Some(what) if names.len() > 12 => push(format!("must be {what}")),
                _ => push(format!("must be one of: {}", names.join(", "))),
            }
            return;
        }
        match value {
            Value::Object(obj) => {
                for required in schema
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(key) = required.as_str()
                        && obj.get(key).is_none_or(Value::is_null)
                    {
                        errors.push(FieldError {
                            field: join(field, key),
                            message: "this field is required".into(),
                        });
                    }
                }
                let props = schema.get("properties").and_then(Value::as_object);
                if schema.get("additionalProperties") == Some(&Value::Bool(false)) {
                    for key in obj
                        .keys()
                        .filter(|k| props.is_none_or(|p| !p.contains_key(*k)))
                    {
                        errors.push(FieldError {
                            field: join(field, key),
                            message: "is not a field of this request".into(),
                        });
                    }
                }
                for (key, v) in obj {
                    if let Some(prop) = props.and_then(|p| p.get(key))
                        && !v.is_null()
                    {
                        self.check_value(prop, v, &join(field, key), errors, depth + 1);
                    }
                }
            }
            Value::Array(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.check_value(
                            item_schema,
                            item,
                            &format!("{name}[{i}]"),
                            errors,
                            depth + 1,
                        );
                    }
                }
            }
            _ => {}
        }
    }
}

impl BodySchemas {
    /// `oneOf`: exactly one alternative must fit. Otherwise the error says which shapes
    /// there are, by their required fields ("send exactly one of: id_token; or code and
    /// redirect_uri").
    fn check_one_of(
        &self,
        alternatives: &[Value],
        value: &Value,
        field: &str,
        errors: &mut Vec<FieldError>,
        depth: u8,
    ) {
        let found: Vec<Vec<FieldError>> = alternatives
            .iter()
            .map(|alt| {
                let mut found = Vec::new();
                self.check_value(alt, value, field, &mut found, depth + 1);
                found
            })
            .collect();
        if found.iter().filter(|f| f.is_empty()).count() == 1 {
            return;
        }
        let required = |alt: &Value| -> Vec<String> {
            self.resolve(alt)["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        };
        // When the body has the fields of exactly one shape, and none of another, its own
        // errors say more than the list of shapes ("redirect_uri: must be an absolute ...").
        let has_all = |alt: &Value| required(alt).iter().all(|k| value.get(k).is_some());
        let has_any = |alt: &Value| required(alt).iter().any(|k| value.get(k).is_some());
        let chosen: Vec<usize> = (0..alternatives.len())
            .filter(|&i| has_all(&alternatives[i]))
            .collect();
        if let [i] = chosen[..]
            && !found[i].is_empty()
            && (0..alternatives.len()).all(|j| j == i || !has_any(&alternatives[j]))
        {
            errors.extend(found[i].iter().cloned());
            return;
        }
        let shapes: Vec<String> = alternatives
            .iter()
            .map(|alt| required(alt).join(" and "))
            .collect();
        errors.push(FieldError {
            field: if field.is_empty() { "body" } else { field }.to_owned(),
            message: format!("send exactly one of: {}", shapes.join("; or ")),
        });
    }
}

/// Whether `text` matches `pattern`; each of the document's few patterns is compiled once.
fn matches_pattern(pattern: &str, text: &str) -> bool {
    static COMPILED: std::sync::LazyLock<std::sync::Mutex<HashMap<String, Option<regex::Regex>>>> =
        std::sync::LazyLock::new(Default::default);
    let mut compiled = COMPILED.lock().unwrap_or_else(|e| e.into_inner());
    compiled
        .entry(pattern.to_owned())
        .or_insert_with(|| regex::Regex::new(pattern).ok())
        .as_ref()
        .is_none_or(|re| re.is_match(text))
}

/// A limit of the document (`maximum`, `minLength`, ...) as the API words it.
pub fn limit_message(key: &str, limit: f64) -> String {
    let n = if limit.fract() == 0.0 {
        format!("{}", limit as i64)
    } else {
        limit.to_string()
    };
    match key {
        "maximum" => format!("must be at most {n}"),
        "minimum" => format!("must be at least {n}"),
        "maxLength" => format!("must be at most {n} characters"),
        "minLength" if limit == 1.0 => "must not be empty".to_owned(),
        "minLength" => format!("must be at least {n} characters"),
        "maxItems" => format!("must have at most {n} items"),
        other => format!("breaks {other} {n}"),
    }
}

/// The first numeric, length, pattern or item-count limit of `schema` that `value`
/// breaks, in the API's words ("must be at most 100").
pub fn bound_violation(schema: &Value, value: &Value) -> Option<String> {
    let limit = |key: &str| schema.get(key).and_then(Value::as_f64);
    let broken = |key: &'static str, over: bool| {
        over.then(|| limit_message(key, limit(key).unwrap_or_default()))
    };
    match value {
        Value::Number(n) => {
            let n = n.as_f64()?;
            broken("maximum", limit("maximum").is_some_and(|max| n > max))
                .or_else(|| broken("minimum", limit("minimum").is_some_and(|min| n < min)))
        }
        Value::String(text)
            if schema["format"] == "uuid" && uuid::Uuid::parse_str(text).is_err() =>
        {
            Some("must be a UUID".to_owned())
        }
        Value::String(text) => {
            let chars = text.chars().count() as f64;
            broken(
                "maxLength",
                limit("maxLength").is_some_and(|max| chars > max),
            )
            .or_else(|| {
                broken(
                    "minLength",
                    limit("minLength").is_some_and(|min| chars < min),
                )
            })
            .or_else(|| {
                let pattern = schema.get("pattern").and_then(Value::as_str)?;
                (!matches_pattern(pattern, text))
                    .then(|| crate::patterns::message_for(pattern, text))
            })
        }
        Value::Array(items) => broken(
            "maxItems",
            limit("maxItems").is_some_and(|max| items.len() as f64 > max),
        ),
        _ => None,
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

fn article(kind: &str) -> String {
    match kind {
        "integer" | "array" | "object" => format!("an {kind}"),
        _ => format!("a {kind}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r##"{
      "paths": {"/x/{id}": {"post": {"requestBody": {"content": {"application/json; charset=utf-8":
        {"schema": {"$ref": "#/components/schemas/X"}}}}}}},
      "components": {"schemas": {"X": {"type": "object", "required": ["name", "qty"],
        "properties": {"name": {"type": "string", "maxLength": 5}, "qty": {"type": "integer"},
                       "tags": {"type": "array", "items": {"type": "string"}},
                       "kind": {"type": "string", "enum": ["a", "b"]}}}}}
    }"##;

    fn fields(body: &str) -> Vec<String> {
        BodySchemas::from_spec(SPEC)
            .check(&Method::POST, "/x/1", body.as_bytes())
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn names_missing_and_mistyped_fields() {
        assert!(fields(r#"{"name": "n", "qty": 1}"#).is_empty());
        assert_eq!(fields(r#"{"qty": 1}"#), ["name"]);
        assert_eq!(fields(r#"{"name": 5, "qty": 1}"#), ["name"]);
        assert_eq!(fields(r#"{"name": "n", "qty": 1.5}"#), ["qty"]);
        assert_eq!(
            fields(r#"{"name": "n", "qty": 1, "tags": ["a", 2]}"#),
            ["tags[1]"]
        );
        assert_eq!(fields(r#"{"name": "n", "qty": 1, "kind": "c"}"#), ["kind"]);
        assert_eq!(fields(r#"[1]"#), ["body"]);
        assert_eq!(fields(r#"{"name": "toolong", "qty": 1}"#), ["name"]);
    }
}
