//! AVX2+FMA kernels of the CG row solver: batched dot products and transposed products over a
//! gathered block of factor rows, chosen at run time when the CPU has the features.
#![allow(unsafe_code)] // the kernels are std::arch intrinsics; every pointer read is bounds-checked first

use std::arch::x86_64::*;

/// Rows ahead of the current one whose cache lines the gather asks for: enough to cover a
/// memory round trip at a few tens of cycles per row.
const PREFETCH_AHEAD: usize = 8;

/// Sum of the eight lanes.
#[target_feature(enable = "avx2,fma")]
fn hsum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)))
}

/// Loads eight floats from `s[i..i + 8]`.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn load(s: &[f32], i: usize) -> __m256 {
    let c = &s[i..i + 8];
    // SAFETY: `c` is exactly eight in-bounds floats; loadu has no alignment requirement.
    unsafe { _mm256_loadu_ps(c.as_ptr()) }
}

/// Stores eight floats into `s[i..i + 8]`.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn store(s: &mut [f32], i: usize, v: __m256) {
    let c = &mut s[i..i + 8];
    // SAFETY: `c` is exactly eight in-bounds floats; storeu has no alignment requirement.
    unsafe { _mm256_storeu_ps(c.as_mut_ptr(), v) }
}

/// `out[r] = a_r . p` for the `n` rows of the row-major `a` (`f` columns, `f % 8 == 0`).
/// Eight rows at a time with one accumulator each: eight independent FMA chains, and the eight
/// sums reduced together by a horizontal-add tree.
#[target_feature(enable = "avx2,fma")]
pub fn dot_rows(a: &[f32], f: usize, p: &[f32], out: &mut [f32]) {
    let n = out.len();
    assert!(f.is_multiple_of(8) && a.len() >= n * f && p.len() >= f);
    let mut r = 0;
    while r + 8 <= n {
        let mut acc = [_mm256_setzero_ps(); 8];
        let mut c = 0;
        while c < f {
            let pv = load(p, c);
            for (k, acc) in acc.iter_mut().enumerate() {
                *acc = _mm256_fmadd_ps(load(a, (r + k) * f + c), pv, *acc);
            }
            c += 8;
        }
        let h01 = _mm256_hadd_ps(acc[0], acc[1]);
        let h23 = _mm256_hadd_ps(acc[2], acc[3]);
        let h45 = _mm256_hadd_ps(acc[4], acc[5]);
        let h67 = _mm256_hadd_ps(acc[6], acc[7]);
        let h0123 = _mm256_hadd_ps(h01, h23);
        let h4567 = _mm256_hadd_ps(h45, h67);
        // Lanes: [0 1 2 3 | 0 1 2 3] halves of rows 0-3 and 4-7; add the halves across.
        let lo = _mm256_permute2f128_ps::<0x20>(h0123, h4567);
        let hi = _mm256_permute2f128_ps::<0x31>(h0123, h4567);
        store(out, r, _mm256_add_ps(lo, hi));
        r += 8;
    }
    while r < n {
        let mut acc = _mm256_setzero_ps();
        let mut c = 0;
        while c < f {
            acc = _mm256_fmadd_ps(load(a, r * f + c), load(p, c), acc);
            c += 8;
        }
        out[r] = hsum(acc);
        r += 1;
    }
}

/// `out += sum_r w[r] a_r` over the `w.len()` rows of `a` (`f % 8 == 0`): column blocks of 64
/// held in eight registers while the rows stream past, so `out` is read and written once.
#[target_feature(enable = "avx2,fma")]
pub fn gemv_t(a: &[f32], f: usize, w: &[f32], out: &mut [f32]) {
    let n = w.len();
    assert!(f.is_multiple_of(8) && a.len() >= n * f && out.len() >= f);
    let mut c0 = 0;
    while c0 < f {
        let width = (f - c0).min(64);
        if width == 64 {
            let mut acc = [_mm256_setzero_ps(); 8];
            for (k, acc) in acc.iter_mut().enumerate() {
                *acc = load(out, c0 + 8 * k);
            }
            for (r, &wr) in w.iter().enumerate() {
                let wv = _mm256_set1_ps(wr);
                let base = r * f + c0;
                for (k, acc) in acc.iter_mut().enumerate() {
                    *acc = _mm256_fmadd_ps(load(a, base + 8 * k), wv, *acc);
                }
            }
            for (k, acc) in acc.iter().enumerate() {
                store(out, c0 + 8 * k, *acc);
            }
        } else {
            let mut c = c0;
            while c < c0 + width {
                let mut acc = load(out, c);
                for (r, &wr) in w.iter().enumerate() {
                    acc = _mm256_fmadd_ps(load(a, r * f + c), _mm256_set1_ps(wr), acc);
                }
                store(out, c, acc);
                c += 8;
            }
        }
        c0 += width;
    }
}

/// Copies the rows `cols` of `y` (`f` columns) into `dst` one after another, asking for the
/// cache lines of the row [`PREFETCH_AHEAD`] ahead: the history's rows are scattered over a
/// table far larger than the caches, and this is where the solver waits on memory.
#[target_feature(enable = "avx2,fma")]
pub fn gather(y: &[f32], f: usize, cols: &[u32], dst: &mut [f32]) {
    for (k, &i) in cols.iter().enumerate() {
        if let Some(&ahead) = cols.get(k + PREFETCH_AHEAD) {
            let row = &y[ahead as usize * f..(ahead as usize + 1) * f];
            let mut off = 0;
            while off < f {
                _mm_prefetch::<_MM_HINT_T0>(row[off..].as_ptr().cast());
                off += 16;
            }
        }
        dst[k * f..(k + 1) * f].copy_from_slice(&y[i as usize * f..(i as usize + 1) * f]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu_has_them() -> bool {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }

    fn data(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) % 1000) as f32 / 500.0 - 1.0)
            .collect()
    }

    /// 13 rows cover one group of eight and the one-at-a-time tail; 72 columns cover one
    /// 64-wide register block and an 8-wide remainder.
    #[test]
    fn kernels_match_the_scalar_definitions() {
        if !cpu_has_them() {
            return;
        }
        let (n, f) = (13, 72);
        let a = data(n * f, 1);
        let p = data(f, 2);
        let w = data(n, 3);
        let mut dots = vec![0f32; n];
        let mut out = data(f, 4);
        let start = out.clone();
        let mut gathered = vec![0f32; 3 * f];
        // SAFETY: the CPU reported AVX2 and FMA above.
        #[allow(unsafe_code)]
        unsafe {
            dot_rows(&a, f, &p, &mut dots);
            gemv_t(&a, f, &w, &mut out);
            gather(&a, f, &[12, 0, 5], &mut gathered);
        }
        for r in 0..n {
            let want: f32 = (0..f).map(|c| a[r * f + c] * p[c]).sum();
            assert!((dots[r] - want).abs() < 1e-4, "row {r}: {} vs {want}", dots[r]);
        }
        for c in 0..f {
            let want = start[c] + (0..n).map(|r| w[r] * a[r * f + c]).sum::<f32>();
            assert!((out[c] - want).abs() < 1e-4, "col {c}: {} vs {want}", out[c]);
        }
        assert_eq!(&gathered[..f], &a[12 * f..13 * f]);
        assert_eq!(&gathered[f..2 * f], &a[..f]);
        assert_eq!(&gathered[2 * f..], &a[5 * f..6 * f]);
    }
}
