//! A pass over a GGUF file's tensor directory before `gguf-rs` reads it.
//! gguf-rs 0.1.8 (the latest) reaches `unreachable!` on tensor type id 40
//! (`GGML_TYPE_COUNT`), so a hostile file would panic inside it; this scan
//! refuses such a file first, with an error naming the tensor. It reads the
//! layout only (keys and values are skipped, not kept), and every length is
//! checked against the bytes that are there.

/// The type id ggml uses as its type count, never a data type.
const TYPE_COUNT: u32 = 40;

/// GGUF value types (`gguf_type`): the fixed byte sizes of the scalars.
fn scalar_size(kind: u32) -> Option<usize> {
    match kind {
        0 | 1 | 7 => Some(1), // u8, i8, bool
        2 | 3 => Some(2),     // u16, i16
        4..=6 => Some(4),     // u32, i32, f32
        10..=12 => Some(8),   // u64, i64, f64
        _ => None,
    }
}

const STRING: u32 = 8;
const ARRAY: u32 = 9;

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
    /// GGUF v1 writes counts and lengths in 32 bits, v2 and v3 in 64.
    narrow: bool,
}

impl Cursor<'_> {
    fn take(&mut self, n: u64) -> Result<&[u8], String> {
        let end = usize::try_from(n)
            .ok()
            .and_then(|n| self.at.checked_add(n))
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| format!("the header ends early (at byte {})", self.at))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, String> {
        let b = self.take(8)?;
        let mut word = [0u8; 8];
        word.copy_from_slice(b);
        Ok(u64::from_le_bytes(word))
    }

    /// A count or a length: 32 bits in v1, 64 in later versions.
    fn size(&mut self) -> Result<u64, String> {
        match self.narrow {
            true => self.u32().map(u64::from),
            false => self.u64(),
        }
    }

    fn string(&mut self) -> Result<&[u8], String> {
        let len = self.size()?;
        self.take(len)
    }

    /// Skips one value of type `kind`; arrays may nest, up to a small depth.
    fn skip_value(&mut self, kind: u32, depth: usize) -> Result<(), String> {
        if let Some(size) = scalar_size(kind) {
            return self.take(size as u64).map(|_| ());
        }
        match kind {
            STRING => self.string().map(|_| ()),
            ARRAY if depth < 4 => {
                let item = self.u32()?;
                let count = self.size()?;
                match scalar_size(item) {
                    Some(size) => {
                        let total = count
                            .checked_mul(size as u64)
                            .ok_or("an array size overflows")?;
                        self.take(total).map(|_| ())
                    }
                    None => (0..count).try_for_each(|_| self.skip_value(item, depth + 1)),
                }
            }
            other => Err(format!("metadata value type {other} is not a GGUF type")),
        }
    }
}

/// Checks the tensor directory of a little-endian GGUF file (magic already
/// checked): `Err` names the first tensor whose type id is ggml's type count.
/// Other problems are left to gguf-rs, which reports them as errors.
pub fn check_tensor_types(bytes: &[u8]) -> Result<(), String> {
    let mut cursor = Cursor {
        bytes,
        at: 4,
        narrow: false,
    };
    let scan = |cursor: &mut Cursor| -> Result<(), String> {
        cursor.narrow = cursor.u32()? == 1;
        let tensors = cursor.size()?;
        let entries = cursor.size()?;
        for _ in 0..entries {
            cursor.string()?;
            let kind = cursor.u32()?;
            cursor.skip_value(kind, 0)?;
        }
        for _ in 0..tensors {
            let name = String::from_utf8_lossy(cursor.string()?).into_owned();
            let dims = cursor.u32()?;
            cursor.take(u64::from(dims) * 8)?;
            if cursor.u32()? == TYPE_COUNT {
                return Err(format!(
                    "tensor `{name}`: type id {TYPE_COUNT} is ggml's type count, not a data type"
                ));
            }
            cursor.u64()?;
        }
        Ok(())
    };
    match scan(&mut cursor) {
        Err(message) if message.starts_with("tensor `") => Err(message),
        // Anything else malformed is gguf-rs's to report, in its words.
        _ => Ok(()),
    }
}

/// A GGUF header with one u32 key, one string array and one tensor of type `kind`.
#[cfg(test)]
pub(crate) fn header_with_tensor(version: u32, kind: u32) -> Vec<u8> {
    tests::file(version, kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn file(version: u32, kind: u32) -> Vec<u8> {
        let size = |n: u64| match version {
            1 => (n as u32).to_le_bytes().to_vec(),
            _ => n.to_le_bytes().to_vec(),
        };
        let mut bytes = b"GGUF".to_vec();
        bytes.extend(version.to_le_bytes());
        bytes.extend(size(1)); // tensors
        bytes.extend(size(2)); // metadata entries
        bytes.extend(size(3));
        bytes.extend(b"n.a");
        bytes.extend(4u32.to_le_bytes());
        bytes.extend(7u32.to_le_bytes());
        bytes.extend(size(4));
        bytes.extend(b"list");
        bytes.extend(ARRAY.to_le_bytes());
        bytes.extend(STRING.to_le_bytes());
        bytes.extend(size(2));
        for word in ["ab", "c"] {
            bytes.extend(size(word.len() as u64));
            bytes.extend(word.as_bytes());
        }
        bytes.extend(size(1));
        bytes.extend(b"w");
        bytes.extend(2u32.to_le_bytes()); // dims
        bytes.extend(4u64.to_le_bytes());
        bytes.extend(8u64.to_le_bytes());
        bytes.extend(kind.to_le_bytes());
        bytes.extend(0u64.to_le_bytes());
        bytes
    }

    #[test]
    fn type_count_is_refused_by_tensor_name_in_every_version() {
        for version in [1, 2, 3] {
            assert_eq!(check_tensor_types(&file(version, 0)), Ok(()));
            let error = check_tensor_types(&file(version, TYPE_COUNT)).unwrap_err();
            assert!(
                error.contains("tensor `w`") && error.contains("40"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_truncated_or_garbled_header_is_left_to_the_reader() {
        let whole = file(3, TYPE_COUNT);
        for cut in 0..whole.len() - 12 {
            assert_eq!(check_tensor_types(&whole[..cut]), Ok(()), "cut at {cut}");
        }
    }
}
