//! A small, limited XML element tree built on quick-xml.
//!
//! Refuses: DTDs (no entity tricks), processing instructions, a second root, any non-blank
//! text or element after the root ("trailing data"), non-UTF-8, and every limit in
//! [`Limits`] (the attribute cap keeps quick-xml's duplicate-attribute check, quadratic
//! per element, bounded). Entity references are the five predefined ones and character references.

use quick_xml::events::Event;
use quick_xml::Reader;

use super::limits::Limits;
use crate::error::{PolicyError, Position};

/// One element: local name (prefix dropped), byte offset, children and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Element {
    pub name: String,
    pub pos: usize,
    pub xmlns: Option<String>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }
}

pub(crate) fn parse_tree(input: &str, limits: &Limits) -> Result<Element, PolicyError> {
    let syntax = |offset: usize, reason: String| PolicyError::SyncMlSyntax {
        pos: Position::locate(input, offset),
        reason,
    };
    let limit = |offset: usize, what: &'static str, limit: usize| PolicyError::SyncMlLimit {
        pos: Position::locate(input, offset),
        what,
        limit,
    };
    if input.len() > limits.max_message_bytes {
        return Err(limit(
            limits.max_message_bytes,
            "message size in bytes",
            limits.max_message_bytes,
        ));
    }
    let mut reader = Reader::from_str(input);
    reader.config_mut().check_end_names = true;
    reader.config_mut().expand_empty_elements = false;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut elements = 0usize;
    loop {
        let before = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = reader.read_event().map_err(|e| {
            let at = usize::try_from(reader.error_position()).unwrap_or(before);
            syntax(at, e.to_string())
        })?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                if root.is_some() {
                    return Err(syntax(
                        before,
                        "trailing data after the root element".into(),
                    ));
                }
                elements += 1;
                if elements > limits.max_elements {
                    return Err(limit(before, "number of elements", limits.max_elements));
                }
                if stack.len() + 1 > limits.max_depth {
                    return Err(limit(before, "element nesting depth", limits.max_depth));
                }
                let name = std::str::from_utf8(e.local_name().as_ref())
                    .map_err(|_| syntax(before, "element name is not UTF-8".into()))?
                    .to_owned();
                if !is_xml_name(&name) {
                    return Err(syntax(before, format!("invalid element name {name:?}")));
                }
                let mut xmlns = None;
                for (count, attr) in e.attributes().enumerate() {
                    if count >= limits.max_attributes {
                        return Err(limit(
                            before,
                            "number of attributes of one element",
                            limits.max_attributes,
                        ));
                    }
                    let attr = attr.map_err(|err| syntax(before, err.to_string()))?;
                    if attr.key.as_ref() == b"xmlns" {
                        let v = attr
                            .unescape_value()
                            .map_err(|err| syntax(before, err.to_string()))?;
                        xmlns = Some(v.into_owned());
                    }
                }
                let el = Element {
                    name,
                    pos: before,
                    xmlns,
                    children: Vec::new(),
                    text: String::new(),
                };
                if matches!(event, Event::Start(_)) {
                    stack.push(el);
                } else {
                    attach(&mut stack, &mut root, el);
                }
            }
            Event::End(_) => {
                let Some(el) = stack.pop() else {
                    return Err(syntax(before, "unexpected end tag".into()));
                };
                attach(&mut stack, &mut root, el);
            }
            Event::Text(t) => {
                let text = t.unescape().map_err(|e| syntax(before, e.to_string()))?;
                push_text(&mut stack, &text, before, limits, &syntax, &limit)?;
            }
            Event::CData(c) => {
                let bytes = c.into_inner();
                let text = std::str::from_utf8(&bytes)
                    .map_err(|_| syntax(before, "CDATA is not UTF-8".into()))?;
                if stack.is_empty() {
                    return Err(syntax(before, "CDATA outside the root element".into()));
                }
                push_text(&mut stack, text, before, limits, &syntax, &limit)?;
            }
            Event::Comment(_) => {}
            Event::Decl(_) => {
                if before != 0 {
                    return Err(syntax(before, "XML declaration not at the start".into()));
                }
            }
            Event::PI(_) => {
                return Err(syntax(
                    before,
                    "processing instructions are not allowed".into(),
                ))
            }
            Event::DocType(_) => return Err(syntax(before, "DTDs are not allowed".into())),
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(syntax(
            input.len(),
            format!("unexpected end of input inside <{}>", open.name),
        ));
    }
    root.ok_or_else(|| syntax(input.len(), "no root element".into()))
}

/// Whether `name` is a valid (local) XML element name: a letter or `_`, then letters,
/// digits, `-`, `.` or `_` (XML 1.0 `Name`, without the colon, non-ASCII letters included).
/// quick-xml does not check names; without this, `<&x/>` parsed as an element named `&x`
/// that the serializer cannot write back.
fn is_xml_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '-' | '.' | '_' | '\u{b7}'))
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, el: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None => *root = Some(el),
    }
}

fn push_text(
    stack: &mut [Element],
    text: &str,
    at: usize,
    limits: &Limits,
    syntax: &impl Fn(usize, String) -> PolicyError,
    limit: &impl Fn(usize, &'static str, usize) -> PolicyError,
) -> Result<(), PolicyError> {
    match stack.last_mut() {
        None if text.trim().is_empty() => Ok(()),
        None => Err(syntax(at, "text outside the root element".into())),
        Some(el) => {
            if el.text.len() + text.len() > limits.max_value_bytes {
                return Err(limit(
                    at,
                    "text value length in bytes",
                    limits.max_value_bytes,
                ));
            }
            el.text.push_str(text);
            Ok(())
        }
    }
}
