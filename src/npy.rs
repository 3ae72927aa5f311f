//! NumPy `.npy` (format 1.0, little-endian f32, C order) so saved factors open in numpy directly.

/// Errors reading an .npy file.
#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    /// Not an .npy file, or not `<f4` C-order 2-D.
    #[error("not a 2-D little-endian f32 .npy array: {0}")]
    Format(String),
}

/// Encodes a row-major `rows x cols` f32 matrix.
pub fn encode(data: &[f32], rows: usize, cols: usize) -> Vec<u8> {
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    // Magic (6) + version (2) + length (2) + header + '\n' must be a multiple of 64.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len() * 4);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Decodes what [`encode`] writes (and numpy's own `np.save` of a 2-D float32 C array).
pub fn decode(bytes: &[u8]) -> Result<(Vec<f32>, usize, usize), NpyError> {
    let bad = |m: &str| NpyError::Format(m.into());
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("missing magic"));
    }
    let (hlen, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        _ => return Err(bad("unknown version")),
    };
    let header = std::str::from_utf8(bytes.get(start..start + hlen).ok_or_else(|| bad("short header"))?)
        .map_err(|_| bad("header not UTF-8"))?;
    if !header.contains("'<f4'") || header.contains("'fortran_order': True") {
        return Err(bad("dtype must be <f4 in C order"));
    }
    let shape = header
        .split("'shape':")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .map(|s| s.trim().trim_start_matches('('))
        .ok_or_else(|| bad("no shape"))?;
    let dims: Vec<usize> = shape
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()
        .map_err(|_| bad("bad shape"))?;
    let [rows, cols] = dims[..] else {
        return Err(bad("not 2-D"));
    };
    let body = &bytes[start + hlen..];
    if body.len() != rows * cols * 4 {
        return Err(bad("data length does not match the shape"));
    }
    Ok((body.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(), rows, cols))
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip_and_aligned_header() {
        let d = [1.0f32, -2.5, 3.25, 0.0, 7.0, 8.5];
        let b = super::encode(&d, 2, 3);
        assert_eq!((10 + u16::from_le_bytes([b[8], b[9]]) as usize) % 64, 0);
        assert_eq!(super::decode(&b).unwrap(), (d.to_vec(), 2, 3));
        assert!(super::decode(b"nope").is_err());
    }
}
