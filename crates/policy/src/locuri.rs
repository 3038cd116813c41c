//! LocURIs of the PassportForWork CSP.
//!
//! Accepted forms (MS-MDM; the seed's example uses the third, which Windows treats as the
//! device scope):
//!
//! ```text
//! ./Device/Vendor/MSFT/PassportForWork[/...]
//! ./User/Vendor/MSFT/PassportForWork[/...]
//! ./Vendor/MSFT/PassportForWork[/...]          (device scope)
//! ```
//!
//! Surrounding whitespace is ignored (the seed's example puts the LocURI on its own indented
//! line). Node names are case-sensitive, as in every OMA-DM tree.

use crate::error::{clip, PolicyError};
use crate::node::{Node, Scope};
use crate::tenant::TenantId;

/// A LocURI resolved to a node of the CSP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocUri {
    /// The scope the LocURI addresses.
    pub scope: Scope,
    /// The tenant it names, for nodes at or below `{TenantId}`.
    pub tenant: Option<TenantId>,
    /// The node.
    pub node: Node,
}

impl LocUri {
    /// The canonical text of this LocURI (always with an explicit `./Device` or `./User`).
    pub fn to_uri(&self) -> String {
        let prefix = match self.scope {
            Scope::Device => "./Device/Vendor/MSFT/PassportForWork",
            Scope::User => "./User/Vendor/MSFT/PassportForWork",
        };
        if self.node == Node::Root {
            return prefix.to_owned();
        }
        let path = self.node.path();
        let path = match self.tenant {
            Some(t) => path.replacen("{TenantId}", &t.to_string(), 1),
            None => path,
        };
        format!("{prefix}/{path}")
    }
}

const PREFIXES: [(&str, Scope); 3] = [
    ("./Device/Vendor/MSFT/PassportForWork", Scope::Device),
    ("./User/Vendor/MSFT/PassportForWork", Scope::User),
    ("./Vendor/MSFT/PassportForWork", Scope::Device),
];

/// Resolve a LocURI to a node of this CSP.
///
/// Errors: malformed syntax (LK-POL-002, 400), a `?` query such as `?list=Struct` (LK-POL-014,
/// 406), a tenant segment that is GUID-shaped but not a valid GUID (LK-POL-001, 400), a name
/// that is no node (LK-POL-003, 404), and a device-only node addressed under `./User`
/// (LK-POL-005, 404).
pub fn parse_loc_uri(uri: &str) -> Result<LocUri, PolicyError> {
    let uri = uri.trim_matches(|c: char| c.is_ascii_whitespace());
    let malformed = |reason| PolicyError::MalformedLocUri {
        uri: clip(uri),
        reason,
    };
    if uri.is_empty() {
        return Err(malformed("empty"));
    }
    if uri.starts_with('/') {
        return Err(malformed("a LocURI cannot start with '/'"));
    }
    if uri.contains('?') {
        return Err(PolicyError::OptionalFeatureNotSupported {
            feature: format!("LocURI query {:?}", clip(uri)),
        });
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(malformed(
            "white space or control character inside the LocURI",
        ));
    }
    let Some((rest, scope)) = PREFIXES.iter().find_map(|&(p, s)| {
        let rest = uri.strip_prefix(p)?;
        (rest.is_empty() || rest.starts_with('/')).then_some((rest, s))
    }) else {
        return Err(PolicyError::UnknownNode { uri: clip(uri) });
    };
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    if rest.is_empty() {
        return Ok(LocUri {
            scope,
            tenant: None,
            node: Node::Root,
        });
    }
    let mut node = Node::Root;
    let mut tenant = None;
    for seg in rest.split('/') {
        if seg.is_empty() {
            return Err(malformed("empty segment"));
        }
        if seg == "." || seg == ".." {
            return Err(malformed("'.' and '..' segments are not allowed"));
        }
        if let Some(child) = node.children().find(|c| c.name == seg) {
            node = child.node;
        } else if node == Node::Root && TenantId::looks_like_guid(seg) {
            tenant = Some(seg.parse::<TenantId>()?);
            node = Node::Tenant;
        } else {
            return Err(PolicyError::UnknownNode { uri: clip(uri) });
        }
    }
    if !node.spec().scopes.contains(scope) {
        return Err(PolicyError::NodeNotInScope {
            node: node.to_string(),
        });
    }
    Ok(LocUri {
        scope,
        tenant,
        node,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    #[test]
    fn resolves_every_form() {
        let u = parse_loc_uri(&format!(
            "\n   ./Vendor/MSFT/PassportForWork/{T}/Policies/PINComplexity/Digits\n  "
        ))
        .expect("valid");
        assert_eq!(u.scope, Scope::Device);
        assert_eq!(u.node, Node::Digits);
        assert_eq!(u.tenant.map(|t| t.to_string()), Some(T.to_owned()));
        assert_eq!(
            u.to_uri(),
            format!("./Device/Vendor/MSFT/PassportForWork/{T}/Policies/PINComplexity/Digits")
        );
        let u = parse_loc_uri("./User/Vendor/MSFT/PassportForWork").expect("root");
        assert_eq!((u.scope, u.node), (Scope::User, Node::Root));
        let u = parse_loc_uri("./Device/Vendor/MSFT/PassportForWork/DynamicLock/DynamicLock")
            .expect("valid");
        assert_eq!(u.node, Node::DynamicLockEnabled);
        assert_eq!(u.tenant, None);
    }

    #[test]
    fn errors() {
        let code = |u: &str| parse_loc_uri(u).expect_err(u).code();
        assert_eq!(code("/Vendor/MSFT/PassportForWork"), "LK-POL-002");
        assert_eq!(
            code("./Device/Vendor/MSFT/PassportForWork//Biometrics"),
            "LK-POL-002"
        );
        assert_eq!(
            code("./Device/Vendor/MSFT/PassportForWork/Biometrics/"),
            "LK-POL-002"
        );
        assert_eq!(code("./Device/Vendor/MSFT/PassportForWorkX"), "LK-POL-003");
        assert_eq!(code("./Device/Vendor/MSFT/Policy/Config/X"), "LK-POL-003");
        assert_eq!(
            code("./Device/Vendor/MSFT/PassportForWork/Biometrics/FacialFeatureUseEnhancedAntiSpoofing"),
            "LK-POL-003"
        );
        assert_eq!(
            code("./Device/Vendor/MSFT/PassportForWork/5NEMDU42-45CC-8CBL-8BPF-D7092646325F"),
            "LK-POL-001"
        );
        assert_eq!(
            code("./User/Vendor/MSFT/PassportForWork/Biometrics"),
            "LK-POL-005"
        );
        assert_eq!(
            code(&format!(
                "./User/Vendor/MSFT/PassportForWork/{T}/Policies/UseCertificateForOnPremAuth"
            )),
            "LK-POL-005"
        );
        assert_eq!(
            code("./Device/Vendor/MSFT/PassportForWork?list=Struct"),
            "LK-POL-014"
        );
        assert_eq!(
            code(&format!(
                "./Device/Vendor/MSFT/PassportForWork/{T}/policies"
            )),
            "LK-POL-003"
        );
    }
}
