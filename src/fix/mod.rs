//! Fix mode and incident response: plan → review → apply → verify.
//!
//! * [`planner`] turns scan findings (or the `respond` playbook) into a [`plan::Plan`]:
//!   ordered actions, each with the state it saw (precondition), the write it will make,
//!   how it is verified and how it could be undone.
//! * [`apply`] re-reads every target live, skips what changed or is already done, writes,
//!   verifies by reading back, and appends one fsync'd JSON line per action to the audit
//!   log ([`audit`]), saving evidence ([`evidence`]) before each change.
//! * [`guards`] hold the rules no plan can override (break-glass accounts, our own
//!   identity, the last Global Administrator, bounded actions per run).
//! * [`respond`] collects one user's state and builds the compromised-account playbook.
//!
//! Passwords exist only in memory and in the 0600 file of [`password`].

pub mod action_kind;
pub mod actions;
pub mod apply;
pub mod apps_plan;
pub mod audit;
pub mod evidence;
pub mod guards;
pub mod live;
pub mod password;
pub mod plan;
pub mod planner;
pub mod respond;
pub mod respond_consents;
pub mod respond_review;
pub mod verify;
