//! CDR (OMG XCDR version 1, "plain CDR"), the encoding ROS 2 messages travel in over rmw_zenoh.
//!
//! A serialized message is a 4-byte encapsulation header followed by the body:
//! - header `00 01 00 00` for little-endian (`00 00 00 00` for big-endian); the last two bytes are options
//!   that ROS ignores. We always write little-endian and read both byte orders.
//! - every primitive is aligned to its own size (1, 2, 4 or 8 bytes), measured from the start of the body
//!   (just after the header), by inserting zero bytes;
//! - a string is a `u32` length that counts the terminating NUL, the UTF-8 bytes, then the NUL;
//! - an unbounded sequence is a `u32` element count followed by the elements. An empty sequence therefore
//!   has no element and so no padding for its element type (this matters: a `float64[]` that is empty is
//!   not followed by 4 padding bytes);
//! - a nested message is its fields in order, with no padding of its own.
//!
//! The decoder never panics on any input: each failure is a [`CdrError`]. Like the `rosbags` reference
//! implementation it accepts up to 3 trailing bytes after the last field (some writers pad the body to a
//! multiple of 4) and refuses more; unlike it, a bool must be 0 or 1 (Fast-CDR, which ROS 2 uses, refuses
//! other values too).

/// Encapsulation header written before every body: CDR, little-endian, no options.
pub const CDR_LE_HEADER: [u8; 4] = [0x00, 0x01, 0x00, 0x00];

/// Largest serialized message accepted by [`decode`], bytes (header included). A joint state of a 7-DoF arm
/// is ~300 bytes and a URDF on `/robot_description` well under 1 MiB; the cap bounds what a hostile
/// publisher can make a node read.
pub const MAX_CDR_BYTES: usize = 4 * 1024 * 1024;

/// Most trailing bytes tolerated after the last field (body padding to a multiple of 4, as `rosbags`
/// tolerates).
pub const MAX_TRAILING_BYTES: usize = 3;

/// Why a CDR message was refused. Decoding never panics; nodes count these by [`CdrError::reason`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CdrError {
    /// The message exceeds [`MAX_CDR_BYTES`].
    #[error("{len}-byte message exceeds the {cap}-byte cap")]
    TooLarge {
        /// Message length, bytes.
        len: usize,
        /// The cap, bytes.
        cap: usize,
    },
    /// Shorter than the 4-byte header, or a header that is not plain CDR (`00 00` or `00 01`).
    #[error("not a plain CDR encapsulation header: {found:02x?}")]
    BadHeader {
        /// The first bytes found (up to 2).
        found: Vec<u8>,
    },
    /// A field runs past the end of the message.
    #[error("truncated: {need} bytes needed at body offset {offset}, {available} available")]
    Truncated {
        /// Body offset of the field (after the 4-byte header), bytes.
        offset: usize,
        /// Bytes the field needs.
        need: usize,
        /// Bytes left.
        available: usize,
    },
    /// A sequence count that cannot fit in the bytes left (or exceeds a type's limit).
    #[error("sequence of {count} elements at body offset {offset} cannot fit in the {available} bytes left")]
    BadLength {
        /// Body offset of the count, bytes.
        offset: usize,
        /// The count read.
        count: u64,
        /// Bytes left after the count.
        available: usize,
    },
    /// A string whose length is 0 (there must be at least the NUL) or whose last byte is not NUL.
    #[error("malformed string at body offset {offset}: {detail}")]
    BadString {
        /// Body offset of the string's length, bytes.
        offset: usize,
        /// What is wrong.
        detail: &'static str,
    },
    /// A string that is not valid UTF-8.
    #[error("string at body offset {offset} is not valid UTF-8")]
    InvalidUtf8 {
        /// Body offset of the string's length, bytes.
        offset: usize,
    },
    /// A bool byte other than 0 or 1.
    #[error("bool at body offset {offset} is {value}, not 0 or 1")]
    InvalidBool {
        /// Body offset, bytes.
        offset: usize,
        /// The byte found.
        value: u8,
    },
    /// More than [`MAX_TRAILING_BYTES`] bytes after the last field.
    #[error("{extra} bytes after the end of the message")]
    TrailingBytes {
        /// Bytes left over.
        extra: usize,
    },
}

impl CdrError {
    /// Short reason label for counters: `too_large`, `bad_header`, `truncated`, `bad_length`, `bad_string`,
    /// `invalid_utf8`, `invalid_bool` or `trailing_bytes`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "too_large",
            Self::BadHeader { .. } => "bad_header",
            Self::Truncated { .. } => "truncated",
            Self::BadLength { .. } => "bad_length",
            Self::BadString { .. } => "bad_string",
            Self::InvalidUtf8 { .. } => "invalid_utf8",
            Self::InvalidBool { .. } => "invalid_bool",
            Self::TrailingBytes { .. } => "trailing_bytes",
        }
    }
}

/// A type with a CDR representation: a ROS 2 message or a message nested in one.
pub trait Cdr: Sized {
    /// Fewest body bytes one value can take (used to refuse sequence counts that cannot fit before
    /// allocating for them). Must not exceed the true minimum; 1 is always safe.
    const MIN_CDR_BYTES: usize;
    /// Appends the fields, aligned as CDR requires.
    fn write_cdr(&self, w: &mut CdrWriter<'_>);
    /// Reads the fields.
    fn read_cdr(r: &mut CdrReader<'_>) -> Result<Self, CdrError>;
}

/// Serialises `msg` (header and body) into `buf`, which is cleared first so that its capacity is reused.
///
/// # Panics
/// If a string or sequence holds more than `u32::MAX` bytes or elements (CDR cannot express it).
pub fn encode_into<M: Cdr>(msg: &M, buf: &mut Vec<u8>) {
    encode_with(buf, |w| msg.write_cdr(w));
}

/// Serialises what `fields` writes (header and body) into `buf`, cleared first: for a message whose layout
/// is chosen at run time (a recording's float width), where [`Cdr`]'s static `read_cdr` does not fit.
pub fn encode_with(buf: &mut Vec<u8>, fields: impl FnOnce(&mut CdrWriter<'_>)) {
    buf.clear();
    buf.extend_from_slice(&CDR_LE_HEADER);
    let mut w = CdrWriter { buf, origin: CDR_LE_HEADER.len() };
    fields(&mut w);
}

/// Serialises `msg` (header and body) into a new buffer. See [`encode_into`].
pub fn encode<M: Cdr>(msg: &M) -> Vec<u8> {
    let mut buf = Vec::with_capacity(64);
    encode_into(msg, &mut buf);
    buf
}

/// Parses one serialized message (header and body), little- or big-endian.
pub fn decode<M: Cdr>(bytes: &[u8]) -> Result<M, CdrError> {
    decode_with(bytes, M::read_cdr)
}

/// Parses one serialized message (header and body) with `fields`, checking the header, the size cap and
/// the trailing bytes as [`decode`] does.
pub fn decode_with<T>(
    bytes: &[u8],
    fields: impl FnOnce(&mut CdrReader<'_>) -> Result<T, CdrError>,
) -> Result<T, CdrError> {
    if bytes.len() > MAX_CDR_BYTES {
        return Err(CdrError::TooLarge { len: bytes.len(), cap: MAX_CDR_BYTES });
    }
    let big_endian = match bytes {
        [0x00, 0x01, _, _, ..] => false,
        [0x00, 0x00, _, _, ..] => true,
        _ => return Err(CdrError::BadHeader { found: bytes.iter().take(2).copied().collect() }),
    };
    let mut r = CdrReader { data: &bytes[4..], pos: 0, big_endian };
    let msg = fields(&mut r)?;
    let extra = r.data.len() - r.pos;
    if extra > MAX_TRAILING_BYTES {
        return Err(CdrError::TrailingBytes { extra });
    }
    Ok(msg)
}

/// Appends CDR fields to a buffer, little-endian, aligning relative to the start of the body.
pub struct CdrWriter<'a> {
    buf: &'a mut Vec<u8>,
    /// Index in `buf` where the body starts (alignment origin).
    origin: usize,
}

impl CdrWriter<'_> {
    fn align(&mut self, n: usize) {
        let pos = self.buf.len() - self.origin;
        let pad = (n - pos % n) % n;
        self.buf.resize(self.buf.len() + pad, 0);
    }

    fn len_u32(len: usize) -> u32 {
        u32::try_from(len).expect("CDR lengths are u32: string or sequence longer than 4 Gi")
    }

    /// Writes a bool as one byte, 0 or 1.
    pub fn bool(&mut self, v: bool) {
        self.buf.push(u8::from(v));
    }

    /// Writes a `u8` (ROS `uint8`, `byte`, `char`).
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// Writes an `i32`, 4-aligned.
    pub fn i32(&mut self, v: i32) {
        self.align(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Writes a `u32`, 4-aligned.
    pub fn u32(&mut self, v: u32) {
        self.align(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Writes a `u64`, 8-aligned.
    pub fn u64(&mut self, v: u64) {
        self.align(8);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Writes an `f32`, 4-aligned.
    pub fn f32(&mut self, v: f32) {
        self.align(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Writes an `f64`, 8-aligned.
    pub fn f64(&mut self, v: f64) {
        self.align(8);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Writes a string: `u32` length counting the NUL, the UTF-8 bytes, the NUL.
    pub fn string(&mut self, s: &str) {
        self.u32(Self::len_u32(s.len() + 1));
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    /// Writes an unbounded `float64[]`: count, then (only if non-empty) padding to 8 and the values.
    pub fn f64_seq(&mut self, xs: &[f64]) {
        self.u32(Self::len_u32(xs.len()));
        for &x in xs {
            self.f64(x);
        }
    }

    /// Writes an unbounded `float32[]` of `xs` rounded to the nearest `f32`.
    pub fn f32_seq(&mut self, xs: &[f64]) {
        self.u32(Self::len_u32(xs.len()));
        for &x in xs {
            self.f32(x as f32);
        }
    }

    /// Writes an unbounded `string[]`.
    pub fn string_seq<S: AsRef<str>>(&mut self, xs: &[S]) {
        self.u32(Self::len_u32(xs.len()));
        for x in xs {
            self.string(x.as_ref());
        }
    }

    /// Writes an unbounded sequence of nested messages.
    pub fn seq<T: Cdr>(&mut self, xs: &[T]) {
        self.u32(Self::len_u32(xs.len()));
        for x in xs {
            x.write_cdr(self);
        }
    }
}

/// Reads CDR fields from a body (the bytes after the header), checking every length against what is left.
pub struct CdrReader<'a> {
    data: &'a [u8],
    pos: usize,
    big_endian: bool,
}

impl<'a> CdrReader<'a> {
    fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    fn align(&mut self, n: usize) -> Result<(), CdrError> {
        let pad = (n - self.pos % n) % n;
        self.take(pad).map(|_| ())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CdrError> {
        if n > self.remaining() {
            return Err(CdrError::Truncated { offset: self.pos, need: n, available: self.remaining() });
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CdrError> {
        self.align(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        if self.big_endian {
            a.reverse();
        }
        Ok(a)
    }

    /// Reads a bool; a byte other than 0 or 1 is refused.
    pub fn bool(&mut self) -> Result<bool, CdrError> {
        let offset = self.pos;
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(CdrError::InvalidBool { offset, value }),
        }
    }

    /// Reads a `u8`.
    pub fn u8(&mut self) -> Result<u8, CdrError> {
        Ok(self.take(1)?[0])
    }

    /// Reads an `i32`.
    pub fn i32(&mut self) -> Result<i32, CdrError> {
        self.array::<4>().map(i32::from_le_bytes)
    }

    /// Reads a `u32`.
    pub fn u32(&mut self) -> Result<u32, CdrError> {
        self.array::<4>().map(u32::from_le_bytes)
    }

    /// Reads a `u64`.
    pub fn u64(&mut self) -> Result<u64, CdrError> {
        self.array::<8>().map(u64::from_le_bytes)
    }

    /// Reads an `f32` (any bit pattern, NaN included).
    pub fn f32(&mut self) -> Result<f32, CdrError> {
        self.array::<4>().map(f32::from_le_bytes)
    }

    /// Reads an `f64` (any bit pattern, NaN included: range checks are the caller's).
    pub fn f64(&mut self) -> Result<f64, CdrError> {
        self.array::<8>().map(f64::from_le_bytes)
    }

    /// Reads a string: length (at least 1, counting the NUL), UTF-8 bytes, NUL.
    pub fn string(&mut self) -> Result<String, CdrError> {
        self.align(4)?;
        let offset = self.pos;
        let len = self.u32()? as usize;
        if len == 0 {
            return Err(CdrError::BadString { offset, detail: "length 0 (must count the NUL terminator)" });
        }
        let bytes = self.take(len)?;
        let (text, nul) = bytes.split_at(len - 1);
        if nul != [0] {
            return Err(CdrError::BadString { offset, detail: "no NUL terminator" });
        }
        std::str::from_utf8(text).map(str::to_owned).map_err(|_| CdrError::InvalidUtf8 { offset })
    }

    /// Reads a sequence count and checks that `count` elements of at least `min_bytes` each fit in what is
    /// left, so that no count can make the decoder allocate beyond the message's own size.
    pub fn seq_len(&mut self, min_bytes: usize) -> Result<usize, CdrError> {
        self.align(4)?;
        let offset = self.pos;
        let count = self.u32()?;
        let available = self.remaining();
        match (count as usize).checked_mul(min_bytes.max(1)) {
            Some(need) if need <= available => Ok(count as usize),
            _ => Err(CdrError::BadLength { offset, count: u64::from(count), available }),
        }
    }

    /// Reads an unbounded `float64[]`.
    pub fn f64_seq(&mut self) -> Result<Vec<f64>, CdrError> {
        let n = self.seq_len(8)?;
        (0..n).map(|_| self.f64()).collect()
    }

    /// Reads an unbounded `float32[]`, widened to `f64` (exactly).
    pub fn f32_seq(&mut self) -> Result<Vec<f64>, CdrError> {
        let n = self.seq_len(4)?;
        (0..n).map(|_| self.f32().map(f64::from)).collect()
    }

    /// Reads an unbounded `string[]` (each string takes at least 5 bytes: length and NUL).
    pub fn string_seq(&mut self) -> Result<Vec<String>, CdrError> {
        let n = self.seq_len(5)?;
        (0..n).map(|_| self.string()).collect()
    }

    /// Reads an unbounded sequence of nested messages.
    pub fn seq<T: Cdr>(&mut self) -> Result<Vec<T>, CdrError> {
        let n = self.seq_len(T::MIN_CDR_BYTES)?;
        (0..n).map(|_| T::read_cdr(self)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-made struct exercising every alignment case.
    #[derive(Debug, PartialEq)]
    struct Probe {
        flag: bool,
        x: f64,
        name: String,
        xs: Vec<f64>,
        n: u32,
    }

    impl Cdr for Probe {
        const MIN_CDR_BYTES: usize = 1 + 8 + 5 + 4 + 4;
        fn write_cdr(&self, w: &mut CdrWriter<'_>) {
            w.bool(self.flag);
            w.f64(self.x);
            w.string(&self.name);
            w.f64_seq(&self.xs);
            w.u32(self.n);
        }
        fn read_cdr(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
            Ok(Self { flag: r.bool()?, x: r.f64()?, name: r.string()?, xs: r.f64_seq()?, n: r.u32()? })
        }
    }

    #[test]
    fn alignment_is_relative_to_the_body_and_empty_sequences_do_not_pad() {
        let p = Probe { flag: true, x: 1.5, name: "ab".into(), xs: vec![], n: 7 };
        let bytes = encode(&p);
        let mut want = CDR_LE_HEADER.to_vec();
        want.push(1); // flag at 0
        want.extend([0; 7]); // pad to 8
        want.extend(1.5f64.to_le_bytes()); // 8..16
        want.extend(3u32.to_le_bytes()); // 16..20
        want.extend(b"ab\0"); // 20..23
        want.push(0); // pad to 24
        want.extend(0u32.to_le_bytes()); // 24..28, empty: no pad to 32
        want.extend(7u32.to_le_bytes()); // 28..32
        assert_eq!(bytes, want);
        assert_eq!(decode::<Probe>(&bytes).unwrap(), p);

        // Non-empty: the count at 24..28, padding to 32, then the value.
        let p = Probe { xs: vec![2.0], ..p };
        let bytes = encode(&p);
        assert_eq!(&bytes[4 + 24..4 + 28], &1u32.to_le_bytes());
        assert_eq!(&bytes[4 + 28..4 + 32], &[0; 4]);
        assert_eq!(&bytes[4 + 32..4 + 40], &2.0f64.to_le_bytes());
        assert_eq!(decode::<Probe>(&bytes).unwrap(), p);
    }

    #[test]
    fn big_endian_bodies_decode() {
        let mut be = vec![0, 0, 0, 0, 0];
        be.extend([0; 7]);
        be.extend((-3.25f64).to_be_bytes());
        be.extend(2u32.to_be_bytes());
        be.extend(b"z\0");
        be.extend([0; 2]);
        be.extend(1u32.to_be_bytes());
        be.extend([0; 4]);
        be.extend(9.0f64.to_be_bytes());
        be.extend(5u32.to_be_bytes());
        let p = decode::<Probe>(&be).unwrap();
        assert_eq!(p, Probe { flag: false, x: -3.25, name: "z".into(), xs: vec![9.0], n: 5 });
    }

    #[test]
    fn malformed_input_is_refused_with_its_reason() {
        let good = encode(&Probe { flag: true, x: 1.0, name: "é".into(), xs: vec![1.0, 2.0], n: 3 });
        assert!(decode::<Probe>(&good).is_ok());
        let reason = |b: &[u8]| decode::<Probe>(b).unwrap_err().reason();
        assert_eq!(reason(&[]), "bad_header");
        assert_eq!(reason(&[0, 1, 0]), "bad_header");
        assert_eq!(reason(&[1, 0, 0, 0, 1]), "bad_header");
        // A cut inside a sequence's elements is caught by the count check before any element is read.
        for cut in 4..good.len() {
            let r = reason(&good[..cut]);
            assert!(r == "truncated" || r == "bad_length", "cut at {cut}: {r}");
        }
        let mut b = good.clone();
        b[4] = 2;
        assert_eq!(reason(&b), "invalid_bool");
        // String length 0, then a string without its NUL.
        let mut b = good.clone();
        b[4 + 16..4 + 20].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(reason(&b), "bad_string");
        let mut b = good.clone();
        b[4 + 20 + 2] = b'x';
        assert_eq!(reason(&b), "bad_string");
        // "é" is c3 a9: a lone continuation byte is not UTF-8.
        let mut b = good.clone();
        b[4 + 20] = 0xa9;
        assert_eq!(reason(&b), "invalid_utf8");
        // A sequence count far past the end.
        let mut b = good.clone();
        let at = 4 + 24;
        b[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(reason(&b), "bad_length");
        // Up to 3 trailing bytes pass (body padding), 4 do not.
        let mut b = good.clone();
        b.extend([0; 3]);
        assert!(decode::<Probe>(&b).is_ok());
        b.push(0);
        assert_eq!(reason(&b), "trailing_bytes");
        let huge = vec![0u8; MAX_CDR_BYTES + 1];
        assert_eq!(reason(&huge), "too_large");
    }
}
