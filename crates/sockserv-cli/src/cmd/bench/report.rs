//! Turning an [`Outcome`] into text, JSON and an SVG latency chart.
use std::path::Path;

use hdrhistogram::Histogram;
use serde_json::{json, Value};

use super::driver::{LoadPlan, Outcome, Plan};
use crate::cli::BenchMode;

/// The headline numbers, derived once for every output form.
pub struct Summary {
    /// Messages per second while measuring.
    pub msgs_per_sec: f64,
    /// Echoed payload, 10^6 bytes per second, one direction.
    pub mb_per_sec: f64,
    /// p50, p90, p99, p99.9 and max latency in µs.
    pub latency: [u64; 5],
}

impl Summary {
    /// Rates over the measured time, percentiles from the histogram.
    pub fn of(outcome: &Outcome) -> Self {
        let secs = outcome.measured.as_secs_f64().max(1e-9);
        let h = &outcome.latency;
        let q = |q: f64| {
            if h.is_empty() {
                0
            } else {
                h.value_at_quantile(q)
            }
        };
        Summary {
            msgs_per_sec: outcome.msgs as f64 / secs,
            mb_per_sec: outcome.bytes as f64 / 1e6 / secs,
            latency: [q(0.50), q(0.90), q(0.99), q(0.999), h.max()],
        }
    }
}

/// `pingpong`, `stream` or `http`.
pub fn load_name(plan: &Plan) -> &'static str {
    match plan.load {
        LoadPlan::Echo {
            mode: BenchMode::Pingpong,
            ..
        } => "pingpong",
        LoadPlan::Echo {
            mode: BenchMode::Stream,
            ..
        } => "stream",
        LoadPlan::Http(_) => "http",
    }
}

/// Bytes per message: the echo size, or (HTTP) the mean body of the responses counted.
fn size(plan: &Plan, outcome: &Outcome) -> u64 {
    match plan.load {
        LoadPlan::Echo { size, .. } => size as u64,
        LoadPlan::Http(_) => outcome.bytes.checked_div(outcome.msgs).unwrap_or(0),
    }
}

/// The human-readable report.
pub fn text(plan: &Plan, outcome: &Outcome, summary: &Summary) -> String {
    let [p50, p90, p99, p999, max] = summary.latency;
    let (what, unit, extra) = match &plan.load {
        LoadPlan::Echo { size, .. } => (
            format!("{}, {} conns x {size} B", load_name(plan), plan.conns),
            "msgs",
            String::new(),
        ),
        LoadPlan::Http(http) => (
            format!(
                "http GET {}, {} conns, pipeline {}",
                http.path, plan.conns, http.pipeline
            ),
            "req",
            format!(
                ", {} B bodies, {} reconnects",
                size(plan, outcome),
                outcome.reconnects
            ),
        ),
    };
    format!(
        "{target}: {what}, measured {secs:.2} s ({connected} connected)\n\
         \x20 throughput  {msgs:.0} {unit}/s  {mb:.2} MB/s  ({total} {unit}{extra})\n\
         \x20 latency µs  p50 {p50}  p90 {p90}  p99 {p99}  p99.9 {p999}  max {max}\n\
         \x20 errors      connect failures {cf}  resets {resets}  mismatches {mm}",
        target = plan.target,
        secs = outcome.measured.as_secs_f64(),
        connected = outcome.connected,
        msgs = summary.msgs_per_sec,
        mb = summary.mb_per_sec,
        total = outcome.msgs,
        cf = outcome.connect_failures,
        resets = outcome.resets,
        mm = outcome.mismatches,
    )
}

/// The one-object JSON report. Under `--http`, `msgs` counts complete responses,
/// `mb_per_sec` their bodies, and `size` is the mean body.
pub fn json(plan: &Plan, outcome: &Outcome, summary: &Summary) -> Value {
    let [p50, p90, p99, p999, max] = summary.latency;
    let mut report = json!({
        "target": plan.target.to_string(),
        "conns": plan.conns,
        "connected": outcome.connected,
        "size": size(plan, outcome),
        "mode": load_name(plan),
        "duration_s": outcome.measured.as_secs_f64(),
        "msgs": outcome.msgs,
        "msgs_per_sec": summary.msgs_per_sec,
        "mb_per_sec": summary.mb_per_sec,
        "latency_us": { "p50": p50, "p90": p90, "p99": p99, "p999": p999, "max": max },
        "connect_failures": outcome.connect_failures,
        "resets": outcome.resets,
        "mismatches": outcome.mismatches,
    });
    if let LoadPlan::Http(http) = &plan.load {
        report["path"] = json!(http.path);
        report["pipeline"] = json!(http.pipeline);
        report["reconnects"] = json!(outcome.reconnects);
        report["first_mismatch"] = json!(outcome.first_mismatch);
    }
    report
}

/// Writes an SVG chart of latency by percentile; the x axis counts "nines"
/// (0 = p0, 1 = p90, 2 = p99, 3 = p99.9) so the tail gets room.
///
/// # Errors
///
/// If the file cannot be written.
pub fn plot(path: &Path, title: &str, latency: &Histogram<u64>) -> anyhow::Result<()> {
    use plotters::prelude::*;

    let points: Vec<(f64, f64)> = latency
        .iter_quantiles(4)
        .map(|v| {
            let q: f64 = v.quantile_iterated_to().min(0.999_999);
            (-(1.0 - q).log10(), v.value_iterated_to() as f64)
        })
        .collect();
    let max_x = points.iter().map(|p| p.0).fold(3.0_f64, f64::max).ceil();
    let max_y = points.iter().map(|p| p.1).fold(1.0_f64, f64::max) * 1.1;

    let root = SVGBackend::new(path, (900, 540)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..max_x, 0.0..max_y)?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (µs)")
        .x_labels(max_x as usize + 1)
        .x_label_formatter(&|nines| format!("p{}", 100.0 - 100.0 * 10f64.powf(-nines)))
        .draw()?;
    chart.draw_series(LineSeries::new(points, &BLUE))?;
    root.present()?;
    Ok(())
}
