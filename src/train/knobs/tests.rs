//! The knob authority's cases, including the values issue 16 found accepted.

use super::*;

fn refused(knob: Knob, value: f64) -> KnobError {
    match validate(knob, value) {
        Err(e) => e,
        Ok(v) => panic!("{knob:?} {value} accepted as {v}"),
    }
}

#[test]
fn values_that_do_not_survive_f32_are_refused() {
    // 1e39 > f32::MAX ≈ 3.4e38: stored as inf, then written as null into the checkpoint
    let e = refused(Knob::LearningRate, 1e39);
    assert!(e.to_string().contains("learning rate 1e39 refused"), "{e}");
    assert!(e.to_string().contains("infinite"), "{e}");
    assert!(e.to_string().contains("1e-9 to 100"), "{e}");
    // 1e-50 < the smallest f32 subnormal ≈ 1.4e-45: stored as 0
    let e = refused(Knob::LearningRate, 1e-50);
    assert!(e.to_string().contains("becomes 0"), "{e}");
    // 0.9999999999 rounds to 1.0f32 (the f32 below 1 is 1 − 2⁻²⁴ ≈ 0.99999994)
    let e = refused(Knob::Momentum, 0.9999999999);
    assert!(e.to_string().contains("becomes 1"), "{e}");
    assert_eq!(validate(Knob::Momentum, 0.99999994), Ok(0.99999994));
    // a nonzero λ that would silently turn into 0 is refused; 0 itself is fine
    assert!(validate(Knob::Lambda, 1e-50).is_err());
    assert_eq!(validate(Knob::Lambda, 0.0), Ok(0.0));
    for knob in Knob::ALL {
        assert!(validate(knob, f64::NAN).is_err());
        assert!(validate(knob, f64::INFINITY).is_err());
        assert!(validate(knob, f64::NEG_INFINITY).is_err());
    }
}

#[test]
fn ranges_hold_at_their_ends() {
    assert!(validate(Knob::LearningRate, 0.0).is_err());
    assert!(validate(Knob::LearningRate, -0.01).is_err());
    assert!(validate(Knob::LearningRate, 100.0).is_ok());
    assert!(validate(Knob::LearningRate, 100.1).is_err());
    assert!(validate(Knob::LearningRate, 1e-9).is_ok());
    assert!(validate(Knob::LearningRate, 1e-10).is_err());
    assert!(validate(Knob::Lambda, -1e-4).is_err());
    assert!(validate(Knob::Lambda, 100.0).is_ok());
    assert!(validate(Knob::Momentum, -0.1).is_err());
    assert!(validate(Knob::Momentum, 0.0).is_ok());
    assert!(validate(Knob::Momentum, 1.0).is_err());
    assert!(validate(Knob::Momentum, 5.0).is_err());
    assert_eq!(validate(Knob::BatchSize, 1.0), Ok(1.0));
    assert_eq!(validate(Knob::BatchSize, 4096.0), Ok(4096.0));
    assert!(validate(Knob::BatchSize, 4097.0).is_err());
    assert!(validate(Knob::BatchSize, 65_536.0).is_err());
    assert!(validate(Knob::BatchSize, 0.0).is_err());
    assert!(validate(Knob::BatchSize, 2.5).is_err());
    assert!(validate(Knob::AugmentFlip, 0.5).is_err());
    assert_eq!(validate(Knob::AugmentCrop, 1.0), Ok(1.0));
}

#[test]
fn the_stored_value_is_what_f32_holds() {
    // 0.1 is not an f32: it is stored as the nearest, 0.100000001490116119384765625, and read
    // back as that f32's shortest decimal, 0.1; a value f32 cannot tell from 0.1 reads as 0.1 too
    assert_eq!(validate(Knob::LearningRate, 0.1), Ok(0.1));
    assert_eq!(validate(Knob::LearningRate, 0.100_000_000_1), Ok(0.1));
    assert_eq!(validate(Knob::LearningRate, 0.123_456_789), Ok(0.12345679));
    let mut k = Knobs::default();
    assert_eq!(set(&mut k, Knob::BatchSize, 64.0), Ok(64.0));
    assert_eq!(k.batch_size, 64);
    assert!(set(&mut k, Knob::LearningRate, 1e39).is_err());
    assert_eq!(k.learning_rate, 0.0, "a refused value changes nothing");
}

#[test]
fn a_message_names_the_knob_the_value_and_the_range() {
    let e = refused(Knob::BatchSize, 65_536.0);
    assert_eq!(
        e.to_string(),
        "batch size 65536 refused: out of range (valid: a whole number from 1 to 4096)"
    );
    let e = parse(Knob::LearningRate, "abc").unwrap_err();
    assert_eq!(
        e.to_string(),
        "learning rate \"abc\" refused: not a number (valid: 1e-9 to 100)"
    );
}

#[test]
fn steps_stay_in_range() {
    // ×2 / ÷2, ×10 / ÷10 with shift; 0.01 is an f32 so the results are f32-rounded
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9 * b.abs().max(1.0);
    assert!(close(step(Knob::LearningRate, 0.01, true, false), 0.02));
    assert!(close(step(Knob::LearningRate, 0.01, false, false), 0.005));
    assert!(close(step(Knob::Lambda, 1e-3, true, true), 1e-2));
    assert_eq!(step(Knob::Momentum, 0.9, true, false), 0.95);
    assert_eq!(step(Knob::Momentum, 0.99, true, true), 0.99);
    assert_eq!(step(Knob::BatchSize, 1.0, false, false), 1.0);
    // the dashboard used to reach 65,536, which the trainer refused
    assert_eq!(step(Knob::BatchSize, 4096.0, true, true), 4096.0);
    assert_eq!(step(Knob::BatchSize, 2048.0, true, true), 4096.0);
    assert_eq!(step(Knob::LearningRate, 50.0, true, true), 100.0);
    assert_eq!(step(Knob::LearningRate, 1e-9, false, true), 1e-9);
    assert_eq!(step(Knob::Lambda, 1e-9, false, false), 0.0);
    assert_eq!(step(Knob::Lambda, 0.0, true, false), 1e-4);
    assert_eq!(step(Knob::AugmentFlip, 0.0, true, false), 1.0);
    // every step from every reachable value is valid
    for knob in Knob::ALL {
        for start in [
            0.0, 1e-9, 1e-4, 0.05, 0.5, 0.9, 1.0, 3.0, 64.0, 100.0, 4096.0,
        ] {
            for (up, big) in [(true, false), (true, true), (false, false), (false, true)] {
                let v = step(knob, start, up, big);
                assert!(validate(knob, v).is_ok(), "{knob:?} {start} → {v}");
            }
        }
    }
}

#[test]
fn typed_values() {
    assert!(parse(Knob::LearningRate, "-1").is_err());
    assert!(parse(Knob::LearningRate, "NaN").is_err());
    assert!(parse(Knob::LearningRate, "1e39").is_err());
    assert_eq!(parse(Knob::LearningRate, " 3e-3 "), Ok(3e-3));
    assert!(parse(Knob::BatchSize, "2.5").is_err());
    assert_eq!(parse(Knob::BatchSize, "64"), Ok(64.0));
    assert!(parse(Knob::Momentum, "1.2").is_err());
    assert_eq!(parse(Knob::AugmentCrop, "on"), Ok(1.0));
    assert_eq!(parse(Knob::AugmentFlip, "Off"), Ok(0.0));
    assert!(parse(Knob::AugmentFlip, "maybe").is_err());
}

#[test]
fn validate_all_checks_every_knob() {
    let good = Knobs {
        learning_rate: 0.05,
        lambda: 1e-4,
        momentum: 0.9,
        is_nesterov: false,
        batch_size: 32,
        augment_crop: false,
        augment_flip: true,
    };
    assert_eq!(validate_all(&good), Ok(()));
    for bad in [
        Knobs {
            batch_size: 0,
            ..good
        },
        Knobs {
            learning_rate: -0.1,
            ..good
        },
        Knobs {
            momentum: 5.0,
            ..good
        },
        Knobs {
            lambda: f32::INFINITY,
            ..good
        },
    ] {
        assert!(validate_all(&bad).is_err(), "{bad:?}");
    }
}

#[test]
fn a_stored_knob_reads_back_as_the_decimal_it_was_set_to() {
    let mut knobs = Knobs::default();
    for (knob, value) in [
        (Knob::LearningRate, 0.1),
        (Knob::LearningRate, 0.02),
        (Knob::Lambda, 5e-4),
        (Knob::Momentum, 0.9),
    ] {
        set(&mut knobs, knob, value).unwrap();
        // not 0.10000000149011612: what a record, the wire and PyTorch's param groups get
        assert_eq!(knobs.get(knob), value, "{knob:?}");
    }
    // a schedule step lands on the f32 grid and still reads as its shortest decimal
    set(&mut knobs, Knob::LearningRate, 0.02 * f64::from(0.926f32)).unwrap();
    assert_eq!(knobs.get(Knob::LearningRate), 0.01852);
    assert!(crate::train::events::widen(f32::NAN).is_nan());
}
