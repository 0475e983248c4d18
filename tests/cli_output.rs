//! What the binary prints and where: the headless summary, warnings on stderr, `--help`'s
//! defaults, the README's flag table, error messages that name the problem once.

use std::path::Path;
use std::process::Command;

fn convtop() -> Command {
    Command::new(env!("CARGO_BIN_EXE_convtop"))
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = convtop().args(args).output().expect("convtop runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn short_run(runs: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "train",
        "--headless",
        "--epochs",
        "1",
        "--max-iterations",
        "20",
        "--run-dir",
        runs.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

/// The (first) run directory `short_run` made in `runs`.
fn first_run(runs: &Path) -> std::path::PathBuf {
    std::fs::read_dir(runs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
}

#[test]
fn the_headless_summary_gives_elapsed_time_and_peak_rss() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = short_run(&dir.path().join("runs"), &[]);
    assert_eq!(code, 0, "{out}{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("trained for "))
        .unwrap_or_else(|| panic!("no summary line:\n{out}"));
    // "trained for 3.2s · peak RSS 61.5 MiB": the peak of a process that holds the embedded
    // MNIST subset is well above 10 MiB
    let peak = line.split("peak RSS ").nth(1).expect("peak RSS");
    let (value, unit) = peak.split_once(' ').expect("value and unit");
    let mib = value.parse::<f64>().expect("a number")
        * match unit {
            "MiB" => 1.0,
            "GiB" => 1024.0,
            other => panic!("unit {other} in {line}"),
        };
    assert!(mib > 10.0, "{line}");
}

/// The long flags of `convtop train` that a person may use (not clap's own, not hidden ones).
fn train_flags() -> Vec<String> {
    let cmd = convtop::cli::args::command();
    let train = cmd.find_subcommand("train").expect("a train subcommand");
    train
        .get_arguments()
        .filter(|a| !a.is_hide_set())
        .filter_map(|a| a.get_long())
        .filter(|l| *l != "help")
        .map(|l| format!("--{l}"))
        .collect()
}

#[test]
fn the_readme_flag_table_and_the_command_line_agree() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    // the first column of the table under "flag | default | meaning"
    let table: Vec<String> = readme
        .lines()
        .skip_while(|l| !l.starts_with("| flag | default | meaning |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .flat_map(|l| {
            let first = l.split('|').nth(1).unwrap_or_default().to_string();
            first
                .split('`')
                .filter(|w| w.starts_with("--"))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    let flags = train_flags();
    assert!(flags.len() > 20, "{flags:?}");
    let missing: Vec<_> = flags.iter().filter(|f| !table.contains(f)).collect();
    let unknown: Vec<_> = table.iter().filter(|f| !flags.contains(f)).collect();
    assert!(
        missing.is_empty(),
        "flags missing from the README table: {missing:?}"
    );
    assert!(
        unknown.is_empty(),
        "README flags convtop does not have: {unknown:?}"
    );
}

#[test]
fn help_shows_every_default() {
    let (code, out, _) = run(&["train", "--help"]);
    assert_eq!(code, 0);
    // clap prints each option's help after its name; every option carries a [default: …]
    for flag in train_flags() {
        let at = out
            .find(&format!("{flag} "))
            .or_else(|| out.find(&format!("{flag}\n")))
            .unwrap_or_else(|| panic!("{flag} not in --help:\n{out}"));
        let rest = &out[at..];
        let next = rest[2..].find("\n  -").map_or(rest.len(), |i| i + 2);
        assert!(
            rest[..next].contains("[default: "),
            "{flag} shows no default:\n{}",
            &rest[..next]
        );
    }
    // the values are the configuration's own
    assert!(
        out.contains("[default: 0.05]") && out.contains("[default: 32]"),
        "{out}"
    );
}

#[test]
fn a_missing_run_folder_is_named_by_eval_attach_and_test() {
    let dir = tempfile::tempdir().unwrap();
    let nope = dir.path().join("no-such-run");
    let nope = nope.to_str().unwrap();
    for args in [
        vec!["eval", "--checkpoint", nope],
        vec!["attach", nope],
        vec!["test", nope],
        vec!["replay", nope],
        vec!["export", nope],
    ] {
        let (code, out, err) = run(&args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(
            err.contains(&format!("{nope} does not exist")) && err.contains("convtop ls"),
            "{args:?}: {err}"
        );
    }
}

/// Whether some phrase of three words or more appears twice in `text` (a cause repeated).
fn repeated_phrase(text: &str) -> Option<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    for n in [4, 3] {
        for (i, w) in words.windows(n).enumerate() {
            let phrase = w.join(" ");
            let later = words[i + n..].windows(n).any(|v| v.join(" ") == phrase);
            if later && !phrase.contains("convtop") {
                return Some(phrase);
            }
        }
    }
    None
}

#[test]
fn error_messages_say_each_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let nope = dir.path().join("nope");
    let nope = nope.to_str().unwrap();
    let runs = dir.path().join("runs");
    for data in [
        format!("folder:{nope}"),
        format!("idx:{nope}"),
        format!("cifar10:{nope}"),
    ] {
        // in the foreground, and from a detached training (which reports through a pipe)
        for detach in [&[][..], &["--detach", "--no-attach"][..]] {
            let (code, _, err) = short_run(&runs, &[&["--data", &data][..], detach].concat());
            assert_eq!(code, 2, "{err}");
            assert!(err.contains(nope), "{err}");
            assert!(
                err.contains("folder not found; give the folder that holds"),
                "{err}"
            );
            assert!(repeated_phrase(&err).is_none(), "{err}");
            assert!(err.matches("os error").count() <= 1, "{err}");
        }
    }
    let (code, _, err) = short_run(&runs, &["--config", &format!("{nope}.toml")]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.matches("No such file or directory").count() == 1,
        "{err}"
    );
    assert!(repeated_phrase(&err).is_none(), "{err}");
}

#[test]
fn an_unknown_preset_lists_the_presets() {
    let (code, _, err) = run(&["inspect", "--net", "resnet"]);
    assert_eq!(code, 2);
    assert!(
        err.contains(
            "unknown preset (mnist, cifar, seed, vggish, vggish-bn, vggish-wide-bn, cudaconvnet, \
             alexnet)"
        ) && err.contains("resnet"),
        "{err}"
    );
}

#[test]
fn every_net_option_names_every_preset() {
    for command in ["train", "inspect"] {
        let (code, out, _) = run(&[command, "--help"]);
        assert_eq!(code, 0);
        let net = &out[out.find("--net").expect("--net in --help")..];
        let net = &net[..net.find("\n  -").unwrap_or(net.len())];
        for p in convtop::nn::PRESETS {
            let named = [",", ")"]
                .iter()
                .any(|end| net.contains(&format!("{}{end}", p.name)));
            assert!(named, "{command} --help omits {}:\n{net}", p.name);
        }
    }
}

#[test]
fn a_preset_off_its_input_names_the_input_it_was_built_for() {
    let (code, _, err) = run(&["inspect", "--net", "vggish-wide-bn", "--input", "1x28x28"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("layer pool4")
            && err.contains(
                "the preset vggish-wide-bn is built for 3×32×32 input and this input is 1×28×28"
            )
            && err.contains("use a preset built for it (mnist)"),
        "{err}"
    );
    // training it on the embedded digits fails the same way, before anything is written
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let (code, _, err) = short_run(&runs, &["--net", "vggish-wide-bn"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("built for 3×32×32 input"), "{err}");
    assert!(
        !runs.exists(),
        "a run directory was made for a network that cannot be built"
    );
    // same channels: a folder could be resized to it
    let (_, _, err) = run(&["inspect", "--net", "alexnet", "--input", "3x32x32"]);
    assert!(
        err.contains("--resize 227x227") && err.contains("vggish-bn"),
        "{err}"
    );
    // a spec of one's own gets the plain message
    let (_, _, err) = run(&["inspect", "--net", "conv8k5 pool9 fc10", "--input", "1x8x8"]);
    assert!(!err.contains("preset"), "{err}");
}

/// A tiny grey PNG of `value`.
fn png(path: &Path, value: u8) {
    let img = image::GrayImage::from_pixel(8, 8, image::Luma([value]));
    img.save(path).expect("png");
}

#[test]
fn a_folder_skips_non_images_with_a_count_and_says_it_carved_a_test_split() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("shapes");
    for (class, value) in [("dark", 20u8), ("light", 230u8)] {
        let folder = data.join(class);
        std::fs::create_dir_all(&folder).unwrap();
        for i in 0..12 {
            png(&folder.join(format!("{i}.png")), value + i);
        }
    }
    std::fs::write(data.join("dark/notes.txt"), "not an image").unwrap();
    std::fs::write(data.join("light/.DS_Store"), "hidden: not counted").unwrap();
    let (code, out, err) = short_run(
        &dir.path().join("runs"),
        &[
            "--data",
            &format!("folder:{}", data.display()),
            "--net",
            "conv4k3p1 relu pool2 fc2",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("warning: skipped 1 file(s) that are not images") && err.contains("notes.txt"),
        "{err}"
    );
    // 20% of each class's 12 images: 2 + 2 (carved before the validation split)
    assert!(
        out.contains("has no test/ folder: a test split of 4 images"),
        "{out}"
    );
    assert!(
        !out.contains("warning:"),
        "warnings belong on stderr:\n{out}"
    );
}

#[test]
fn the_pool_warning_names_the_spec_token() {
    // mnist's layers written out (the preset itself is deliberate: a note, in tests/cli.rs)
    let (code, out, _) = run(&[
        "inspect",
        "--net",
        "conv8k5p2 relu pool2 conv16k5p2 relu pool3 fc10",
    ]);
    assert_eq!(code, 0);
    // the 2nd pool leaves 14 mod 3 = 2
    assert!(
        out.contains(
            "warning: `pool3` (the 2nd pool, pool2 in `convtop inspect`): stride 3 leaves 2 row(s)"
        ) && out.contains("pick a kernel, stride or pad that tiles it"),
        "{out}"
    );
}

#[test]
fn ls_counts_the_test_looks() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let (code, out, err) = short_run(&runs, &[]);
    assert_eq!(code, 0, "{out}{err}");
    let run_dir = first_run(&runs);
    for _ in 0..2 {
        let (code, out, err) = run(&["test", run_dir.to_str().unwrap(), "--checkpoint", "last"]);
        assert_eq!(code, 0, "{out}{err}");
    }
    let (code, out, err) = run(&["ls", "--run-dir", runs.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let row = out.lines().nth(1).unwrap_or_else(|| panic!("{out}"));
    assert!(row.trim_end().ends_with(" 2"), "the tests column:\n{out}");
    let (_, out, _) = run(&["ls", "--run-dir", dir.path().join("none").to_str().unwrap()]);
    assert!(
        out.starts_with("no runs:") && out.contains("does not exist"),
        "{out}"
    );
}

#[test]
fn a_run_trained_with_flips_is_also_tested_with_each_images_mirror_in_the_same_look() {
    let dir = tempfile::tempdir().unwrap();
    for (flags, is_flipped) in [(&["--augment", "flip"][..], true), (&[][..], false)] {
        let runs = dir.path().join(format!("runs-{is_flipped}"));
        let (code, out, err) = short_run(&runs, flags);
        assert_eq!(code, 0, "{out}{err}");
        let run_dir = first_run(&runs);
        let (code, out, err) = run(&["test", run_dir.to_str().unwrap(), "--checkpoint", "last"]);
        assert_eq!(code, 0, "{out}{err}");
        assert_eq!(
            out.contains("averaged with each image's mirror"),
            is_flipped,
            "{out}"
        );
        // one look, whichever numbers it reports
        assert!(out.contains("look 1 at this test set"), "{out}");
        let record = std::fs::read_to_string(run_dir.join("test-record.jsonl")).unwrap();
        let v: serde_json::Value = serde_json::from_str(record.trim()).unwrap();
        assert_eq!(v["count"], 1);
        if is_flipped {
            let (single, two) = (
                v["accuracy"].as_f64().unwrap(),
                v["flipped"]["accuracy"].as_f64().unwrap(),
            );
            // 20 iterations of mnist: well above chance, and the views mostly agree
            assert!(
                single > 0.3 && two > 0.3 && (single - two).abs() < 0.1,
                "{v}"
            );
            assert!(v["flipped"]["loss"].as_f64().unwrap() > 0.0, "{v}");
        } else {
            assert!(v.get("flipped").is_none(), "{v}");
        }
    }
}
