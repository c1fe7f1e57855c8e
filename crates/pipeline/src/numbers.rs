//! One caller, one number: IVRs write the same number as `+31 20 555 0101`, `0031205550101`
//! or `020 555 0101`, and a privacy officer types whichever form the caller gives. A tenant's
//! numbering plan (its country code and the prefixes its IVRs dial) turns each form into the
//! international one (E.164, `+31205550101`) before it is pseudonymised, so one caller has one
//! pseudonym; a look-up by number also tries every form the number may have been stored under
//! (before the plan was set, or as a bare string of digits), so an erasure finds all of them.

use std::collections::HashMap;

/// The most digits of an international number (ITU-T E.164 §6.1).
pub const MAX_E164_DIGITS: usize = 15;

/// How a tenant's IVRs write numbers: the country they are in and its dialling prefixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberPlan {
    country_code: String,
    trunk_prefix: String,
    international_prefix: String,
}

/// Why a numbering plan is refused. The messages never quote the value: it may come from an
/// environment variable meant for something else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The country code is not 1 to 3 digits starting with 1-9.
    #[error("the country code must be 1 to 3 digits, the first not 0")]
    CountryCode,
    /// The trunk prefix is not 0 to 2 digits.
    #[error("the trunk prefix must be 0 to 2 digits")]
    TrunkPrefix,
    /// The international prefix is not 1 to 4 digits.
    #[error("the international prefix must be 1 to 4 digits")]
    InternationalPrefix,
    /// The prefixes are the same, so no number could be told national or international.
    #[error("the international prefix cannot equal the trunk prefix")]
    Same,
}

impl NumberPlan {
    /// A plan from the country code (`31`), the trunk prefix a national number starts with
    /// (`0`; empty where there is none, as in Italy or Spain) and the international prefix
    /// (`00`; `011` in North America).
    pub fn new(
        country_code: &str,
        trunk_prefix: &str,
        international_prefix: &str,
    ) -> Result<NumberPlan, PlanError> {
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if !(1..=3).contains(&country_code.len())
            || !digits(country_code)
            || country_code.starts_with('0')
        {
            return Err(PlanError::CountryCode);
        }
        if trunk_prefix.len() > 2 || !digits(trunk_prefix) {
            return Err(PlanError::TrunkPrefix);
        }
        if !(1..=4).contains(&international_prefix.len()) || !digits(international_prefix) {
            return Err(PlanError::InternationalPrefix);
        }
        if international_prefix == trunk_prefix {
            return Err(PlanError::Same);
        }
        Ok(NumberPlan {
            country_code: country_code.to_string(),
            trunk_prefix: trunk_prefix.to_string(),
            international_prefix: international_prefix.to_string(),
        })
    }

    /// A plan for `country_code` with the prefixes given, or else the usual ones: trunk `0`
    /// and international `00` (the prefix ITU-T recommends), or `1` and `011` for
    /// country code 1 (North America).
    pub fn for_country(
        country_code: &str,
        trunk_prefix: Option<&str>,
        international_prefix: Option<&str>,
    ) -> Result<NumberPlan, PlanError> {
        let (trunk, international) = if country_code == "1" {
            ("1", "011")
        } else {
            ("0", "00")
        };
        NumberPlan::new(
            country_code,
            trunk_prefix.unwrap_or(trunk),
            international_prefix.unwrap_or(international),
        )
    }

    /// The international form (`+` and digits) of a number written with a `+` or the
    /// international prefix, or of a national one: written with the trunk prefix, or, where
    /// the plan has none, any other. `None` for a number the plan cannot place: bare digits
    /// where national numbers start with the trunk prefix (their form does not say which
    /// country), or more digits than E.164 allows.
    fn international(&self, number: &str) -> Option<String> {
        let trimmed = number.trim();
        let digits = |text: &str| -> String { text.chars().filter(char::is_ascii_digit).collect() };
        let all = digits(trimmed);
        let plus = trimmed.starts_with('+');
        let international = if plus || all.starts_with(&self.international_prefix) {
            // "+31 (0)20 …": a trunk prefix written in brackets after the country code is not
            // dialled from abroad
            let all = digits(&trimmed.replace("(0)", ""));
            if plus {
                all
            } else {
                all.strip_prefix(self.international_prefix.as_str())?
                    .to_string()
            }
        } else {
            let national = all.strip_prefix(self.trunk_prefix.as_str())?;
            if national.is_empty() {
                return None;
            }
            format!("{}{national}", self.country_code)
        };
        (!international.is_empty() && international.len() <= MAX_E164_DIGITS)
            .then(|| format!("+{international}"))
    }
}

/// Numbering plans: a default and tenants' own; without any, numbers are taken as written.
#[derive(Debug, Clone, Default)]
pub struct Numbering {
    default: Option<NumberPlan>,
    tenants: HashMap<String, NumberPlan>,
}

impl Numbering {
    /// Numbers taken as written: only their digits and a leading `+` count.
    pub fn as_written() -> Numbering {
        Numbering::default()
    }

    /// One plan for every tenant without its own, and tenants' own.
    pub fn new(default: Option<NumberPlan>, tenants: HashMap<String, NumberPlan>) -> Numbering {
        Numbering { default, tenants }
    }

    fn plan(&self, tenant: &str) -> Option<&NumberPlan> {
        self.tenants.get(tenant).or(self.default.as_ref())
    }

    /// The form of `number` that is pseudonymised in `tenant`: international (`+31205550101`)
    /// when the tenant's plan can place it, else its digits as written (with a leading `+`
    /// kept).
    pub fn canonical(&self, tenant: &str, number: &str) -> String {
        self.plan(tenant)
            .and_then(|plan| plan.international(number))
            .unwrap_or_else(|| as_written(number))
    }

    /// Whether the tenant's plan, when it has one, can place `number`: a look-up by a number
    /// it cannot (bare digits where national numbers have a trunk prefix) would miss every
    /// recording stored in international form, and is refused rather than answered empty.
    pub fn places(&self, tenant: &str, number: &str) -> bool {
        self.plan(tenant)
            .is_none_or(|plan| plan.international(number).is_some())
    }

    /// Every form `number` may have been pseudonymised under in `tenant`, the canonical one
    /// first: the number as written, and, when the plan places it, its international form
    /// with `+`, with the international prefix and bare, and for a number of the tenant's own
    /// country its national form with the trunk prefix and bare, and its international form
    /// with the trunk prefix kept (`+31 (0)20 …` taken as written).
    pub fn forms(&self, tenant: &str, number: &str) -> Vec<String> {
        let mut forms = vec![self.canonical(tenant, number), as_written(number)];
        if let Some(plan) = self.plan(tenant)
            && let Some(international) = plan.international(number)
        {
            let digits = &international[1..];
            forms.push(format!("{}{digits}", plan.international_prefix));
            forms.push(digits.to_string());
            if let Some(national) = digits.strip_prefix(plan.country_code.as_str())
                && !national.is_empty()
            {
                forms.push(format!("{}{national}", plan.trunk_prefix));
                forms.push(national.to_string());
                // "+31 (0)20 …" as it was taken before plans: the bracketed trunk prefix kept
                forms.push(format!(
                    "+{}{}{national}",
                    plan.country_code, plan.trunk_prefix
                ));
            }
        }
        let mut seen = std::collections::HashSet::new();
        forms.retain(|form| seen.insert(form.clone()));
        forms
    }
}

/// The digits of a number, with a leading `+` kept: how every number was pseudonymised before
/// numbering plans, and still is without one.
pub(crate) fn as_written(number: &str) -> String {
    let trimmed = number.trim();
    let digits = trimmed.chars().filter(char::is_ascii_digit);
    if trimmed.starts_with('+') {
        std::iter::once('+').chain(digits).collect()
    } else {
        digits.collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dutch() -> Numbering {
        Numbering::new(
            Some(NumberPlan::new("31", "0", "00").expect("valid plan")),
            HashMap::from([(
                "us-client".to_string(),
                NumberPlan::new("1", "1", "011").expect("valid plan"),
            )]),
        )
    }

    #[test]
    fn every_form_of_a_number_has_one_canonical_form_under_the_plan() {
        let numbers = dutch();
        for (tenant, written, canonical) in [
            ("acme", "+31 20 555 0101", "+31205550101"),
            ("acme", "+31205550101", "+31205550101"),
            ("acme", "0031 20 555 0101", "+31205550101"),
            ("acme", "020-555 0101", "+31205550101"),
            ("acme", "(020) 5550101", "+31205550101"),
            // a foreign number dialled with the international prefix
            ("acme", "0044 20 7946 0000", "+442079460000"),
            // the trunk prefix some write in brackets after the country code
            ("acme", "+31 (0)20 555 0101", "+31205550101"),
            ("acme", "+44 (0)20 7946 0000", "+442079460000"),
            // North America: trunk 1, international 011
            ("us-client", "1 (212) 555-0101", "+12125550101"),
            ("us-client", "011 31 20 555 0101", "+31205550101"),
        ] {
            assert_eq!(numbers.canonical(tenant, written), canonical, "{written}");
        }
    }

    #[test]
    fn a_number_the_plan_cannot_place_is_taken_as_written() {
        let numbers = dutch();
        assert!(!numbers.places("acme", "205550101"));
        assert!(numbers.places("acme", "020 555 0101"));
        assert!(Numbering::as_written().places("acme", "205550101"));
        // bare digits say no country
        assert_eq!(numbers.canonical("acme", "205550101"), "205550101");
        // the trunk prefix alone, and a national number too long for E.164
        assert_eq!(numbers.canonical("acme", "0"), "0");
        assert_eq!(
            numbers.canonical("acme", "0 1234 5678 9012 3456"),
            "01234567890123456"
        );
        // no plan: as before plans existed
        let none = Numbering::as_written();
        assert_eq!(none.canonical("acme", "020 555 0101"), "0205550101");
        assert_eq!(none.canonical("acme", " +31 20 555 0101"), "+31205550101");
        assert_eq!(none.forms("acme", "020 555 0101"), vec!["0205550101"]);
    }

    #[test]
    fn a_look_up_tries_every_form_the_number_may_be_stored_under_canonical_first() {
        let numbers = dutch();
        let all = [
            "+31205550101",
            "0031205550101",
            "31205550101",
            "0205550101",
            "205550101",
            "+310205550101",
        ];
        for written in [
            "020 555 0101",
            "+31 20 555 0101",
            "0031205550101",
            "+31 (0)20 555 0101",
        ] {
            let forms = numbers.forms("acme", written);
            assert_eq!(forms[0], "+31205550101");
            for form in all {
                assert!(
                    forms.iter().any(|f| f == form),
                    "{written}: {form} in {forms:?}"
                );
            }
            assert_eq!(forms.len(), all.len(), "{forms:?}");
        }
        // a foreign number has no national forms in this plan
        assert_eq!(
            numbers.forms("acme", "+44 20 7946 0000"),
            vec!["+442079460000", "00442079460000", "442079460000"]
        );
    }

    #[test]
    fn hostile_numbers_are_taken_as_written_or_placed_never_a_panic() {
        let numbers = dutch();
        // the bracketed trunk prefix taken out of what looked like an international number
        for written in [
            "0(0)", "(0)", "+", "+(0)", "00", "", "0", "00(0)", "+ ( 0 )", "٣١",
        ] {
            let canonical = numbers.canonical("acme", written);
            assert!(
                canonical.is_empty()
                    || canonical.starts_with('+')
                    || canonical.chars().all(|c| c.is_ascii_digit()),
                "{written:?} gave {canonical:?}"
            );
            assert_eq!(numbers.forms("acme", written)[0], canonical);
        }
    }

    proptest::proptest! {
        #[test]
        fn any_text_has_a_canonical_form_that_is_digits_or_e164(text in "[0-9()+ -]{0,24}|.{0,40}") {
            for tenant in ["acme", "us-client"] {
                let canonical = dutch().canonical(tenant, &text);
                let digits = canonical.strip_prefix('+').unwrap_or(&canonical);
                proptest::prop_assert!(digits.chars().all(|c| c.is_ascii_digit()));
                let forms = dutch().forms(tenant, &text);
                proptest::prop_assert_eq!(&forms[0], &canonical);
                proptest::prop_assert!(forms.len() <= 7);
            }
        }
    }

    #[test]
    fn plans_that_cannot_be_right_are_refused() {
        for (plan, error) in [
            (("031", "0", "00"), PlanError::CountryCode),
            (("3100", "0", "00"), PlanError::CountryCode),
            (("31", "0a", "00"), PlanError::TrunkPrefix),
            (("31", "0", ""), PlanError::InternationalPrefix),
            (("31", "00", "00"), PlanError::Same),
        ] {
            assert_eq!(
                NumberPlan::new(plan.0, plan.1, plan.2),
                Err(error),
                "{plan:?}"
            );
        }
        // Italy: no trunk prefix, so every number without + or 00 is national, and its
        // leading 0 belongs to the number
        let italy = Numbering::new(
            Some(NumberPlan::new("39", "", "00").expect("valid plan")),
            HashMap::new(),
        );
        assert_eq!(italy.canonical("t", "06 1234 5678"), "+390612345678");
        assert_eq!(italy.canonical("t", "+39 06 1234 5678"), "+390612345678");
        assert!(
            italy
                .forms("t", "+39 06 1234 5678")
                .contains(&"0612345678".to_string())
        );
    }
}
