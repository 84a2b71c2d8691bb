//! Hand-written SVG line charts for the accuracy study (no plotting dependency): x is the
//! group size on a log2 axis, y linear or log10, one polyline with markers per series and a
//! legend. PNG copies are made from the SVG by `scripts/data/render_png.sh` (rsvg-convert).

use std::fmt::Write;

/// One line of a chart.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend label.
    pub name: String,
    /// (x, y) points; x > 0.
    pub points: Vec<(f64, f64)>,
    /// Draw dashed (e.g. single-grid baselines).
    pub dashed: bool,
}

/// A chart description.
#[derive(Clone, Debug)]
pub struct Chart {
    /// Chart title.
    pub title: String,
    /// Label of the horizontal axis.
    pub x_label: String,
    /// Label of the vertical axis.
    pub y_label: String,
    /// log10 y axis.
    pub log_y: bool,
    /// Format y tick labels as percentages (y is a fraction).
    pub percent_y: bool,
    /// The series drawn, in legend order.
    pub series: Vec<Series>,
}

const W: f64 = 900.0;
const H: f64 = 560.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 230.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;

/// A colour-blind-friendly cycle (Okabe–Ito, then Tableau).
const COLORS: [&str; 14] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#8C564B",
    "#7F7F7F", "#BCBD22", "#17BECF", "#9467BD", "#F0E442", "#1F77B4",
];

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn fmt_tick(v: f64, percent: bool) -> String {
    if percent {
        return format!("{:.0}%", v * 100.0);
    }
    if v == 0.0 {
        return "0".to_string();
    }
    let e = v.abs().log10().floor();
    if (-2.0..=3.0).contains(&e) {
        let digits = (2.0 - e).max(0.0) as usize;
        format!("{v:.digits$}")
    } else {
        format!("{v:.1e}")
    }
}

/// Render a chart as a standalone SVG document.
pub fn svg(chart: &Chart) -> String {
    let pts: Vec<(f64, f64)> = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .filter(|p| p.0 > 0.0 && p.1.is_finite() && (!chart.log_y || p.1 > 0.0))
        .collect();
    let (mut x0, mut x1) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in &pts {
        x0 = x0.min(x.log2());
        x1 = x1.max(x.log2());
        let y = if chart.log_y { y.log10() } else { y };
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if pts.is_empty() {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    if chart.log_y {
        y0 = y0.floor();
        y1 = y1.ceil().max(y0 + 1.0);
    } else {
        y0 = y0.min(0.0);
        let pad = (y1 - y0).max(1e-9) * 0.08;
        y1 += pad;
    }
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let sx = |x: f64| LEFT + (x.log2() - x0) / (x1 - x0) * pw;
    let sy = |y: f64| {
        let y = if chart.log_y { y.log10() } else { y };
        TOP + (1.0 - (y - y0) / (y1 - y0)) * ph
    };
    let mut o = String::new();
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="DejaVu Sans, Arial, sans-serif" font-size="13">"#
    );
    let _ = writeln!(o, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        o,
        r#"<text x="{}" y="28" font-size="17" text-anchor="middle">{}</text>"#,
        LEFT + pw / 2.0,
        escape(&chart.title)
    );
    // Grid lines and ticks.
    let mut xt = x0.ceil() as i32;
    while xt as f64 <= x1 + 1e-9 {
        let x = sx(2f64.powi(xt));
        let _ = writeln!(
            o,
            "<line x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/>",
            TOP + ph
        );
        let _ = writeln!(
            o,
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            TOP + ph + 20.0,
            1u64 << xt.max(0)
        );
        xt += 1;
    }
    let yticks: Vec<f64> = if chart.log_y {
        let mut v = Vec::new();
        let mut e = y0 as i32;
        while e as f64 <= y1 {
            for m in [1.0, 2.0, 5.0] {
                let t = m * 10f64.powi(e);
                if t.log10() <= y1 + 1e-9 {
                    v.push(t);
                }
            }
            e += 1;
        }
        v
    } else {
        let span = y1 - y0;
        let raw = span / 6.0;
        let mag = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 2.5, 5.0, 10.0]
            .iter()
            .map(|m| m * mag)
            .find(|s| *s >= raw)
            .unwrap_or(raw);
        let mut v = Vec::new();
        let mut t = (y0 / step).ceil() * step;
        while t <= y1 + 1e-12 {
            v.push(t);
            t += step;
        }
        v
    };
    for t in yticks {
        let y = sy(t);
        let _ = writeln!(
            o,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>",
            LEFT + pw
        );
        let _ = writeln!(
            o,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 6.0,
            y + 4.0,
            fmt_tick(t, chart.percent_y)
        );
    }
    if !chart.log_y && y0 < 0.0 {
        let y = sy(0.0);
        let _ = writeln!(
            o,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#888"/>"##,
            LEFT + pw
        );
    }
    let _ = writeln!(
        o,
        r#"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="black"/>"#
    );
    let _ = writeln!(
        o,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        LEFT + pw / 2.0,
        H - 15.0,
        escape(&chart.x_label)
    );
    let _ = writeln!(
        o,
        r#"<text transform="translate(20,{:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        TOP + ph / 2.0,
        escape(&chart.y_label)
    );
    // Series.
    for (i, s) in chart.series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let path: Vec<String> = s
            .points
            .iter()
            .filter(|p| p.0 > 0.0 && p.1.is_finite() && (!chart.log_y || p.1 > 0.0))
            .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
            .collect();
        let dash = if s.dashed {
            r#" stroke-dasharray="6,4""#
        } else {
            ""
        };
        let _ = writeln!(
            o,
            r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"{dash}/>"#,
            path.join(" ")
        );
        for p in &path {
            if let Some((x, y)) = p.split_once(',') {
                let _ = writeln!(o, r#"<circle cx="{x}" cy="{y}" r="3.5" fill="{color}"/>"#);
            }
        }
        let ly = TOP + 10.0 + i as f64 * 22.0;
        let lx = W - RIGHT + 20.0;
        let _ = writeln!(
            o,
            r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{color}" stroke-width="2"{dash}/>"#,
            lx + 28.0
        );
        let _ = writeln!(
            o,
            r#"<text x="{}" y="{}">{}</text>"#,
            lx + 36.0,
            ly + 4.0,
            escape(&s.name)
        );
    }
    o.push_str("</svg>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_has_every_series_and_escapes_names() {
        let chart = Chart {
            title: "a < b".to_string(),
            x_label: "group size".to_string(),
            y_label: "relative MSE".to_string(),
            log_y: true,
            percent_y: false,
            series: vec![
                Series {
                    name: "nvfp4".to_string(),
                    points: vec![(8.0, 0.008), (16.0, 0.009)],
                    dashed: false,
                },
                Series {
                    name: "x&y".to_string(),
                    points: vec![(8.0, 0.004), (16.0, 0.005)],
                    dashed: true,
                },
            ],
        };
        let s = svg(&chart);
        assert!(s.starts_with("<svg"));
        assert!(s.contains("a &lt; b"));
        assert!(s.contains("x&amp;y"));
        assert_eq!(s.matches("<polyline").count(), 2);
    }
}
