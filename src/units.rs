//! Numbers for people: 3–4 significant figures (scientific when large or small), byte sizes and
//! durations. One helper for every message, footer, dialog and summary line.

/// 0.036104049533605576 → "0.0361"; 5.434e23 → "5.43e23"; 1234.5 → "1234"; 12.345 → "12.35".
pub fn sig(value: f64) -> String {
    let a = value.abs();
    if !value.is_finite() {
        return format!("{value}");
    }
    if a == 0.0 {
        return "0".to_string();
    }
    if !(1e-3..1e5).contains(&a) {
        // three significant figures, Rust's exponent form without a `+`
        return format!("{value:.2e}");
    }
    let digits = if a >= 1000.0 {
        0
    } else if a >= 100.0 {
        1
    } else if a >= 10.0 {
        2
    } else if a >= 1.0 {
        3
    } else {
        // 0.001..1: three significant figures after the leading zeros
        (2 - a.log10().floor() as i32).clamp(3, 5) as usize
    };
    let text = format!("{value:.digits$}");
    // 0.5000 → 0.5, 12.00 → 12: trailing zeros add nothing
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// A positive factor rounded to one significant figure: 555 → "600", 3.2 → "3", 0.042 → "0.04".
pub fn one_figure(v: f64) -> String {
    if !v.is_finite() || v <= 0.0 {
        return "?".to_string();
    }
    let exponent = v.log10().floor() as i32;
    let rounded = (v / 10f64.powi(exponent)).round() * 10f64.powi(exponent);
    if rounded >= 1e6 {
        format!("{rounded:.0e}")
    } else {
        let decimals = usize::try_from(-exponent).unwrap_or(0);
        format!("{rounded:.decimals$}")
    }
}

/// 327_155_712 → "312 MiB".
pub fn bytes(value: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    let mut v = value as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    format!("{v:.digits$} {}", UNITS[unit])
}

/// 130.4 → "2m10s"; 7260 → "2h01m".
pub fn duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "--".to_string();
    }
    let s = seconds.round() as u64;
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_significant_figure() {
        assert_eq!(one_figure(555.0), "600");
        assert_eq!(one_figure(3.2), "3");
        assert_eq!(one_figure(96.0), "100");
        assert_eq!(one_figure(1.6e7), "2e7");
        assert_eq!(one_figure(0.042), "0.04");
        assert_eq!(one_figure(0.96), "1.0");
        assert_eq!(one_figure(0.0), "?");
    }

    #[test]
    fn significant_figures() {
        assert_eq!(sig(0.036104049533605576), "0.0361");
        assert_eq!(sig(543434775372005071912960.0), "5.43e23");
        assert_eq!(sig(1.5e-5), "1.50e-5");
        assert_eq!(sig(0.5), "0.5");
        assert_eq!(sig(0.001234), "0.00123");
        assert_eq!(sig(std::f64::consts::LN_10), "2.303");
        assert_eq!(sig(12.345), "12.35");
        assert_eq!(sig(123.456), "123.5");
        assert_eq!(sig(99999.0), "99999");
        assert_eq!(sig(-0.25), "-0.25");
        assert_eq!(sig(f64::NAN), "NaN");
        assert_eq!(sig(f64::INFINITY), "inf");
    }

    #[test]
    fn bytes_keep_three_figures() {
        assert_eq!(bytes(327_155_712), "312 MiB");
        assert_eq!(bytes(5 * 1024 * 1024 / 2), "2.50 MiB");
        assert_eq!(bytes(20 * 1024), "20.0 KiB");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024), "3.00 GiB");
    }

    #[test]
    fn durations() {
        assert_eq!(duration(130.4), "2m10s");
        assert_eq!(duration(7260.0), "2h01m");
        assert_eq!(duration(f64::NAN), "--");
        assert_eq!(duration(42.0), "42s");
    }
}
