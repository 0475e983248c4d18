//! The layer tokens whose options are decimals: `norm5`, `norm3a5e-5b0.75k1`, `norm3wa5e-5`,
//! `dropout0.5`.

use super::LayerSpec;

/// Krizhevsky 2012's normalisation: n = 5, k = 2, α = 1e-4, β = 0.75 (`parse_norm` starts there).
#[cfg(test)]
const NORM_DEFAULT: LayerSpec = LayerSpec::Norm {
    n: 5,
    k: 2.0,
    alpha: 1e-4,
    beta: 0.75,
    within: false,
};

/// The dropout fraction of `dropout` written without one (Hinton et al. 2012, AlexNet's fc layers).
pub const DROPOUT_DEFAULT: f64 = 0.5;

/// The longest decimal at the start of `s` (`5e-5`, `0.75`, `.5`, `1`): its value and length.
pub(super) fn decimal(s: &str) -> Option<(f64, usize)> {
    let b = s.as_bytes();
    let mut end = 0;
    while end < b.len() && (b[end].is_ascii_digit() || b[end] == b'.') {
        end += 1;
    }
    if end == 0 {
        return None;
    }
    // an exponent only when digits follow it: `5e-5` yes, `5e` no
    if end < b.len() && b[end] == b'e' {
        let mut e = end + 1;
        if e < b.len() && (b[e] == b'-' || b[e] == b'+') {
            e += 1;
        }
        let digits = b[e..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits > 0 {
            end = e + digits;
        }
    }
    s[..end].parse().ok().map(|v| (v, end))
}

/// `Ok(None)` when the token is neither `norm…` nor `dropout…`; `Err(problem)` when it is one
/// of them but malformed or out of range.
pub fn parse_real(tok: &str) -> Result<Option<LayerSpec>, String> {
    if let Some(rest) = tok.strip_prefix("dropout") {
        return parse_dropout(rest).map(Some);
    }
    match tok.strip_prefix("norm") {
        Some(rest) => parse_norm(rest).map(Some),
        None => Ok(None),
    }
}

fn parse_dropout(rest: &str) -> Result<LayerSpec, String> {
    let p = if rest.is_empty() {
        DROPOUT_DEFAULT
    } else {
        match decimal(rest) {
            Some((p, used)) if used == rest.len() => p,
            _ => return Err("dropout takes a fraction, e.g. dropout0.5".into()),
        }
    };
    if !(0.0..1.0).contains(&p) {
        return Err(format!(
            "the dropout fraction must be in [0, 1) (got {p}); dropout0.5 drops half the units"
        ));
    }
    Ok(LayerSpec::Dropout { p })
}

fn parse_norm(rest: &str) -> Result<LayerSpec, String> {
    let (mut n, mut k, mut alpha, mut beta) = (5, 2.0, 1e-4, 0.75);
    let size_len = rest.bytes().take_while(|c| c.is_ascii_digit()).count();
    if size_len > 0 {
        n = rest[..size_len]
            .parse()
            .map_err(|_| "the window size is too large".to_string())?;
    }
    let mut rest = &rest[size_len..];
    let within = rest.starts_with('w');
    if within {
        rest = &rest[1..];
    }
    while let Some(c) = rest.chars().next() {
        let Some((v, used)) = decimal(&rest[1..]) else {
            return Err(format!(
                "`{c}` needs a number; norm takes [N][w][aALPHA][bBETA][kK], e.g. norm3a5e-5b0.75"
            ));
        };
        match c {
            'a' => alpha = v,
            'b' => beta = v,
            'k' => k = v,
            _ => {
                return Err(format!(
                    "unknown option `{c}` for `norm`; it takes [N][w][aALPHA][bBETA][kK] (w: \
                     within each channel, right after N)"
                ));
            }
        }
        rest = &rest[1 + used..];
    }
    if n == 0 {
        return Err("the norm window must span at least 1 channel".into());
    }
    if within && n % 2 == 0 {
        return Err(format!(
            "a within-channel norm needs an odd window, centred on each position (got {n}; \
             Caffe's cifar10_full uses norm3w)"
        ));
    }
    let is_valid = k > 0.0 && k.is_finite() && alpha >= 0.0 && alpha.is_finite();
    if !is_valid {
        return Err(format!(
            "norm needs k > 0 and α ≥ 0 (got k = {k}, α = {alpha}) so the divisor stays positive"
        ));
    }
    if !(beta >= 0.0 && beta.is_finite()) {
        return Err(format!("norm needs β ≥ 0 (got {beta})"));
    }
    Ok(LayerSpec::Norm {
        n,
        k,
        alpha,
        beta,
        within,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_with_exponents() {
        assert_eq!(decimal("5e-5b"), Some((5e-5, 4)));
        assert_eq!(decimal("0.75"), Some((0.75, 4)));
        assert_eq!(decimal(".5"), Some((0.5, 2)));
        assert_eq!(decimal("2e"), Some((2.0, 1)));
        assert_eq!(decimal("b"), None);
    }

    #[test]
    fn norm_tokens() {
        assert_eq!(parse_real("norm"), Ok(Some(NORM_DEFAULT)));
        let five = LayerSpec::Norm {
            n: 5,
            k: 2.0,
            alpha: 1e-4,
            beta: 0.75,
            within: false,
        };
        assert_eq!(parse_real("norm5"), Ok(Some(five)));
        let caffe = LayerSpec::Norm {
            n: 3,
            k: 1.0,
            alpha: 5e-5,
            beta: 0.75,
            within: false,
        };
        assert_eq!(parse_real("norm3a5e-5b0.75k1"), Ok(Some(caffe)));
        let full = LayerSpec::Norm {
            n: 3,
            k: 1.0,
            alpha: 5e-5,
            beta: 0.75,
            within: true,
        };
        assert_eq!(parse_real("norm3wa5e-5b0.75k1"), Ok(Some(full)));
        assert!(parse_real("norm4w").unwrap_err().contains("odd"));
        assert!(parse_real("norm3aw").is_err());
        assert!(parse_real("norm0").is_err());
        assert!(parse_real("norm3x2").is_err());
        assert!(parse_real("norm3a").is_err());
        assert!(parse_real("norm3k0").is_err());
        assert_eq!(parse_real("relu"), Ok(None));
    }

    #[test]
    fn dropout_tokens() {
        assert_eq!(
            parse_real("dropout"),
            Ok(Some(LayerSpec::Dropout { p: 0.5 }))
        );
        assert_eq!(
            parse_real("dropout0.25"),
            Ok(Some(LayerSpec::Dropout { p: 0.25 }))
        );
        assert!(parse_real("dropout1").is_err());
        assert!(parse_real("dropout0.5x").is_err());
    }
}
