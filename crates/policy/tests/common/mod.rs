//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::expect_used)]

use latchkey_policy::engine::{apply, Access, Applied, Session};
use latchkey_policy::syncml::{parse_message, Limits};
use latchkey_policy::{PolicyDocument, TenantId};

pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const OTHER: &str = "11111111-2222-3333-4444-555555555555";

pub fn tenant() -> TenantId {
    TENANT.parse().expect("valid tenant id")
}

pub fn session() -> Session {
    Session {
        tenant: tenant(),
        authenticated: true,
        access: Access::ReadWrite,
    }
}

/// Wrap body commands in a full message with a SyncHdr.
pub fn message(body: &str) -> String {
    format!(
        r#"<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>7</SessionID><MsgID>3</MsgID><Target><LocURI>https://latchkey.example/policy</LocURI></Target><Source><LocURI>admin-tool</LocURI></Source></SyncHdr><SyncBody>{body}<Final/></SyncBody></SyncML>"#
    )
}

pub fn dev(path: &str) -> String {
    format!("./Device/Vendor/MSFT/PassportForWork/{TENANT}/Policies/{path}")
}

pub fn cmd(kind: &str, id: u32, uri: &str, format: Option<&str>, data: Option<&str>) -> String {
    let meta = format
        .map(|f| {
            format!(
                r#"<Meta><Format xmlns="syncml:metinf">{f}</Format><Type>text/plain</Type></Meta>"#
            )
        })
        .unwrap_or_default();
    let data = data
        .map(|d| format!("<Data>{d}</Data>"))
        .unwrap_or_default();
    format!("<{kind}><CmdID>{id}</CmdID><Item><Target><LocURI>{uri}</LocURI></Target>{meta}{data}</Item></{kind}>")
}

pub fn run(doc: &PolicyDocument, body: &str) -> Applied {
    let msg = parse_message(&message(body), &Limits::default()).expect("parses");
    apply(doc, &msg, &session())
}

/// The status codes of the non-header statuses.
pub fn codes(a: &Applied) -> Vec<u16> {
    a.outcomes.iter().map(|o| o.status.0).collect()
}
