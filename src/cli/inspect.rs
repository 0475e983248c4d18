//! `convtop inspect`: every layer of a network spec with its output-size formula, shape,
//! parameters, FLOPs and convolution path.

use std::io::Write;

use anyhow::Result;

use crate::nn::spec::{
    TILE_FIX, is_preset_on_its_input, off_its_input, parse, parse_input, plan, preset,
};

pub(super) fn default_input(net: &str) -> [usize; 3] {
    preset(net.trim()).map_or([1, 28, 28], |p| p.input)
}

pub fn inspect(net: &str, input: Option<&str>, out: &mut dyn Write) -> Result<()> {
    let input = match input {
        Some(s) => parse_input(s)?,
        None => default_input(net),
    };
    let p = plan(&parse(net)?, input).map_err(|e| e.because(off_its_input(net, input)))?;
    writeln!(
        out,
        "network {}  input {}×{}×{}",
        crate::nn::spec::resolve(net),
        input[0],
        input[1],
        input[2]
    )?;
    // each column as wide as its longest entry (`dropout1`, `conv 8 5×5 s1 p2 wd×0.5`), at least
    // its usual width
    let width = |f: fn(&crate::nn::spec::LayerInfo) -> &str, min: usize| {
        p.layers
            .iter()
            .map(|l| f(&l.info).chars().count())
            .fold(min, usize::max)
    };
    let (nw, kw, fw) = (
        width(|i| &i.name, 7),
        width(|i| &i.kind, 20),
        width(|i| &i.formula, 44),
    );
    let header = format!(
        "{:<nw$} {:<kw$} {:<fw$} {:>12} {:>10} {:>12}  {}",
        "layer",
        "kind",
        "out = ⌊(in + 2·pad − k)/stride⌋ + 1",
        "output",
        "params",
        "FLOPs",
        "conv path (this CPU)"
    );
    writeln!(out, "{}", header.trim_end())?;
    for l in &p.layers {
        let i = &l.info;
        let shape = format!("{}×{}×{}", i.out_shape[0], i.out_shape[1], i.out_shape[2]);
        let path = crate::nn::conv::ConvPath::of_planned(l);
        let row = format!(
            "{:<nw$} {:<kw$} {:<fw$} {:>12} {:>10} {:>12}  {}",
            i.name,
            i.kind,
            i.formula,
            shape,
            group(i.params as u64),
            group(i.flops),
            path.map_or(String::new(), |p| p.to_string())
        );
        writeln!(out, "{}", row.trim_end())?;
    }
    writeln!(
        out,
        "total: {} parameters, {} forward FLOPs an image ({:.2} MFLOP)",
        group(p.params() as u64),
        group(p.flops()),
        p.flops() as f64 / 1e6
    )?;
    let deliberate = preset(net.trim()).filter(|_| is_preset_on_its_input(net, input));
    for w in &p.warnings {
        match deliberate {
            Some(d) => {
                let what = w.trim_end_matches(TILE_FIX).trim_end_matches("; ");
                writeln!(out, "note: {what}, as designed: {}", d.about)?
            }
            None => writeln!(out, "warning: {w}")?,
        }
    }
    Ok(())
}

/// 1234567 → "1,234,567".
pub fn group(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}
