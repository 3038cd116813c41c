//! A tenant's CSP policy document: the device-scope and user-scope node stores and a version.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::PolicyError;
use crate::node::{Node, Scope};
use crate::settings::{CharClassRule, PinSettings, PolicySettings};
use crate::tenant::TenantId;
use crate::value::Value;

/// The nodes set in one scope.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeStore {
    /// Whether the `{TenantId}` node exists (it is created by Add, or implicitly by the Add
    /// of a node below it, and removed by its Delete).
    pub tenant_node: bool,
    /// Leaf values. Only leaves valid in this scope, with values that passed
    /// [`crate::node::NodeSpec::check`], are ever stored.
    pub values: BTreeMap<Node, Value>,
}

impl ScopeStore {
    /// The value of a leaf, if set.
    pub fn get(&self, node: Node) -> Option<&Value> {
        self.values.get(&node)
    }

    fn bool(&self, node: Node) -> Option<bool> {
        match self.values.get(&node) {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    fn int(&self, node: Node) -> Option<i64> {
        match self.values.get(&node) {
            Some(Value::Int(i)) => Some(*i),
            _ => None,
        }
    }

    fn chr(&self, node: Node) -> Option<String> {
        match self.values.get(&node) {
            Some(Value::Chr(s)) => Some(s.clone()),
            _ => None,
        }
    }

    fn class(&self, node: Node) -> Option<CharClassRule> {
        self.int(node).and_then(CharClassRule::from_int)
    }

    fn uint(&self, node: Node) -> Option<u32> {
        self.int(node).and_then(|i| u32::try_from(i).ok())
    }

    /// The typed view of this store.
    pub fn settings(&self) -> PolicySettings {
        PolicySettings {
            use_passport_for_work: self.bool(Node::UsePassportForWork),
            require_security_device: self.bool(Node::RequireSecurityDevice),
            exclude_tpm12: self.bool(Node::Tpm12),
            enable_pin_recovery: self.bool(Node::EnablePinRecovery),
            use_certificate_for_on_prem_auth: self.bool(Node::UseCertificateForOnPremAuth),
            pin: PinSettings {
                min_length: self.int(Node::MinimumPinLength),
                max_length: self.int(Node::MaximumPinLength),
                uppercase: self.class(Node::UppercaseLetters),
                lowercase: self.class(Node::LowercaseLetters),
                special: self.class(Node::SpecialCharacters),
                digits: self.class(Node::Digits),
                history: self.uint(Node::History),
                expiration_days: self.uint(Node::Expiration),
            },
            use_remote_passport: self.bool(Node::UseRemotePassport),
            use_hello_certificates_as_smart_card_certificates: self
                .bool(Node::UseHelloCertificatesAsSmartCardCertificates),
            use_biometrics: self
                .bool(Node::BiometricsUseBiometrics)
                .or_else(|| self.bool(Node::UseBiometricsDeprecated)),
            facial_features_use_enhanced_anti_spoofing: self
                .bool(Node::FacialFeaturesUseEnhancedAntiSpoofing),
            device_unlock_group_a: self.chr(Node::DeviceUnlockGroupA),
            device_unlock_group_b: self.chr(Node::DeviceUnlockGroupB),
            device_unlock_plugins: self.chr(Node::DeviceUnlockPlugins),
            dynamic_lock: self.bool(Node::DynamicLockEnabled),
            dynamic_lock_plugins: self.chr(Node::DynamicLockPlugins),
            use_security_key_for_signin: self.int(Node::UseSecurityKeyForSignin).map(|i| i == 1),
        }
    }
}

/// One tenant's PassportForWork CSP policy, as the server stores it (JSON via serde).
///
/// The version increases by one with every successful change (a [`PolicyDocument::set`] or
/// [`PolicyDocument::delete`] call, or one SyncML message that changed anything), so the
/// server can audit each change and devices can tell whether they are current.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyDocument {
    tenant: TenantId,
    version: u64,
    device: ScopeStore,
    user: ScopeStore,
}

impl PolicyDocument {
    /// An empty document (version 0) for `tenant`.
    pub fn new(tenant: TenantId) -> Self {
        Self {
            tenant,
            version: 0,
            device: ScopeStore::default(),
            user: ScopeStore::default(),
        }
    }

    /// A document rebuilt from stored scope stores (what a server loads from its database).
    ///
    /// Every value is checked again against the node reference: a leaf outside its scope, an
    /// interior node or an invalid value is refused, so a tampered database cannot inject
    /// what [`crate::engine::apply`] would never have stored.
    pub fn from_stores(
        tenant: TenantId,
        version: u64,
        device: ScopeStore,
        user: ScopeStore,
    ) -> Result<Self, PolicyError> {
        for (scope, store) in [(Scope::Device, &device), (Scope::User, &user)] {
            for (node, value) in &store.values {
                let spec = node.spec();
                if !node.is_leaf() || !spec.scopes.contains(scope) {
                    return Err(PolicyError::NodeNotInScope {
                        node: node.to_string(),
                    });
                }
                spec.check(value)?;
            }
        }
        Ok(Self {
            tenant,
            version,
            device,
            user,
        })
    }

    /// The tenant this document belongs to.
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    /// The version: 0 for a new document, +1 for every successful change.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The store of one scope.
    pub fn store(&self, scope: Scope) -> &ScopeStore {
        match scope {
            Scope::Device => &self.device,
            Scope::User => &self.user,
        }
    }

    pub(crate) fn store_mut(&mut self, scope: Scope) -> &mut ScopeStore {
        match scope {
            Scope::Device => &mut self.device,
            Scope::User => &mut self.user,
        }
    }

    /// The value of a leaf in a scope, if set.
    pub fn get(&self, scope: Scope, node: Node) -> Option<&Value> {
        self.store(scope).get(node)
    }

    /// The typed view of one scope.
    pub fn settings(&self, scope: Scope) -> PolicySettings {
        self.store(scope).settings()
    }

    /// Set a leaf (checked against the node reference) and bump the version.
    ///
    /// For programmatic changes; SyncML goes through [`crate::engine::apply`].
    pub fn set(&mut self, scope: Scope, node: Node, value: Value) -> Result<(), PolicyError> {
        let spec = node.spec();
        if !node.is_leaf() {
            return Err(PolicyError::OperationNotAllowed {
                node: node.to_string(),
                op: "Replace",
                supported: spec.ops.to_string(),
            });
        }
        if !spec.scopes.contains(scope) {
            return Err(PolicyError::NodeNotInScope {
                node: node.to_string(),
            });
        }
        spec.check(&value)?;
        let version = self.next_version()?;
        let store = self.store_mut(scope);
        if node.under_tenant() {
            store.tenant_node = true;
        }
        store.values.insert(node, value);
        self.version = version;
        Ok(())
    }

    /// Remove a leaf and bump the version. Returns whether it was set (no bump if not).
    pub fn delete(&mut self, scope: Scope, node: Node) -> Result<bool, PolicyError> {
        let version = self.next_version()?;
        let removed = self.store_mut(scope).values.remove(&node).is_some();
        if removed {
            self.version = version;
        }
        Ok(removed)
    }

    pub(crate) fn next_version(&self) -> Result<u64, PolicyError> {
        self.version
            .checked_add(1)
            .ok_or(PolicyError::VersionExhausted)
    }

    pub(crate) fn set_version(&mut self, version: u64) {
        self.version = version;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> TenantId {
        TenantId::from_bytes([7; 16])
    }

    #[test]
    fn set_checks_and_bumps_version() {
        let mut d = PolicyDocument::new(tenant());
        d.set(Scope::Device, Node::History, Value::Int(50))
            .expect("in range");
        assert_eq!(d.version(), 1);
        assert!(d.store(Scope::Device).tenant_node);
        let e = d
            .set(Scope::Device, Node::History, Value::Int(51))
            .expect_err("range");
        assert_eq!(e.code(), "LK-POL-009");
        let e = d
            .set(Scope::User, Node::Tpm12, Value::Bool(true))
            .expect_err("scope");
        assert_eq!(e.code(), "LK-POL-005");
        assert_eq!(d.version(), 1);
        assert!(d.delete(Scope::Device, Node::History).expect("ok"));
        assert!(!d.delete(Scope::Device, Node::History).expect("ok"));
        assert_eq!(d.version(), 2);
    }

    #[test]
    fn from_stores_checks_values() {
        let mut device = ScopeStore::default();
        device.values.insert(Node::History, Value::Int(5));
        let d = PolicyDocument::from_stores(tenant(), 9, device.clone(), ScopeStore::default())
            .expect("valid");
        assert_eq!(d.version(), 9);
        assert_eq!(d.get(Scope::Device, Node::History), Some(&Value::Int(5)));
        device.values.insert(Node::History, Value::Int(51));
        assert!(PolicyDocument::from_stores(tenant(), 9, device, ScopeStore::default()).is_err());
        let mut user = ScopeStore::default();
        user.values.insert(Node::Tpm12, Value::Bool(true));
        assert!(PolicyDocument::from_stores(tenant(), 1, ScopeStore::default(), user).is_err());
    }

    #[test]
    fn json_round_trip() {
        let mut d = PolicyDocument::new(tenant());
        d.set(Scope::User, Node::Digits, Value::Int(1)).expect("ok");
        d.set(
            Scope::Device,
            Node::DeviceUnlockPlugins,
            Value::Chr("a,b".into()),
        )
        .expect("ok");
        let json = serde_json::to_string(&d).expect("serialize");
        let back: PolicyDocument = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, d);
    }

    #[test]
    fn deprecated_use_biometrics_only_when_new_node_unset() {
        let mut d = PolicyDocument::new(tenant());
        d.set(
            Scope::Device,
            Node::UseBiometricsDeprecated,
            Value::Bool(false),
        )
        .expect("ok");
        assert_eq!(d.settings(Scope::Device).use_biometrics, Some(false));
        d.set(
            Scope::Device,
            Node::BiometricsUseBiometrics,
            Value::Bool(true),
        )
        .expect("ok");
        assert_eq!(d.settings(Scope::Device).use_biometrics, Some(true));
    }
}
