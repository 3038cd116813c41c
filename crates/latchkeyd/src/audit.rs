//! `latchkeyd audit`: the trail filtered, as a table that fits 80 columns, JSON lines or
//! CSV; `audit show ID` for every field of one entry; `audit export`.

use latchkey_proto::ErrorCode;
use latchkeyd::data_admin::{Admin, AuditEntry, AuditFilter};

use crate::admin::admin_error;
use crate::cli::{AuditArgs, AuditCommand, AuditFormat};
use crate::output::{self, time};
use crate::{coded, since};

/// Column widths of the table: ID, TIME, EVENT, OUTCOME, WHO; with the two spaces between
/// columns they make 80.
const WIDTHS: [usize; 5] = [7, 19, 22, 8, 16];

fn when(flag: &str, text: &str, now: i64) -> anyhow::Result<i64> {
    since::parse(text, now).ok_or_else(|| {
        coded(
            ErrorCode::InvalidField,
            format!("{flag} `{text}`: expected RFC 3339 or a duration like 1h"),
        )
    })
}

/// Runs `audit ...`.
pub async fn audit(admin: &Admin, json: bool, args: AuditArgs) -> anyhow::Result<()> {
    match args.action {
        Some(AuditCommand::Export { before, out, prune }) => {
            let cutoff = since::parse(&before, admin.now()).ok_or_else(|| {
                coded(
                    ErrorCode::InvalidField,
                    format!("--before `{before}`: expected RFC 3339 or a duration like 90d"),
                )
            })?;
            let (written, pruned) = admin
                .export_audit(cutoff, &out, prune)
                .await
                .map_err(admin_error)?;
            if json {
                return output::json(&serde_json::json!({
                    "exported": written,
                    "pruned": pruned,
                    "file": out,
                }));
            }
            println!(
                "exported {written} audit lines to {}; pruned {pruned}",
                out.display()
            );
            Ok(())
        }
        Some(AuditCommand::Show { id }) => {
            let e = admin.audit_entry(id).await.map_err(admin_error)?;
            if json {
                return output::json(&e);
            }
            let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            let r = &e.record;
            println!("id:       {}", e.seq);
            println!("time:     {}", time(r.at));
            println!("event:    {}", r.event);
            println!("outcome:  {}", r.outcome);
            println!("actor:    {}", opt(&r.actor));
            println!("device:   {}", opt(&r.device_id));
            println!("key:      {}", opt(&r.key_id));
            println!("source:   {}", opt(&r.source));
            println!("reason:   {}", opt(&r.reason));
            Ok(())
        }
        None => {
            let now = admin.now();
            let filter = AuditFilter {
                since: args
                    .since
                    .as_deref()
                    .map(|t| when("--since", t, now))
                    .transpose()?,
                until: args
                    .until
                    .as_deref()
                    .map(|t| when("--until", t, now))
                    .transpose()?,
                user: args.user.map(|u| u.trim().to_lowercase()),
                device: args.device,
                event: args.event,
                outcome: args.outcome,
                limit: args.limit,
            };
            let entries = admin.audit_search(&filter).await.map_err(admin_error)?;
            if json {
                let lines: Vec<_> = entries.iter().map(|e| &e.record).collect();
                return output::json(&lines);
            }
            match args.format {
                AuditFormat::Jsonl => {
                    for e in &entries {
                        println!("{}", serde_json::to_string(e)?);
                    }
                }
                AuditFormat::Csv => print!("{}", csv(&entries)),
                AuditFormat::Table => print!("{}", table(&entries, args.details)),
            }
            Ok(())
        }
    }
}

/// `text` cut to `width` characters, ending with `…` when cut.
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The table: one line per entry of at most 80 columns; with `details`, a second line
/// with the device, key, source and reason (cut to 80 columns too; `audit show ID` has
/// them whole).
pub fn table(entries: &[AuditEntry], details: bool) -> String {
    let mut out = String::new();
    let row = |cells: [&str; 5]| {
        let line: Vec<String> = cells
            .iter()
            .zip(WIDTHS)
            .map(|(c, w)| format!("{:<w$}", fit(c, w)))
            .collect();
        format!("{}\n", line.join("  ").trim_end())
    };
    out.push_str(&row(["ID", "TIME (UTC)", "EVENT", "OUTCOME", "WHO"]));
    for e in entries {
        let r = &e.record;
        let at = time(r.at)
            .replace('T', " ")
            .trim_end_matches('Z')
            .to_owned();
        out.push_str(&row([
            &e.seq.to_string(),
            &at,
            &r.event,
            &r.outcome,
            r.actor.as_deref().unwrap_or("-"),
        ]));
        if details {
            let mut parts = Vec::new();
            for (name, value) in [
                ("device", &r.device_id),
                ("key", &r.key_id),
                ("source", &r.source),
                ("reason", &r.reason),
            ] {
                if let Some(v) = value {
                    parts.push(format!("{name}={v}"));
                }
            }
            if !parts.is_empty() {
                out.push_str(&format!("         {}\n", fit(&parts.join(" "), 71)));
            }
        }
    }
    if entries.is_empty() {
        out.push_str("(none)\n");
    }
    out
}

/// One CSV field (RFC 4180): quoted when it holds a comma, a quote, CR or LF (quotes
/// doubled). A field that a spreadsheet would take for a formula (starting with `=`, `+`,
/// `-`, `@`, tab or CR) is prefixed with `'`, because audit fields carry what requests sent.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// The entries as CSV with a header line, CRLF line ends (RFC 4180).
pub fn csv(entries: &[AuditEntry]) -> String {
    let mut out = String::from("id,time,event,outcome,actor,device_id,key_id,source,reason\r\n");
    for e in entries {
        let r = &e.record;
        let opt = |v: &Option<String>| csv_field(v.as_deref().unwrap_or(""));
        let fields = [
            e.seq.to_string(),
            time(r.at),
            csv_field(&r.event),
            csv_field(&r.outcome),
            opt(&r.actor),
            opt(&r.device_id),
            opt(&r.key_id),
            opt(&r.source),
            opt(&r.reason),
        ];
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_server::storage::AuditRecord;

    fn entry(actor: &str, reason: &str) -> AuditEntry {
        AuditEntry {
            seq: 1234567,
            record: AuditRecord {
                at: 1_700_000_000,
                event: "security_key_clone_suspected".into(),
                actor: Some(actor.into()),
                device_id: Some("d".repeat(36)),
                key_id: None,
                source: Some("127.0.0.1".into()),
                outcome: "aggregated".into(),
                reason: Some(reason.into()),
            },
        }
    }

    #[test]
    fn the_table_fits_80_columns_with_long_values() {
        let long = "someone.with.a.very.long.name@subsidiary.example.com";
        let text = table(&[entry(long, &"x".repeat(300))], true);
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "{} > 80: {line}", line.len());
        }
        assert!(text.contains("someone.with.a.…"), "{text}");
        assert!(text.contains("2023-11-14 22:13:20"), "{text}");
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let text = csv(&[entry("=HYPERLINK(\"x\")", "a,b\nc")]);
        let line = text.lines().nth(1).unwrap();
        assert!(line.contains(",\"'=HYPERLINK(\"\"x\"\")\","), "{line}");
        assert!(text.contains("\"a,b\nc\"\r\n"), "{text}");
        assert!(text.starts_with("id,time,event,outcome,actor,"));
    }
}
