//! What the TPM says about itself: manufacturer, firmware, specification version; and the
//! usable/not-usable probe behind `latchkey status` and the key-provider choice.

use tss_esapi::constants::PropertyTag;

use crate::device::Tpm;
use crate::error::TpmError;
use crate::tcti::Tcti;

/// The fixed properties that identify a TPM (TPM 2.0 Part 2, TPM_PT_*).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TpmInfo {
    /// TPM_PT_MANUFACTURER as its 4-character vendor ID ("IBM", "INTC", "STM", "IFX" ..),
    /// trailing NULs and spaces removed.
    pub manufacturer: String,
    /// TPM_PT_MANUFACTURER as the TPM reports it.
    pub manufacturer_id: u32,
    /// TPM_PT_VENDOR_STRING_1..4 concatenated, NULs removed.
    pub vendor: String,
    /// TPM_PT_FIRMWARE_VERSION_1.
    pub firmware_version_1: u32,
    /// TPM_PT_FIRMWARE_VERSION_2.
    pub firmware_version_2: u32,
    /// TPM_PT_FAMILY_INDICATOR as text: "2.0".
    pub family: String,
    /// TPM_PT_LEVEL (0 for every published level so far).
    pub level: u32,
    /// TPM_PT_REVISION: the specification revision times 100 (164 is revision 1.64).
    pub revision: u32,
}

impl TpmInfo {
    /// The firmware version the way Windows' TPM console shows it: the two 32-bit
    /// properties as four 16-bit numbers, `a.b.c.d`.
    pub fn firmware(&self) -> String {
        format!(
            "{}.{}.{}.{}",
            self.firmware_version_1 >> 16,
            self.firmware_version_1 & 0xffff,
            self.firmware_version_2 >> 16,
            self.firmware_version_2 & 0xffff
        )
    }

    /// "2.0, level 0, revision 1.64".
    pub fn spec_version(&self) -> String {
        format!(
            "{}, level {}, revision {}.{:02}",
            self.family,
            self.level,
            self.revision / 100,
            self.revision % 100
        )
    }
}

/// Four big-endian bytes as text, NULs and surrounding spaces removed.
fn property_text(value: u32) -> String {
    value
        .to_be_bytes()
        .iter()
        .filter(|b| **b != 0)
        .map(|b| {
            if b.is_ascii_graphic() || *b == b' ' {
                *b as char
            } else {
                '?'
            }
        })
        .collect::<String>()
        .trim()
        .to_string()
}

impl Tpm {
    /// Read the identifying fixed properties.
    pub fn info(&mut self) -> Result<TpmInfo, TpmError> {
        // TPM_PT_FAMILY_INDICATOR (0x100) .. TPM_PT_FIRMWARE_VERSION_2 (0x10C): one call.
        let list = self.properties(PropertyTag::FamilyIndicator, 13)?;
        let get = |tag| list.find(tag).map(|p| p.value()).unwrap_or(0);
        let vendor: String = [
            PropertyTag::VendorString1,
            PropertyTag::VendorString2,
            PropertyTag::VendorString3,
            PropertyTag::VendorString4,
        ]
        .into_iter()
        .map(|t| property_text(get(t)))
        .collect();
        Ok(TpmInfo {
            manufacturer: property_text(get(PropertyTag::Manufacturer)),
            manufacturer_id: get(PropertyTag::Manufacturer),
            vendor,
            firmware_version_1: get(PropertyTag::FirmwareVersion1),
            firmware_version_2: get(PropertyTag::FirmwareVersion2),
            family: property_text(get(PropertyTag::FamilyIndicator)),
            level: get(PropertyTag::Level),
            revision: get(PropertyTag::Revision),
        })
    }
}

/// Whether a TPM can be used as a key provider, and why (for `status` and the event log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The TCTI probed, if any.
    pub tcti: Option<Tcti>,
    /// The TPM's identity when it answered.
    pub info: Option<TpmInfo>,
    /// The reason it is not usable; `None` when it is.
    pub unusable: Option<TpmError>,
}

impl Probe {
    /// True when the TPM answered and is a TPM 2.0.
    pub fn usable(&self) -> bool {
        self.unusable.is_none() && self.info.is_some()
    }

    /// One line for people: what was found, or why it is not usable.
    pub fn reason(&self) -> String {
        match (&self.tcti, &self.info, &self.unusable) {
            (None, _, _) => format!(
                "no TPM: {} does not exist and no TCTI was given",
                crate::tcti::DEFAULT_DEVICE
            ),
            (Some(t), _, Some(e)) => format!("TPM at {t} not usable: {e}"),
            (Some(t), Some(i), None) => format!(
                "TPM at {t}: {} firmware {}, TPM {}",
                i.manufacturer,
                i.firmware(),
                i.spec_version()
            ),
            (Some(t), None, None) => format!("TPM at {t} not probed"),
        }
    }
}

/// Probe `tcti` (or [`crate::default_tcti`] when `None`): connect, read the identity,
/// require family "2.0"; a TPM the TSS cannot talk to is asked for its family directly
/// ([`crate::family`]), so that a TPM 1.2 is reported as one.
pub fn probe(tcti: Option<&Tcti>) -> Probe {
    let tcti = match tcti {
        Some(t) => t.clone(),
        None => match crate::tcti::default_tcti() {
            Some(t) => t,
            None => {
                return Probe {
                    tcti: None,
                    info: None,
                    unusable: Some(TpmError::Unavailable {
                        reason: format!("{} does not exist", crate::tcti::DEFAULT_DEVICE),
                    }),
                }
            }
        },
    };
    let result = Tpm::open(&tcti).and_then(|mut tpm| tpm.info());
    match result {
        Ok(info) if info.family != "2.0" => Probe {
            tcti: Some(tcti),
            unusable: Some(TpmError::NotTpm20 {
                family: info.family.clone(),
            }),
            info: Some(info),
        },
        Ok(info) => Probe {
            tcti: Some(tcti),
            info: Some(info),
            unusable: None,
        },
        // The TSS speaks TPM 2.0 only; a TPM 1.2 shows itself in the tag of a raw answer.
        Err(e) => {
            let unusable = match crate::family::raw_family(&tcti) {
                Some(crate::family::Family::Tpm12) => TpmError::NotTpm20 {
                    family: "1.2".to_owned(),
                },
                _ => e,
            };
            Probe {
                tcti: Some(tcti),
                info: None,
                unusable: Some(unusable),
            }
        }
    }
}

impl Probe {
    /// True when the TPM found is a TPM 1.2 (reported, never used: Latchkey makes keys in
    /// TPM 2.0 only).
    pub fn is_tpm12(&self) -> bool {
        matches!(&self.unusable, Some(TpmError::NotTpm20 { family }) if family.starts_with('1'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_text_strips_nuls() {
        assert_eq!(property_text(0x4942_4d00), "IBM");
        assert_eq!(property_text(0x322e_3000), "2.0");
        assert_eq!(property_text(0x494e_5443), "INTC");
    }

    #[test]
    fn versions_format() {
        let i = TpmInfo {
            manufacturer: "IBM".into(),
            manufacturer_id: 0x4942_4d00,
            vendor: "SW   TPM".into(),
            firmware_version_1: 0x2019_1023,
            firmware_version_2: 0x0016_3636,
            family: "2.0".into(),
            level: 0,
            revision: 164,
        };
        assert_eq!(i.spec_version(), "2.0, level 0, revision 1.64");
        assert_eq!(i.firmware(), "8217.4131.22.13878");
    }
}
