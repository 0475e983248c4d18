//! Floats in JSON without loss: JSON has no NaN or infinity, so a non-finite value is written as
//! the string `"NaN"`, `"inf"` or `"-inf"`; finite values stay plain numbers. Readers accept
//! either, and `null` (what older files hold for a non-finite value) as NaN.
//!
//! Use on a field: `#[serde(with = "crate::train::finite::f32s")]` (`f64s`, `vec_f32`).

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};

/// The string a non-finite value is written as.
pub fn label(v: f64) -> &'static str {
    if v.is_nan() {
        "NaN"
    } else if v > 0.0 {
        "inf"
    } else {
        "-inf"
    }
}

/// The value of a string written by `label` (a few common spellings are accepted too).
pub fn parse(s: &str) -> Option<f64> {
    match s.trim() {
        "NaN" | "nan" | "NAN" => Some(f64::NAN),
        "inf" | "+inf" | "Infinity" | "+Infinity" | "infinity" => Some(f64::INFINITY),
        "-inf" | "-Infinity" | "-infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

struct F64Visitor;

impl<'de> Visitor<'de> for F64Visitor {
    type Value = f64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(r#"a number, or "NaN", "inf" or "-inf""#)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
        parse(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
    }
    fn visit_unit<E: de::Error>(self) -> Result<f64, E> {
        Ok(f64::NAN)
    }
    fn visit_none<E: de::Error>(self) -> Result<f64, E> {
        Ok(f64::NAN)
    }
}

pub mod f64s {
    use super::*;

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else {
            s.serialize_str(label(*v))
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        d.deserialize_any(F64Visitor)
    }
}

pub mod f32s {
    use super::*;

    pub fn serialize<S: Serializer>(v: &f32, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f32(*v)
        } else {
            s.serialize_str(label(f64::from(*v)))
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
        d.deserialize_any(F64Visitor).map(|v| v as f32)
    }
}

/// A `Vec<f32>` whose elements may be non-finite (weights after a divergence).
pub mod vec_f32 {
    use super::*;

    struct Item(f32);

    impl serde::Serialize for Item {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            f32s::serialize(&self.0, s)
        }
    }

    pub fn serialize<S: Serializer>(v: &[f32], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for x in v {
            seq.serialize_element(&Item(*x))?;
        }
        seq.end()
    }

    struct VecVisitor;

    impl<'de> Visitor<'de> for VecVisitor {
        type Value = Vec<f32>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of numbers")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<f32>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
            while let Some(Elem(x)) = seq.next_element()? {
                out.push(x);
            }
            Ok(out)
        }
    }

    struct Elem(f32);

    impl<'de> serde::Deserialize<'de> for Elem {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Elem, D::Error> {
            f32s::deserialize(d).map(Elem)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f32>, D::Error> {
        d.deserialize_seq(VecVisitor)
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Serialize, Deserialize)]
    struct T {
        #[serde(with = "super::f32s")]
        a: f32,
        #[serde(with = "super::f64s")]
        b: f64,
        #[serde(with = "super::vec_f32")]
        c: Vec<f32>,
    }

    #[test]
    fn non_finite_values_round_trip_as_strings() {
        let t = T {
            a: f32::NAN,
            b: f64::NEG_INFINITY,
            c: vec![1.5, f32::INFINITY, f32::NAN],
        };
        let text = serde_json::to_string(&t).unwrap();
        assert_eq!(text, r#"{"a":"NaN","b":"-inf","c":[1.5,"inf","NaN"]}"#);
        let back: T = serde_json::from_str(&text).unwrap();
        assert!(back.a.is_nan());
        assert_eq!(back.b, f64::NEG_INFINITY);
        assert_eq!(back.c[0], 1.5);
        assert_eq!(back.c[1], f32::INFINITY);
        assert!(back.c[2].is_nan());
    }

    #[test]
    fn finite_values_stay_numbers_and_null_reads_as_nan() {
        let back: T = serde_json::from_str(r#"{"a":0.25,"b":3,"c":[null]}"#).unwrap();
        assert_eq!((back.a, back.b), (0.25, 3.0));
        assert!(back.c[0].is_nan());
        assert!(serde_json::from_str::<T>(r#"{"a":"lots","b":1,"c":[]}"#).is_err());
        let text = serde_json::to_string(&T {
            a: 0.1,
            b: 2.0,
            c: vec![],
        })
        .unwrap();
        assert_eq!(text, r#"{"a":0.1,"b":2.0,"c":[]}"#);
    }
}
