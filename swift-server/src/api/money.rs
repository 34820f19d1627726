//! Money on the wire: a JSON string with exactly two decimals (`"19.99"`), never a number,
//! so no float ever touches a price (STACK-NOTES G1: poem-openapi's own Decimal support
//! accepts JSON floats and drops trailing zeros).

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::Value;

/// The pattern every money string matches.
pub const MONEY_PATTERN: &str = crate::patterns::MONEY.pattern;

/// An amount in the store currency, as docs/API.md writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MoneyString(pub swift_core::money::Money);

impl Type for MoneyString {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "Money".into()
    }

    // One named `Money` schema that every amount refers to: generated clients get one
    // `Money` type, and its rule is written once instead of beside every price.
    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Reference(Self::name().into_owned())
    }

    fn register(registry: &mut Registry) {
        registry.create_schema::<Self, _>(Self::name().into_owned(), |_| {
            let mut schema = MetaSchema::new_with_format("string", "decimal");
            schema.pattern = Some(MONEY_PATTERN.into());
            schema.example = Some(Value::String("19.99".into()));
            schema.description = Some("An amount with exactly two decimals, as a string");
            schema
        });
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for MoneyString {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(s) => swift_core::money::Money::parse("amount", &s)
                .map(Self)
                .map_err(|e| ParseError::custom(e.message)),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl ToJSON for MoneyString {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.to_string()))
    }
}
