//! A big-endian byte reader for TPM 2.0 marshalled structures (TPM 2.0 Part 1, 18.2:
//! "all TPM structures are big-endian"). Every read is bounds-checked and the caller must
//! call [`Reader::finish`] so trailing bytes are refused.

use crate::error::AttestError;

/// Largest TPM2B_* buffer accepted (TPM2B_PUBLIC_KEY_RSA is at most 512 bytes in TPM 2.0).
const MAX_SIZED: usize = 1024;

/// Reads one TPM structure.
pub(crate) struct Reader<'a> {
    structure: &'static str,
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Start reading `data` as `structure` (named in errors).
    pub fn new(structure: &'static str, data: &'a [u8]) -> Self {
        Self {
            structure,
            data,
            pos: 0,
        }
    }

    /// The error for the current position.
    pub fn error(&self, detail: &'static str) -> AttestError {
        AttestError::TpmStructureMalformed {
            structure: self.structure,
            offset: self.pos,
            detail,
        }
    }

    /// The current offset.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Read `n` raw bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], AttestError> {
        let out = self
            .pos
            .checked_add(n)
            .and_then(|end| self.data.get(self.pos..end))
            .ok_or_else(|| self.error("truncated"))?;
        let end = self.pos + out.len();
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], AttestError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(N)?);
        Ok(a)
    }

    /// A UINT8.
    pub fn u8(&mut self) -> Result<u8, AttestError> {
        let [b] = self.array::<1>()?;
        Ok(b)
    }

    /// A UINT16.
    pub fn u16(&mut self) -> Result<u16, AttestError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// A UINT32.
    pub fn u32(&mut self) -> Result<u32, AttestError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// A UINT64.
    pub fn u64(&mut self) -> Result<u64, AttestError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// A TPM2B_* buffer: UINT16 size, then that many bytes.
    pub fn sized(&mut self) -> Result<&'a [u8], AttestError> {
        let n = usize::from(self.u16()?);
        if n > MAX_SIZED {
            return Err(self.error("TPM2B buffer larger than 1024 bytes"));
        }
        self.bytes(n)
    }

    /// Refuse trailing bytes.
    pub fn finish(self) -> Result<(), AttestError> {
        if self.pos != self.data.len() {
            return Err(self.error("trailing bytes"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_big_endian_and_refuses_trailing() {
        let mut r = Reader::new("T", &[0x12, 0x34, 0, 2, 9, 8, 7]);
        assert_eq!(r.u16().unwrap(), 0x1234);
        assert_eq!(r.sized().unwrap(), &[9, 8]);
        assert_eq!(r.pos(), 6);
        let e = r.finish().unwrap_err();
        assert_eq!(e.code(), "LK-ATT-028");
        let mut r = Reader::new("T", &[0, 5, 1]);
        assert!(r.sized().is_err());
    }

    #[test]
    fn short_reads_are_truncated_at_their_offset() {
        let truncated = |offset| AttestError::TpmStructureMalformed {
            structure: "T",
            offset,
            detail: "truncated",
        };
        assert_eq!(Reader::new("T", &[]).u8().unwrap_err(), truncated(0));
        let mut r = Reader::new("T", &[1, 2, 3]);
        assert_eq!(r.u8().unwrap(), 1);
        assert_eq!(r.u32().unwrap_err(), truncated(1));
        assert_eq!(r.u16().unwrap(), 0x0203);
        assert_eq!(r.u64().unwrap_err(), truncated(3));
        assert_eq!(r.bytes(usize::MAX).unwrap_err(), truncated(3));
        assert_eq!(r.bytes(0).unwrap(), &[] as &[u8]);
    }
}
