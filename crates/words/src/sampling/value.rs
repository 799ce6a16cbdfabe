//! One field's value whatever its type, and how each kind of field shows, reads and checks it.
use super::{Field, FieldError, Kind, check_range};

/// A field's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    Seed(Option<u64>),
    Stops(Vec<String>),
    Text(String),
    Toggle(bool),
}

/// The Rust types a row may hold, to and from a `Value`.
pub trait FieldValue: Sized {
    fn to_value(&self) -> Value;
    fn from_value(value: Value) -> Option<Self>;
}

impl FieldValue for f64 {
    fn to_value(&self) -> Value {
        Value::Number(*self)
    }
    fn from_value(value: Value) -> Option<Self> {
        if let Value::Number(n) = value { Some(n) } else { None }
    }
}

impl FieldValue for u32 {
    fn to_value(&self) -> Value {
        Value::Number(f64::from(*self))
    }
    fn from_value(value: Value) -> Option<Self> {
        // Ranges are checked before a value is set; a whole number in range fits.
        if let Value::Number(n) = value { Some(n as u32) } else { None }
    }
}

impl FieldValue for Option<u64> {
    fn to_value(&self) -> Value {
        Value::Seed(*self)
    }
    fn from_value(value: Value) -> Option<Self> {
        if let Value::Seed(s) = value { Some(s) } else { None }
    }
}

impl FieldValue for Vec<String> {
    fn to_value(&self) -> Value {
        Value::Stops(self.clone())
    }
    fn from_value(value: Value) -> Option<Self> {
        if let Value::Stops(s) = value { Some(s) } else { None }
    }
}

impl FieldValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
    fn from_value(value: Value) -> Option<Self> {
        if let Value::Text(t) = value { Some(t) } else { None }
    }
}

impl FieldValue for bool {
    fn to_value(&self) -> Value {
        Value::Toggle(*self)
    }
    fn from_value(value: Value) -> Option<Self> {
        if let Value::Toggle(b) = value { Some(b) } else { None }
    }
}

impl Value {
    /// As the settings pane shows it.
    pub fn display(&self, kind: Kind) -> String {
        match (self, kind) {
            (Value::Number(n), Kind::Number { off: Some(off), .. }) if *n == off => "off".into(),
            (Value::Number(n), Kind::Number { decimals, .. }) => format!("{n:.decimals$}"),
            (Value::Seed(seed), _) => seed.map_or_else(|| "random".into(), |s| s.to_string()),
            (Value::Stops(stops), _) if stops.is_empty() => "none".into(),
            (Value::Stops(stops), _) => stops.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", "),
            (Value::Toggle(on), Kind::Toggle { on: yes, off: no }) => if *on { yes } else { no }.into(),
            (value, _) => value.edit_text(),
        }
    }

    /// The plain text an editor starts from, which `parse` reads back.
    pub fn edit_text(&self) -> String {
        match self {
            Value::Number(n) => format!("{n}"),
            Value::Seed(seed) => seed.map_or_else(String::new, |s| s.to_string()),
            Value::Stops(stops) => stops.join("|"),
            Value::Text(text) => text.clone(),
            Value::Toggle(on) => on.to_string(),
        }
    }

    /// `text` typed for `field`, checked against its row.
    pub fn parse(field: Field, text: &str) -> Result<Value, FieldError> {
        let t = text.trim();
        let err = |message: &str| FieldError { field, message: message.to_string() };
        let value = match field.row().kind {
            Kind::Number { off: Some(off), .. } if t == "off" => Value::Number(off),
            Kind::Number { .. } => Value::Number(t.parse().map_err(|_| err("not a number"))?),
            Kind::Seed => match t {
                "" | "random" => Value::Seed(None),
                _ => Value::Seed(Some(t.parse().map_err(|_| err("a whole number from 0, or empty for random"))?)),
            },
            Kind::Stops { .. } => Value::Stops(text.split('|').filter(|s| !s.is_empty()).map(str::to_string).collect()),
            Kind::Text { .. } => Value::Text(text.to_string()),
            Kind::Toggle { .. } => Value::Toggle(match t {
                "true" | "on" | "raw" | "yes" => true,
                "false" | "off" | "chat" | "no" => false,
                _ => return Err(err("true or false")),
            }),
        };
        value.check(field)?;
        Ok(value)
    }

    /// Whether this is a value `field` may hold.
    pub fn check(&self, field: Field) -> Result<(), FieldError> {
        match (self, field.row().kind) {
            (Value::Number(n), Kind::Number { .. }) => check_range(field, *n),
            (Value::Stops(stops), Kind::Stops { max }) if stops.len() > max => {
                Err(FieldError { field, message: format!("at most {max} stop sequences") })
            }
            _ => Ok(()),
        }
    }
}
