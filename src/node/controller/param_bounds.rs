//! The documented bounds of the parameters an operator may set over the bus, and the all-or-none check of a
//! request against them. A name without a bound here cannot be set at run time: a new tunable is opened to
//! operators only together with its range.

use std::fmt::Write as _;

/// One run-time parameter's accepted closed range and unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamBound {
    /// Parameter name, as the controller knows it.
    pub name: &'static str,
    /// Smallest accepted value.
    pub min: f64,
    /// Largest accepted value.
    pub max: f64,
    /// Unit, for messages and docs.
    pub unit: &'static str,
}

/// Every parameter settable at run time, with its bounds. Gains above these make the 1-ms loop ring or go
/// unstable on the arms we ship; learning rates above 5e-4 let the adaptive term's weights run away.
pub const PARAM_BOUNDS: &[ParamBound] = &[
    ParamBound { name: "kp", min: 0.0, max: 1000.0, unit: "1/s²" },
    ParamBound { name: "kv", min: 0.0, max: 100.0, unit: "1/s" },
    ParamBound { name: "null_damping", min: 0.0, max: 50.0, unit: "1/s" },
    ParamBound { name: "rest_kp", min: 0.0, max: 500.0, unit: "1/s²" },
    ParamBound { name: "rest_kv", min: 0.0, max: 50.0, unit: "1/s" },
    ParamBound { name: "learning", min: 0.0, max: 1.0, unit: "0 = paused, 1 = on" },
    ParamBound { name: "learning_rate", min: 0.0, max: 5e-4, unit: "PES rate" },
];

/// The bound of `name`, if it may be set at run time.
pub fn bound(name: &str) -> Option<&'static ParamBound> {
    PARAM_BOUNDS.iter().find(|b| b.name == name)
}

/// Checks every `(name, value)` of a request before any is applied: all are known, finite and in range,
/// or the request is refused as a whole with every reason.
pub fn check_request<'a>(request: impl IntoIterator<Item = (&'a str, f64)>) -> Result<(), String> {
    let mut problems = String::new();
    for (name, x) in request {
        let sep = if problems.is_empty() { "" } else { "; " };
        match bound(name) {
            None => {
                let _ = write!(problems, "{sep}`{name}` cannot be set at run time");
            }
            Some(b) if !(x.is_finite() && (b.min..=b.max).contains(&x)) => {
                let _ = write!(problems, "{sep}{name} = {x} is outside [{}, {}] {}", b.min, b.max, b.unit);
            }
            Some(_) => {}
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(format!("nothing set: {problems}")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_refused_whole_with_every_reason() {
        assert!(check_request([("kp", 300.0), ("learning_rate", 1e-4)]).is_ok());
        let e = check_request([("kp", 300.0), ("learning_rate", 1e-3), ("kv", f64::NAN), ("zeta", 1.0)]).unwrap_err();
        assert!(e.starts_with("nothing set"), "{e}");
        assert!(e.contains("learning_rate = 0.001 is outside"), "{e}");
        assert!(e.contains("kv = NaN"), "{e}");
        assert!(e.contains("`zeta` cannot be set"), "{e}");
        assert!(!e.contains("kp"), "{e}");
    }

    #[test]
    fn bounds_are_ordered_and_include_the_defaults() {
        let osc = crate::control::osc::OscParams::default();
        for b in PARAM_BOUNDS {
            assert!(b.min <= b.max, "{b:?}");
        }
        for (name, x) in [("kp", osc.kp), ("kv", osc.kv), ("null_damping", osc.null_damping)] {
            assert!(check_request([(name, x)]).is_ok(), "default {name} = {x} outside its bound");
        }
        let adaptive = crate::control::adaptive::AdaptiveParams::default();
        assert!(check_request([("learning_rate", adaptive.ensemble.learning_rate)]).is_ok());
    }
}
