//! Reading the file of `latchkeyd user import`: CSV with a header line, or JSON lines, one
//! user per line (UPN, display name, optionally an Argon2id password hash). Lines are read
//! one at a time, each at most [`MAX_LINE`] bytes, so memory stays bounded whatever the
//! file holds; every value is checked here, and a refusal names its line.

use std::io::{BufRead, Read};

use serde::Deserialize;

use latchkey_server::password;

/// The longest line accepted, in bytes (a UPN, a display name and a hash fit many times).
pub const MAX_LINE: usize = 4096;
/// The longest display name, in characters.
pub const MAX_DISPLAY_NAME: usize = 256;

/// The two formats of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportFormat {
    /// Comma-separated values with a header line naming the columns `upn` (required),
    /// `display_name` and `password_hash`, in any order.
    Csv,
    /// One JSON object per line with the members `upn`, `display_name` and
    /// `password_hash` (only `upn` required).
    Jsonl,
}

impl ImportFormat {
    /// The format a file name's extension says (`.csv`; `.jsonl`, `.ndjson`), if any.
    pub fn of_path(path: &std::path::Path) -> Option<ImportFormat> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(ImportFormat::Csv),
            "jsonl" | "ndjson" => Some(ImportFormat::Jsonl),
            _ => None,
        }
    }
}

/// One user of the file, checked: the UPN normalised (trimmed, lowercased), the display
/// name (the UPN when none is given), the hash (`None`: a passwordless user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    /// The line of the file it came from (from 1).
    pub line: u64,
    /// The user principal name.
    pub upn: String,
    /// The display name.
    pub display_name: String,
    /// The Argon2id PHC string, or `None` for a user without a password.
    pub password_hash: Option<String>,
}

/// Why the file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    /// A line is not acceptable.
    #[error("line {line}: {what}")]
    Line {
        /// The line (from 1).
        line: u64,
        /// What is wrong.
        what: String,
    },
    /// The file could not be read.
    #[error("{0}")]
    Read(String),
}

fn at(line: u64, what: impl Into<String>) -> FileError {
    FileError::Line {
        line,
        what: what.into(),
    }
}

/// The members of a JSON line (unknown members are refused).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRow {
    upn: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    password_hash: Option<String>,
}

/// Which field of a CSV record holds which column.
#[derive(Debug, Clone, Copy)]
struct Columns {
    upn: usize,
    display_name: Option<usize>,
    password_hash: Option<usize>,
    count: usize,
}

/// The users of a file, one line at a time.
pub struct ImportReader<R> {
    input: R,
    format: ImportFormat,
    columns: Option<Columns>,
    line: u64,
    buf: Vec<u8>,
}

impl<R: BufRead> ImportReader<R> {
    /// A reader of `input` in `format`.
    pub fn new(input: R, format: ImportFormat) -> Self {
        ImportReader {
            input,
            format,
            columns: None,
            line: 0,
            buf: Vec::with_capacity(256),
        }
    }

    /// The next line's text (without its line end), `None` at the end of the file.
    fn next_line(&mut self) -> Result<Option<String>, FileError> {
        self.buf.clear();
        let limit = MAX_LINE as u64 + 2;
        let read = (&mut self.input)
            .take(limit)
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| FileError::Read(e.to_string()))?;
        if read == 0 {
            return Ok(None);
        }
        self.line += 1;
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
        }
        if self.buf.len() > MAX_LINE {
            return Err(at(
                self.line,
                format!("the line is longer than {MAX_LINE} bytes"),
            ));
        }
        let mut text = String::from_utf8(std::mem::take(&mut self.buf))
            .map_err(|_| at(self.line, "the line is not UTF-8"))?;
        if self.line == 1 && text.starts_with('\u{feff}') {
            text.remove(0);
        }
        Ok(Some(text))
    }

    /// The next user, `None` at the end of the file. Blank lines are skipped.
    pub fn next_row(&mut self) -> Result<Option<ImportRow>, FileError> {
        loop {
            let Some(text) = self.next_line()? else {
                return match (self.format, self.columns) {
                    (ImportFormat::Csv, None) => Err(at(1, "the file has no header line")),
                    _ => Ok(None),
                };
            };
            if text.trim().is_empty() {
                continue;
            }
            let line = self.line;
            let (upn, display_name, hash) = match self.format {
                ImportFormat::Jsonl => {
                    let row: JsonRow = serde_json::from_str(&text)
                        .map_err(|e| at(line, format!("not a JSON object of a user: {e}")))?;
                    (row.upn, row.display_name, row.password_hash)
                }
                ImportFormat::Csv => {
                    let fields = csv_fields(&text).map_err(|what| at(line, what))?;
                    let Some(columns) = self.columns else {
                        self.columns = Some(header(&fields).map_err(|what| at(line, what))?);
                        continue;
                    };
                    if fields.len() != columns.count {
                        return Err(at(
                            line,
                            format!(
                                "{} fields, the header names {} (an Argon2 hash holds \
                                 commas: put it in double quotes)",
                                fields.len(),
                                columns.count
                            ),
                        ));
                    }
                    let field = |i: Option<usize>| i.and_then(|i| fields.get(i)).cloned();
                    (
                        field(Some(columns.upn)).unwrap_or_default(),
                        field(columns.display_name),
                        field(columns.password_hash),
                    )
                }
            };
            return checked(line, &upn, display_name, hash).map(Some);
        }
    }
}

/// The fields of one CSV line (RFC 4180 quoting; a quoted field may not hold a line end).
fn csv_fields(text: &str) -> Result<Vec<String>, String> {
    // Quotes inside a quoted field are doubled, so a whole line holds an even number.
    if text.bytes().filter(|b| *b == b'"').count() % 2 == 1 {
        return Err("not a CSV line: a quoted field runs past the end of the line".to_owned());
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut record = csv::StringRecord::new();
    match reader.read_record(&mut record) {
        Ok(true) => {}
        Ok(false) => return Ok(Vec::new()),
        Err(e) => return Err(format!("not a CSV line: {e}")),
    }
    Ok(record.iter().map(str::to_owned).collect())
}

/// The columns a CSV header names.
fn header(fields: &[String]) -> Result<Columns, String> {
    let mut columns = Columns {
        upn: usize::MAX,
        display_name: None,
        password_hash: None,
        count: fields.len(),
    };
    for (i, name) in fields.iter().enumerate() {
        let slot = match name.trim().to_ascii_lowercase().as_str() {
            "upn" if columns.upn == usize::MAX => {
                columns.upn = i;
                continue;
            }
            "display_name" if columns.display_name.is_none() => &mut columns.display_name,
            "password_hash" if columns.password_hash.is_none() => &mut columns.password_hash,
            other => {
                return Err(format!(
                    "the header names `{other}`: the columns are upn, display_name and \
                     password_hash, each at most once"
                ))
            }
        };
        *slot = Some(i);
    }
    if columns.upn == usize::MAX {
        return Err("the header names no `upn` column".to_owned());
    }
    Ok(columns)
}

/// One user's values checked and normalised.
fn checked(
    line: u64,
    upn: &str,
    display_name: Option<String>,
    hash: Option<String>,
) -> Result<ImportRow, FileError> {
    let upn = super::principal_name(upn).map_err(|what| at(line, what))?;
    if upn.chars().any(char::is_control) {
        return Err(at(line, format!("`{upn}` holds control characters")));
    }
    let display_name = match display_name.map(|d| d.trim().to_owned()) {
        Some(d) if !d.is_empty() => d,
        _ => upn.clone(),
    };
    if display_name.chars().count() > MAX_DISPLAY_NAME || display_name.chars().any(char::is_control)
    {
        return Err(at(
            line,
            format!(
                "the display name must have at most {MAX_DISPLAY_NAME} characters and no \
                 control characters"
            ),
        ));
    }
    let password_hash = match hash.map(|h| h.trim().to_owned()) {
        Some(h) if !h.is_empty() => {
            password::check_imported_hash(&h)
                .map_err(|what| at(line, format!("password_hash: {what}")))?;
            Some(h)
        }
        _ => None,
    };
    Ok(ImportRow {
        line,
        upn,
        display_name,
        password_hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";

    fn rows(format: ImportFormat, text: &str) -> Result<Vec<ImportRow>, FileError> {
        let mut reader = ImportReader::new(text.as_bytes(), format);
        let mut out = Vec::new();
        while let Some(row) = reader.next_row()? {
            out.push(row);
        }
        Ok(out)
    }

    #[test]
    fn csv_columns_in_any_order_with_quotes_and_defaults() {
        let text = format!(
            "\u{feff}password_hash,UPN,display_name\r\n\"{HASH}\", Ann@Example.com ,\"Ann, Jr.\"\r\n\
             \n,bob@example.com,\n"
        );
        let got = rows(ImportFormat::Csv, &text).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].upn, "ann@example.com");
        assert_eq!(got[0].display_name, "Ann, Jr.");
        assert_eq!(got[0].password_hash.as_deref(), Some(HASH));
        assert_eq!(got[0].line, 2);
        assert_eq!(got[1].display_name, "bob@example.com");
        assert_eq!(got[1].password_hash, None);
        assert_eq!(got[1].line, 4);
        let upn_only = rows(ImportFormat::Csv, "upn\ncy@example.com\n").unwrap();
        assert_eq!(upn_only[0].upn, "cy@example.com");
    }

    #[test]
    fn json_lines_with_optional_members() {
        let text = format!(
            "{{\"upn\":\"a@x.org\",\"display_name\":\"A\",\"password_hash\":\"{}\"}}\n\
             {{\"upn\":\"b@x.org\"}}\n",
            HASH
        );
        let got = rows(ImportFormat::Jsonl, &text).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].display_name, "b@x.org");
        assert_eq!(got[1].password_hash, None);
    }

    #[test]
    fn every_bad_line_is_refused_with_its_number() {
        let long = format!("upn\n{}@x.org\n", "a".repeat(MAX_LINE));
        let cases: Vec<(ImportFormat, String, u64, &str)> = vec![
            (ImportFormat::Csv, String::new(), 1, "no header"),
            (ImportFormat::Csv, "name\n".into(), 1, "`name`"),
            (ImportFormat::Csv, "upn,upn\n".into(), 1, "at most once"),
            (ImportFormat::Csv, "display_name\n".into(), 1, "no `upn`"),
            (
                ImportFormat::Csv,
                "upn\na@x\nnot-a-upn\n".into(),
                3,
                "principal",
            ),
            (ImportFormat::Csv, "upn\na b@x\n".into(), 2, "principal"),
            (
                ImportFormat::Csv,
                "upn,display_name\na@x\n".into(),
                2,
                "1 fields",
            ),
            (ImportFormat::Csv, "upn\n\"a@x\n".into(), 2, "CSV"),
            (ImportFormat::Csv, long, 2, "longer"),
            (
                ImportFormat::Csv,
                "upn,password_hash\na@x,secret\n".into(),
                2,
                "password_hash",
            ),
            (
                ImportFormat::Csv,
                format!("upn,password_hash\na@x,{HASH}\n"),
                2,
                "double quotes",
            ),
            (
                ImportFormat::Csv,
                "upn,display_name\na@x,\"bell\u{7}\"\n".into(),
                2,
                "control",
            ),
            (
                ImportFormat::Jsonl,
                "{\"upn\":\"a@x\",\"role\":1}\n".into(),
                1,
                "JSON",
            ),
            (ImportFormat::Jsonl, "[1]\n".into(), 1, "JSON"),
            (
                ImportFormat::Jsonl,
                "{\"display_name\":\"x\"}\n".into(),
                1,
                "JSON",
            ),
        ];
        for (format, text, line, what) in cases {
            match rows(format, &text) {
                Err(FileError::Line { line: l, what: w }) => {
                    assert_eq!(l, line, "{text:?}: {w}");
                    assert!(w.contains(what), "{text:?}: {w}");
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
        let bytes: &[u8] = b"upn\n\xff@x\n";
        let mut reader = ImportReader::new(bytes, ImportFormat::Csv);
        assert!(matches!(
            reader.next_row(),
            Err(FileError::Line { line: 2, .. })
        ));
    }

    #[test]
    fn the_format_follows_the_extension() {
        use std::path::Path;
        assert_eq!(
            ImportFormat::of_path(Path::new("u.CSV")),
            Some(ImportFormat::Csv)
        );
        assert_eq!(
            ImportFormat::of_path(Path::new("u.ndjson")),
            Some(ImportFormat::Jsonl)
        );
        assert_eq!(ImportFormat::of_path(Path::new("users.txt")), None);
    }
}
