//! The real binary in tmux, on the embedded data: the Network tab (`4`) measures each `norm`
//! layer, so a norm whose α is too small for its input's scale shows as doing nothing.

mod tmux;

use tmux::{has_tmux, start, wait_file};

/// The `÷` figure on `layer`'s row of the Network tab, if drawn.
fn divisor_of(screen: &str, layer: &str) -> Option<f32> {
    let row = screen
        .lines()
        .find(|l| l.trim_start_matches(['│', '|', ' ']).starts_with(layer))?;
    let at = row.find('÷')? + '÷'.len_utf8();
    let number: String = row[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    number.parse().ok()
}

/// convtop on `net` in a `w`×30 tmux with `env`, on the Network tab (`4`) once it trains.
fn network_tab(name: &str, dir: &std::path::Path, w: u32, env: &str, net: &str) -> tmux::Tmux {
    let tmux = start(name, dir, w, 30, env, &format!("--net '{net}'"));
    tmux.wait_screen("the dashboard", 60, |s| s.contains("running"));
    tmux.keys(&["4"]);
    tmux
}

/// `q`, `y` to confirm, and convtop exits 0.
fn quit(tmux: &tmux::Tmux, dir: &std::path::Path) {
    tmux.keys(&["q"]);
    tmux.keys(&["y"]);
    assert_eq!(wait_file(&dir.join("exit"), 30).trim(), "0");
}

#[test]
fn the_network_tab_shows_what_each_norm_divided() {
    if !has_tmux() {
        eprintln!("skipped: tmux is not installed (.ci/run installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // the same layer twice: cuda-convnet's published α on 0–1 pixels, and α large enough to act
    let net = "conv8k5p2 relu norm3a5e-5b0.75k1 pool2 conv8k5p2 relu norm3a1b0.75k1 pool2 fc10";
    let tmux = network_tab("norm", dir.path(), 120, "COLORTERM=truecolor", net);
    let screen = tmux.wait_screen("both norm layers measured", 60, |s| {
        divisor_of(s, "norm1").is_some() && divisor_of(s, "norm2").is_some()
    });
    let inert = divisor_of(&screen, "norm1").unwrap();
    let acting = divisor_of(&screen, "norm2").unwrap();
    assert!(
        inert < 1.01,
        "α 5e-5 on 0–1 pixels divided by {inert}:\n{screen}"
    );
    assert!(acting > 1.1, "α 1 divided by only {acting}:\n{screen}");
    assert!(
        screen.contains("normalises nothing"),
        "the legend:\n{screen}"
    );
    quit(&tmux, dir.path());
}

#[test]
fn the_network_tab_of_a_norm_net_is_plain_ascii_without_unicode() {
    if !has_tmux() {
        eprintln!("skipped: tmux is not installed (.ci/run installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // both norm regions and a ceil pool: their formulas carry Σ, ², ⌈⌉ and β in Unicode
    let net = "conv8k5p2 relu norm3wa5e-5b0.75k1 pool3s2ceil conv8k5p2 relu norm3 pool2 fc10";
    let tmux = network_tab("norm-ascii", dir.path(), 80, "TERM=dumb", net);
    let screen = tmux.wait_screen("the norm layers measured", 60, |s| {
        s.contains("norm2") && s.contains("/1.") && s.contains("k^beta")
    });
    assert!(
        screen.is_ascii(),
        "non-ASCII output with TERM=dumb:\n{screen}"
    );
    assert!(
        screen.contains("5e-5/3^2*sum3x3 x^2"),
        "the formula reads as a product, not a difference:\n{screen}"
    );
    quit(&tmux, dir.path());
}
