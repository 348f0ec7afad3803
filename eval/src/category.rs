//! The 13 BFCL v4 single-turn categories and how each is judged.

use std::fmt;
use std::str::FromStr;

/// The language a category's functions are written in; it picks the decoder and
/// the type converter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Python,
    Java,
    JavaScript,
}

/// How a category is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judge {
    /// Compare decoded calls with the ground truth (simple, multiple or parallel checker).
    Ast,
    /// Correct when no call is decoded.
    Irrelevance,
    /// Correct when at least one call is decoded.
    Relevance,
}

macro_rules! categories {
    ($($variant:ident => $name:literal, $live:literal, $lang:ident, $judge:ident;)*) => {
        /// A BFCL v4 single-turn category.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Category { $($variant,)* }

        impl Category {
            pub const ALL: &'static [Category] = &[$(Category::$variant,)*];

            /// The official name, as in `BFCL_v4_<name>.json`.
            pub fn name(self) -> &'static str {
                match self { $(Category::$variant => $name,)* }
            }

            pub fn is_live(self) -> bool {
                match self { $(Category::$variant => $live,)* }
            }

            pub fn language(self) -> Language {
                match self { $(Category::$variant => Language::$lang,)* }
            }

            pub fn judge(self) -> Judge {
                match self { $(Category::$variant => Judge::$judge,)* }
            }
        }
    };
}

categories! {
    SimplePython => "simple_python", false, Python, Ast;
    SimpleJava => "simple_java", false, Java, Ast;
    SimpleJavascript => "simple_javascript", false, JavaScript, Ast;
    Multiple => "multiple", false, Python, Ast;
    Parallel => "parallel", false, Python, Ast;
    ParallelMultiple => "parallel_multiple", false, Python, Ast;
    Irrelevance => "irrelevance", false, Python, Irrelevance;
    LiveSimple => "live_simple", true, Python, Ast;
    LiveMultiple => "live_multiple", true, Python, Ast;
    LiveParallel => "live_parallel", true, Python, Ast;
    LiveParallelMultiple => "live_parallel_multiple", true, Python, Ast;
    LiveIrrelevance => "live_irrelevance", true, Python, Irrelevance;
    LiveRelevance => "live_relevance", true, Python, Relevance;
}

/// Which AST checker a category uses, dispatched on its name as the official does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AstChecker {
    Simple,
    Multiple,
    Parallel,
}

impl Category {
    pub fn ast_checker(self) -> AstChecker {
        let name = self.name();
        if name.contains("parallel") {
            AstChecker::Parallel
        } else if name.contains("multiple") {
            AstChecker::Multiple
        } else {
            AstChecker::Simple
        }
    }

    /// The question file name: `BFCL_v4_<name>.json`.
    pub fn data_file_name(self) -> String {
        format!("BFCL_v4_{}.json", self.name())
    }

    /// The result file name `bfcl generate` writes: `BFCL_v4_<name>_result.json`.
    pub fn result_file_name(self) -> String {
        format!("BFCL_v4_{}_result.json", self.name())
    }

    /// The category of a result file name, if it is one of ours.
    pub fn from_result_file_name(file_name: &str) -> Option<Result<Category, UnknownCategory>> {
        let name = file_name
            .strip_prefix("BFCL_v4_")?
            .strip_suffix("_result.json")?;
        Some(name.parse())
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// BFCL v4 categories outside single-turn (multi-turn, agentic, format
/// sensitivity): real result files, but not scored by this checker.
pub const OTHER_BFCL_CATEGORIES: &[&str] = &[
    "multi_turn_base",
    "multi_turn_miss_func",
    "multi_turn_miss_param",
    "multi_turn_long_context",
    "web_search_base",
    "web_search_no_snippet",
    "memory_kv",
    "memory_vector",
    "memory_rec_sum",
    "format_sensitivity",
];

/// A category name that is not one of the 13 single-turn categories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCategory(pub String);

impl fmt::Display for UnknownCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let known: Vec<&str> = Category::ALL.iter().map(|c| c.name()).collect();
        write!(
            f,
            "unknown BFCL category `{}` (known: {})",
            self.0,
            known.join(", ")
        )
    }
}

impl std::error::Error for UnknownCategory {}

impl FromStr for Category {
    type Err = UnknownCategory;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Category::ALL
            .iter()
            .copied()
            .find(|c| c.name() == s)
            .ok_or_else(|| UnknownCategory(s.to_owned()))
    }
}

/// Expands category arguments: names, or the groups `all`, `non_live`, `live`,
/// `ast`, `irrelevance_all`.
pub fn parse_category_list(args: &[String]) -> Result<Vec<Category>, UnknownCategory> {
    let mut out: Vec<Category> = Vec::new();
    for arg in args
        .iter()
        .flat_map(|a| a.split(','))
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        let group: Vec<Category> = match arg {
            "all" | "single_turn" => Category::ALL.to_vec(),
            "non_live" => Category::ALL
                .iter()
                .copied()
                .filter(|c| !c.is_live())
                .collect(),
            "live" => Category::ALL
                .iter()
                .copied()
                .filter(|c| c.is_live())
                .collect(),
            "ast" => Category::ALL
                .iter()
                .copied()
                .filter(|c| c.judge() == Judge::Ast)
                .collect(),
            name => vec![name.parse()?],
        };
        for category in group {
            if !out.contains(&category) {
                out.push(category);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checker_dispatch_follows_the_category_name() {
        assert_eq!(
            Category::LiveParallelMultiple.ast_checker(),
            AstChecker::Parallel
        );
        assert_eq!(Category::LiveMultiple.ast_checker(), AstChecker::Multiple);
        assert_eq!(Category::SimpleJava.ast_checker(), AstChecker::Simple);
    }

    #[test]
    fn result_file_names_round_trip() {
        for &c in Category::ALL {
            assert_eq!(
                Category::from_result_file_name(&c.result_file_name()),
                Some(Ok(c))
            );
        }
        assert!(matches!(
            Category::from_result_file_name("BFCL_v4_memory_result.json"),
            Some(Err(_))
        ));
        assert_eq!(Category::from_result_file_name("notes.json"), None);
    }

    #[test]
    fn groups_expand_without_duplicates() {
        let list = parse_category_list(&["live".into(), "live_simple,irrelevance".into()]).unwrap();
        assert_eq!(list.len(), 7);
        assert!(parse_category_list(&["simple".into()]).is_err());
    }
}
