//! Interaction tables in shop ids: reading `user, item, weight[, timestamp]` files and mapping
//! ids to the dense indices the cf engine works on.

use crate::cf::eval::Event;
use std::collections::HashMap;
use std::path::Path;

use super::RecommendError;

/// Interactions with their id maps.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// User keys by index.
    pub users: Vec<String>,
    /// Item keys by index.
    pub items: Vec<String>,
    /// Events in index space.
    pub events: Vec<Event>,
    /// What is known about items (item index, feature name, weight): the hybrid's side
    /// information.
    pub item_features: Vec<(u32, String, f32)>,
    user_ix: HashMap<String, u32>,
    item_ix: HashMap<String, u32>,
}

impl Dataset {
    /// Adds an event, creating indices for new ids.
    pub fn push(&mut self, user: &str, item: &str, weight: f32, ts: i64) {
        let u = index(&mut self.user_ix, &mut self.users, user);
        let i = index(&mut self.item_ix, &mut self.items, item);
        self.events.push(Event { user: u, item: i, weight, ts });
    }

    /// Makes sure an item has an index even without interactions (catalogue cold start).
    pub fn add_item(&mut self, item: &str) -> u32 {
        index(&mut self.item_ix, &mut self.items, item)
    }

    /// Records that `item` (added if new) has `feature`.
    pub fn add_feature(&mut self, item: &str, feature: &str, weight: f32) {
        let i = self.add_item(item);
        self.item_features.push((i, feature.to_owned(), weight));
    }

    /// The item features in the form the hybrid trains on.
    pub fn features(&self) -> crate::cf::hybrid::ItemFeatures {
        crate::cf::hybrid::ItemFeatures::from_pairs(self.items.len(), &self.item_features)
    }

    /// Reads an item features file: `item<TAB>feature[<TAB>weight]` lines (a header line whose
    /// first field is `item` is skipped). Items not yet known are added without interactions.
    pub fn read_features(&mut self, path: &Path) -> Result<usize, RecommendError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| RecommendError::Input(format!("features file {}: {e}", path.display())))?;
        let mut n = 0;
        for (no, line) in text.lines().enumerate() {
            let mut p = line.split('\t');
            let (Some(item), Some(feature)) = (p.next(), p.next()) else {
                if line.trim().is_empty() {
                    continue;
                }
                return Err(RecommendError::Input(format!(
                    "features line {}: want item<TAB>feature[<TAB>weight]",
                    no + 1
                )));
            };
            if no == 0 && item == "item" {
                continue;
            }
            let weight = match p.next() {
                None => 1.0,
                Some(w) => match w.trim().parse::<f32>() {
                    Ok(w) if w.is_finite() && w > 0.0 && w <= 1.0e3 => w,
                    _ => {
                        return Err(RecommendError::Input(format!(
                            "features line {}: weight must be in (0, 1000], got {w:?}",
                            no + 1
                        )));
                    }
                },
            };
            self.add_feature(item, feature, weight);
            n += 1;
        }
        Ok(n)
    }

    /// Index of a user key.
    pub fn user_index(&self, user: &str) -> Option<u32> {
        self.user_ix.get(user).copied()
    }

    /// Index of an item key.
    pub fn item_index(&self, item: &str) -> Option<u32> {
        self.item_ix.get(item).copied()
    }

    /// A training file and a test file in one id space: the test events follow the training
    /// events, and the returned count is where they start. Timestamps are kept, because the
    /// recency-weighted models order each user's history by them.
    pub fn from_train_test(train: &Path, test: &Path) -> Result<(Self, usize), RecommendError> {
        let (a, b) = (Self::from_file(train)?, Self::from_file(test)?);
        let mut ds = Self::default();
        for e in &a.events {
            ds.push(&a.users[e.user as usize], &a.items[e.item as usize], e.weight, e.ts);
        }
        let n_train = ds.events.len();
        for e in &b.events {
            ds.push(&b.users[e.user as usize], &b.items[e.item as usize], e.weight, e.ts);
        }
        Ok((ds, n_train))
    }

    /// Reads a CSV or TSV (by extension, or tabs in the header) of `user, item, weight[,
    /// timestamp]`. A header is recognised when its weight column is not a number; columns are
    /// then found by name (user*, item*, weight|rating|value|count*, time*).
    pub fn from_file(path: &Path) -> Result<Self, RecommendError> {
        let io = |e: String| RecommendError::Input(format!("{}: {e}", path.display()));
        let text = std::fs::read_to_string(path).map_err(|e| io(e.to_string()))?;
        let first = text.lines().next().unwrap_or("");
        let delim = if first.contains('\t') { b'\t' } else { b',' };
        let mut rdr =
            csv::ReaderBuilder::new().delimiter(delim).has_headers(false).flexible(true).from_reader(text.as_bytes());
        let mut rows = rdr.records();
        let mut cols = (0usize, 1usize, Some(2usize), None::<usize>);
        let mut ds = Self::default();
        let mut pending = None;
        if let Some(head) = rows.next() {
            let head = head.map_err(|e| io(e.to_string()))?;
            let is_header = head.get(2).is_some_and(|w| w.trim().parse::<f32>().is_err())
                || head.get(0).is_some_and(|h| h.trim().to_ascii_lowercase().starts_with("user"));
            if is_header {
                let find = |pred: &dyn Fn(&str) -> bool| head.iter().position(|h| pred(&h.to_ascii_lowercase()));
                cols = (
                    find(&|h| h.starts_with("user")).ok_or_else(|| io("no user column in header".into()))?,
                    find(&|h| h.starts_with("item") || h.starts_with("product"))
                        .ok_or_else(|| io("no item column in header".into()))?,
                    find(&|h| {
                        h.starts_with("weight")
                            || h.starts_with("rating")
                            || h.starts_with("value")
                            || h.starts_with("count")
                    }),
                    find(&|h| h.starts_with("time") || h == "ts"),
                );
            } else {
                cols.2 = (head.len() > 2).then_some(2);
                cols.3 = (head.len() > 3).then_some(3);
                pending = Some(head);
            }
        }
        for (line, rec) in pending.into_iter().map(Ok).chain(rows).enumerate() {
            let rec = rec.map_err(|e| io(e.to_string()))?;
            let get = |i: usize| rec.get(i).map(str::trim).unwrap_or("");
            let (user, item) = (get(cols.0), get(cols.1));
            if user.is_empty() || item.is_empty() {
                return Err(io(format!("row {}: empty user or item", line + 1)));
            }
            let weight =
                match cols.2 {
                    Some(c) => get(c).parse::<f32>().ok().filter(|w| w.is_finite() && *w >= 0.0).ok_or_else(|| {
                        io(format!("row {}: weight {:?} is not a non-negative number", line + 1, get(c)))
                    })?,
                    None => 1.0,
                };
            let ts = match cols.3 {
                Some(c) => get(c)
                    .parse::<f64>()
                    .map(|t| t as i64)
                    .map_err(|_| io(format!("row {}: timestamp {:?} is not a number", line + 1, get(c))))?,
                None => 0,
            };
            ds.push(user, item, weight, ts);
        }
        if ds.events.is_empty() {
            return Err(io("no interactions".into()));
        }
        Ok(ds)
    }
}

fn index(map: &mut HashMap<String, u32>, keys: &mut Vec<String>, key: &str) -> u32 {
    if let Some(i) = map.get(key) {
        return *i;
    }
    let i = keys.len() as u32;
    keys.push(key.to_owned());
    map.insert(key.to_owned(), i);
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `shopgraph eval --train --test` once replaced every timestamp by 0 (train) or 1 (test),
    /// so recency-weighted models saw each history in file order.
    #[test]
    fn train_and_test_files_keep_their_timestamps() {
        let dir = tempfile::tempdir().unwrap();
        let (tr, te) = (dir.path().join("train.tsv"), dir.path().join("test.csv"));
        std::fs::write(&tr, "user\titem\tweight\ttimestamp\nu1\ta\t1\t300\nu1\tb\t2\t100\n").unwrap();
        std::fs::write(&te, "user,item,weight,timestamp\nu1,c,1,400\nu2,a,1,50\n").unwrap();
        let (ds, n_train) = Dataset::from_train_test(&tr, &te).unwrap();
        assert_eq!(n_train, 2);
        let got: Vec<(&str, &str, i64)> =
            ds.events.iter().map(|e| (&*ds.users[e.user as usize], &*ds.items[e.item as usize], e.ts)).collect();
        assert_eq!(got, vec![("u1", "a", 300), ("u1", "b", 100), ("u1", "c", 400), ("u2", "a", 50)]);
    }
}
