//! The PassportForWork CSP node tree, exactly as the seed documents it.
//!
//! Every node has one [`NodeSpec`] in [`NODES`]: its place in the tree, its value type,
//! default, allowed values, supported operations and scopes. Where the seed is silent the
//! choice is written in the node's `note`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{clip, PolicyError};
use crate::value::{Format, Value};

/// Every node of the PassportForWork CSP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[allow(missing_docs)] // each variant is documented by its NodeSpec (see `Node::spec`)
pub enum Node {
    Root,
    Tenant,
    Policies,
    UsePassportForWork,
    RequireSecurityDevice,
    ExcludeSecurityDevices,
    Tpm12,
    EnablePinRecovery,
    UseCertificateForOnPremAuth,
    PinComplexity,
    MinimumPinLength,
    MaximumPinLength,
    UppercaseLetters,
    LowercaseLetters,
    SpecialCharacters,
    Digits,
    History,
    Expiration,
    Remote,
    UseRemotePassport,
    UseHelloCertificatesAsSmartCardCertificates,
    UseBiometricsDeprecated,
    Biometrics,
    BiometricsUseBiometrics,
    FacialFeaturesUseEnhancedAntiSpoofing,
    DeviceUnlock,
    DeviceUnlockGroupA,
    DeviceUnlockGroupB,
    DeviceUnlockPlugins,
    DynamicLock,
    DynamicLockEnabled,
    DynamicLockPlugins,
    SecurityKey,
    UseSecurityKeyForSignin,
}

/// The two management scopes of the CSP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// `./Device/Vendor/MSFT/PassportForWork` (also written `./Vendor/MSFT/PassportForWork`).
    Device,
    /// `./User/Vendor/MSFT/PassportForWork`.
    User,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Device => "device",
            Self::User => "user",
        })
    }
}

/// Where a node exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scopes {
    /// "(only for ./Device/Vendor/MSFT)".
    DeviceOnly,
    /// Both `./Device/Vendor/MSFT` and `./User/Vendor/MSFT`.
    DeviceAndUser,
}

impl Scopes {
    /// Whether the node exists in `scope`.
    pub fn contains(self, scope: Scope) -> bool {
        matches!((self, scope), (Self::DeviceAndUser, _) | (_, Scope::Device))
    }
}

/// A SyncML command that acts on a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// Add.
    Add,
    /// Delete.
    Delete,
    /// Get.
    Get,
    /// Replace.
    Replace,
}

impl Op {
    /// The command's element name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Add => "Add",
            Self::Delete => "Delete",
            Self::Get => "Get",
            Self::Replace => "Replace",
        }
    }

    /// Whether the command changes the tree.
    pub fn writes(self) -> bool {
        !matches!(self, Self::Get)
    }
}

/// The set of operations a node supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ops {
    /// Add.
    pub add: bool,
    /// Delete.
    pub delete: bool,
    /// Get.
    pub get: bool,
    /// Replace.
    pub replace: bool,
}

impl Ops {
    /// "Supported operations are Add, Get, Delete, and Replace."
    pub const ALL: Self = Self {
        add: true,
        delete: true,
        get: true,
        replace: true,
    };
    /// "Supported operation is Get."
    pub const GET: Self = Self {
        add: false,
        delete: false,
        get: true,
        replace: false,
    };
    /// A dynamic interior node: Add, Delete, Get.
    pub const ADD_DELETE_GET: Self = Self {
        add: true,
        delete: true,
        get: true,
        replace: false,
    };

    /// Whether `op` is supported.
    pub fn allows(self, op: Op) -> bool {
        match op {
            Op::Add => self.add,
            Op::Delete => self.delete,
            Op::Get => self.get,
            Op::Replace => self.replace,
        }
    }
}

impl fmt::Display for Ops {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = [Op::Add, Op::Delete, Op::Get, Op::Replace]
            .into_iter()
            .filter(|&o| self.allows(o))
            .map(Op::as_str)
            .collect();
        f.write_str(&names.join(", "))
    }
}

/// The value type of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// An interior node (format `node`).
    Node,
    /// bool.
    Bool,
    /// int.
    Int,
    /// chr ("Value type is string").
    Chr,
}

impl ValueType {
    /// The OMA-DM format the node's values travel in.
    pub fn format(self) -> Format {
        match self {
            Self::Node => Format::Node,
            Self::Bool => Format::Bool,
            Self::Int => Format::Int,
            Self::Chr => Format::Chr,
        }
    }
}

/// A node's default, as the seed states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultValue {
    /// No default (interior nodes; lists that are simply empty when not set).
    None,
    /// A boolean default.
    Bool(bool),
    /// An integer default.
    Int(i64),
}

impl DefaultValue {
    /// As a [`Value`], if there is one.
    pub fn value(self) -> Option<Value> {
        match self {
            Self::None => None,
            Self::Bool(b) => Some(Value::Bool(b)),
            Self::Int(i) => Some(Value::Int(i)),
        }
    }
}

/// The values a leaf accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowed {
    /// Any value of the type.
    Any,
    /// An inclusive integer range.
    Range(i64, i64),
    /// A comma-separated list of GUIDs (credential providers), braces optional.
    GuidList,
}

impl fmt::Display for Allowed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("any"),
            Self::Range(a, b) => write!(f, "{a}..={b}"),
            Self::GuidList => f.write_str("comma-separated GUIDs"),
        }
    }
}

/// One node of the CSP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeSpec {
    /// Which node.
    pub node: Node,
    /// Its parent (`None` for the root).
    pub parent: Option<Node>,
    /// Its name in a LocURI (`{TenantId}` for the dynamic tenant node).
    pub name: &'static str,
    /// Value type.
    pub ty: ValueType,
    /// Default.
    pub default: DefaultValue,
    /// Allowed values.
    pub allowed: Allowed,
    /// Supported operations.
    pub ops: Ops,
    /// Scopes the node exists in.
    pub scopes: Scopes,
    /// Whether the node is deprecated.
    pub deprecated: bool,
    /// Whether Latchkey enforces the setting yet (stored and shown either way).
    pub enforced: bool,
    /// The seed's words, or the decision taken where the seed is silent.
    pub note: &'static str,
}

macro_rules! spec {
    ($node:ident, $parent:expr, $name:literal, $ty:ident, $default:expr, $allowed:expr, $ops:ident, $scopes:ident, $enforced:literal, $note:literal) => {
        NodeSpec {
            node: Node::$node,
            parent: $parent,
            name: $name,
            ty: ValueType::$ty,
            default: $default,
            allowed: $allowed,
            ops: Ops::$ops,
            scopes: Scopes::$scopes,
            deprecated: false,
            enforced: $enforced,
            note: $note,
        }
    };
}

use Allowed::{Any, Range};
use DefaultValue as D;

const P: Option<Node> = Some(Node::Policies);
const PC: Option<Node> = Some(Node::PinComplexity);
const R: Option<Node> = Some(Node::Root);

/// The whole tree, parents before children.
pub static NODES: &[NodeSpec] = &[
    spec!(Root, None, "PassportForWork", Node, D::None, Any, GET, DeviceAndUser, true,
        "Root node for PassportForWork configuration service provider. (Operations: the seed is silent; Get only.)"),
    spec!(Tenant, R, "{TenantId}", Node, D::None, Any, ADD_DELETE_GET, DeviceAndUser, true,
        "A globally unique identifier (GUID), without curly braces. (Operations: the seed is silent; a dynamic node: Add, Delete, Get; Delete removes everything below it.)"),
    spec!(Policies, Some(Node::Tenant), "Policies", Node, D::None, Any, GET, DeviceAndUser, true,
        "Node for defining the Windows Hello for Business policy settings. (Operations: the seed is silent; permanent, Get only, created with the tenant node.)"),
    spec!(UsePassportForWork, P, "UsePassportForWork", Bool, D::Bool(true), Any, ALL, DeviceAndUser, true,
        "Boolean value that sets Windows Hello for Business as a method for signing into Windows. Default value is true."),
    spec!(RequireSecurityDevice, P, "RequireSecurityDevice", Bool, D::Bool(false), Any, ALL, DeviceAndUser, true,
        "Boolean value that requires a Trusted Platform Module (TPM) for Windows Hello for Business. Default value is false."),
    spec!(ExcludeSecurityDevices, P, "ExcludeSecurityDevices", Node, D::None, Any, GET, DeviceOnly, true,
        "(only for ./Device/Vendor/MSFT) Root node for excluded security devices. (Operations: the seed is silent; Get only.)"),
    spec!(Tpm12, Some(Node::ExcludeSecurityDevices), "TPM12", Bool, D::Bool(false), Any, ALL, DeviceOnly, true,
        "(only for ./Device/Vendor/MSFT) Default value is false. If you enable this policy setting, TPM revision 1.2 modules will be disallowed."),
    spec!(EnablePinRecovery, P, "EnablePinRecovery", Bool, D::Bool(false), Any, ALL, DeviceAndUser, false,
        "Boolean value that enables a user to change their PIN by using the Windows Hello for Business PIN recovery service. Default value is false."),
    spec!(UseCertificateForOnPremAuth, P, "UseCertificateForOnPremAuth", Bool, D::Bool(false), Any, ALL, DeviceOnly, true,
        "(only for ./Device/Vendor/MSFT) Boolean value that enables Windows Hello for Business to use certificates to authenticate on-premises resources. (Default: 'If you disable or do not configure this policy setting' -> false.)"),
    spec!(PinComplexity, P, "PINComplexity", Node, D::None, Any, GET, DeviceAndUser, true,
        "Node for defining PIN settings. (Operations: the seed is silent; Get only.)"),
    spec!(MinimumPinLength, PC, "MinimumPINLength", Int, D::Int(4), Range(4, 127), ALL, DeviceAndUser, true,
        "Default value is 4. The lowest number you can configure for this policy setting is 4. The largest number you can configure must be less than the number configured in the Maximum PIN length policy setting or the number 127, whichever is the lowest."),
    spec!(MaximumPinLength, PC, "MaximumPINLength", Int, D::Int(127), Range(4, 127), ALL, DeviceAndUser, true,
        "Default value is 127. The largest number you can configure for this policy setting is 127. The lowest number you can configure must be larger than the number configured in the Minimum PIN length policy setting or the number 4, whichever is greater."),
    spec!(UppercaseLetters, PC, "UppercaseLetters", Int, D::Int(2), Range(0, 2), ALL, DeviceAndUser, true,
        "0 - Allows the use of uppercase letters in PIN. 1 - Requires ... at least one. 2 - Does not allow. Default value is 2."),
    spec!(LowercaseLetters, PC, "LowercaseLetters", Int, D::Int(2), Range(0, 2), ALL, DeviceAndUser, true,
        "0 - Allows the use of lowercase letters in PIN. 1 - Requires ... at least one. 2 - Does not allow. Default value is 2."),
    spec!(SpecialCharacters, PC, "SpecialCharacters", Int, D::Int(2), Range(0, 2), ALL, DeviceAndUser, true,
        "0 - Allows the use of special characters in PIN. 1 - Requires ... at least one. 2 - Does not allow. Default value is 2."),
    spec!(Digits, PC, "Digits", Int, D::Int(1), Range(0, 2), ALL, DeviceAndUser, true,
        "0 - Allows the use of digits in PIN. 1 - Requires ... at least one digit. 2 - Does not allow. Default value is 1."),
    spec!(History, PC, "History", Int, D::Int(0), Range(0, 50), ALL, DeviceAndUser, true,
        "The largest number you can configure for this policy setting is 50. The lowest number you can configure for this policy setting is 0. Default value is 0."),
    spec!(Expiration, PC, "Expiration", Int, D::Int(0), Range(0, 730), ALL, DeviceAndUser, true,
        "The largest number you can configure for this policy setting is 730. The lowest ... is 0. If this policy is set to 0, then the user's PIN will never expire. Default is 0."),
    spec!(Remote, P, "Remote", Node, D::None, Any, GET, DeviceOnly, true,
        "(only for ./Device/Vendor/MSFT) Interior node for defining remote Windows Hello for Business policies. (Operations: the seed is silent; Get only.)"),
    spec!(UseRemotePassport, Some(Node::Remote), "UseRemotePassport", Bool, D::Bool(false), Any, ALL, DeviceOnly, false,
        "(only for ./Device/Vendor/MSFT) Boolean value used to enable or disable the use of remote Windows Hello for Business. Default value is false."),
    spec!(UseHelloCertificatesAsSmartCardCertificates, P, "UseHelloCertificatesAsSmartCardCertificates", Bool, D::Bool(false), Any, ALL, DeviceOnly, false,
        "(only for ./Device/Vendor/MSFT) Value type is bool. (Default: 'If you disable or do not configure' -> false.)"),
    NodeSpec {
        deprecated: true,
        ..spec!(UseBiometricsDeprecated, R, "UseBiometrics", Bool, D::Bool(true), Any, ALL, DeviceAndUser, false,
            "This node is deprecated. Use Biometrics/UseBiometrics node instead. (The seed gives no type, default or scope; those of Biometrics/UseBiometrics are used, and no scope restriction, as none is written. Biometrics/UseBiometrics wins when both are set.)")
    },
    spec!(Biometrics, R, "Biometrics", Node, D::None, Any, GET, DeviceOnly, false,
        "(only for ./Device/Vendor/MSFT) Node for defining biometric settings. (Operations: the seed is silent; Get only.)"),
    spec!(BiometricsUseBiometrics, Some(Node::Biometrics), "UseBiometrics", Bool, D::Bool(true), Any, ALL, DeviceOnly, false,
        "(only for ./Device/Vendor/MSFT) Boolean value used to enable or disable the use of biometric gestures. Default value is true."),
    spec!(FacialFeaturesUseEnhancedAntiSpoofing, Some(Node::Biometrics), "FacialFeaturesUseEnhancedAntiSpoofing", Bool, D::Bool(false), Any, ALL, DeviceOnly, false,
        "(only for ./Device/Vendor/MSFT) Boolean value used to enable or disable enhanced anti-spoofing for facial feature recognition. Default value is false."),
    spec!(DeviceUnlock, R, "DeviceUnlock", Node, D::None, Any, GET, DeviceOnly, false,
        "(only for ./Device/Vendor/MSFT) Interior node. (Operations: the seed is silent; Get only.)"),
    spec!(DeviceUnlockGroupA, Some(Node::DeviceUnlock), "GroupA", Chr, D::None, Allowed::GuidList, ALL, DeviceOnly, false,
        "(only for ./Device/Vendor/MSFT) Contains a list of credential providers by GUID (comma separated) that are the first step of authentication. Value type is string."),
    spec!(DeviceUnlockGroupB, Some(Node::DeviceUnlock), "GroupB", Chr, D::None, Allowed::GuidList, ALL, DeviceOnly, false,
        "(only for ./Device/Vendor/MSFT) Contains a list of credential providers by GUID (comma separated) that are the second step of authentication. Value type is string."),
    spec!(DeviceUnlockPlugins, Some(Node::DeviceUnlock), "Plugins", Chr, D::None, Any, ALL, DeviceOnly, false,
        "(only for ./Device/Vendor/MSFT) List of plugins (comma separated) that the passive provider monitors to detect user presence. Value type is string."),
    spec!(DynamicLock, R, "DynamicLock", Node, D::None, Any, GET, DeviceOnly, false,
        "(only for ./Device/Vendor/MSFT) Interior node. (Operations: the seed is silent; Get only.)"),
    spec!(DynamicLockEnabled, Some(Node::DynamicLock), "DynamicLock", Bool, D::Bool(false), Any, ALL, DeviceOnly, false,
        "(only for ./Device/Vendor/MSFT) Enables the dynamic lock. Value type is bool. (Default: the seed is silent; false, i.e. not enabled.)"),
    spec!(DynamicLockPlugins, Some(Node::DynamicLock), "Plugins", Chr, D::None, Any, ALL, DeviceOnly, false,
        "(only for ./Device/Vendor/MSFT) List of plugins (comma separated) that the passive provider monitors to detect user absence. Value type is string."),
    spec!(SecurityKey, R, "SecurityKey", Node, D::None, Any, GET, DeviceOnly, true,
        "(only for ./Device/Vendor/MSFT) Interior node. Scope is permanent. Supported operation is Get."),
    spec!(UseSecurityKeyForSignin, Some(Node::SecurityKey), "UseSecurityKeyForSignin", Int, D::Int(0), Range(0, 1), ALL, DeviceOnly, true,
        "(only for ./Device/Vendor/MSFT) Scope is dynamic. Value type is integer. 0 (default) - disabled. 1 - enabled."),
];

impl Node {
    /// This node's specification.
    // NODES is a non-empty literal (its first entry is the root), so `NODES[0]` cannot fail.
    #[allow(clippy::indexing_slicing)]
    pub fn spec(self) -> &'static NodeSpec {
        // NODES lists every variant exactly once (checked by a unit test); the fallback to
        // the root is unreachable.
        NODES.iter().find(|s| s.node == self).unwrap_or(&NODES[0])
    }

    /// The node's children, in tree order.
    pub fn children(self) -> impl Iterator<Item = &'static NodeSpec> {
        NODES.iter().filter(move |s| s.parent == Some(self))
    }

    /// Whether the node lives below `{TenantId}`.
    pub fn under_tenant(self) -> bool {
        let mut cur = self.spec().parent;
        while let Some(n) = cur {
            if n == Node::Tenant {
                return true;
            }
            cur = n.spec().parent;
        }
        self == Node::Tenant
    }

    /// Whether the node is a leaf (has a value).
    pub fn is_leaf(self) -> bool {
        self.spec().ty != ValueType::Node
    }

    /// The node's path below `PassportForWork/` (with `{TenantId}` for the tenant segment),
    /// e.g. `{TenantId}/Policies/PINComplexity/Digits`; empty for the root.
    pub fn path(self) -> String {
        let mut parts = Vec::new();
        let mut cur = Some(self);
        while let Some(n) = cur {
            if n != Node::Root {
                parts.push(n.spec().name);
            }
            cur = n.spec().parent;
        }
        parts.reverse();
        parts.join("/")
    }

    /// Every leaf node.
    pub fn leaves() -> impl Iterator<Item = Node> {
        NODES
            .iter()
            .filter(|s| s.ty != ValueType::Node)
            .map(|s| s.node)
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Node::Root {
            f.write_str("PassportForWork")
        } else {
            f.write_str(&self.path())
        }
    }
}

impl NodeSpec {
    /// Check a value against the node's type and allowed values.
    pub fn check(&self, value: &Value) -> Result<(), PolicyError> {
        let node = self.node.to_string();
        let out_of_range = || PolicyError::ValueOutOfRange {
            node: node.clone(),
            value: clip(&value.to_data()),
            allowed: self.allowed.to_string(),
        };
        if value.format() != self.ty.format() {
            return Err(PolicyError::FormatMismatch {
                node: node.clone(),
                expected: self.ty.format().as_str(),
                got: value.format().to_string(),
            });
        }
        match (self.allowed, value) {
            (Allowed::Any, _) => Ok(()),
            (Allowed::Range(lo, hi), Value::Int(i)) if (lo..=hi).contains(i) => Ok(()),
            (Allowed::GuidList, Value::Chr(s)) if is_guid_list(s) => Ok(()),
            _ => Err(out_of_range()),
        }
    }
}

/// A comma-separated list of GUIDs, each optionally in braces; the empty list is allowed.
fn is_guid_list(s: &str) -> bool {
    s.trim().is_empty()
        || s.split(',').all(|part| {
            let p = part.trim();
            let inner = p
                .strip_prefix('{')
                .and_then(|x| x.strip_suffix('}'))
                .unwrap_or(p);
            inner.parse::<crate::tenant::TenantId>().is_ok()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_lists_every_node_once_parents_first() {
        for (i, s) in NODES.iter().enumerate() {
            assert_eq!(NODES.iter().filter(|t| t.node == s.node).count(), 1);
            if let Some(p) = s.parent {
                let pi = NODES
                    .iter()
                    .position(|t| t.node == p)
                    .expect("parent listed");
                assert!(pi < i, "{:?} listed before its parent", s.node);
            }
        }
        assert_eq!(NODES.len(), 34);
    }

    #[test]
    fn paths() {
        assert_eq!(
            Node::Digits.path(),
            "{TenantId}/Policies/PINComplexity/Digits"
        );
        assert_eq!(Node::DynamicLockEnabled.path(), "DynamicLock/DynamicLock");
        assert_eq!(Node::UseBiometricsDeprecated.path(), "UseBiometrics");
        assert!(Node::Tpm12.under_tenant());
        assert!(!Node::BiometricsUseBiometrics.under_tenant());
    }

    #[test]
    fn guid_lists() {
        assert!(is_guid_list(""));
        assert!(is_guid_list(
            "{8AF662BF-65A0-4D0A-A540-A338A999D36F}, 27FBDB57-B613-4AF2-9D7E-4FA7A66C21AD"
        ));
        assert!(!is_guid_list("not-a-guid"));
    }
}
