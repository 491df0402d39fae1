//! The review rules, once: what a decision needs and where it moves the dossier.
//!
//! A submitted dossier waits in its exam site's queue (考点审核). The site reviewer approves or
//! returns each material and decides the dossier: pass to the district, return to the candidate,
//! or pending (审核待定). The district (考区审核) re-reviews what the sites passed with the same
//! per-material decisions and sets the final result: approved (审核通过) or not eligible (不符合).
//! A returned dossier comes back to the stage that returned it when the candidate resubmits.
use crate::api::review::{DossierOutcome, MaterialVerdict, ReviewStage, ReviewState, StaffRole};

/// Why a decision is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionRefusal {
    #[error("this dossier is not waiting for a {0:?} decision")]
    NotReviewable(ReviewStage),
    #[error("{0:?} is not a decision of the {1:?} stage")]
    WrongStage(DossierOutcome, ReviewStage),
    #[error("returning the dossier needs at least one returned material")]
    NothingReturned,
    #[error("a material is returned: return the dossier instead")]
    ReturnedMaterial,
    #[error("a returned material needs a reason and a message to the candidate")]
    ReturnWithoutReason,
    #[error("{0:?} needs a reason")]
    ReasonRequired(DossierOutcome),
    #[error("every material to decide needs a verdict: {}", .0.join(", "))]
    Undecided(Vec<String>),
}

impl DecisionRefusal {
    /// The rule broken, as the refusal's `detail` (the pages word it; `Undecided`'s categories go
    /// in `missing`).
    pub fn rule(&self) -> &'static str {
        match self {
            DecisionRefusal::NotReviewable(_) => "not_reviewable",
            DecisionRefusal::WrongStage(..) => "wrong_stage",
            DecisionRefusal::NothingReturned => "nothing_returned",
            DecisionRefusal::ReturnedMaterial => "returned_material",
            DecisionRefusal::ReturnWithoutReason => "return_without_reason",
            DecisionRefusal::ReasonRequired(_) => "reason_required",
            DecisionRefusal::Undecided(_) => "undecided",
        }
    }
}

/// The stage a role decides in.
pub fn stage_of(role: StaffRole) -> Option<ReviewStage> {
    match role {
        StaffRole::SiteReviewer => Some(ReviewStage::Site),
        StaffRole::DistrictReviewer => Some(ReviewStage::District),
        StaffRole::DistrictAdmin => None,
    }
}

/// One material's decision, as the rules see it.
pub struct Verdict<'a> {
    pub category: &'a str,
    pub verdict: MaterialVerdict,
    pub has_reason_and_message: bool,
}

/// Check a decision on a dossier at (`stage`, `state`) whose materials to decide are
/// `categories`: those with images, less those approved at this stage on an earlier submission
/// and unchanged since (the server reads which; their verdict stands). Returns where the dossier
/// goes.
pub fn decide(
    stage: ReviewStage,
    state: ReviewState,
    categories: &[&str],
    verdicts: &[Verdict<'_>],
    outcome: DossierOutcome,
    has_reason: bool,
) -> Result<(ReviewStage, ReviewState), DecisionRefusal> {
    if stage == ReviewStage::Done || !matches!(state, ReviewState::Waiting | ReviewState::Pending) {
        return Err(DecisionRefusal::NotReviewable(stage));
    }
    let returned = verdicts
        .iter()
        .filter(|v| v.verdict == MaterialVerdict::Return)
        .collect::<Vec<_>>();
    if returned.iter().any(|v| !v.has_reason_and_message) {
        return Err(DecisionRefusal::ReturnWithoutReason);
    }
    let undecided: Vec<String> = categories
        .iter()
        .filter(|c| !verdicts.iter().any(|v| v.category == **c))
        .map(|c| c.to_string())
        .collect();
    use DossierOutcome::*;
    match (stage, outcome) {
        (ReviewStage::Site, Approve | NotEligible) | (ReviewStage::District, Pass) => {
            return Err(DecisionRefusal::WrongStage(outcome, stage));
        }
        _ => {}
    }
    match outcome {
        Return if returned.is_empty() => Err(DecisionRefusal::NothingReturned),
        Return => Ok((stage, ReviewState::Returned)),
        Pass | Approve if !returned.is_empty() => Err(DecisionRefusal::ReturnedMaterial),
        Pass | Approve if !undecided.is_empty() => Err(DecisionRefusal::Undecided(undecided)),
        Pass => Ok((ReviewStage::District, ReviewState::Waiting)),
        Approve => Ok((ReviewStage::Done, ReviewState::Approved)),
        Pending | NotEligible if !has_reason => Err(DecisionRefusal::ReasonRequired(outcome)),
        Pending => Ok((stage, ReviewState::Pending)),
        NotEligible => Ok((ReviewStage::Done, ReviewState::NotEligible)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DossierOutcome::*;
    use MaterialVerdict::Approve as Fine;
    use MaterialVerdict::Return as Back;

    fn v(category: &str, verdict: MaterialVerdict) -> Verdict<'_> {
        Verdict {
            category,
            verdict,
            has_reason_and_message: true,
        }
    }

    const ALL: &[&str] = &["id_card", "diploma"];

    #[test]
    fn a_site_pass_goes_to_the_district_and_a_district_approval_ends_it() {
        let both = [v("id_card", Fine), v("diploma", Fine)];
        let w = ReviewState::Waiting;
        assert_eq!(
            decide(ReviewStage::Site, w, ALL, &both, Pass, false),
            Ok((ReviewStage::District, ReviewState::Waiting))
        );
        assert_eq!(
            decide(ReviewStage::District, w, ALL, &both, Approve, false),
            Ok((ReviewStage::Done, ReviewState::Approved))
        );
        assert_eq!(
            decide(ReviewStage::District, w, ALL, &both, NotEligible, true),
            Ok((ReviewStage::Done, ReviewState::NotEligible))
        );
    }

    #[test]
    fn returns_need_a_returned_material_with_reason_and_passes_need_none() {
        let w = ReviewState::Waiting;
        let one_back = [v("id_card", Fine), v("diploma", Back)];
        assert_eq!(
            decide(ReviewStage::Site, w, ALL, &one_back, Return, false),
            Ok((ReviewStage::Site, ReviewState::Returned))
        );
        assert_eq!(
            decide(ReviewStage::Site, w, ALL, &one_back, Pass, false),
            Err(DecisionRefusal::ReturnedMaterial)
        );
        let none_back = [v("id_card", Fine), v("diploma", Fine)];
        assert_eq!(
            decide(ReviewStage::Site, w, ALL, &none_back, Return, false),
            Err(DecisionRefusal::NothingReturned)
        );
        let silent = [Verdict {
            category: "diploma",
            verdict: Back,
            has_reason_and_message: false,
        }];
        assert_eq!(
            decide(ReviewStage::Site, w, ALL, &silent, Return, false),
            Err(DecisionRefusal::ReturnWithoutReason)
        );
        assert_eq!(
            decide(
                ReviewStage::Site,
                w,
                ALL,
                &[v("id_card", Fine)],
                Pass,
                false
            ),
            Err(DecisionRefusal::Undecided(vec!["diploma".into()]))
        );
    }

    #[test]
    fn each_stage_has_its_own_outcomes_and_only_waiting_dossiers_are_decided() {
        let w = ReviewState::Waiting;
        assert_eq!(
            decide(ReviewStage::Site, w, &[], &[], Approve, false),
            Err(DecisionRefusal::WrongStage(Approve, ReviewStage::Site))
        );
        assert_eq!(
            decide(ReviewStage::District, w, &[], &[], Pass, false),
            Err(DecisionRefusal::WrongStage(Pass, ReviewStage::District))
        );
        assert_eq!(
            decide(ReviewStage::Site, w, &[], &[], Pending, false),
            Err(DecisionRefusal::ReasonRequired(Pending))
        );
        assert_eq!(
            decide(ReviewStage::Site, w, &[], &[], Pending, true),
            Ok((ReviewStage::Site, ReviewState::Pending))
        );
        for state in [ReviewState::Returned, ReviewState::Approved] {
            assert_eq!(
                decide(ReviewStage::Site, state, &[], &[], Pending, true),
                Err(DecisionRefusal::NotReviewable(ReviewStage::Site))
            );
        }
    }
}
