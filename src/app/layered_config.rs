//! Layered configuration: defaults < TOML file < environment < command line, merged as TOML values and then
//! deserialised once, so an unknown key from any layer is refused with its name (serde's
//! `deny_unknown_fields`) and the effective configuration can be logged as it will be used.
//!
//! Environment: `<PREFIX>__<KEY>[__<SUBKEY>…]=<value>`, e.g. `SPIKEARM_CONTROL__CHECKPOINT_PERIOD_S=5` or
//! `SPIKEARM_SIM__BUS__LISTEN='["tcp/127.0.0.1:7448"]'`. Command line: `--set key.sub=value`. Values are
//! parsed as TOML (numbers, booleans, arrays) and fall back to a plain string.

use std::path::Path;

use anyhow::{Context, bail};
use serde::{Serialize, de::DeserializeOwned};
use toml::{Table, Value};

/// Loads `T` from its defaults, an optional file, the environment under `env_prefix` and `--set` overrides.
pub fn load_layered<T: Serialize + DeserializeOwned + Default>(
    file: Option<&Path>,
    env_prefix: &str,
    env: impl IntoIterator<Item = (String, String)>,
    sets: &[String],
) -> anyhow::Result<T> {
    let mut merged = Table::try_from(T::default()).context("serialising the defaults")?;
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading config {}", path.display()))?;
        let table: Table = text.parse().with_context(|| format!("parsing config {}", path.display()))?;
        deep_merge(&mut merged, table);
    }
    let want = format!("{env_prefix}__");
    let mut env: Vec<(String, String)> = env.into_iter().filter(|(k, _)| k.starts_with(&want)).collect();
    env.sort();
    for (k, v) in env {
        let path: Vec<String> = k[want.len()..].split("__").map(|s| s.to_ascii_lowercase()).collect();
        set_path(&mut merged, &path, parse_value(&v)).with_context(|| format!("environment variable {k}"))?;
    }
    for s in sets {
        let Some((k, v)) = s.split_once('=') else { bail!("--set {s}: expected key=value") };
        let path: Vec<String> = k.trim().split('.').map(str::to_string).collect();
        set_path(&mut merged, &path, parse_value(v.trim())).with_context(|| format!("--set {s}"))?;
    }
    let source = file.map_or("defaults".to_string(), |p| p.display().to_string());
    T::deserialize(Value::Table(merged)).map_err(|e| anyhow::anyhow!("config ({source} + environment + --set): {e}"))
}

/// The configuration as TOML, for the start-up log.
pub fn effective_toml<T: Serialize>(cfg: &T) -> String {
    toml::to_string(cfg).unwrap_or_else(|e| format!("<unprintable: {e}>"))
}

fn parse_value(s: &str) -> Value {
    // Parse as the right-hand side of a TOML assignment; anything that is not a TOML value is a string.
    format!("x = {s}")
        .parse::<Table>()
        .ok()
        .and_then(|mut t| t.remove("x"))
        .unwrap_or_else(|| Value::String(s.to_string()))
}

fn deep_merge(base: &mut Table, over: Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(Value::Table(b)), Value::Table(o)) => deep_merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

fn set_path(t: &mut Table, path: &[String], v: Value) -> anyhow::Result<()> {
    match path {
        [] => bail!("empty key"),
        [k] => {
            t.insert(k.clone(), v);
            Ok(())
        }
        [k, rest @ ..] => {
            let entry = t.entry(k.clone()).or_insert_with(|| Value::Table(Table::new()));
            match entry {
                Value::Table(sub) => set_path(sub, rest, v),
                _ => bail!("`{k}` is not a table"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Cfg {
        a: f64,
        name: String,
        bus: Bus,
    }
    #[derive(Debug, Serialize, Deserialize, PartialEq, Default)]
    #[serde(default, deny_unknown_fields)]
    struct Bus {
        listen: Vec<String>,
    }
    impl Default for Cfg {
        fn default() -> Self {
            Self { a: 1.0, name: "d".into(), bus: Bus::default() }
        }
    }

    #[test]
    fn precedence_is_defaults_file_env_cli_and_unknown_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(&f, "a = 2.0\nname = \"file\"\n[bus]\nlisten = [\"x\"]\n").unwrap();
        let env = vec![("P__NAME".to_string(), "env".to_string()), ("OTHER".into(), "1".into())];
        let c: Cfg = load_layered(Some(&f), "P", env.clone(), &[]).unwrap();
        assert_eq!(c, Cfg { a: 2.0, name: "env".into(), bus: Bus { listen: vec!["x".into()] } });
        let c: Cfg = load_layered(Some(&f), "P", env, &["a=3".into(), "bus.listen=[\"y\"]".into()]).unwrap();
        assert_eq!((c.a, c.bus.listen), (3.0, vec!["y".to_string()]));
        let c: Cfg = load_layered(None, "P", vec![], &[]).unwrap();
        assert_eq!(c, Cfg::default());
        std::fs::write(&f, "a = 2.0\n[bus]\nlsiten = []\n").unwrap();
        let e = load_layered::<Cfg>(Some(&f), "P", vec![], &[]).unwrap_err().to_string();
        assert!(e.contains("lsiten"), "{e}");
        let e = load_layered::<Cfg>(None, "P", vec![("P__TYPO".into(), "1".into())], &[]).unwrap_err().to_string();
        assert!(e.contains("typo"), "{e}");
    }
}
