//! A small argument reader: `--name value`, `--flag`, positionals; unknown options are errors.

pub(crate) struct Args {
    rest: Vec<String>,
}

impl Args {
    pub(crate) fn new(rest: Vec<String>) -> Args {
        Args { rest }
    }

    /// Removes `--name value` (or `--name=value`) and returns the value.
    pub(crate) fn value(&mut self, name: &str) -> Result<Option<String>, String> {
        let prefix = format!("{name}=");
        if let Some(i) = self.rest.iter().position(|a| a.starts_with(&prefix)) {
            let a = self.rest.remove(i);
            return Ok(Some(a[prefix.len()..].to_string()));
        }
        let Some(i) = self.rest.iter().position(|a| a == name) else { return Ok(None) };
        if i + 1 >= self.rest.len() {
            return Err(format!("{name} needs a value"));
        }
        let v = self.rest.remove(i + 1);
        self.rest.remove(i);
        Ok(Some(v))
    }

    /// A parsed value.
    pub(crate) fn parsed<T: std::str::FromStr>(&mut self, name: &str) -> Result<Option<T>, String> {
        match self.value(name)? {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| format!("{name}: invalid value '{v}'")),
        }
    }

    /// Removes `--flag` and says whether it was there.
    pub(crate) fn flag(&mut self, name: &str) -> bool {
        match self.rest.iter().position(|a| a == name) {
            Some(i) => {
                self.rest.remove(i);
                true
            }
            None => false,
        }
    }

    /// The next positional argument.
    pub(crate) fn positional(&mut self) -> Option<String> {
        let i = self.rest.iter().position(|a| !a.starts_with("--"))?;
        Some(self.rest.remove(i))
    }

    /// Errors if anything was not consumed.
    pub(crate) fn finish(self) -> Result<(), String> {
        match self.rest.first() {
            None => Ok(()),
            Some(a) => Err(format!("unexpected argument '{a}'")),
        }
    }
}

/// Parses durations like `10s`, `500ms`, `2m`.
pub(crate) fn duration(s: &str) -> Result<std::time::Duration, String> {
    let (num, unit) =
        s.split_at(s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len()));
    let n: f64 = num.parse().map_err(|_| format!("invalid duration '{s}'"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" => n * 60.0,
        _ => return Err(format!("invalid duration unit in '{s}' (ms, s, m)")),
    };
    Ok(std::time::Duration::from_secs_f64(secs))
}
