//! Rendering doctor's [`Report`]: who signed in, what it holds, one table per area, and
//! the exit status the process returns.

use std::collections::BTreeSet;

use super::{role, Check, Report, Status};
use crate::findings::ExitStatus;

impl Report {
    /// 0 when every source can be collected (a licence gap is not a failure), 3 otherwise.
    pub fn exit_status(&self) -> ExitStatus {
        if self.failing_sources().next().is_some() {
            ExitStatus::Incomplete
        } else {
            ExitStatus::Compliant
        }
    }

    fn failing_sources(&self) -> impl Iterator<Item = &Check> {
        self.sources
            .iter()
            .filter(|c| matches!(c.status, Status::Missing | Status::Error))
    }

    fn role_name(&self, template_id: &str) -> String {
        role::name(template_id)
            .map(str::to_owned)
            .or_else(|| self.role_names.get(template_id).cloned())
            .unwrap_or_else(|| template_id.to_owned())
    }

    /// The report as printed on stdout: who signed in, what it holds, one table per area.
    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let list = |set: &Option<BTreeSet<String>>| match set {
            None => "unknown (the access token is not a readable JWT)".to_owned(),
            Some(s) if s.is_empty() => "none".to_owned(),
            Some(s) => s.iter().cloned().collect::<Vec<_>>().join(", "),
        };
        let _ = writeln!(out, "tenant      {}", self.tenant);
        let _ = writeln!(
            out,
            "app         {}{}",
            self.client_id,
            self.app_name
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        );
        if let Some(oid) = &self.principal_id {
            let _ = writeln!(out, "principal   {oid} (service principal)");
        }
        let _ = writeln!(
            out,
            "sign-in     Graph ok, Exchange ok, with the {}",
            self.credential
        );
        let _ = writeln!(
            out,
            "Graph application permissions: {}",
            list(&self.graph_permissions)
        );
        let _ = writeln!(
            out,
            "Exchange application permissions: {}",
            list(&self.exchange_permissions)
        );
        let roles = match &self.directory_roles {
            None => {
                "unknown (neither the token's wids claim nor the role assignments were readable)"
                    .to_owned()
            }
            Some(r) if r.is_empty() => "none".to_owned(),
            Some(r) => {
                let mut names: Vec<String> = r.iter().map(|id| self.role_name(id)).collect();
                names.sort();
                names.join(", ")
            }
        };
        let _ = writeln!(out, "Directory roles: {roles}");
        for (title, checks) in [
            ("SOURCE", &self.sources),
            ("FIX ACTION", &self.actions),
            ("INVESTIGATE (evidence source)", &self.investigation),
        ] {
            let _ = writeln!(out);
            let _ = writeln!(out, "{title:<34} {:<21} DETAIL", "STATUS");
            for c in checks.iter() {
                let line = format!("{:<34} {:<21} {}", c.name, c.status.label(), c.detail);
                let _ = writeln!(out, "{}", line.trim_end());
            }
        }
        let _ = writeln!(out);
        let failing: Vec<&str> = self.failing_sources().map(|c| c.name).collect();
        if failing.is_empty() {
            let _ = writeln!(out, "every source can be collected");
        } else {
            let _ = writeln!(
                out,
                "{} source(s) cannot be collected ({}): grant what is missing above, then run doctor again",
                failing.len(),
                failing.join(", ")
            );
        }
        out
    }
}
