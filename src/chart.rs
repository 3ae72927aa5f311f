//! Small dependency-free SVG charts for reports: grouped bars (metrics by model) and lines
//! (training curves). Imports nothing of ours.

const COLOURS: [&str; 6] = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1"];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Grouped bar chart: one group per metric, one bar per series.
pub fn grouped_bars(title: &str, metrics: &[&str], series: &[(String, Vec<f64>)]) -> String {
    let (w, h, left, bottom, top) = (760.0, 360.0, 50.0, 50.0, 40.0);
    let max = series.iter().flat_map(|s| s.1.iter().copied()).fold(0.0f64, f64::max).max(1e-9) * 1.1;
    let group_w = (w - left - 20.0) / metrics.len().max(1) as f64;
    let bar_w = group_w * 0.8 / series.len().max(1) as f64;
    let plot_h = h - top - bottom;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/><text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
        w / 2.0,
        esc(title)
    );
    for t in 0..=4 {
        let v = max * t as f64 / 4.0;
        let y = top + plot_h - plot_h * t as f64 / 4.0;
        s.push_str(&format!(r##"<line x1="{left}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{v:.3}</text>"##, w - 20.0, left - 4.0, y + 4.0));
    }
    for (m, name) in metrics.iter().enumerate() {
        let gx = left + group_w * m as f64 + group_w * 0.1;
        for (k, (_, vals)) in series.iter().enumerate() {
            let v = vals.get(m).copied().unwrap_or(0.0);
            let bh = plot_h * v / max;
            s.push_str(&format!(
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}" fill="{}"><title>{v:.4}</title></rect>"#,
                gx + bar_w * k as f64,
                top + plot_h - bh,
                bar_w * 0.95,
                COLOURS[k % COLOURS.len()]
            ));
        }
        s.push_str(&format!(
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            gx + group_w * 0.4,
            h - bottom + 16.0,
            esc(name)
        ));
    }
    for (k, (label, _)) in series.iter().enumerate() {
        let x = left + 10.0 + 130.0 * k as f64;
        s.push_str(&format!(
            r#"<rect x="{x}" y="{}" width="10" height="10" fill="{}"/><text x="{}" y="{}">{}</text>"#,
            h - 18.0,
            COLOURS[k % COLOURS.len()],
            x + 14.0,
            h - 9.0,
            esc(label)
        ));
    }
    s.push_str("</svg>\n");
    s
}

/// Line chart of y values against 1..n.
pub fn lines(title: &str, x_label: &str, series: &[(String, Vec<f64>)]) -> String {
    let (w, h, left, bottom, top) = (760.0, 360.0, 60.0, 50.0, 40.0);
    let n = series.iter().map(|s| s.1.len()).max().unwrap_or(1).max(2);
    let lo = series.iter().flat_map(|s| s.1.iter().copied()).fold(f64::INFINITY, f64::min);
    let hi = series.iter().flat_map(|s| s.1.iter().copied()).fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() && hi > lo { (lo, hi) } else { (0.0, 1.0) };
    let plot_w = w - left - 20.0;
    let plot_h = h - top - bottom;
    let px = |i: usize| left + plot_w * i as f64 / (n - 1) as f64;
    let py = |v: f64| top + plot_h - plot_h * (v - lo) / (hi - lo);
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/><text x="{}" y="22" text-anchor="middle" font-size="15">{}</text><text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        w / 2.0,
        esc(title),
        left + plot_w / 2.0,
        h - 8.0,
        esc(x_label)
    );
    for t in 0..=4 {
        let v = lo + (hi - lo) * t as f64 / 4.0;
        s.push_str(&format!(r##"<line x1="{left}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{v:.4}</text>"##, w - 20.0, left - 4.0, py(v) + 4.0, y = py(v)));
    }
    for (k, (label, ys)) in series.iter().enumerate() {
        let pts: Vec<String> = ys.iter().enumerate().map(|(i, v)| format!("{:.1},{:.1}", px(i), py(*v))).collect();
        s.push_str(&format!(
            r#"<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>"#,
            COLOURS[k % COLOURS.len()],
            pts.join(" ")
        ));
        s.push_str(&format!(
            r#"<text x="{}" y="{}" fill="{}">{}</text>"#,
            left + 10.0,
            top + 14.0 + 14.0 * k as f64,
            COLOURS[k % COLOURS.len()],
            esc(label)
        ));
    }
    s.push_str("</svg>\n");
    s
}
