//! Node values and the OMA-DM formats they travel in.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The value of a leaf node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "format", content = "value", rename_all = "lowercase")]
pub enum Value {
    /// OMA-DM `bool`: `true` or `false`.
    Bool(bool),
    /// OMA-DM `int`: a signed decimal integer.
    Int(i64),
    /// OMA-DM `chr`: text.
    Chr(String),
}

impl Value {
    /// The format this value is carried in.
    pub fn format(&self) -> Format {
        match self {
            Self::Bool(_) => Format::Bool,
            Self::Int(_) => Format::Int,
            Self::Chr(_) => Format::Chr,
        }
    }

    /// The `Data` text of this value.
    pub fn to_data(&self) -> String {
        match self {
            Self::Bool(b) => b.to_string(),
            Self::Int(i) => i.to_string(),
            Self::Chr(s) => s.clone(),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_data())
    }
}

/// A `Meta/Format` value (OMA-DM 1.2 DM Tree and Descriptions, "Format": b64, bin, bool,
/// chr, int, node, null, xml, date, time, float).
///
/// "If the Format is not specified, the default is chr" — callers that see no `Format`
/// element use [`Format::Chr`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Boolean.
    Bool,
    /// Integer.
    Int,
    /// Character data.
    Chr,
    /// Interior node.
    Node,
    /// Base64-encoded binary.
    B64,
    /// Binary.
    Bin,
    /// No data.
    Null,
    /// XML.
    Xml,
    /// ISO 8601 date.
    Date,
    /// ISO 8601 time.
    Time,
    /// Floating point.
    Float,
}

impl Format {
    /// Parse a `Format` element's text (case-sensitive, as OMA-DM writes them: lower case).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "bool" => Self::Bool,
            "int" => Self::Int,
            "chr" => Self::Chr,
            "node" => Self::Node,
            "b64" => Self::B64,
            "bin" => Self::Bin,
            "null" => Self::Null,
            "xml" => Self::Xml,
            "date" => Self::Date,
            "time" => Self::Time,
            "float" => Self::Float,
            _ => return None,
        })
    }

    /// The text form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bool => "bool",
            Self::Int => "int",
            Self::Chr => "chr",
            Self::Node => "node",
            Self::B64 => "b64",
            Self::Bin => "bin",
            Self::Null => "null",
            Self::Xml => "xml",
            Self::Date => "date",
            Self::Time => "time",
            Self::Float => "float",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Read `data` as `format`. `None` when it is not a valid value of that format.
///
/// `bool` accepts `true`/`false` in any letter case (Intune writes `True`); `int` accepts an
/// optional `-` and decimal digits. Surrounding XML whitespace is ignored for both; `chr`
/// is taken as it is.
pub fn parse_data(format: Format, data: &str) -> Option<Value> {
    match format {
        Format::Bool => {
            let t = data.trim();
            if t.eq_ignore_ascii_case("true") {
                Some(Value::Bool(true))
            } else if t.eq_ignore_ascii_case("false") {
                Some(Value::Bool(false))
            } else {
                None
            }
        }
        Format::Int => {
            let t = data.trim();
            let digits = t.strip_prefix('-').unwrap_or(t);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            t.parse().ok().map(Value::Int)
        }
        Format::Chr => Some(Value::Chr(data.to_owned())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_parsing() {
        assert_eq!(parse_data(Format::Bool, " True\n"), Some(Value::Bool(true)));
        assert_eq!(parse_data(Format::Bool, "1"), None);
        assert_eq!(parse_data(Format::Int, "-7"), Some(Value::Int(-7)));
        assert_eq!(parse_data(Format::Int, "+7"), None);
        assert_eq!(parse_data(Format::Int, "7a"), None);
        assert_eq!(parse_data(Format::Int, "99999999999999999999"), None);
        assert_eq!(
            parse_data(Format::Chr, " a "),
            Some(Value::Chr(" a ".into()))
        );
        assert_eq!(parse_data(Format::B64, "AA=="), None);
        assert_eq!(Format::parse("Bool"), None);
    }
}
