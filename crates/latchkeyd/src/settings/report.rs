//! What each setting resolved to and where it came from, for `latchkeyd config check`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::LogFormat;

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The built-in default.
    Default,
    /// The configuration file.
    File,
    /// A flag or a `LATCHKEY_*` variable.
    Override,
    /// Not set anywhere, and no default value (the setting is off or derived).
    Unset,
}

impl Source {
    fn describe(self) -> &'static str {
        match self {
            Source::Default => "default",
            Source::File => "file",
            Source::Override => "flag or environment",
            Source::Unset => "not set",
        }
    }
}

/// One resolved setting.
#[derive(Debug, Clone)]
pub struct Line {
    /// Its TOML section (`""`: the top level).
    pub section: &'static str,
    /// Its key.
    pub key: &'static str,
    /// Its value as a TOML literal (`None` when unset).
    pub value: Option<String>,
    /// Where it came from.
    pub source: Source,
}

/// Every resolved setting, in the order resolved.
#[derive(Debug, Default)]
pub struct Report {
    /// The lines.
    pub lines: Vec<Line>,
}

/// A value that prints as a TOML literal.
pub trait Literal {
    /// The TOML literal.
    fn literal(&self) -> String;
}

fn quoted(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

impl Literal for String {
    fn literal(&self) -> String {
        quoted(self)
    }
}
impl Literal for PathBuf {
    fn literal(&self) -> String {
        quoted(&self.display().to_string())
    }
}
impl Literal for SocketAddr {
    fn literal(&self) -> String {
        quoted(&self.to_string())
    }
}
impl Literal for bool {
    fn literal(&self) -> String {
        self.to_string()
    }
}
impl Literal for u32 {
    fn literal(&self) -> String {
        self.to_string()
    }
}
impl Literal for usize {
    fn literal(&self) -> String {
        self.to_string()
    }
}
impl Literal for Duration {
    fn literal(&self) -> String {
        quoted(&super::duration::format(*self))
    }
}
impl Literal for LogFormat {
    fn literal(&self) -> String {
        quoted(match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        })
    }
}
impl Literal for latchkey_pki::CaAlgorithm {
    fn literal(&self) -> String {
        quoted(&self.to_string())
    }
}

impl Report {
    /// The override if given, else the file's value, else `default`; recorded.
    pub fn pick<T: Literal>(
        &mut self,
        section: &'static str,
        key: &'static str,
        over: Option<T>,
        file: Option<T>,
        default: T,
    ) -> T {
        let (value, source) = match (over, file) {
            (Some(v), _) => (v, Source::Override),
            (None, Some(v)) => (v, Source::File),
            (None, None) => (default, Source::Default),
        };
        self.record(section, key, Some(value.literal()), source);
        value
    }

    /// Like [`Report::pick`] for a setting with no default value.
    pub fn pick_optional<T: Literal>(
        &mut self,
        section: &'static str,
        key: &'static str,
        over: Option<T>,
        file: Option<T>,
    ) -> Option<T> {
        let (value, source) = match (over, file) {
            (Some(v), _) => (Some(v), Source::Override),
            (None, Some(v)) => (Some(v), Source::File),
            (None, None) => (None, Source::Unset),
        };
        self.record(section, key, value.as_ref().map(Literal::literal), source);
        value
    }

    fn record(
        &mut self,
        section: &'static str,
        key: &'static str,
        value: Option<String>,
        source: Source,
    ) {
        self.lines
            .retain(|l| !(l.section == section && l.key == key));
        self.lines.push(Line {
            section,
            key,
            value,
            source,
        });
    }

    /// The effective settings as a TOML file, each line commented with its source; unset
    /// settings are commented out. Sections in the order of their first setting.
    pub fn to_toml(&self) -> String {
        let mut sections: Vec<&'static str> = Vec::new();
        for line in &self.lines {
            if !sections.contains(&line.section) {
                sections.push(line.section);
            }
        }
        // The top level must come before any [section].
        sections.sort_by_key(|s| !s.is_empty());
        let mut out = String::new();
        for section in sections {
            if !section.is_empty() {
                out.push_str(&format!("\n[{section}]\n"));
            }
            for line in self.lines.iter().filter(|l| l.section == section) {
                match &line.value {
                    Some(v) => out.push_str(&format!(
                        "{} = {v}  # {}\n",
                        line.key,
                        line.source.describe()
                    )),
                    None => out.push_str(&format!("# {} = (not set)\n", line.key)),
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_beats_file_beats_default_and_the_output_is_toml() {
        let mut r = Report::default();
        assert_eq!(r.pick("serve", "a", Some(1u32), Some(2), 3), 1);
        assert_eq!(r.pick("serve", "b", None, Some(2u32), 3), 2);
        assert_eq!(r.pick("serve", "c", None::<u32>, None, 3), 3);
        assert_eq!(r.pick_optional::<String>("", "k", None, None), None);
        r.pick(
            "",
            "d",
            None,
            Some(String::from("say \"hi\"")),
            String::new(),
        );
        let text = r.to_toml();
        assert!(text.starts_with("# k = (not set)\nd = "), "{text}");
        assert!(text.contains("a = 1  # flag or environment"), "{text}");
        assert!(text.contains("b = 2  # file"), "{text}");
        assert!(text.contains("c = 3  # default"), "{text}");
        let parsed: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(parsed["d"].as_str(), Some("say \"hi\""));
        assert_eq!(parsed["serve"]["a"].as_integer(), Some(1));
    }
}
