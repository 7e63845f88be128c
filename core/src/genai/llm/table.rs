//! [`PriceTable`]: per-model prices and the models kept as label values, built in code or loaded
//! from a TOML or JSON file.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::{InvalidPrice, ModelPrice, Price};

/// Model label of models the price table does not list.
pub const OTHER_MODEL: &str = "other";
/// Environment variable naming a TOML or JSON price table file.
pub const PRICES_ENV_VAR: &str = "UNITEL_LLM_PRICES";
/// Version label of the built-in, empty price table.
pub const NO_PRICE_TABLE_VERSION: &str = "none";

/// Per-model prices and the models kept as label values, with a version.
///
/// Files (`UNITEL_LLM_PRICES`) are TOML or JSON; prices are dollars per `per` tokens
/// (`"1m"`, the default, or `"1k"`):
///
/// ```
/// use unitel::genai::llm::PriceTable;
///
/// let table = PriceTable::from_toml_str(r#"
///     version = "2025-06-01"
///     per = "1m"
///     listed_models = ["my-finetune"]   # kept as a label, no price
///
///     [models."gpt-4o"]
///     input = 2.50
///     output = 10.00
///     cached_input = 1.25
/// "#)?;
/// assert_eq!(table.version(), "2025-06-01");
/// assert_eq!(table.model_label("gpt-4o"), "gpt-4o");
/// assert_eq!(table.model_label("my-finetune"), "my-finetune");
/// assert_eq!(table.model_label("gpt-9-preview"), "other");
///
/// let same = PriceTable::from_json_str(r#"{"version": "2025-06-01", "per": "1k",
///     "models": {"gpt-4o": {"input": 0.0025, "output": 0.01, "cached_input": 0.00125}}}"#)?;
/// assert_eq!(same.price("gpt-4o"), table.price("gpt-4o"));
/// # Ok::<(), unitel::genai::llm::PriceTableError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable {
    version: String,
    prices: HashMap<String, ModelPrice>,
    listed: HashSet<String>,
}

impl Default for PriceTable {
    fn default() -> Self {
        Self::new(NO_PRICE_TABLE_VERSION)
    }
}

/// Why a price table could not be loaded. Names the file (or `UNITEL_LLM_PRICES`), the model and
/// the field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PriceTableError {
    /// The file could not be read.
    #[error("cannot read the LLM price table {path} ({PRICES_ENV_VAR}): {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is neither `.toml` nor `.json`.
    #[error(
        "cannot tell the format of the LLM price table {path} ({PRICES_ENV_VAR}): name it *.toml or *.json"
    )]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// The text is not a valid table.
    #[error("invalid LLM price table {origin}: {reason}")]
    Parse {
        /// The file, or `<string>`.
        origin: String,
        /// What the parser said.
        reason: String,
    },
    /// A price is invalid.
    #[error("invalid LLM price table {origin}: model `{model}`, field `{field}`: {source}")]
    Price {
        /// The file, or `<string>`.
        origin: String,
        /// The model.
        model: String,
        /// `input`, `output` or `cached_input`.
        field: &'static str,
        /// Why.
        source: InvalidPrice,
    },
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceFile {
    version: String,
    #[serde(default)]
    per: Option<String>,
    #[serde(default)]
    listed_models: Vec<String>,
    #[serde(default)]
    models: BTreeMap<String, PriceFileModel>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceFileModel {
    input: f64,
    output: f64,
    #[serde(default)]
    cached_input: Option<f64>,
}

impl PriceTable {
    /// An empty table.
    #[must_use]
    pub fn new(version: impl Into<String>) -> Self {
        Self {
            version: version.into(),
            prices: HashMap::new(),
            listed: HashSet::new(),
        }
    }

    /// Adds (or replaces) a model's prices; the model is listed.
    #[must_use]
    pub fn model(mut self, model: impl Into<String>, price: ModelPrice) -> Self {
        let model = model.into();
        self.listed.insert(model.clone());
        self.prices.insert(model, price);
        self
    }

    /// Lists a model without a price: it keeps its name as a label value.
    #[must_use]
    pub fn listed_model(mut self, model: impl Into<String>) -> Self {
        self.listed.insert(model.into());
        self
    }

    /// The table's version (the `version` label of `unitel_price_table_info`).
    #[must_use]
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The prices of `model`, if the table has them.
    #[must_use]
    pub fn price(&self, model: &str) -> Option<&ModelPrice> {
        self.prices.get(model)
    }

    /// Whether `model` keeps its name as a label value.
    #[must_use]
    pub fn is_listed(&self, model: &str) -> bool {
        self.listed.contains(model)
    }

    /// `model` if listed, else [`OTHER_MODEL`].
    #[must_use]
    pub fn model_label<'a>(&self, model: &'a str) -> &'a str {
        if self.is_listed(model) {
            model
        } else {
            OTHER_MODEL
        }
    }

    /// Parses a TOML table.
    ///
    /// # Errors
    /// [`PriceTableError`] naming the line, model or field that is wrong.
    pub fn from_toml_str(text: &str) -> Result<Self, PriceTableError> {
        Self::parse_toml(text, "<string>")
    }

    /// Parses a JSON table.
    ///
    /// # Errors
    /// [`PriceTableError`] naming the model or field that is wrong.
    pub fn from_json_str(text: &str) -> Result<Self, PriceTableError> {
        Self::parse_json(text, "<string>")
    }

    fn parse_toml(text: &str, origin: &str) -> Result<Self, PriceTableError> {
        let file: PriceFile = toml::from_str(text).map_err(|e| PriceTableError::Parse {
            origin: origin.to_owned(),
            reason: e.to_string().trim_end().to_owned(),
        })?;
        Self::from_file(file, origin)
    }

    fn parse_json(text: &str, origin: &str) -> Result<Self, PriceTableError> {
        let file: PriceFile = serde_json::from_str(text).map_err(|e| PriceTableError::Parse {
            origin: origin.to_owned(),
            reason: e.to_string(),
        })?;
        Self::from_file(file, origin)
    }

    /// Reads a `.toml` or `.json` file.
    ///
    /// # Errors
    /// [`PriceTableError`] naming the file and what is wrong in it.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, PriceTableError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| PriceTableError::Read {
            path: path.to_owned(),
            source,
        })?;
        let origin = path.display().to_string();
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("toml") => Self::parse_toml(&text, &origin),
            Some(e) if e.eq_ignore_ascii_case("json") => Self::parse_json(&text, &origin),
            _ => Err(PriceTableError::UnknownFormat {
                path: path.to_owned(),
            }),
        }
    }

    fn from_file(file: PriceFile, origin: &str) -> Result<Self, PriceTableError> {
        let parse_error = |reason: String| PriceTableError::Parse {
            origin: origin.to_owned(),
            reason,
        };
        if file.version.trim().is_empty() {
            return Err(parse_error(
                "`version` is empty: give the table a version such as \"2025-06-01\"".into(),
            ));
        }
        let per_1k = match file.per.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("1m") => false,
            Some("1k") => true,
            Some(other) => {
                return Err(parse_error(format!(
                    "`per = \"{other}\"`: expected \"1k\" or \"1m\" (dollars per 1 000 or per 1 000 000 tokens)"
                )));
            }
        };
        let price = |model: &str, field: &'static str, dollars: f64| {
            let parsed = if per_1k {
                Price::per_1k_dollars(dollars)
            } else {
                Price::per_1m_dollars(dollars)
            };
            parsed.map_err(|source| PriceTableError::Price {
                origin: origin.to_owned(),
                model: model.to_owned(),
                field,
                source,
            })
        };
        let mut table = Self::new(file.version);
        for model in file.listed_models {
            table = table.listed_model(model);
        }
        for (model, entry) in file.models {
            let mut p = ModelPrice::new(
                price(&model, "input", entry.input)?,
                price(&model, "output", entry.output)?,
            );
            if let Some(cached) = entry.cached_input {
                p = p.cached_input(price(&model, "cached_input", cached)?);
            }
            table = table.model(model, p);
        }
        Ok(table)
    }

    /// The table named by `UNITEL_LLM_PRICES`, or `None` when the variable is unset.
    ///
    /// # Errors
    /// [`PriceTableError`] when the file cannot be read or parsed.
    pub fn from_env() -> Result<Option<Self>, PriceTableError> {
        match std::env::var_os(PRICES_ENV_VAR) {
            Some(path) if !path.is_empty() => Self::load(PathBuf::from(path)).map(Some),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_errors_name_the_model_and_field() {
        let err = PriceTable::from_toml_str(
            "version = \"v1\"\n[models.\"gpt-4\"]\ninput = -1\noutput = 1\n",
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("gpt-4") && text.contains("input"), "{text}");
        let err = PriceTable::from_toml_str("version = \"v1\"\nper = \"1g\"\n").unwrap_err();
        assert!(err.to_string().contains("\"1k\" or \"1m\""), "{err}");
        let err = PriceTable::from_toml_str(
            "version = \"v1\"\n[models.x]\ninput = 1\noutput = 1\ncached = 1\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("cached"), "{err}");
        let err = PriceTable::from_json_str("{\"version\": \"\"}").unwrap_err();
        assert!(err.to_string().contains("version"), "{err}");
    }
}
