//! Compressed sparse rows of f32 weights: the user x item interaction matrix and its transpose.

/// A CSR matrix. Row `r` holds `indices[indptr[r]..indptr[r + 1]]`, sorted, no duplicates.
#[derive(Debug, Clone, PartialEq)]
pub struct Csr {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Row starts, `rows + 1` entries.
    pub indptr: Vec<usize>,
    /// Column of each stored value.
    pub indices: Vec<u32>,
    /// The values.
    pub data: Vec<f32>,
}

impl Csr {
    /// Builds from (row, col, value) triplets; duplicates are summed.
    pub fn from_triplets(rows: usize, cols: usize, triplets: &[(u32, u32, f32)]) -> Self {
        let mut counts = vec![0usize; rows + 1];
        for &(r, _, _) in triplets {
            counts[r as usize + 1] += 1;
        }
        for i in 0..rows {
            counts[i + 1] += counts[i];
        }
        let mut next = counts.clone();
        let mut idx = vec![0u32; triplets.len()];
        let mut val = vec![0f32; triplets.len()];
        for &(r, c, v) in triplets {
            let p = next[r as usize];
            idx[p] = c;
            val[p] = v;
            next[r as usize] += 1;
        }
        // Sort each row by column and merge duplicates.
        let mut indptr = Vec::with_capacity(rows + 1);
        let mut indices = Vec::with_capacity(triplets.len());
        let mut data = Vec::with_capacity(triplets.len());
        indptr.push(0);
        let mut pairs: Vec<(u32, f32)> = Vec::new();
        for r in 0..rows {
            pairs.clear();
            pairs.extend((counts[r]..counts[r + 1]).map(|p| (idx[p], val[p])));
            pairs.sort_unstable_by_key(|p| p.0);
            for &(c, v) in &pairs {
                if indices.len() > indptr[r] && indices.last() == Some(&c) {
                    *data.last_mut().expect("non-empty") += v;
                } else {
                    indices.push(c);
                    data.push(v);
                }
            }
            indptr.push(indices.len());
        }
        Self { rows, cols, indptr, indices, data }
    }

    /// Columns and values of a row.
    pub fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.indptr[r], self.indptr[r + 1]);
        (&self.indices[a..b], &self.data[a..b])
    }

    /// Stored values.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// The transpose (item x user).
    pub fn transpose(&self) -> Self {
        let mut t = Vec::with_capacity(self.nnz());
        for r in 0..self.rows {
            let (cs, vs) = self.row(r);
            for (c, v) in cs.iter().zip(vs) {
                t.push((*c, r as u32, *v));
            }
        }
        Self::from_triplets(self.cols, self.rows, &t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_sum_and_transpose_round_trips() {
        let m = Csr::from_triplets(2, 3, &[(1, 2, 1.0), (0, 1, 2.0), (1, 2, 0.5), (1, 0, 3.0)]);
        assert_eq!(m.row(1), (&[0u32, 2][..], &[3.0f32, 1.5][..]));
        assert_eq!(m.transpose().transpose(), m);
    }
}
