//! Arithmetic, comparison, parsing and printing of `Value`s (scalars, ranges,
//! sets, text) as upstream Mesos does it.
//!
//! Upstream counterpart: `src/common/values.cpp` (the operators declared in
//! `include/mesos/values.hpp` and `internal::values::parse`).
//!
//! - Scalars are computed in fixed point with three decimal digits: each
//!   operand is rounded to thousandths (half away from zero), the operation
//!   runs on the integers, and the result is converted back. Comparisons round
//!   the same way, so `0.1 + 0.2` equals `0.3` and `0.0001` equals `0`.
//! - Ranges are normalised by [`Ranges::coalesce`]: sorted by start, with
//!   overlapping and adjacent ranges merged (`[1-2, 3-4]` becomes `[1-4]`).
//!   Addition, subtraction, intersection and containment all return or assume
//!   that form.
//! - Set addition appends the items not already present; subtraction removes
//!   the items of the right side.
//! - [`parse`] reads the text forms the agent flags use: `5`, `1.5`,
//!   `[31000-32000, 33000-33100]`, `{a,b,c}`; anything else is text.
//! - `Display` prints what upstream's `operator<<` prints: scalars with up to
//!   fifteen significant digits after rounding to thousandths (`1.5`, `1024`),
//!   ranges as `[31000-32000, 33000-33100]`, sets as `{a, b}`.
//!
//! Deliberate differences:
//! - Set equality compares membership; upstream's `operator==` compares items
//!   position by position (a typo in its inner loop). Sets inside valid
//!   resources have no duplicates, so this only differs in item order.
//! - Set subtraction drops every copy of an item of the right side, where
//!   upstream's `-=` drops only the first copy. Again only duplicates differ.
//! - Range subtraction, intersection and counting ignore inverted ranges
//!   (`begin > end`), which upstream's interval sets also drop; coalescing keeps
//!   them so that validation can still reject them.
//! - Adjacency uses saturating arithmetic, so a range ending at `u64::MAX`
//!   merges correctly (upstream wraps around).

use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};

use crate::mesos::value::{Range, Ranges, Scalar, Set, Text, Type};
use crate::mesos::Value;

/// Why a value's text form does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// The text is empty once spaces are removed.
    #[error("expecting non-empty string")]
    Empty,
    /// `{}`, `[]` or `()` do not pair up.
    #[error("mismatched brackets")]
    MismatchedBrackets,
    /// A ranges text has an odd number of bounds.
    #[error("expecting one or more \"ranges\"")]
    OddRangeBounds,
    /// A range bound is not a non-negative integer.
    #[error("expecting non-negative integers in '{0}'")]
    NotAnInteger(String),
    /// A `{` appears after the start of the text.
    #[error("unexpected '{{' found")]
    UnexpectedBrace,
    /// A `[` appears after the start of the text.
    #[error("unexpected '[' found")]
    UnexpectedBracket,
}

/// How many fixed-point units make one: three decimal digits are kept.
const FIXED_POINT_UNITS: i64 = 1000;

/// Converts to thousandths, rounding half away from zero like C's `llround`.
/// A value that does not fit (including NaN and the infinities) maps to
/// `i64::MIN`, which is what `llround` returns for them on x86-64; this is why
/// upstream validation rejects them as "value <= 0".
fn to_fixed(value: f64) -> i64 {
    checked_fixed(value).unwrap_or(i64::MIN)
}

/// Converts to thousandths, or `None` if the value does not fit.
fn checked_fixed(value: f64) -> Option<i64> {
    let scaled = (value * FIXED_POINT_UNITS as f64).round();
    // `i64::MAX as f64` is 2^63, one past the largest i64.
    (scaled.is_finite() && scaled >= i64::MIN as f64 && scaled < i64::MAX as f64)
        .then_some(scaled as i64)
}

/// Converts thousandths back to a double. Dividing the integer part and the
/// remainder separately keeps the floating division to `[0, 999] / 1000`, as
/// upstream does, so round trips are exact.
fn from_fixed(fixed: i64) -> f64 {
    let quotient = (fixed / FIXED_POINT_UNITS) as f64;
    let remainder = (fixed % FIXED_POINT_UNITS) as f64 / FIXED_POINT_UNITS as f64;
    quotient + remainder
}

impl Scalar {
    /// Returns a scalar holding `value` as given (not yet rounded).
    pub fn new(value: f64) -> Self {
        Scalar { value }
    }

    /// Returns the value in thousandths, rounded half away from zero.
    pub fn to_fixed(&self) -> i64 {
        to_fixed(self.value)
    }

    /// Returns the scalar for a value in thousandths.
    pub fn from_fixed(fixed: i64) -> Self {
        Scalar {
            value: from_fixed(fixed),
        }
    }

    /// Returns this scalar rounded to three decimal digits.
    pub fn rounded(&self) -> Self {
        Scalar::from_fixed(self.to_fixed())
    }

    /// Returns whether both scalars are equal at three decimal digits
    /// (upstream `operator==`).
    pub fn equivalent(&self, other: &Scalar) -> bool {
        self.to_fixed() == other.to_fixed()
    }

    /// Returns whether `other` is at most this scalar at three decimal digits
    /// (upstream `other <= *this`).
    pub fn contains(&self, other: &Scalar) -> bool {
        other.to_fixed() <= self.to_fixed()
    }
}

impl Add for Scalar {
    type Output = Scalar;

    fn add(self, rhs: Scalar) -> Scalar {
        Scalar::from_fixed(self.to_fixed().saturating_add(rhs.to_fixed()))
    }
}

impl Sub for Scalar {
    type Output = Scalar;

    fn sub(self, rhs: Scalar) -> Scalar {
        Scalar::from_fixed(self.to_fixed().saturating_sub(rhs.to_fixed()))
    }
}

impl AddAssign for Scalar {
    fn add_assign(&mut self, rhs: Scalar) {
        *self = *self + rhs;
    }
}

impl SubAssign for Scalar {
    fn sub_assign(&mut self, rhs: Scalar) {
        *self = *self - rhs;
    }
}

impl fmt::Display for Scalar {
    /// Prints the value rounded to thousandths with up to fifteen significant
    /// digits and no trailing zeros (C++ `ostream` with `precision(15)`). A
    /// value too large for thousandths (beyond about 9.2e15) prints as it is,
    /// where upstream prints the overflowed fixed-point number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = checked_fixed(self.value).map_or(self.value, from_fixed);
        f.write_str(&format_general(value, 15))
    }
}

/// Formats like C's `%.<precision>g`: fixed or scientific notation depending
/// on the exponent, trailing zeros and a bare decimal point removed.
fn format_general(value: f64, precision: usize) -> String {
    if value.is_nan() {
        return "nan".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let precision = precision.max(1);
    // The exponent %g uses is the one after rounding to `precision` digits.
    let scientific = format!("{:.*e}", precision - 1, value);
    let (mantissa, exponent) = scientific
        .split_once('e')
        .unwrap_or((scientific.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or_default();
    let precision = i32::try_from(precision).unwrap_or(i32::MAX);
    if exponent < -4 || exponent >= precision {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!(
            "{}e{sign}{:02}",
            trim_fraction(mantissa),
            exponent.unsigned_abs()
        )
    } else {
        let decimals = usize::try_from(precision - 1 - exponent).unwrap_or_default();
        trim_fraction(&format!("{value:.decimals$}")).to_string()
    }
}

fn trim_fraction(number: &str) -> &str {
    if number.contains('.') {
        number.trim_end_matches('0').trim_end_matches('.')
    } else {
        number
    }
}

impl Range {
    /// Returns the range `[begin, end]` (both bounds included).
    pub fn new(begin: u64, end: u64) -> Self {
        Range { begin, end }
    }

    fn is_inverted(&self) -> bool {
        self.begin > self.end
    }
}

/// Sorts and merges overlapping or adjacent ranges, the way upstream's
/// `internal::coalesce` does.
fn coalesce_ranges(mut ranges: Vec<Range>) -> Vec<Range> {
    ranges.sort_by_key(|range| (range.begin, range.end));
    let mut merged: Vec<Range> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(current)
                if range.begin == current.begin || range.begin <= current.end.saturating_add(1) =>
            {
                current.end = current.end.max(range.end);
            }
            _ => merged.push(range),
        }
    }
    merged
}

/// Returns the coalesced ranges without inverted (empty) ones.
fn proper_ranges(ranges: &[Range]) -> Vec<Range> {
    coalesce_ranges(
        ranges
            .iter()
            .copied()
            .filter(|r| !r.is_inverted())
            .collect(),
    )
}

impl Ranges {
    /// Returns ranges from `(begin, end)` pairs, in the given order (not
    /// coalesced).
    pub fn from_pairs(pairs: impl IntoIterator<Item = (u64, u64)>) -> Self {
        Ranges {
            range: pairs
                .into_iter()
                .map(|(begin, end)| Range::new(begin, end))
                .collect(),
        }
    }

    /// Sorts the ranges and merges the overlapping and adjacent ones
    /// (upstream `coalesce(Value::Ranges*)`).
    pub fn coalesce(&mut self) {
        self.range = coalesce_ranges(std::mem::take(&mut self.range));
    }

    /// Returns a coalesced copy.
    pub fn coalesced(&self) -> Ranges {
        Ranges {
            range: coalesce_ranges(self.range.clone()),
        }
    }

    /// Adds one range and coalesces (upstream `coalesce(ranges, range)`).
    pub fn add_range(&mut self, range: Range) {
        self.range.push(range);
        self.coalesce();
    }

    /// Returns whether both cover the same numbers once coalesced
    /// (upstream `operator==`).
    pub fn equivalent(&self, other: &Ranges) -> bool {
        coalesce_ranges(self.range.clone()) == coalesce_ranges(other.range.clone())
    }

    /// Returns whether every number in `other` is in these ranges
    /// (upstream `other <= *this`).
    pub fn contains(&self, other: &Ranges) -> bool {
        let mine = coalesce_ranges(self.range.clone());
        coalesce_ranges(other.range.clone()).iter().all(|needle| {
            mine.iter()
                .any(|hay| needle.begin >= hay.begin && needle.end <= hay.end)
        })
    }

    /// Returns whether `value` lies in one of the ranges.
    pub fn contains_value(&self, value: u64) -> bool {
        self.range
            .iter()
            .any(|r| r.begin <= value && value <= r.end)
    }

    /// Returns the numbers in both, coalesced.
    pub fn intersect(&self, other: &Ranges) -> Ranges {
        let left = proper_ranges(&self.range);
        let right = proper_ranges(&other.range);
        let mut result = Vec::new();
        let (mut i, mut j) = (0, 0);
        while i < left.len() && j < right.len() {
            let begin = left[i].begin.max(right[j].begin);
            let end = left[i].end.min(right[j].end);
            if begin <= end {
                result.push(Range::new(begin, end));
            }
            if left[i].end < right[j].end {
                i += 1;
            } else {
                j += 1;
            }
        }
        Ranges { range: result }
    }

    /// Returns how many numbers the ranges cover (overlaps counted once).
    pub fn count(&self) -> u64 {
        proper_ranges(&self.range)
            .iter()
            .map(|r| (r.end - r.begin).saturating_add(1))
            .fold(0u64, u64::saturating_add)
    }
}

/// Returns `left` without the numbers in `right`, coalesced (upstream's
/// `IntervalSet` difference).
fn subtract_ranges(left: &[Range], right: &[Range]) -> Vec<Range> {
    let right = proper_ranges(right);
    let mut result = Vec::new();
    let mut first = 0;
    for range in proper_ranges(left) {
        while first < right.len() && right[first].end < range.begin {
            first += 1;
        }
        let mut start = Some(range.begin);
        for cut in right[first..]
            .iter()
            .take_while(|cut| cut.begin <= range.end)
        {
            let Some(from) = start else { break };
            if cut.begin > from {
                result.push(Range::new(from, cut.begin - 1));
            }
            // `cut.end < range.end` makes the increment safe.
            start = (cut.end < range.end).then(|| cut.end + 1);
        }
        if let Some(from) = start {
            result.push(Range::new(from, range.end));
        }
    }
    result
}

impl AddAssign<&Ranges> for Ranges {
    fn add_assign(&mut self, rhs: &Ranges) {
        self.range.extend_from_slice(&rhs.range);
        self.coalesce();
    }
}

impl SubAssign<&Ranges> for Ranges {
    fn sub_assign(&mut self, rhs: &Ranges) {
        self.range = subtract_ranges(&self.range, &rhs.range);
    }
}

impl Add<&Ranges> for &Ranges {
    type Output = Ranges;

    fn add(self, rhs: &Ranges) -> Ranges {
        let mut result = self.clone();
        result += rhs;
        result
    }
}

impl Sub<&Ranges> for &Ranges {
    type Output = Ranges;

    fn sub(self, rhs: &Ranges) -> Ranges {
        Ranges {
            range: subtract_ranges(&self.range, &rhs.range),
        }
    }
}

impl fmt::Display for Ranges {
    /// Prints `[a-b, c-d]` in the stored order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, range) in self.range.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}-{}", range.begin, range.end)?;
        }
        f.write_str("]")
    }
}

impl Set {
    /// Returns a set of the given items, in order.
    pub fn from_items<S: Into<String>>(items: impl IntoIterator<Item = S>) -> Self {
        Set {
            item: items.into_iter().map(Into::into).collect(),
        }
    }

    /// Returns whether both hold the same items (upstream `operator==`, see
    /// the module doc for the difference).
    pub fn equivalent(&self, other: &Set) -> bool {
        self.item.len() == other.item.len() && self.contains(other)
    }

    /// Returns whether every item of `other` is in this set and `other` is no
    /// larger (upstream `other <= *this`).
    pub fn contains(&self, other: &Set) -> bool {
        other.item.len() <= self.item.len() && other.item.iter().all(|i| self.item.contains(i))
    }
}

impl AddAssign<&Set> for Set {
    fn add_assign(&mut self, rhs: &Set) {
        for item in &rhs.item {
            if !self.item.contains(item) {
                self.item.push(item.clone());
            }
        }
    }
}

impl SubAssign<&Set> for Set {
    fn sub_assign(&mut self, rhs: &Set) {
        self.item.retain(|item| !rhs.item.contains(item));
    }
}

impl Add<&Set> for &Set {
    type Output = Set;

    fn add(self, rhs: &Set) -> Set {
        let mut result = self.clone();
        result += rhs;
        result
    }
}

impl Sub<&Set> for &Set {
    type Output = Set;

    fn sub(self, rhs: &Set) -> Set {
        let mut result = self.clone();
        result -= rhs;
        result
    }
}

impl fmt::Display for Set {
    /// Prints `{a, b}` in the stored order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{}}}", self.item.join(", "))
    }
}

impl fmt::Display for Text {
    /// Prints the text as is.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

impl fmt::Display for Value {
    /// Prints the field its type selects; a missing field prints as the
    /// empty value of that type.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Type::try_from(self.r#type) {
            Ok(Type::Scalar) => write!(f, "{}", self.scalar.unwrap_or_default()),
            Ok(Type::Ranges) => write!(f, "{}", self.ranges.clone().unwrap_or_default()),
            Ok(Type::Set) => write!(f, "{}", self.set.clone().unwrap_or_default()),
            Ok(Type::Text) => write!(f, "{}", self.text.clone().unwrap_or_default()),
            Err(_) => write!(f, "<unknown value type {}>", self.r#type),
        }
    }
}

/// Splits on any of `delimiters`, dropping empty tokens (stout's
/// `strings::tokenize`).
pub(crate) fn tokenize<'a>(text: &'a str, delimiters: &[char]) -> Vec<&'a str> {
    text.split(|c| delimiters.contains(&c))
        .filter(|token| !token.is_empty())
        .collect()
}

/// Returns whether `open` and `close` pair up with none closed before it is
/// opened (stout's `strings::checkBracketsMatching`).
fn brackets_match(text: &str, open: char, close: char) -> bool {
    let mut depth: i64 = 0;
    for c in text.chars() {
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
        }
        if depth < 0 {
            return false;
        }
    }
    depth == 0
}

/// Parses an unsigned integer as stout's `numify` does: decimal, or
/// hexadecimal with a `0x` prefix.
fn parse_bound(token: &str) -> Option<u64> {
    match token
        .strip_prefix("0x")
        .or_else(|| token.strip_prefix("0X"))
    {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => token.parse().ok(),
    }
}

/// Parses the text form of a value (upstream `internal::values::parse`).
///
/// Spaces are removed first. Text starting with `[` is ranges
/// (`[1-10, 20-30]`, coalesced), text starting with `{` is a set (`{a,b}`),
/// a number is a scalar, and anything else without brackets is text.
pub fn parse(text: &str) -> Result<Value, ValueError> {
    let text: String = text.chars().filter(|&c| c != ' ').collect();
    if text.is_empty() {
        return Err(ValueError::Empty);
    }
    if !brackets_match(&text, '{', '}')
        || !brackets_match(&text, '[', ']')
        || !brackets_match(&text, '(', ')')
    {
        return Err(ValueError::MismatchedBrackets);
    }

    match text.find('[') {
        Some(0) => {
            let tokens = tokenize(&text, &['[', ']', '-', ',', '\n']);
            if tokens.len() % 2 != 0 {
                return Err(ValueError::OddRangeBounds);
            }
            let mut ranges = Ranges::default();
            for pair in tokens.chunks(2) {
                let begin = parse_bound(pair[0])
                    .ok_or_else(|| ValueError::NotAnInteger(pair[0].to_string()))?;
                let end = parse_bound(pair[1])
                    .ok_or_else(|| ValueError::NotAnInteger(pair[1].to_string()))?;
                ranges.range.push(Range::new(begin, end));
            }
            ranges.coalesce();
            Ok(Value {
                r#type: Type::Ranges as i32,
                ranges: Some(ranges),
                ..Default::default()
            })
        }
        Some(_) => Err(ValueError::UnexpectedBracket),
        None => match text.find('{') {
            Some(0) => Ok(Value {
                r#type: Type::Set as i32,
                set: Some(Set::from_items(tokenize(&text, &['{', '}', ',', '\n']))),
                ..Default::default()
            }),
            Some(_) => Err(ValueError::UnexpectedBrace),
            None => match text.parse::<f64>() {
                Ok(value) => Ok(Value {
                    r#type: Type::Scalar as i32,
                    scalar: Some(Scalar::new(value)),
                    ..Default::default()
                }),
                Err(_) => Ok(Value {
                    r#type: Type::Text as i32,
                    text: Some(Text { value: text }),
                    ..Default::default()
                }),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(text: &str) -> Ranges {
        parse(text).unwrap().ranges.unwrap()
    }

    fn set(text: &str) -> Set {
        parse(text).unwrap().set.unwrap()
    }

    fn pairs(ranges: &Ranges) -> Vec<(u64, u64)> {
        ranges.range.iter().map(|r| (r.begin, r.end)).collect()
    }

    #[test]
    fn parses_each_value_type() {
        let scalar = parse("45.55").unwrap();
        assert_eq!(scalar.r#type(), Type::Scalar);
        assert_eq!(scalar.scalar.unwrap().value, 45.55);

        let value = parse("[10000-20000, 30000-50000]").unwrap();
        assert_eq!(value.r#type(), Type::Ranges);
        assert_eq!(
            pairs(value.ranges.as_ref().unwrap()),
            [(10000, 20000), (30000, 50000)]
        );

        let value = parse("{sda1, sda2}").unwrap();
        assert_eq!(value.r#type(), Type::Set);
        assert_eq!(value.set.unwrap().item, ["sda1", "sda2"]);

        let value = parse("123abc,s").unwrap();
        assert_eq!(value.r#type(), Type::Text);
        assert_eq!(value.text.unwrap().value, "123abc,s");
    }

    #[test]
    fn rejects_malformed_text() {
        assert_eq!(parse("{aa,b}}"), Err(ValueError::MismatchedBrackets));
        assert_eq!(parse("[1-2]]"), Err(ValueError::MismatchedBrackets));
        assert_eq!(parse("[1-2b]"), Err(ValueError::NotAnInteger("2b".into())));
        assert_eq!(parse("  "), Err(ValueError::Empty));
        assert_eq!(parse("[1-2, 3]"), Err(ValueError::OddRangeBounds));
        assert_eq!(parse("a{b}"), Err(ValueError::UnexpectedBrace));
        assert_eq!(parse("a[1-2]"), Err(ValueError::UnexpectedBracket));
    }

    #[test]
    fn empty_brackets_parse_as_empty_ranges_and_sets() {
        assert!(ranges("[]").range.is_empty());
        assert!(set("{}").item.is_empty());
    }

    #[test]
    fn range_bounds_accept_hexadecimal() {
        assert_eq!(pairs(&ranges("[0x10-0x1f]")), [(16, 31)]);
    }

    #[test]
    fn parsing_coalesces_ranges() {
        let cases = [
            (
                "[4-6, 6-8, 5-9, 3-4, 2-5, 4-6, 1-1, 10-10, 4-6]",
                vec![(1, 10)],
            ),
            ("[4-6, 6-8]", vec![(4, 8)]),
            ("[6-8, 4-6]", vec![(4, 8)]),
            ("[1-10, 8-10]", vec![(1, 10)]),
            ("[1-11, 8-10]", vec![(1, 11)]),
            ("[1-4, 4-5, 7-8, 8-10]", vec![(1, 5), (7, 10)]),
            ("[7-8, 1-4, [8-10], 4-5]", vec![(1, 5), (7, 10)]),
            ("[4-6, 7-8]", vec![(4, 8)]),
            ("[4-6, 7-7]", vec![(4, 7)]),
            ("[4-6, 7-7, 8-8, 9-9]", vec![(4, 9)]),
            ("[4-6, 7-7, 9-10, 9-11]", vec![(4, 7), (9, 11)]),
            ("[6-8, 6-8, 4-6, 6-8]", vec![(4, 8)]),
            ("[1-2, 3-4]", vec![(1, 4)]),
        ];
        for (text, expected) in cases {
            assert_eq!(pairs(&ranges(text)), expected, "{text}");
        }
    }

    #[test]
    fn coalesce_merges_overlaps_and_neighbours() {
        let mut value = Ranges::from_pairs([(1, 4), (3, 5), (7, 8), (8, 10)]);
        value.coalesce();
        assert_eq!(pairs(&value), [(1, 5), (7, 10)]);

        let mut value = Ranges::from_pairs([(1, 4), (8, 10)]);
        value.add_range(Range::new(4, 8));
        assert_eq!(pairs(&value), [(1, 10)]);
        value.add_range(Range::new(5, 7));
        assert_eq!(pairs(&value), [(1, 10)]);
        value.add_range(Range::new(20, 21));
        assert_eq!(pairs(&value), [(1, 10), (20, 21)]);
    }

    #[test]
    fn coalesce_handles_the_top_of_the_range() {
        let mut value = Ranges::from_pairs([(u64::MAX - 1, u64::MAX), (u64::MAX, u64::MAX)]);
        value.coalesce();
        assert_eq!(pairs(&value), [(u64::MAX - 1, u64::MAX)]);
    }

    #[test]
    fn ranges_addition_coalesces() {
        let cases = [
            ("[3-8]", "[4-10]", "[3-10]"),
            ("[3-8]", "[1-4]", "[1-8]"),
            ("[2-3]", "[1-4]", "[1-4]"),
            ("[2-3]", "[4-6]", "[2-6]"),
            ("[3-5]", "[1-2]", "[1-5]"),
            ("[3-5, 7-8]", "[6-6]", "[3-8]"),
            ("[1-4, 9-10, 20-22, 26-30]", "[5-8, 23-25]", "[1-10, 20-30]"),
        ];
        for (left, right, expected) in cases {
            let sum = &ranges(left) + &ranges(right);
            assert_eq!(sum.to_string(), expected, "{left} + {right}");
        }
    }

    #[test]
    fn ranges_subtraction_splits_and_trims() {
        let cases = [
            ("[3-8]", "[1-10]", "[]"),
            ("[3-8]", "[3-5]", "[6-8]"),
            ("[3-8]", "[5-8]", "[3-4]"),
            ("[3-8]", "[5-6]", "[3-4, 7-8]"),
            ("[3-8]", "[1-3]", "[4-8]"),
            ("[3-8]", "[5-10]", "[3-4]"),
            ("[3-8]", "[9-10]", "[3-8]"),
            ("[3-8]", "[1-2]", "[3-8]"),
            (
                "[20000-40000]",
                "[10000-20000, 30000-50000]",
                "[20001-29999]",
            ),
            (
                "[1-10, 20-30, 40-50]",
                "[2-9, 15-45, 48-50]",
                "[1-1, 10-10, 46-47]",
            ),
            (
                "[0-18446744073709551615]",
                "[0-0]",
                "[1-18446744073709551615]",
            ),
        ];
        for (left, right, expected) in cases {
            let difference = &ranges(left) - &ranges(right);
            assert_eq!(difference.to_string(), expected, "{left} - {right}");
            let mut in_place = ranges(left);
            in_place -= &ranges(right);
            assert_eq!(in_place, difference);
        }
    }

    #[test]
    fn ranges_equality_ignores_order_and_splits() {
        assert!(ranges("[20-40]").equivalent(&Ranges::from_pairs([(31, 39), (20, 30), (40, 40)])));
        assert!(!ranges("[20-40]").equivalent(&ranges("[20-39]")));
    }

    #[test]
    fn ranges_containment() {
        let small = ranges("[2-2, 4-5]");
        assert!(ranges("[1-10]").contains(&small));
        assert!(!small.contains(&ranges("[1-10]")));
        assert!(!ranges("[2-3]").contains(&small));
        assert!(ranges("[1-2, 4-6]").contains(&small));
        assert!(ranges("[1-4, 5-5]").contains(&small));
        assert!(ranges("[1-5]").contains(&Ranges::default()));
        assert!(ranges("[1-5]").contains_value(5));
        assert!(!ranges("[1-5]").contains_value(6));
    }

    #[test]
    fn ranges_intersection_and_count() {
        let common = ranges("[1-10, 20-30]").intersect(&ranges("[5-25, 29-40]"));
        assert_eq!(common.to_string(), "[5-10, 20-25, 29-30]");
        assert_eq!(ranges("[31000-32000, 33000-33100]").count(), 1102);
        assert_eq!(Ranges::from_pairs([(1, 5), (3, 7)]).count(), 7);
        assert_eq!(Ranges::default().count(), 0);
    }

    #[test]
    fn set_arithmetic() {
        let mut left = set("{sda1, sda2, sda3}");
        left -= &set("{sda2, sda3}");
        assert!(left.equivalent(&set("{sda1}")));

        let mut other = set("{sda4}");
        other -= &left;
        assert!(other.equivalent(&set("{sda4}")));

        let sum = &set("{a,b}") + &set("{b,c}");
        assert_eq!(sum.item, ["a", "b", "c"]);
        assert!(sum.contains(&set("{c,a}")));
        assert!(!set("{a}").contains(&set("{a,b}")));
        assert!(set("{a,b}").equivalent(&set("{b,a}")));
    }

    #[test]
    fn scalar_arithmetic_is_fixed_point() {
        let sum = Scalar::new(0.1) + Scalar::new(0.2);
        assert_eq!(sum.value, 0.3);
        assert!(sum.equivalent(&Scalar::new(0.3)));

        let mut value = Scalar::new(1.001);
        for _ in 0..100_000 {
            value += Scalar::new(1.001);
        }
        for _ in 0..100_000 {
            value -= Scalar::new(1.001);
        }
        assert_eq!(value.value, 1.001);

        assert_eq!(Scalar::new(1.5011).rounded().value, 1.501);
        // Half-way rounds away from zero.
        assert_eq!(Scalar::new(1.5015).rounded().value, 1.502);
        assert!(Scalar::new(0.0001).equivalent(&Scalar::new(0.0)));
        assert!(Scalar::new(2.0).contains(&Scalar::new(1.9999)));
        assert!(!Scalar::new(2.0).contains(&Scalar::new(2.001)));
    }

    #[test]
    fn non_finite_scalars_compare_below_zero() {
        assert!(Scalar::new(0.0).contains(&Scalar::new(f64::NAN)));
        assert!(Scalar::new(0.0).contains(&Scalar::new(f64::INFINITY)));
    }

    #[test]
    fn scalars_print_like_upstream() {
        let cases = [
            (1.234, "1.234"),
            (1.2345, "1.235"),
            (1.2344, "1.234"),
            (1.1, "1.1"),
            (1.5, "1.5"),
            (4.0, "4"),
            (1000001.0, "1000001"),
            (99999999999.9994, "99999999999.999"),
            (0.0, "0"),
            (-2.5, "-2.5"),
            (1e18, "1e+18"),
        ];
        for (value, expected) in cases {
            assert_eq!(Scalar::new(value).to_string(), expected, "{value}");
        }
    }

    #[test]
    fn values_print_like_upstream() {
        assert_eq!(
            parse("[31000-32000,33000-33100]").unwrap().to_string(),
            "[31000-32000, 33000-33100]"
        );
        assert_eq!(parse("{a,b}").unwrap().to_string(), "{a, b}");
        assert_eq!(parse("1.5").unwrap().to_string(), "1.5");
        assert_eq!(parse("hello").unwrap().to_string(), "hello");
    }
}
